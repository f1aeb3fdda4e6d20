//! An S3-compatible server for the tests: moto (installed by `scripts/setup
//! --test` into target/tools/moto) on a free loopback port, one bucket made.
//! Killed when dropped.

use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::Duration,
};

pub struct S3 {
    child: Child,
    log: PathBuf,
    pub port: u16,
    pub bucket: String,
}

impl S3 {
    /// Starts it, waits until it answers, and makes `bucket`.
    pub async fn start(bucket: &str) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let log = std::env::temp_dir().join(format!("courtyard-s3-{}.log", uuid::Uuid::new_v4().simple()));
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new("python3")
            .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", &port.to_string()])
            .env("PYTHONPATH", concat!(env!("CARGO_MANIFEST_DIR"), "/../target/tools/moto"))
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("python3 starts");
        let mut s3 = Self { child, log, port, bucket: bucket.to_owned() };
        s3.wait_until_up().await;
        let made = reqwest::Client::new().put(s3.bucket_url()).send().await.unwrap();
        assert!(made.status().is_success(), "the bucket was not made: {}", made.text().await.unwrap());
        s3
    }

    /// Where the store is (`AWS_ENDPOINT`).
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn bucket_url(&self) -> String {
        format!("{}/{}", self.endpoint(), self.bucket)
    }

    /// Points this process's `AWS_*` variables at this store, and only
    /// there (`object_store`'s `AmazonS3Builder::from_env` reads them all):
    /// call it before any server starts, in a test binary of one test (no
    /// other thread reads the environment meanwhile).
    pub fn take_environment(&self) {
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("AWS_") {
                std::env::remove_var(name);
            }
        }
        for (name, value) in [
            ("AWS_ENDPOINT", self.endpoint()),
            ("AWS_ALLOW_HTTP", "true".into()),
            ("AWS_ACCESS_KEY_ID", "courtyard-test".into()),
            ("AWS_SECRET_ACCESS_KEY", "courtyard-test".into()),
            ("AWS_REGION", "us-east-1".into()),
        ] {
            std::env::set_var(name, value);
        }
    }

    /// The keys in the bucket under `prefix`, sorted.
    pub async fn keys(&self, prefix: &str) -> Vec<String> {
        let url = format!("{}?list-type=2&prefix={prefix}", self.bucket_url());
        let response = reqwest::get(url).await.unwrap();
        let status = response.status();
        let listing = response.text().await.unwrap();
        assert!(status.is_success(), "listing the bucket: {status} {listing}");
        let mut keys: Vec<String> = listing
            .split("<Key>")
            .skip(1)
            .map(|rest| rest.split_once("</Key>").expect("a closed <Key>").0.to_owned())
            .collect();
        keys.sort();
        keys
    }

    async fn wait_until_up(&mut self) {
        for _ in 0..300 {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("moto exited ({status}); scripts/setup --test installs it:\n{}", self.output());
            }
            if reqwest::get(self.endpoint()).await.is_ok_and(|r| r.status().is_success()) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("moto did not come up:\n{}", self.output());
    }

    fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for S3 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("moto's log: {}", self.log.display());
        } else {
            let _ = std::fs::remove_file(&self.log);
        }
    }
}
