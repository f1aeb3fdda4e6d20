//! Idle cost: N live long-polls waiting on one group (nothing changes):
//! the server's memory per waiting connection, and the database
//! connections in use (they should not grow with N). To split that memory,
//! a fresh server first holds N bare connections that send nothing (the
//! connection's own share). `cargo bench -p server --bench idle`
//! (`IDLE_CLIENTS=10000`).

mod harness;

use harness::Bench;
use std::time::Duration;

#[tokio::main]
async fn main() {
    let n: usize = std::env::var("IDLE_CLIENTS").ok().and_then(|s| s.parse().ok()).unwrap_or(10_000);
    bare_connections(n).await;
    let bench = Bench::start(&[("COURTYARD_SYNC_LONG_POLL_TIMEOUT_SECS", "120")]).await;
    // Where a live client waits: the shape's handle and head.
    let first = bench.shape_get(&[("table", "announcements"), ("offset", "-1")]).send().await.unwrap();
    let handle = first.headers()["electric-handle"].to_str().unwrap().to_owned();
    let offset = first.headers()["electric-offset"].to_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (before, _) = bench.server_memory_kib();
    let connections_before = bench.database_connections().await;
    let mut waiting = Vec::with_capacity(n);
    for _ in 0..n {
        // One client (and connection) per waiter, as separate browsers would.
        let http = reqwest::Client::new();
        let request = http
            .get(bench.shape_url())
            .header("authorization", &bench.bearer)
            .query(&[
                ("table", "announcements"),
                ("offset", &offset),
                ("handle", &handle),
                ("live", "true"),
                ("cursor", ""),
            ])
            .send();
        waiting.push(tokio::spawn(request));
        if waiting.len() % 500 == 0 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    // Let every request arrive and settle into its wait.
    tokio::time::sleep(Duration::from_secs(10)).await;
    let (during, _) = bench.server_memory_kib();
    let connections_during = bench.database_connections().await;
    let still_waiting = waiting.iter().filter(|w| !w.is_finished()).count();
    println!("idle live long-polls: {n} sent, {still_waiting} waiting");
    println!(
        "server RSS: {before} KiB before, {during} KiB waiting: {:.1} KiB per waiting request",
        (during.saturating_sub(before)) as f64 / still_waiting.max(1) as f64
    );
    println!("database connections: {connections_before} before, {connections_during} while waiting (the pool's, not per client)");
    for request in waiting {
        request.abort();
    }
    bench.stop().await;
}

/// N accepted connections that never send a byte, on a server of their own.
async fn bare_connections(n: usize) {
    let bench = Bench::start(&[]).await;
    let _ = bench.http.get(bench.url("/")).send().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (before, _) = bench.server_memory_kib();
    let address = bench.url("").trim_start_matches("http://").trim_end_matches('/').to_owned();
    let mut held = Vec::with_capacity(n);
    for _ in 0..n {
        held.push(tokio::net::TcpStream::connect(&address).await.unwrap());
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    let (during, _) = bench.server_memory_kib();
    println!(
        "bare connections: {n} open, server RSS {before} KiB before, {during} KiB holding them: {:.1} KiB per connection",
        during.saturating_sub(before) as f64 / n as f64
    );
    drop(held);
    bench.stop().await;
}
