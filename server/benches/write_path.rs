//! The write path: mutations/s through `/api/mutate` in batches of 1 and
//! of 100, and what change capture costs: the same batches of 100 with the
//! capture trigger disabled, as a ratio; then where capture's time goes:
//! one more captured run with Postgres counting the time spent in each
//! trigger function (`track_functions`). `cargo bench -p server --bench write_path`.

mod harness;

use harness::{median, Bench};
use serde_json::{json, Value};
use std::time::Instant;

const MUTATIONS: usize = 2_000;
const ROUNDS: usize = 3;

#[tokio::main]
async fn main() {
    let mut bench = Bench::start(&[]).await;
    println!("write path: {MUTATIONS} announcement.create per run, median of {ROUNDS} runs, one writer");
    println!("{:>22} {:>14}", "run", "mutations/s");
    let single = rate(&bench, 1).await;
    println!("{:>22} {:>14.0}", "batches of 1", single);
    let captured = rate(&bench, 100).await;
    println!("{:>22} {:>14.0}", "batches of 100", captured);
    // Capture is the statement trigger that logs inserts, and the one that
    // takes the log's lock first (tenant migrations 0006, 0004).
    let table = format!("\"{}\".announcements", bench.schema);
    let triggers = |action: &'static str| {
        let sql = format!("ALTER TABLE {table} {action} TRIGGER capture_insert, {action} TRIGGER lock_change_head");
        let db = bench.db.clone();
        async move { sqlx::query(&sql).execute(&db).await.unwrap() }
    };
    triggers("DISABLE").await;
    let bare = rate(&bench, 100).await;
    triggers("ENABLE").await;
    println!("{:>22} {:>14.0}", "100, capture off", bare);
    println!("capture cost (time with / without, batches of 100): {:.2}", bare / captured);

    let track = format!("ALTER DATABASE \"{}\" SET track_functions = 'pl'", bench.database);
    sqlx::query(&track).execute(&bench.db).await.unwrap();
    bench.restart(&[]).await;
    sqlx::query("SELECT pg_stat_reset()").execute(&bench.db).await.unwrap();
    let per_mutation = 1e6 / run(&bench, 100).await;
    // A session flushes its function statistics at most once a second
    // while busy, and 10 s after it goes idle (Postgres 15).
    tokio::time::sleep(std::time::Duration::from_secs(11)).await;
    let functions: Vec<(String, i64, f64, f64)> = sqlx::query_as(
        "SELECT funcname::text, calls, total_time, self_time FROM pg_stat_user_functions
         WHERE schemaname = $1 ORDER BY total_time DESC",
    )
    .bind(&bench.schema)
    .fetch_all(&bench.db)
    .await
    .unwrap();
    println!("one captured run, batches of 100: {per_mutation:.0} µs per mutation in all; in the trigger functions:");
    println!("{:>22} {:>8} {:>14} {:>14}", "function", "calls", "µs / mutation", "self µs / m.");
    for (name, calls, total, own) in functions {
        let per = |ms: f64| ms * 1000.0 / MUTATIONS as f64;
        println!("{name:>22} {calls:>8} {:>14.1} {:>14.1}", per(total), per(own));
    }
    bench.stop().await;
}

/// Median mutations per second for `MUTATIONS` creates in batches of `size`.
async fn rate(bench: &Bench, size: usize) -> f64 {
    let mut rates = Vec::new();
    for _ in 0..ROUNDS {
        rates.push(run(bench, size).await);
    }
    median(&mut rates)
}

/// Mutations per second for `MUTATIONS` creates in batches of `size`.
async fn run(bench: &Bench, size: usize) -> f64 {
    let batches: Vec<Value> = (0..MUTATIONS / size)
        .map(|_| {
            Value::Array(
                (0..size)
                    .map(|_| {
                        json!({"id": uuid::Uuid::new_v4(), "name": "announcement.create",
                        "args": {"id": uuid::Uuid::new_v4(), "title": "bench", "body": "write path"}})
                    })
                    .collect(),
            )
        })
        .collect();
    let started = Instant::now();
    for batch in batches {
        assert!(bench.mutate(batch).await.is_success());
    }
    MUTATIONS as f64 / started.elapsed().as_secs_f64()
}
