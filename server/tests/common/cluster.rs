//! A private Postgres cluster for tests that restart Postgres: created with
//! the machine's binaries in a temporary directory on a free port, stopped
//! and removed when dropped. (The shared test server is never restarted.)

use std::{path::PathBuf, process::Command};

pub struct Cluster {
    bin: PathBuf,
    dir: PathBuf,
    pub port: u16,
}

impl Cluster {
    pub fn start() -> Self {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .expect("Postgres binaries in /usr/lib/postgresql")
            .filter_map(Result::ok)
            .map(|e| e.path().join("bin"))
            .filter(|p| p.join("initdb").exists())
            .max()
            .expect("an initdb");
        let dir = std::env::temp_dir().join(format!("courtyard-pg-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let cluster = Self { bin, dir, port };
        cluster.chown();
        cluster.run("initdb", &["-D", &cluster.data(), "-U", "postgres", "--auth=trust", "-E", "UTF8"]);
        cluster.pg_ctl("start");
        cluster
    }

    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Stops and starts Postgres again (a fast shutdown: connections drop).
    pub fn restart(&self) {
        self.pg_ctl("restart");
    }

    /// Stops Postgres (a fast shutdown), until `resume`.
    pub fn stop(&self) {
        self.pg_ctl("stop");
    }

    pub fn resume(&self) {
        self.pg_ctl("start");
    }

    fn data(&self) -> String {
        self.dir.join("data").to_string_lossy().into_owned()
    }

    fn pg_ctl(&self, action: &str) {
        let options = format!("-p {} -k {} -c listen_addresses=127.0.0.1", self.port, self.dir.display());
        let log = self.dir.join("log").to_string_lossy().into_owned();
        self.run("pg_ctl", &["-D", &self.data(), "-l", &log, "-w", "-m", "fast", "-o", &options, action]);
    }

    /// initdb and postgres refuse to run as root: run them as `postgres` then.
    fn command(&self, tool: &str) -> Command {
        let path = self.bin.join(tool);
        if is_root() {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(path);
            command
        } else {
            Command::new(path)
        }
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let status = self.command(tool).args(args).stdout(std::process::Stdio::null()).status();
        assert!(status.expect("runs").success(), "{tool} {args:?} failed");
    }

    fn chown(&self) {
        if is_root() {
            let status = Command::new("chown").args(["postgres"]).arg(&self.dir).status().unwrap();
            assert!(status.success());
        }
    }
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| o.stdout.starts_with(b"0\n")).unwrap_or(false)
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.command("pg_ctl").args(["-D", &self.data(), "-m", "immediate", "stop"]).status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
