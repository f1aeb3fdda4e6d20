//! The change log stays bounded: 1 000 000 updates over 1 000 rows of one
//! group, written by two writers in statements of 100 rows, once without
//! the retention job and once with it running every second (retention 5 s,
//! compaction on), side by side: the writers' throughput, and the log's
//! entries and bytes over time (the benchmark vacuums the tables every 5 s
//! in both runs, as autovacuum would where it is on). Then what compaction
//! saves a client that catches up after every row was edited 100 times.
//! `cargo bench -p server --bench log_retention`.

mod harness;

use harness::Bench;
use server::shapes::retention::{Retention, Settings, COMPACT_SPAN};
use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

const ROWS: i64 = 1_000;
const UPDATES: i64 = 1_000_000;
const PER_STATEMENT: i64 = 100;
const WRITERS: i64 = 2;

#[tokio::main]
async fn main() {
    // The server's own job is kept out of the way: this benchmark runs it.
    let bench = Bench::start(&[("COURTYARD_SYNC_LOG_SWEEP_INTERVAL", "1000h")]).await;
    let s = format!("\"{}\"", bench.schema);
    sqlx::query(&format!(
        "INSERT INTO {s}.announcements (id, author_id, title, body)
         SELECT gen_random_uuid(), gen_random_uuid(), 'row ' || i, '' FROM generate_series(1, {ROWS}) i"
    ))
    .execute(&bench.db)
    .await
    .unwrap();
    let ids: Vec<uuid::Uuid> = sqlx::query_scalar(&format!("SELECT id FROM {s}.announcements ORDER BY id"))
        .fetch_all(&bench.db)
        .await
        .unwrap();
    let schema = app::backend::SchemaName::parse(&bench.schema).unwrap();
    let settings = |retention, compaction| Settings {
        retention,
        keep_min: 1_000,
        compaction,
        compaction_lag: 10_000,
        interval: Duration::from_secs(1),
    };

    println!(
        "log retention: {UPDATES} updates over {ROWS} rows, {WRITERS} writers, {PER_STATEMENT} rows per statement"
    );
    let without = run(&bench, &ids, None).await;
    // Start the second run from an empty log, as the first did.
    sqlx::raw_sql(&format!(
        "DELETE FROM {s}.changes; UPDATE {s}.change_floor SET position = (SELECT position FROM {s}.change_head)"
    ))
    .execute(&bench.db)
    .await
    .unwrap();
    let job = Retention::new(
        std::sync::Arc::new(app::backend::Databases::single(bench.db.clone())),
        settings(Duration::from_secs(5), true),
        None,
    );
    let with = run(&bench, &ids, Some((job, schema.clone()))).await;
    println!("{:>24} {:>12} {:>14} {:>12}", "run", "updates/s", "log entries", "log MiB");
    for (name, run) in [("without the job", &without), ("job every 1 s, 5 s kept", &with)] {
        println!("{name:>24} {:>12.0} {:>14} {:>12.1}", run.rate, run.end.0, run.end.1 as f64 / 1048576.0);
    }
    println!("throughput with the job / without: {:.2}", with.rate / without.rate);
    println!("log over time with the job (s, entries, MiB of table and indexes):");
    for (at, entries, bytes) in &with.samples {
        println!("  {at:>6.1} {entries:>10} {:>8.1}", *bytes as f64 / 1048576.0);
    }

    catch_up(&bench, &ids, &schema, settings(Duration::from_secs(3600), true)).await;
    bench.stop().await;
}

struct Run {
    rate: f64,
    /// Log entries and bytes at the end.
    end: (i64, i64),
    /// (seconds, entries, bytes) every 5 s (counting is a scan of the log:
    /// more often, the count would be a load of its own).
    samples: Vec<(f64, i64, i64)>,
}

/// The log's entries and bytes (table and indexes).
async fn log_size(db: &sqlx::PgPool, schema: &str) -> (i64, i64) {
    sqlx::query_as(&format!(
        "SELECT (SELECT count(*) FROM \"{schema}\".changes), pg_total_relation_size('\"{schema}\".changes')"
    ))
    .fetch_one(db)
    .await
    .unwrap()
}

