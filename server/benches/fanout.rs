//! Fan-out latency: N live clients follow one group's `announcements`
//! while a writer commits one change every 100 ms through `/api/mutate`.
//! Latency is from just before the writer sends to each client's receipt.
//! Side by side, the floor: a bare INSERT + NOTIFY seen by a LISTEN
//! connection. `cargo bench -p server --bench fanout` (sizes:
//! `FANOUT_CLIENTS=1,100,1000,10000`, writes per size: `FANOUT_WRITES=50`).

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

#[tokio::main]
async fn main() {
    let sizes: Vec<usize> = std::env::var("FANOUT_CLIENTS")
        .unwrap_or_else(|_| "1,100,1000,10000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let writes: usize = std::env::var("FANOUT_WRITES").ok().and_then(|s| s.parse().ok()).unwrap_or(50);
    println!("fan-out latency, {writes} writes 100 ms apart per row (ms)");
    println!(
        "{:>8} {:>8} {:>8} {:>8} {:>14} {:>7} {:>11} {:>11}",
        "clients", "p50", "p99", "max", "received", "errors", "server µs", "bench µs"
    );
    let floor = floor(writes).await;
    println!("{:>8} {:>8.2} {:>8.2} {:>8.2} {:>14} {:>7}", "floor", floor.0, floor.1, floor.2, writes, 0);
    for n in sizes {
        let run = run(n, writes).await;
        let mut latencies = run.latencies;
        latencies.sort_by(|a, b| a.total_cmp(b));
        let per_delivery = |seconds: f64| seconds * 1e6 / latencies.len().max(1) as f64;
        println!(
            "{:>8} {:>8.2} {:>8.2} {:>8.2} {:>14} {:>7} {:>11.0} {:>11.0}",
            n,
            percentile(&latencies, 50.0),
            percentile(&latencies, 99.0),
            latencies.last().copied().unwrap_or(f64::NAN),
            format!("{}/{}", latencies.len(), run.expected),
            run.errors,
            per_delivery(run.server_cpu),
            per_delivery(run.bench_cpu),
        );
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

async fn run(n: usize, writes: usize) -> Run {
    let bench =
        Bench::start(&[("COURTYARD_SYNC_LONG_POLL_TIMEOUT_SECS", "20"), ("COURTYARD_DATABASE_MAX_CONNECTIONS", "10")])
            .await;
    let ready = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let receipts: Vec<Receipts> = (0..n).map(|_| Arc::new(Mutex::new(vec![None; writes]))).collect();
    let http = reqwest::Client::builder().pool_max_idle_per_host(usize::MAX).build().unwrap();
    let mut tasks = Vec::new();
    for receipts in &receipts {
        let follower = Follower {
            http: http.clone(),
            url: bench.shape_url(),
            bearer: bench.bearer.clone(),
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
    http: reqwest::Client,
    url: String,
    bearer: String,
    receipts: Receipts,
    ready: Arc<AtomicUsize>,
    errors: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl Follower {
    async fn run(self) {
        let (mut offset, mut handle, mut cursor, mut live, mut counted) =
            ("-1".to_owned(), None::<String>, String::new(), false, false);
        while !self.stop.load(Ordering::SeqCst) {
            let mut query = vec![("table", "announcements".to_owned()), ("offset", offset.clone())];
            if let Some(handle) = &handle {
                query.push(("handle", handle.clone()));
            }
            if live {
                query.push(("live", "true".into()));
                query.push(("cursor", cursor.clone()));
            }
            let response = self.http.get(&self.url).header("authorization", &self.bearer).query(&query).send().await;
            let Ok(response) =
                response.map_err(|_| ()).and_then(|r| if r.status().is_success() { Ok(r) } else { Err(()) })
            else {
                self.errors.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            };
            let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
            handle = header("electric-handle");
            offset = header("electric-offset").unwrap_or(offset);
            cursor = header("electric-cursor").unwrap_or(cursor);
            let Ok(body) = response.bytes().await else {
                self.errors.fetch_add(1, Ordering::SeqCst);
                continue;
            };
            let now = Instant::now();
            let messages: Vec<Value> = serde_json::from_slice(&body).unwrap_or_default();
            for message in &messages {
                let seq = message["value"]["title"]
                    .as_str()
                    .and_then(|t| t.strip_prefix('w'))
                    .and_then(|s| s.parse::<usize>().ok());
                if let Some(seq) = seq {
                    if let Some(slot) = self.receipts.lock().unwrap().get_mut(seq) {
                        slot.get_or_insert(now);
                    }
                }
            }
            live = messages.last().is_some_and(|m| m["headers"]["control"] == "up-to-date");
            if live && !counted {
                counted = true;
                self.ready.fetch_add(1, Ordering::SeqCst);
            }
        }
    }
}
