//! Idle cost: N live subscribers waiting on one group (nothing changes):
//! the server's memory per waiting subscriber, and the database
//! connections in use (they should not grow with N). Each way of waiting
//! on a fresh server: N long-polls and N event streams (`live_sse=true`),
//! each on its own HTTP/1.1 connection as separate browsers would hold
//! them, then N event streams multiplexed over HTTP/2 (prior knowledge,
//! h2c), `H2_STREAMS` per connection: hyper's HTTP/2 server allows 200
//! concurrent streams per connection by default, which `axum::serve`
//! keeps, so N streams take N / 200 connections. The subscribers are spread
//! over as few members as keep each within the server's limit of streams
//! per person. To split that memory, a fresh server first holds N bare
//! connections that send nothing (the connection's own share).
//! `cargo bench -p server --bench idle` (`IDLE_CLIENTS=10000`).

mod harness;

use harness::Bench;
use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

/// Event streams per HTTP/2 connection: the server's limit of concurrent
/// streams (hyper's default; more would wait for a free one).
const H2_STREAMS: usize = 200;

/// How the N subscribers wait.
#[derive(Clone, Copy, PartialEq)]
enum Way {
    LongPoll,
    Stream,
    Http2Stream,
}

impl Way {
    fn describe(self, n: usize) -> String {
        match self {
            Way::LongPoll => "live long-polls (HTTP/1.1, a connection each)".into(),
            Way::Stream => "event streams (HTTP/1.1, a connection each)".into(),
            Way::Http2Stream => {
                format!("event streams (HTTP/2, {} connections of up to {H2_STREAMS})", n.div_ceil(H2_STREAMS))
            }
        }
    }
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::var("IDLE_CLIENTS").ok().and_then(|s| s.parse().ok()).unwrap_or(10_000);
    harness::check_room(n);
    bare_connections(n).await;
    for way in [Way::LongPoll, Way::Stream, Way::Http2Stream] {
        waiting(n, way).await;
    }
}

/// N subscribers waiting `way` on a server of their own.
async fn waiting(n: usize, way: Way) {
    let bench =
        Bench::start(&[("COURTYARD_SYNC_LONG_POLL_TIMEOUT_SECS", "120"), ("COURTYARD_SYNC_SSE_TIMEOUT_SECS", "120")])
            .await;
    // Where a live client waits: the shape's handle and head.
    let first = bench.shape_get(&[("table", "announcements"), ("offset", "-1")]).send().await.unwrap();
    let handle = first.headers()["electric-handle"].to_str().unwrap().to_owned();
    let offset = first.headers()["electric-offset"].to_str().unwrap().to_owned();
    let mut query =
        vec![("table", "announcements"), ("offset", &offset), ("handle", &handle), ("live", "true"), ("cursor", "")];
    if way != Way::LongPoll {
        query.push(("live_sse", "true"));
    }
    let bearers = bench.bearers(n).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (before, _) = bench.server_memory_kib();
    let connections_before = bench.database_connections().await;
    // Streams whose answer has begun and not ended.
    let open = Arc::new(AtomicUsize::new(0));
    let mut clients: Vec<reqwest::Client> = Vec::new();
    let mut waiting = Vec::with_capacity(n);
    for i in 0..n {
        // A client per connection: per waiter over HTTP/1.1, as separate
        // browsers would; per `H2_STREAMS` streams over HTTP/2.
        if way != Way::Http2Stream || i % H2_STREAMS == 0 {
            let builder = reqwest::Client::builder();
            let builder = if way == Way::Http2Stream { builder.http2_prior_knowledge() } else { builder.http1_only() };
            clients.push(builder.build().unwrap());
        }
        let request =
            clients.last().unwrap().get(bench.shape_url()).header("authorization", &bearers[i % bearers.len()]);
        let request = request.query(&query).send();
        let open = open.clone();
        waiting.push(tokio::spawn(async move {
            // A long-poll waits for its answer; a stream, in its answer.
            let Ok(mut response) = request.await else { return };
            if way == Way::LongPoll || !response.status().is_success() {
                return;
            }
            open.fetch_add(1, Ordering::SeqCst);
            while let Ok(Some(_keep_alive)) = response.chunk().await {}
            open.fetch_sub(1, Ordering::SeqCst);
        }));
        if waiting.len() % 500 == 0 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    // Let every request arrive and settle into its wait.
    tokio::time::sleep(Duration::from_secs(10)).await;
    let (during, _) = bench.server_memory_kib();
    let connections_during = bench.database_connections().await;
    let still_waiting = match way {
        Way::LongPoll => waiting.iter().filter(|w| !w.is_finished()).count(),
        Way::Stream | Way::Http2Stream => open.load(Ordering::SeqCst),
    };
    println!("idle {}: {n} sent, {still_waiting} waiting", way.describe(n));
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
