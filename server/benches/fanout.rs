//! Fan-out latency: N live clients follow one group's `announcements`
//! while a writer commits one change every 100 ms through `/api/mutate`,
//! for each N twice, on a fresh server each: as long-polls (`live=true`, a
//! request per answer) and as server-sent events (`live=true&live_sse=true`,
//! one held stream per client; when the server ends it, after
//! `sync.sse_timeout_secs`, the client opens the next at `<lsn>_0` of the
//! last `up-to-date`). Each client catches up from offset -1 first, and
//! holds one HTTP/1.1 connection, as a browser over HTTP/1 holds one per
//! request or stream; clients are spread over as few members as keep each
//! within the server's limit of streams per person. Latency is from just
//! before the writer sends to each client's receipt (the answer, or the
//! insert's event, that carries the change); CPU per delivery is the
//! server's and this load generator's during the writes. Side by side, the
//! floor: a bare INSERT + NOTIFY seen by a LISTEN connection.
//! `cargo bench -p server --bench fanout` (sizes:
//! `FANOUT_CLIENTS=1,100,1000,10000`, writes per size: `FANOUT_WRITES=50`;
//! N clients need N open files here and in the server, and N ephemeral
//! ports: `harness::check_room`).

mod harness;

use harness::{percentile, Bench};
use serde_json::{json, Value};
use sqlx::postgres::PgListener;
use std::{
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

type Receipts = Arc<Mutex<Vec<Option<Instant>>>>;

/// How a client follows the shape once it is up to date.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// A request per answer (`live=true`).
    LongPoll,
    /// One held event stream (`live=true&live_sse=true`).
    Sse,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::LongPoll => "long-poll",
            Mode::Sse => "sse",
        }
    }
}

