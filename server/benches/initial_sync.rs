//! Initial sync: a table of 10 000 and of 100 000 rows delivered from
//! offset -1 to up-to-date to a Rust client; rows/s, and the server's peak
//! memory growth while serving it (it should not grow with the table: the
//! snapshot is streamed in chunks). `cargo bench -p server --bench initial_sync`.

mod harness;

use harness::Bench;
use serde::Deserialize;
use std::collections::HashMap;
use std::{
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

#[tokio::main]
async fn main() {
    println!("initial sync of `announcements` from offset -1");
    println!("{:>8} {:>10} {:>12} {:>8} {:>16}", "rows", "seconds", "rows/s", "chunks", "server RSS +KiB");
    for rows in [10_000, 100_000] {
        let bench = Bench::start(&[]).await;
        sqlx::query(&format!(
            "INSERT INTO \"{}\".announcements (id, author_id, title, body)
             SELECT gen_random_uuid(), gen_random_uuid(), 'notice ' || i, repeat('text ', 20) FROM generate_series(1, $1) i",
            bench.schema
        ))
        .bind(rows as i64)
        .execute(&bench.db)
        .await
        .unwrap();
        // Warm the server (a first request), then measure.
        let _ = bench.shape_get(&[("table", "resources"), ("offset", "-1")]).send().await;
        let (before, _) = bench.server_memory_kib();
        let peak = Arc::new(AtomicU64::new(before));
        let done = Arc::new(AtomicBool::new(false));
        let sampler = {
            let (peak, done) = (peak.clone(), done.clone());
            let bench_status = format!("/proc/{}/status", bench.pid());
            tokio::spawn(async move {
                while !done.load(Ordering::SeqCst) {
                    if let Some(rss) = rss_kib(&bench_status) {
                        peak.fetch_max(rss, Ordering::SeqCst);
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            })
        };
        let started = Instant::now();
        let (received, chunks) = sync_all(&bench).await;
        let seconds = started.elapsed().as_secs_f64();
        done.store(true, Ordering::SeqCst);
        sampler.await.unwrap();
        assert_eq!(received, rows, "every row arrived");
        let growth = peak.load(Ordering::SeqCst).saturating_sub(before);
        println!("{:>8} {:>10.2} {:>12.0} {:>8} {:>16}", rows, seconds, rows as f64 / seconds, chunks, growth);
        bench.stop().await;
    }
}

fn rss_kib(status_path: &str) -> Option<u64> {
    let status = std::fs::read_to_string(status_path).ok()?;
    status.lines().find(|l| l.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse().ok()
}

/// Follows the shape from -1 until up to date; rows received and requests made.
async fn sync_all(bench: &Bench) -> (usize, usize) {
    let (mut offset, mut handle, mut rows, mut chunks) = ("-1".to_owned(), None::<String>, 0, 0);
    loop {
        let mut query = vec![("table", "announcements".to_owned()), ("offset", offset.clone())];
        if let Some(handle) = &handle {
            query.push(("handle", handle.clone()));
        }
        let response = bench.shape_get(&query).send().await.unwrap();
        assert!(response.status().is_success());
        handle = response.headers().get("electric-handle").map(|v| v.to_str().unwrap().to_owned());
        offset = response.headers()["electric-offset"].to_str().unwrap().to_owned();
        let body = response.bytes().await.unwrap();
        let messages: Vec<Message> = serde_json::from_slice(&body).unwrap();
        chunks += 1;
        rows +=
            messages.iter().filter(|m| m.headers.operation.as_deref() == Some("insert") && m.value.is_some()).count();
        if messages.last().is_some_and(|m| m.headers.control.as_deref() == Some("up-to-date")) {
            return (rows, chunks);
        }
    }
}

/// A message as a Rust client would keep it: each row a map of column to
/// Postgres text (parsed whole, as a client must, into owned strings).
#[derive(Deserialize)]
struct Message {
    headers: Headers,
    value: Option<HashMap<String, Option<String>>>,
}

#[derive(Deserialize)]
struct Headers {
    operation: Option<String>,
    control: Option<String>,
}
