//! Moving a group to another group database under writes: a group with
//! 50 000 rows and a change log of about 100 000 entries moves (the
//! `server admin move-group` binary) from the registry's database to a
//! second one on the same Postgres server, while two writers send
//! mutations as fast as the server takes them. Reported: the move's time,
//! how long writes paused, and the writes' latency (503 retries included)
//! before and during the move. `cargo bench -p server --bench move_group`.

mod harness;

use harness::{percentile, Bench};
use serde_json::json;
use sqlx::{Connection, PgConnection};
use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

const NOTICES: i64 = 30_000;
const REQUESTS: i64 = 2_000;
const COMMENTS: i64 = 18_000;
const UPDATES: i64 = 50_000;
const WRITERS: usize = 2;

#[tokio::main]
async fn main() {
    let admin =
        std::env::var("BENCH_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let target_name = format!("courtyard_bench_{}", uuid::Uuid::new_v4().simple());
    let mut conn = PgConnection::connect(&admin).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE \"{target_name}\"")).execute(&mut conn).await.unwrap();
    let target_url = format!("{}/{target_name}", admin.rsplit_once('/').unwrap().0);
    let databases = format!("main= other={target_url}");
    let bench = Bench::start(&[("COURTYARD_DATABASES", databases.as_str())]).await;
    let s = format!("\"{}\"", bench.schema);
    let seeded = Instant::now();
    sqlx::raw_sql(&format!(
        "INSERT INTO {s}.announcements (id, author_id, title, body)
           SELECT gen_random_uuid(), gen_random_uuid(), 'notice ' || i, repeat('x', 200) FROM generate_series(1, {NOTICES}) i;
         INSERT INTO {s}.requests (id, author_id, title, description)
           SELECT gen_random_uuid(), gen_random_uuid(), 'request ' || i, repeat('y', 200) FROM generate_series(1, {REQUESTS}) i;
         INSERT INTO {s}.request_comments (id, request_id, author_id, body)
           SELECT gen_random_uuid(), r.id, gen_random_uuid(), 'comment'
           FROM (SELECT id FROM {s}.requests) r, generate_series(1, {COMMENTS} / {REQUESTS});
         UPDATE {s}.announcements SET body = 'edited' WHERE id IN (SELECT id FROM {s}.announcements LIMIT {UPDATES});
         UPDATE {s}.announcements SET pinned = true WHERE id IN (SELECT id FROM {s}.announcements LIMIT {UPDATES} - {NOTICES});"
    ))
    .execute(&bench.db)
    .await
    .unwrap();
    sqlx::raw_sql(&format!("VACUUM ANALYZE {s}.announcements, {s}.changes")).execute(&bench.db).await.unwrap();
    let (entries, log_bytes): (i64, i64) =
        sqlx::query_as(&format!("SELECT count(*), pg_total_relation_size('{s}.changes') FROM {s}.changes"))
            .fetch_one(&bench.db)
            .await
            .unwrap();
    let rows = NOTICES + REQUESTS + COMMENTS + 1;
    println!(
        "move a group: {rows} rows, {entries} log entries ({} MiB of log), seeded in {:.1} s; {WRITERS} writers",
        log_bytes >> 20,
        seeded.elapsed().as_secs_f64()
    );

    // Writers: each write timed from its first try to the one the server
    // took (a 503 in the pause is tried again after 20 ms, as the outbox does
    // sooner or later).
    let writing = Arc::new(AtomicBool::new(true));
    let moving = Arc::new(AtomicBool::new(false));
    let bench = Arc::new(bench);
    let writers: Vec<_> = (0..WRITERS)
        .map(|_| {
            let (bench, writing, moving) = (bench.clone(), writing.clone(), moving.clone());
            tokio::spawn(async move {
                let (mut before, mut during, mut retries) = (Vec::new(), Vec::new(), 0);
                while writing.load(Ordering::Relaxed) {
                    let id = uuid::Uuid::new_v4();
                    let mutation = json!([{"id": id, "name": "announcement.create",
                                           "args": {"id": id, "title": "w", "body": "b"}}]);
                    let started = Instant::now();
                    let during_move = moving.load(Ordering::Relaxed);
                    loop {
                        match bench.mutate(mutation.clone()).await.as_u16() {
                            200 => break,
                            503 => {
                                retries += 1;
                                tokio::time::sleep(Duration::from_millis(20)).await;
                            }
                            other => panic!("a write got {other}"),
                        }
                    }
                    let took = started.elapsed().as_secs_f64() * 1000.0;
                    if during_move || moving.load(Ordering::Relaxed) {
                        during.push(took);
                    } else {
                        before.push(took);
                    }
                }
                (before, during, retries)
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(3)).await;
    moving.store(true, Ordering::Relaxed);
    let registry = format!("{}/{}", admin.rsplit_once('/').unwrap().0, bench.database);
    let slug = bench.slug.clone();
    let moved = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_server"))
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
            .env("DATABASE_URL", registry)
            .env("COURTYARD_DATABASES", databases)
            .env("RUST_LOG", "warn")
            .args(["admin", "move-group", &slug, "other"])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(moved.status.success(), "{}", String::from_utf8_lossy(&moved.stderr));
    tokio::time::sleep(Duration::from_secs(1)).await;
    moving.store(false, Ordering::Relaxed);
    writing.store(false, Ordering::Relaxed);
    let (mut before, mut during, mut retries) = (Vec::new(), Vec::new(), 0);
    for writer in writers {
        let (b, d, r) = writer.await.unwrap();
        before.extend(b);
        during.extend(d);
        retries += r;
    }
    print!("  {}", String::from_utf8_lossy(&moved.stdout));
    for (label, latencies) in [("before the move", &mut before), ("during it (+1 s)", &mut during)] {
        latencies.sort_by(f64::total_cmp);
        println!(
            "  writes {label:<17} {:>6}   p50 {:>6.1} ms   p99 {:>7.1} ms   max {:>7.1} ms",
            latencies.len(),
            percentile(latencies, 50.0),
            percentile(latencies, 99.0),
            latencies.last().copied().unwrap_or_default()
        );
    }
    println!("  503s retried: {retries}");
    // Everything is on the new database, nothing twice.
    let target = sqlx::postgres::PgPoolOptions::new().max_connections(1).connect(&target_url).await.unwrap();
    let (copied, ids): (i64, i64) =
        sqlx::query_as(&format!("SELECT count(*), count(DISTINCT id) FROM {s}.announcements"))
            .fetch_one(&target)
            .await
            .unwrap();
    let written = (before.len() + during.len()) as i64;
    assert_eq!((copied, ids), (NOTICES + written, NOTICES + written), "every notice on the new database, once");
    target.close().await;
    Arc::into_inner(bench).expect("the writers are done").stop().await;
    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS \"{target_name}\" WITH (FORCE)")).execute(&mut conn).await;
}
