//! nginx in front of app servers, configured by deploy/nginx.conf (the file
//! docker-compose.yml mounts): a child process on a free loopback port, with
//! everything it writes in a temporary directory. Stopped when dropped.
//! Needs Debian's nginx (`scripts/setup --test`).

use std::{
    net::TcpStream,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

pub struct Nginx {
    child: Child,
    dir: PathBuf,
    pub port: u16,
    pub base: String,
}

impl Nginx {
    /// Starts it proxying to the app servers on `upstream_ports`, and waits
    /// until it accepts connections.
    pub async fn start(upstream_ports: &[u16]) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let dir = std::env::temp_dir().join(format!("courtyard-nginx-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let upstreams: String = upstream_ports.iter().map(|p| format!("server 127.0.0.1:{p}; ")).collect();
        std::fs::write(dir.join("courtyard.conf"), render(&format!("127.0.0.1:{port}"), &upstreams)).unwrap();
        std::fs::write(dir.join("nginx.conf"), main_config(&dir)).unwrap();
        let child = Command::new(binary())
            .arg("-p")
            .arg(&dir)
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            // Before the configuration is read, nginx would open its
            // compiled-in error log.
            .arg("-e")
            .arg(dir.join("error.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nginx starts");
        let mut nginx = Self { child, dir, port, base: format!("http://127.0.0.1:{port}") };
        nginx.wait_until_up().await;
        nginx
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn wait_until_up(&mut self) {
        for _ in 0..100 {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("nginx exited ({status}):\n{}", self.error_log());
            }
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("nginx did not come up:\n{}", self.error_log());
    }

    /// What nginx logged (a failed start says why here).
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // One process (`master_process off`), so SIGKILL leaves no worker behind.
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// deploy/nginx.conf with its placeholders filled in, as the nginx image's
/// envsubst does.
pub fn render(listen: &str, upstreams: &str) -> String {
    let template = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/nginx.conf"))
        .expect("deploy/nginx.conf");
    let rendered = template.replace("${COURTYARD_LISTEN}", listen).replace("${COURTYARD_UPSTREAMS}", upstreams);
    assert!(!rendered.contains("${"), "a placeholder of deploy/nginx.conf the tests do not fill in");
    rendered
}

/// The top level around it: the foreground, one process, and every path
/// nginx writes inside `dir`. One process needs no `user` as root either:
/// only worker processes switch users, and there are none.
fn main_config(dir: &Path) -> String {
    let dir = dir.display();
    format!(
        "daemon off;
master_process off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    include {dir}/courtyard.conf;
}}
"
    )
}

/// Debian installs it to /usr/sbin, which is not on every user's PATH.
fn binary() -> PathBuf {
    let sbin = PathBuf::from("/usr/sbin/nginx");
    if sbin.exists() {
        return sbin;
    }
    std::env::var_os("PATH")
        .and_then(|path| std::env::split_paths(&path).map(|dir| dir.join("nginx")).find(|p| p.exists()))
        .expect("nginx (install it with scripts/setup --test)")
}
