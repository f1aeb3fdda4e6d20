//! Start-up with many groups (`STARTUP_GROUPS`, default 10 000), on one
//! release server restarted on the same database: the time from spawning
//! the process until it serves (`/healthz`), until it is ready (`/readyz`)
//! and until a group's first shape request is answered, with nothing
//! pending (median of 5 restarts), against the same with one group; then
//! with one additive migration pending in every group (the latest tenant
//! migration undone in each): the time until every group is migrated (the
//! registry says so), and meanwhile a shape request every 50 ms, each for
//! a group not asked for before (latencies and errors: a group the
//! background run has not reached is migrated by its request).
//! `cargo bench -p server --bench startup`.

mod harness;

use app::backend::{migrations, SchemaName};
use harness::{median, percentile, Bench};
use sqlx::{Connection, PgPool};
use std::time::{Duration, Instant};
use uuid::Uuid;

const RESTARTS: usize = 5;

#[tokio::main]
async fn main() {
    let groups: usize = std::env::var("STARTUP_GROUPS").ok().and_then(|n| n.parse().ok()).unwrap_or(10_000);
    let mut bench = Bench::start(&[]).await;
    let admin: Uuid = sqlx::query_scalar("SELECT user_id FROM memberships").fetch_one(&bench.db).await.unwrap();

    println!("start-up: one release server, restarted on one database; {RESTARTS} restarts each");
    println!("| groups | pending | serving ms | ready ms | first shape answer ms |");
    println!("|---:|---|---:|---:|---:|");
    let one = restarts(&mut bench).await;
    println!("| 1 | nothing | {:.0} | {:.0} | {:.0} |", one.0, one.1, one.2);

    let started = Instant::now();
    let slugs = make_groups(&bench.db, admin, groups - 1).await;
    eprintln!("made {} groups in {:.0} s", groups - 1, started.elapsed().as_secs_f64());
    sqlx::query("ANALYZE").execute(&bench.db).await.unwrap();
    let many = restarts(&mut bench).await;
    println!("| {groups} | nothing | {:.0} | {:.0} | {:.0} |", many.0, many.1, many.2);

    // One additive migration pending everywhere: the latest one undone
    // (it only sets the change log's storage parameters, so applying it
    // again is what applying it first does).
    let latest = migrations::latest_tenant_version();
    let schemas: Vec<String> = sqlx::query_scalar("SELECT schema_name FROM groups").fetch_all(&bench.db).await.unwrap();
    for schema in schemas {
        sqlx::raw_sql(&format!(
            "DELETE FROM \"{schema}\".schema_migrations
               WHERE version = (SELECT max(version) FROM \"{schema}\".schema_migrations);
             ALTER TABLE \"{schema}\".changes RESET (autovacuum_vacuum_scale_factor,
               autovacuum_vacuum_threshold, autovacuum_vacuum_cost_delay);"
        ))
        .execute(&bench.db)
        .await
        .unwrap();
    }
    sqlx::query("UPDATE groups SET tenant_version = $1 - 1").bind(latest).execute(&bench.db).await.unwrap();
    let spawned = bench.restart(&[]).await;
    let serving = spawned.elapsed();
    let ready = serving + wait_ready(&bench).await;
    let mut probes = Vec::new();
    let mut failed = 0;
    let mut behind_when_asked = 0;
    // Probed from the newest group back: the background run goes oldest
    // first, so these are the ones it reaches last.
    let mut order = slugs.iter().rev();
    let done = loop {
        let left: i64 = sqlx::query_scalar("SELECT count(*) FROM groups WHERE tenant_version < $1")
            .bind(latest)
            .fetch_one(&bench.db)
            .await
            .unwrap();
        if left == 0 {
            break Some(spawned.elapsed());
        }
        // Out of groups to ask for before the run is done.
        let Some(slug) = order.next() else { break None };
        let version: i64 = sqlx::query_scalar("SELECT tenant_version FROM groups WHERE slug = $1")
            .bind(slug)
            .fetch_one(&bench.db)
            .await
            .unwrap();
        behind_when_asked += usize::from(version < latest);
        let asked = Instant::now();
        let answer = bench
            .http
            .get(bench.url(&format!("/g/{slug}/v1/shape")))
            .header("authorization", &bench.bearer)
            .query(&[("table", "announcements"), ("offset", "-1")])
            .send()
            .await;
        match answer {
            Ok(answer) if answer.status().is_success() => probes.push(asked.elapsed().as_secs_f64() * 1000.0),
            _ => failed += 1,
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    probes.sort_by(f64::total_cmp);
    println!();
    println!("one pending migration in each of {groups} groups (database.migrate_parallelism: the default, 4 of 10 connections):");
    println!("| serving ms | ready ms | all migrated s | requests meanwhile | of them for a group still behind | errors | p50 ms | p99 ms | max ms |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    println!(
        "| {:.0} | {:.0} | {} | {} | {} | {} | {:.1} | {:.1} | {:.1} |",
        serving.as_secs_f64() * 1000.0,
        ready.as_secs_f64() * 1000.0,
        done.map_or("not finished".to_owned(), |done| format!("{:.1}", done.as_secs_f64())),
        probes.len() + failed,
        behind_when_asked,
        failed,
        percentile(&probes, 50.0),
        percentile(&probes, 99.0),
        probes.last().copied().unwrap_or(0.0),
    );
    bench.stop().await;
}

/// Restarts the server `RESTARTS` times: medians of the times until it
/// serves, is ready, and answers a shape request, in ms.
async fn restarts(bench: &mut Bench) -> (f64, f64, f64) {
    let (mut serving, mut ready, mut shape) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..RESTARTS {
        let spawned = bench.restart(&[]).await;
        let up = spawned.elapsed();
        serving.push(up.as_secs_f64() * 1000.0);
        ready.push((up + wait_ready(bench).await).as_secs_f64() * 1000.0);
        let answer = bench.shape_get(&[("table", "announcements"), ("offset", "-1")]).send().await.unwrap();
        assert!(answer.status().is_success());
        shape.push(spawned.elapsed().as_secs_f64() * 1000.0);
    }
    (median(&mut serving), median(&mut ready), median(&mut shape))
}

/// Polls `/readyz` every 5 ms until it answers 200; returns how long that took.
async fn wait_ready(bench: &Bench) -> Duration {
    let started = Instant::now();
    loop {
        let answer = bench.http.get(bench.url("/readyz")).send().await;
        if answer.is_ok_and(|a| a.status().is_success()) {
            return started.elapsed();
        }
        assert!(started.elapsed() < Duration::from_secs(60), "/readyz never answered 200");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// `count` groups with `admin` as their admin, each schema made as a new
/// group's is (four at a time); returns their slugs, oldest first.
async fn make_groups(db: &PgPool, admin: Uuid, count: usize) -> Vec<String> {
    let slugs: Vec<String> = (0..count).map(|i| format!("startup-{i:05}")).collect();
    let chunks: Vec<Vec<String>> = slugs.chunks(count.div_ceil(4).max(1)).map(<[String]>::to_vec).collect();
    let tasks = chunks.into_iter().map(|chunk| {
        let db = db.clone();
        tokio::spawn(async move {
            // A new connection every 200 groups: a backend's catalogue
            // caches grow with every schema it makes, and its DDL slows down
            // with them (from 9 groups a second to 1.4 after 2 700).
            let mut conn = db.acquire().await.unwrap().detach();
            for (made, slug) in chunk.into_iter().enumerate() {
                if made > 0 && made % 200 == 0 {
                    conn.close().await.unwrap();
                    conn = db.acquire().await.unwrap().detach();
                }
                let id = Uuid::new_v4();
                let schema = SchemaName::for_group(id);
                let mut tx = conn.begin().await.unwrap();
                sqlx::query(
                    "INSERT INTO groups (id, slug, name, schema_name, created_at, tenant_version)
                     VALUES ($1, $2, $2, $3, now() - interval '1 day' + $4 * interval '1 millisecond', $5)",
                )
                .bind(id)
                .bind(&slug)
                .bind(schema.as_str())
                .bind(slug[8..].parse::<f64>().unwrap())
                .bind(migrations::latest_tenant_version())
                .execute(&mut *tx)
                .await
                .unwrap();
                migrations::provision(&mut tx, &schema).await.unwrap();
                sqlx::query("INSERT INTO memberships (user_id, group_id, role) VALUES ($1, $2, 'admin')")
                    .bind(admin)
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .unwrap();
                sqlx::query(&format!(
                    "INSERT INTO {}.members (user_id, display_name, role) VALUES ($1, 'Bench', 'admin')",
                    schema.ident()
                ))
                .bind(admin)
                .execute(&mut *tx)
                .await
                .unwrap();
                tx.commit().await.unwrap();
            }
        })
    });
    for task in tasks.collect::<Vec<_>>() {
        task.await.unwrap();
    }
    slugs
}