async fn run(bench: &Bench, ids: &[uuid::Uuid], job: Option<(Arc<Retention>, app::backend::SchemaName)>) -> Run {
    let done = Arc::new(AtomicBool::new(false));
    let sweeper = job.map(|(job, schema)| {
        let done = done.clone();
        tokio::spawn(async move {
            while !done.load(Ordering::Relaxed) {
                job.sweep(&schema).await.unwrap();
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        })
    });
    // What autovacuum does (this machine's Postgres runs with it off, as
    // its CI configuration has it): the log's and the table's dead rows
    // reclaimed every 5 s, in both runs alike.
    let vacuum = {
        let (done, db, schema) = (done.clone(), bench.db.clone(), bench.schema.clone());
        tokio::spawn(async move {
            while !done.load(Ordering::Relaxed) {
                for table in ["changes", "announcements"] {
                    sqlx::query(&format!("VACUUM \"{schema}\".{table}")).execute(&db).await.unwrap();
                }
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        })
    };
    let started = Instant::now();
    let sampler = {
        let (done, db, schema) = (done.clone(), bench.db.clone(), bench.schema.clone());
        tokio::spawn(async move {
            let mut samples = Vec::new();
            while !done.load(Ordering::Relaxed) {
                let (entries, bytes) = log_size(&db, &schema).await;
                samples.push((started.elapsed().as_secs_f64(), entries, bytes));
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
            samples
        })
    };
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (db, schema, ids) = (bench.db.clone(), bench.schema.clone(), ids.to_vec());
            tokio::spawn(async move {
                let statements = UPDATES / PER_STATEMENT / WRITERS;
                for n in 0..statements {
                    let first = ((n * WRITERS + w) * PER_STATEMENT % ROWS) as usize;
                    let chunk = &ids[first..first + PER_STATEMENT as usize];
                    sqlx::query(&format!("UPDATE \"{schema}\".announcements SET body = $2 WHERE id = ANY($1)"))
                        .bind(chunk)
                        .bind(format!("edit {n}"))
                        .execute(&db)
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    let rate = UPDATES as f64 / started.elapsed().as_secs_f64();
    done.store(true, Ordering::Relaxed);
    if let Some(sweeper) = sweeper {
        sweeper.await.unwrap();
    }
    vacuum.await.unwrap();
    let samples = sampler.await.unwrap();
    Run { rate, end: log_size(&bench.db, &bench.schema).await, samples }
}

/// A client at the log's head, then every row edited 100 times: catching
/// up (non-live requests until up to date) before and after compaction.
async fn catch_up(bench: &Bench, ids: &[uuid::Uuid], schema: &app::backend::SchemaName, settings: Settings) {
    let first = bench.shape_get(&[("table", "announcements"), ("offset", "-1")]).send().await.unwrap();
    let handle = first.headers()["electric-handle"].to_str().unwrap().to_owned();
    let head: i64 = sqlx::query_scalar(&format!("SELECT position FROM \"{}\".change_head", bench.schema))
        .fetch_one(&bench.db)
        .await
        .unwrap();
    for n in 0..100 {
        sqlx::query(&format!("UPDATE \"{}\".announcements SET body = $2 WHERE id = ANY($1)", bench.schema))
            .bind(ids)
            .bind(format!("catch-up edit {n}"))
            .execute(&bench.db)
            .await
            .unwrap();
    }
    let measure = || async {
        let (mut offset, mut requests, mut bytes, mut messages) = (format!("{head}_0"), 0, 0, 0);
        let started = Instant::now();
        loop {
            let query = [("table", "announcements"), ("offset", offset.as_str()), ("handle", handle.as_str())];
            let response = bench.shape_get(&query).send().await.unwrap();
            let status = response.status();
            assert!(status.is_success(), "{status} at {offset}: {}", response.text().await.unwrap_or_default());
            let up_to_date = response.headers().contains_key("electric-up-to-date");
            offset = response.headers()["electric-offset"].to_str().unwrap().to_owned();
            let body = response.bytes().await.unwrap();
            requests += 1;
            bytes += body.len();
            messages += serde_json::from_slice::<Vec<serde_json::Value>>(&body).unwrap().len();
            if up_to_date {
                return (started.elapsed(), requests, messages, bytes);
            }
        }
    };
    let before = measure().await;
    // Every edit may merge (no snapshot is being resumed here).
    let job = Retention::new(
        std::sync::Arc::new(app::backend::Databases::single(bench.db.clone())),
        Settings { compaction_lag: 0, ..settings },
        None,
    );
    // Enough passes to reach the head (a pass compacts a bounded span).
    let (floor, head): (i64, i64) = sqlx::query_as(&format!(
        "SELECT f.position, h.position FROM \"{0}\".change_floor f, \"{0}\".change_head h",
        bench.schema
    ))
    .fetch_one(&bench.db)
    .await
    .unwrap();
    let mut merged = 0;
    for _ in 0..=(head - floor) / COMPACT_SPAN + 1 {
        merged += job.sweep(schema).await.unwrap().merged;
    }
    let after = measure().await;
    println!("catching up on {} rows edited 100 times each:", ids.len());
    println!("{:>20} {:>10} {:>10} {:>10} {:>10}", "log", "ms", "requests", "messages", "KiB");
    for (name, (time, requests, messages, bytes)) in [("as written", before), ("compacted", after)] {
        println!(
            "{name:>20} {:>10.0} {requests:>10} {messages:>10} {:>10.0}",
            time.as_secs_f64() * 1000.0,
            bytes as f64 / 1024.0
        );
    }
    println!("compaction merged {merged} updates");
}