#[tokio::main]
async fn main() {
    let sizes: Vec<usize> = std::env::var("FANOUT_CLIENTS")
        .unwrap_or_else(|_| "1,100,1000,10000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let writes: usize = std::env::var("FANOUT_WRITES").ok().and_then(|s| s.parse().ok()).unwrap_or(50);
    harness::check_room(sizes.iter().copied().max().unwrap_or(0));
    println!("fan-out latency, {writes} writes 100 ms apart per row (ms)");
    println!(
        "{:>8} {:>9} {:>8} {:>8} {:>8} {:>14} {:>7} {:>11} {:>11}",
        "clients", "mode", "p50", "p99", "max", "received", "errors", "server µs", "bench µs"
    );
    let floor = floor(writes).await;
    println!(
        "{:>8} {:>9} {:>8.2} {:>8.2} {:>8.2} {:>14} {:>7}",
        "floor", "notify", floor.0, floor.1, floor.2, writes, 0
    );
    for n in sizes {
        for mode in [Mode::LongPoll, Mode::Sse] {
            let run = run(n, writes, mode).await;
            let mut latencies = run.latencies;
            latencies.sort_by(|a, b| a.total_cmp(b));
            let per_delivery = |seconds: f64| seconds * 1e6 / latencies.len().max(1) as f64;
            println!(
                "{:>8} {:>9} {:>8.2} {:>8.2} {:>8.2} {:>14} {:>7} {:>11.0} {:>11.0}",
                n,
                mode.name(),
                percentile(&latencies, 50.0),
                percentile(&latencies, 99.0),
                latencies.last().copied().unwrap_or(f64::NAN),
                format!("{}/{}", latencies.len(), run.expected),
                run.errors,
                per_delivery(run.server_cpu),
                per_delivery(run.bench_cpu),
            );
        }
    }
    println!("server µs / bench µs: CPU time per delivered change during the writes, in the server and in this load generator");
}

/// INSERT + NOTIFY committed, seen by LISTEN: p50, p99, max in ms.
async fn floor(writes: usize) -> (f64, f64, f64) {
    let bench = Bench::start(&[]).await;
    sqlx::query("CREATE TABLE floor (id serial PRIMARY KEY, at timestamptz DEFAULT now())")
        .execute(&bench.db)
        .await
        .unwrap();
    let mut listener = PgListener::connect_with(&bench.db).await.unwrap();
    listener.listen("floor").await.unwrap();
    let mut latencies = Vec::new();
    for _ in 0..writes {
        let started = Instant::now();
        let mut tx = bench.db.begin().await.unwrap();
        sqlx::query("INSERT INTO floor DEFAULT VALUES").execute(&mut *tx).await.unwrap();
        sqlx::query("SELECT pg_notify('floor', 'x')").execute(&mut *tx).await.unwrap();
        tx.commit().await.unwrap();
        listener.recv().await.unwrap();
        latencies.push(started.elapsed().as_secs_f64() * 1000.0);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    latencies.sort_by(|a, b| a.total_cmp(b));
    let result = (percentile(&latencies, 50.0), percentile(&latencies, 99.0), *latencies.last().unwrap());
    bench.stop().await;
    result
}

struct Run {
    /// Milliseconds from send to receipt, every receipt.
    latencies: Vec<f64>,
    errors: usize,
    expected: usize,
    /// CPU seconds used while the writes were delivered.
    server_cpu: f64,
    bench_cpu: f64,
}

async fn run(n: usize, writes: usize, mode: Mode) -> Run {
    let bench = Bench::start(&[
        ("COURTYARD_SYNC_LONG_POLL_TIMEOUT_SECS", "20"),
        ("COURTYARD_SYNC_SSE_TIMEOUT_SECS", "20"),
        ("COURTYARD_DATABASE_MAX_CONNECTIONS", "10"),
    ])
    .await;
    let ready = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let receipts: Vec<Receipts> = (0..n).map(|_| Arc::new(Mutex::new(vec![None; writes]))).collect();
    // A connection per request or stream held (HTTP/1.1), one per client.
    let http = reqwest::Client::builder().http1_only().pool_max_idle_per_host(usize::MAX).build().unwrap();
    let bearers = bench.bearers(n).await;
    let mut tasks = Vec::new();
    for (i, receipts) in receipts.iter().enumerate() {
        let follower = Follower {
            mode,
            counted: false,
            http: http.clone(),
            url: bench.shape_url(),
            bearer: bearers[i % bearers.len()].clone(),
            receipts: receipts.clone(),
            ready: ready.clone(),
            errors: errors.clone(),
            stop: stop.clone(),
        };
        tasks.push(tokio::spawn(follower.run()));
    }
    let deadline = Instant::now() + Duration::from_secs(300);
    while ready.load(Ordering::SeqCst) < n && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Let the last ones' live requests or streams arrive.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (server_cpu, bench_cpu) = (bench.server_cpu_seconds(), harness::cpu_seconds("/proc/self/stat"));
    let mut sent = Vec::with_capacity(writes);
    for seq in 0..writes {
        let id = uuid::Uuid::new_v4();
        let mutation = json!([{"id": uuid::Uuid::new_v4(), "name": "announcement.create",
            "args": {"id": id, "title": format!("w{seq}"), "body": "fan-out"}}]);
        sent.push(Instant::now());
        if !bench.mutate(mutation).await.is_success() {
            errors.fetch_add(1, Ordering::SeqCst);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Let the last change arrive everywhere.
    let grace = Instant::now() + Duration::from_secs(30);
    while Instant::now() < grace && receipts.iter().any(|r| r.lock().unwrap().last().is_some_and(Option::is_none)) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (server_cpu, bench_cpu) =
        (bench.server_cpu_seconds() - server_cpu, harness::cpu_seconds("/proc/self/stat") - bench_cpu);
    stop.store(true, Ordering::SeqCst);
    for task in tasks {
        task.abort();
    }
    let mut latencies = Vec::new();
    for receipts in &receipts {
        for (seq, at) in receipts.lock().unwrap().iter().enumerate() {
            if let Some(at) = at {
                latencies.push(at.saturating_duration_since(sent[seq]).as_secs_f64() * 1000.0);
            }
        }
    }
    bench.stop().await;
    Run { latencies, errors: errors.load(Ordering::SeqCst), expected: n * writes, server_cpu, bench_cpu }
}

struct Follower {
    mode: Mode,
    http: reqwest::Client,
    url: String,
    bearer: String,
    receipts: Receipts,
    ready: Arc<AtomicUsize>,
    /// Whether this client has counted itself in `ready`.
    counted: bool,
    errors: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

/// Where a client is in the shape's log.
#[derive(Default)]
struct At {
    offset: String,
    handle: Option<String>,
    cursor: String,
}

impl At {
    /// The query from here: catching up (`live`: None), or live as `live` says.
    fn query(&self, live: Option<Mode>) -> Vec<(&'static str, String)> {
        let mut query = vec![("table", "announcements".to_owned()), ("offset", self.offset.clone())];
        if let Some(handle) = &self.handle {
            query.push(("handle", handle.clone()));
        }
        if let Some(mode) = live {
            query.push(("live", "true".into()));
            query.push(("cursor", self.cursor.clone()));
            if mode == Mode::Sse {
                query.push(("live_sse", "true".into()));
            }
        }
        query
    }
}

impl Follower {
    /// Catches up from offset -1, then follows live as `mode` says until stopped.
    async fn run(mut self) {
        let mut at = At { offset: "-1".to_owned(), ..At::default() };
        let mut live = false;
        while !self.stop.load(Ordering::SeqCst) {
            if live && self.mode == Mode::Sse {
                self.stream(&mut at).await;
            } else {
                live = self.request(&mut at, live).await;
            }
        }
    }

    /// One request, a long-poll if `live`; whether its answer ends up to
    /// date (on an error, `live` as it was).
    async fn request(&mut self, at: &mut At, live: bool) -> bool {
        let Some(response) = self.send(&at.query(live.then_some(Mode::LongPoll))).await else {
            return live;
        };
        let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        at.handle = header("electric-handle");
        at.offset = header("electric-offset").unwrap_or(std::mem::take(&mut at.offset));
        at.cursor = header("electric-cursor").unwrap_or(std::mem::take(&mut at.cursor));
        let Ok(body) = response.bytes().await else {
            self.errors.fetch_add(1, Ordering::SeqCst);
            return live;
        };
        let now = Instant::now();
        let messages: Vec<Value> = serde_json::from_slice(&body).unwrap_or_default();
        for message in &messages {
            self.receive(message, now);
        }
        let up_to_date = messages.last().is_some_and(|m| m["headers"]["control"] == "up-to-date");
        if up_to_date && !self.counted {
            self.counted = true;
            self.ready.fetch_add(1, Ordering::SeqCst);
        }
        up_to_date
    }

    /// One event stream from `at` until the server ends it (its time is
    /// up) or it breaks: each change is received as its event arrives, and
    /// each `up-to-date` moves `at` to where the next stream resumes.
    async fn stream(&mut self, at: &mut At) {
        let Some(mut response) = self.send(&at.query(Some(Mode::Sse))).await else {
            return;
        };
        if let Some(cursor) = response.headers().get("electric-cursor").and_then(|v| v.to_str().ok()) {
            at.cursor = cursor.to_owned();
        }
        let mut buffer = Vec::new();
        loop {
            let chunk = match response.chunk().await {
                Ok(Some(chunk)) => chunk,
                Ok(None) => return,
                Err(_) => {
                    self.errors.fetch_add(1, Ordering::SeqCst);
                    return;
                }
            };
            let now = Instant::now();
            buffer.extend_from_slice(&chunk);
            // Each event ends with a blank line: `data: <message>`, or a
            // `: keep-alive` comment.
            let mut start = 0;
            while let Some(end) = buffer[start..].windows(2).position(|w| w == b"\n\n") {
                let event = &buffer[start..start + end];
                start += end + 2;
                let Some(data) = event.strip_prefix(b"data: ") else { continue };
                let Ok(message) = serde_json::from_slice::<Value>(data) else {
                    self.errors.fetch_add(1, Ordering::SeqCst);
                    continue;
                };
                if let Some(lsn) = message["headers"]["global_last_seen_lsn"].as_str() {
                    at.offset = format!("{lsn}_0");
                }
                self.receive(&message, now);
            }
            buffer.drain(..start);
        }
    }

    /// Sends a shape request; a failure or an error status counts as an
    /// error, and the client waits a little before its next.
    async fn send(&self, query: &[(&str, String)]) -> Option<reqwest::Response> {
        let response = self.http.get(&self.url).header("authorization", &self.bearer).query(query).send().await;
        match response {
            Ok(response) if response.status().is_success() => Some(response),
            _ => {
                self.errors.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(100)).await;
                None
            }
        }
    }

    /// Notes the first receipt of a write (its title is `w<seq>`).
    fn receive(&self, message: &Value, now: Instant) {
        let seq =
            message["value"]["title"].as_str().and_then(|t| t.strip_prefix('w')).and_then(|s| s.parse::<usize>().ok());
        if let Some(seq) = seq {
            if let Some(slot) = self.receipts.lock().unwrap().get_mut(seq) {
                slot.get_or_insert(now);
            }
        }
    }
}
