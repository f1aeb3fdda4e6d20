//! What every benchmark needs: the real server binary (built with the bench
//! profile) on a fresh database, a signed-in admin of a fresh group (and
//! members to spread many clients over), room for many connections, and
//! small statistics helpers. Benchmarks print their own tables.
#![allow(dead_code)] // each bench uses part of it

use serde_json::{json, Value};
use sqlx::{Connection, PgConnection, PgPool};
use std::{
    os::unix::process::CommandExt,
    process::{Child, Command, Stdio},
    time::Duration,
};

/// Event streams one person may hold at once: the server's
/// `sse::MAX_PER_USER` (past it, 429).
pub const STREAMS_PER_USER: usize = 64;

pub struct Bench {
    pub base: String,
    pub db: PgPool,
    pub database: String,
    pub http: reqwest::Client,
    /// `Authorization` value of the admin's bearer token.
    pub bearer: String,
    pub slug: String,
    pub schema: String,
    server: Child,
    /// The database's URL, the server's port and its settings (kept across
    /// restarts).
    url: String,
    port: u16,
    env: Vec<(String, String)>,
}

/// Where benchmark databases are created (`BENCH_DATABASE_URL`, default
/// the local Postgres).
fn admin_url() -> String {
    std::env::var("BENCH_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

impl Bench {
    /// Starts the server (settings overridden by `env`) on a new database
    /// with one group.
    pub async fn start(env: &[(&str, &str)]) -> Self {
        let admin = admin_url();
        let name = format!("courtyard_bench_{}", uuid::Uuid::new_v4().simple());
        let mut conn = PgConnection::connect(&admin).await.expect("connect to Postgres");
        sqlx::query(&format!("CREATE DATABASE \"{name}\"")).execute(&mut conn).await.unwrap();
        let url = format!("{}/{name}", admin.rsplit_once('/').unwrap().0);
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let server = spawn_server(&url, port, env);
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::builder().pool_max_idle_per_host(usize::MAX).build().unwrap();
        wait_until_up(&http, &base).await;
        let bearer = sign_up(&http, &base).await;
        let slug = format!("bench-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        let created = http
            .post(format!("{base}/api/groups"))
            .header("authorization", &bearer)
            .json(&json!({"slug": slug, "name": "Bench"}))
            .send()
            .await
            .unwrap();
        assert!(created.status().is_success(), "{}", created.text().await.unwrap());
        let db = sqlx::postgres::PgPoolOptions::new().max_connections(8).connect(&url).await.unwrap();
        let schema: String = sqlx::query_scalar("SELECT schema_name FROM groups WHERE slug = $1")
            .bind(&slug)
            .fetch_one(&db)
            .await
            .unwrap();
        let env = env.iter().map(|(key, value)| (key.to_string(), value.to_string())).collect();
        Self { base, db, database: name, http, bearer, slug, schema, server, url, port, env }
    }

    /// Stops the server and starts it again on the same database and port,
    /// with the settings it started with and then `env`; returns once it
    /// answers `/healthz`, with when the new process was spawned.
    pub async fn restart(&mut self, env: &[(&str, &str)]) -> std::time::Instant {
        end(&mut self.server);
        let mut settings: Vec<(&str, &str)> = self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        settings.extend_from_slice(env);
        let spawned = std::time::Instant::now();
        self.server = spawn_server(&self.url, self.port, &settings);
        wait_until_up(&self.http, &self.base).await;
        spawned
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn shape_url(&self) -> String {
        self.url(&format!("/g/{}/v1/shape", self.slug))
    }

    /// `Authorization` values for `clients` clients of the group, to be
    /// used round robin (client i takes `[i % len]`): the admin's, then
    /// residents' who joined by invite, as few as keep each person within
    /// `STREAMS_PER_USER`.
    pub async fn bearers(&self, clients: usize) -> Vec<String> {
        let mut bearers = vec![self.bearer.clone()];
        let people = clients.div_ceil(STREAMS_PER_USER);
        if people <= 1 {
            return bearers;
        }
        let invites = self.url(&format!("/api/groups/{}/invites", self.slug));
        let invite = self.http.post(invites).header("authorization", &self.bearer).json(&json!({})).send().await;
        let invite: Value = invite.unwrap().json().await.unwrap();
        let accept = self.url(&format!("/api/invites/{}/accept", invite["code"].as_str().unwrap()));
        while bearers.len() < people {
            let bearer = sign_up(&self.http, &self.base).await;
            let joined = self.http.post(&accept).header("authorization", &bearer).json(&json!({})).send().await;
            assert!(joined.unwrap().status().is_success());
            bearers.push(bearer);
        }
        bearers
    }

    /// A shape request with this bench's bearer token.
    pub fn shape_get<Q: serde::Serialize + ?Sized>(&self, query: &Q) -> reqwest::RequestBuilder {
        self.http.get(self.shape_url()).header("authorization", &self.bearer).query(query)
    }

    /// One mutation through `/api/mutate`.
    pub async fn mutate(&self, mutations: Value) -> reqwest::StatusCode {
        let body = json!({"group": self.slug, "mutations": mutations});
        let response =
            self.http.post(self.url("/api/mutate")).header("authorization", &self.bearer).json(&body).send().await;
        response.map(|r| r.status()).unwrap_or(reqwest::StatusCode::SERVICE_UNAVAILABLE)
    }

    pub fn pid(&self) -> u32 {
        self.server.id()
    }

    /// CPU seconds (user + system) the server process has used so far.
    pub fn server_cpu_seconds(&self) -> f64 {
        cpu_seconds(&format!("/proc/{}/stat", self.server.id()))
    }

    /// The server process's resident memory now and at its peak, in KiB.
    pub fn server_memory_kib(&self) -> (u64, u64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.server.id())).unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        (field("VmRSS:"), field("VmHWM:"))
    }

    /// Database connections open to this benchmark's database.
    pub async fn database_connections(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM pg_stat_activity WHERE datname = $1")
            .bind(&self.database)
            .fetch_one(&self.db)
            .await
            .unwrap()
    }

    pub async fn stop(mut self) {
        end(&mut self.server);
        self.db.close().await;
        if let Ok(mut conn) = PgConnection::connect(&admin_url()).await {
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.database))
                .execute(&mut conn)
                .await;
        }
    }
}

/// A benchmark that panics stops its server too (it runs in a process
/// group of its own, out of reach of the terminal's Ctrl-C).
impl Drop for Bench {
    fn drop(&mut self) {
        end(&mut self.server);
    }
}

/// The server binary on `url`, listening on `port`, settings overridden by
/// `env`; run under the profiler `BENCH_SERVER_WRAPPER` names if set (its
/// command line: `heaptrack -o target/idle`, say). In a process group of
/// its own, so [`end`] stops the profiler and the server alike.
fn spawn_server(url: &str, port: u16, env: &[(&str, &str)]) -> Child {
    let wrapper = std::env::var("BENCH_SERVER_WRAPPER").unwrap_or_default();
    let mut wrapper = wrapper.split_whitespace();
    let mut command = match wrapper.next() {
        Some(profiler) => {
            let mut command = Command::new(profiler);
            command.args(wrapper).arg(env!("CARGO_BIN_EXE_server"));
            command
        }
        None => Command::new(env!("CARGO_BIN_EXE_server")),
    };
    command
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .env("DATABASE_URL", url)
        .env("COURTYARD_SITE_ADDR", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "warn")
        // Benchmarks sign many members up from one address.
        .env("COURTYARD_SESSION_MAX_SIGNUPS_PER_IP", "1000000")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .process_group(0);
    for (key, value) in env {
        command.env(key, value);
    }
    command.spawn().expect("the server binary starts")
}

/// Stops the server: SIGTERM to the server (under a profiler, to the
/// profiler's children, so the profiler then writes its data out), then
/// waits for the process started (the profiler, if any); SIGKILL to the
/// whole process group after 120 s.
fn end(server: &mut Child) {
    if server.try_wait().is_ok_and(|status| status.is_some()) {
        return;
    }
    let leader = server.id().to_string();
    let _ = if std::env::var("BENCH_SERVER_WRAPPER").is_ok_and(|wrapper| !wrapper.trim().is_empty()) {
        Command::new("pkill").args(["-TERM", "-P", &leader]).status()
    } else {
        Command::new("kill").args(["-TERM", &leader]).status()
    };
    for _ in 0..1200 {
        if server.try_wait().is_ok_and(|status| status.is_some()) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = Command::new("kill").args(["-KILL", "--", &format!("-{leader}")]).stderr(Stdio::null()).status();
    let _ = server.wait();
}

/// Polls `/healthz` every 5 ms until the server answers (at most 30 s).
async fn wait_until_up(http: &reqwest::Client, base: &str) {
    for _ in 0..6000 {
        if http.get(format!("{base}/healthz")).send().await.is_ok_and(|r| r.status().is_success()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("the server did not come up within 30 s");
}

/// Signs a new person up: their bearer token's `Authorization` value.
async fn sign_up(http: &reqwest::Client, base: &str) -> String {
    let email = format!("bench-{}@example.org", uuid::Uuid::new_v4().simple());
    let credentials = json!({"email": email, "password": "correct horse", "name": "Bench"});
    let signed = http.post(format!("{base}/api/auth/signup")).json(&credentials).send().await.unwrap();
    assert!(signed.status().is_success());
    let token: Value =
        http.post(format!("{base}/api/auth/token")).json(&credentials).send().await.unwrap().json().await.unwrap();
    format!("Bearer {}", token["token"].as_str().unwrap())
}

/// CPU seconds (user + system) of a process from its `/proc/<pid>/stat`.
pub fn cpu_seconds(stat_path: &str) -> f64 {
    let stat = std::fs::read_to_string(stat_path).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start after ')'.
    let fields: Vec<&str> =
        stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
    let ticks: f64 = [11, 12].iter().filter_map(|i| fields.get(*i)?.parse::<f64>().ok()).sum();
    ticks / 100.0 // USER_HZ
}

/// Checks that `connections` sockets can be open at once, in this process
/// and in the servers it starts (they inherit its limit on open files),
/// and that there are as many ephemeral ports for their client ends;
/// panics saying what to raise otherwise, before any server starts.
/// `scripts/bench` raises the open files' soft limit to the hard one.
pub fn check_room(connections: usize) {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    let open_files = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3)?.parse().ok())
        .unwrap_or(usize::MAX); // "unlimited"
    let needed = connections + 200; // the database pools, the listener, files
    assert!(
        open_files >= needed,
        "{connections} connections need {needed} open files, the limit is {open_files}: `ulimit -n {needed}` first"
    );
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap_or_default();
    let bounds: Vec<usize> = range.split_whitespace().filter_map(|v| v.parse().ok()).collect();
    if let [low, high] = bounds[..] {
        assert!(
            high + 1 - low >= connections,
            "{connections} connections need as many ephemeral ports, net.ipv4.ip_local_port_range has {}",
            high + 1 - low
        );
    }
}

/// The `p`-th percentile (0..=100) of sorted values.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (p / 100.0 * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    percentile(values, 50.0)
}
