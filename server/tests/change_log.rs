//! Change capture: every write to a group's synced tables lands in that
//! group's `changes` log, gap-free and in commit order; and the retention
//! job keeps that log bounded (trimmed by age, updates merged) without a
//! client ending up different from the tables.

mod common;

use common::{shape_client::ShapeClient, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};
use server::shapes::retention::{Retention, Settings, Swept};
use sqlx::{postgres::PgPoolOptions, Connection, PgConnection};
use std::time::Duration;
use uuid::Uuid;

async fn group(app: &TestApp, name: &str) -> (reqwest::Client, String, String) {
    let admin = app.client();
    app.sign_up(&admin, name).await;
    let slug = app.create_group(&admin, name).await;
    let schema = app.schema_of(&slug).await;
    (admin, slug, schema)
}

#[derive(sqlx::FromRow)]
struct Change {
    position: i64,
    txid: String,
    op: String,
    relation: String,
    key: String,
    value: Value,
    old_value: Option<Value>,
}

#[tokio::test]
async fn mutations_and_direct_sql_are_logged_as_postgres_text() {
    let app = TestApp::spawn().await;
    let (admin, slug, schema) = group(&app, "Ann").await;
    let id = Uuid::new_v4();
    let batch = json!({"group": slug, "mutations": [
        {"id": Uuid::new_v4(), "name": "announcement.create", "args": {"id": id, "title": "Bins", "body": "Tue"}},
        {"id": Uuid::new_v4(), "name": "announcement.pin", "args": {"id": id, "pinned": true}},
    ]});
    let (status, body) = app.post(&admin, "/api/mutate", batch).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Another path: a psql session in another time zone.
    let mut psql = PgConnection::connect(&app.database_url).await.unwrap();
    sqlx::raw_sql(&format!(
        "SET timezone = 'America/New_York'; DELETE FROM \"{schema}\".announcements WHERE id = '{id}'"
    ))
    .execute(&mut psql)
    .await
    .unwrap();

    let rows: Vec<Change> = sqlx::query_as(&format!(
        "SELECT position, txid::text, op, relation, key, value, old_value FROM \"{schema}\".changes ORDER BY position"
    ))
    .fetch_all(&app.db)
    .await
    .unwrap();
    let ops: Vec<(i64, &str, &str)> = rows.iter().map(|r| (r.position, r.op.as_str(), r.relation.as_str())).collect();
    assert_eq!(
        ops,
        [
            (1, "insert", "members"),
            (2, "insert", "announcements"),
            (3, "update", "announcements"),
            (4, "delete", "announcements")
        ]
    );
    let created = &rows[1];
    assert_eq!(created.txid, body["txid"].as_str().unwrap(), "the log carries the mutation's txid");
    assert_eq!(created.key, id.to_string());
    assert_eq!(created.value["pinned"], "f");
    assert_eq!(created.value["title"], "Bins");
    let pinned = &rows[2];
    let old = pinned.old_value.as_ref().unwrap();
    assert_eq!((pinned.value["pinned"].as_str(), old["pinned"].as_str()), (Some("t"), Some("f")));
    let created_at = rows[3].value["created_at"].as_str().unwrap();
    assert!(created_at.ends_with("+00"), "timestamps are logged in UTC: {created_at}");
}

#[tokio::test]
async fn a_groups_log_holds_only_its_own_changes() {
    let app = TestApp::spawn().await;
    let (admin_a, slug_a, schema_a) = group(&app, "Ann").await;
    let (_, _, schema_b) = group(&app, "Bo").await;
    let batch = json!({"group": slug_a, "mutations": [
        {"id": Uuid::new_v4(), "name": "resource.create", "args": {"id": Uuid::new_v4(), "name": "Laundry"}},
    ]});
    assert_eq!(app.post(&admin_a, "/api/mutate", batch).await.0, StatusCode::OK);
    let count = |schema: String| {
        let db = app.db.clone();
        async move {
            sqlx::query_scalar::<_, i64>(&format!("SELECT count(*) FROM \"{schema}\".changes"))
                .fetch_one(&db)
                .await
                .unwrap()
        }
    };
    assert_eq!(count(schema_a).await, 2, "A: its admin joining, then the room");
    assert_eq!(count(schema_b).await, 1, "B: only its admin joining");
}

/// 8 writers commit 100 transactions each while a reader keeps looking: the
/// positions it sees are always exactly 1..=max, never with a hole.
#[tokio::test]
async fn concurrent_writers_never_expose_a_gap() {
    let app = TestApp::spawn().await;
    let (admin, _, schema) = group(&app, "Ann").await;
    let (_, me) = app.get(&admin, "/api/me").await;
    let author = Uuid::parse_str(me["user"]["id"].as_str().unwrap()).unwrap();
    let pool = PgPoolOptions::new().max_connections(10).connect(&app.database_url).await.unwrap();

    let writers = (0..8).map(|_| {
        let (pool, schema) = (pool.clone(), schema.clone());
        tokio::spawn(async move {
            for i in 0..100 {
                let mut tx = pool.begin().await.unwrap();
                let rows = 1 + i % 3;
                // Some transactions write their rows one statement each,
                // others all in one statement (one capture for all).
                let (statements, per_statement) = if i % 2 == 0 { (rows, 1) } else { (1, rows) };
                for _ in 0..statements {
                    sqlx::query(&format!(
                        "INSERT INTO \"{schema}\".announcements (id, author_id, title, body)
                         SELECT gen_random_uuid(), $1, 't', '' FROM generate_series(1, $2)"
                    ))
                    .bind(author)
                    .bind(per_statement)
                    .execute(&mut *tx)
                    .await
                    .unwrap();
                }
                tx.commit().await.unwrap();
            }
        })
    });
    let writers: Vec<_> = writers.collect();
    let reader = {
        let (pool, schema) = (pool.clone(), schema.clone());
        tokio::spawn(async move {
            // 1 member joining + 8 writers × (34×1 + 33×2 + 33×3) rows.
            const LOGGED: i64 = 1 + 8 * 199;
            let mut reads = 0;
            loop {
                let (count, max): (i64, i64) =
                    sqlx::query_as(&format!("SELECT count(*), coalesce(max(position), 0) FROM \"{schema}\".changes"))
                        .fetch_one(&pool)
                        .await
                        .unwrap();
                assert_eq!(count, max, "a reader saw position {max} with only {count} positions visible");
                reads += 1;
                if count >= LOGGED {
                    return reads;
                }
            }
        })
    };
    for writer in writers {
        writer.await.unwrap();
    }
    let reads = reader.await.unwrap();
    assert!(reads > 1, "the reader ran alongside the writers");
    let logged: i64 =
        sqlx::query_scalar(&format!("SELECT count(*) FROM \"{schema}\".changes WHERE relation = 'announcements'"))
            .fetch_one(&pool)
            .await
            .unwrap();
    let rows: i64 =
        sqlx::query_scalar(&format!("SELECT count(*) FROM \"{schema}\".announcements")).fetch_one(&pool).await.unwrap();
    assert_eq!(logged, rows, "every row written is logged once");
}

/// One statement writing many rows is logged as one row each, in one
/// capture: an update pairs old and new rows by key, a key changed by an
/// update is the old key's delete and the new one's insert, and a cascade
/// is logged too.
#[tokio::test]
async fn a_statement_of_many_rows_logs_each_row() {
    let app = TestApp::spawn().await;
    let (_, _, schema) = group(&app, "Ann").await;
    let s = format!("\"{schema}\"");
    let exec = |sql: String| {
        let db = app.db.clone();
        async move { sqlx::raw_sql(&sql).execute(&db).await.unwrap() }
    };
    let moved = Uuid::new_v4();
    exec(format!(
        "INSERT INTO {s}.requests (id, author_id, title, description)
         SELECT gen_random_uuid(), gen_random_uuid(), 'r' || i, '' FROM generate_series(1, 3) i;
         INSERT INTO {s}.request_comments (id, request_id, author_id, body)
         SELECT gen_random_uuid(), id, author_id, 'c' FROM {s}.requests WHERE title <> 'r3';
         UPDATE {s}.requests SET status = 'resolved' WHERE title IN ('r1', 'r2');
         UPDATE {s}.requests SET id = '{moved}' WHERE title = 'r3';
         DELETE FROM {s}.requests WHERE title = 'r1';"
    ))
    .await;
    let rows: Vec<Change> = sqlx::query_as(&format!(
        "SELECT position, txid::text, op, relation, key, value, old_value FROM {s}.changes
         WHERE position > 1 ORDER BY position"
    ))
    .fetch_all(&app.db)
    .await
    .unwrap();
    let ops: Vec<(&str, &str)> = rows.iter().map(|r| (r.op.as_str(), r.relation.as_str())).collect();
    // (r3 has no comment: its key could not change under one.)
    let expected_prefix = [
        ("insert", "requests"),
        ("insert", "requests"),
        ("insert", "requests"),
        ("insert", "request_comments"),
        ("insert", "request_comments"),
        ("update", "requests"),
        ("update", "requests"),
    ];
    assert_eq!(&ops[..7], expected_prefix, "{ops:?}");
    let positions: Vec<i64> = rows.iter().map(|r| r.position).collect();
    assert_eq!(positions, (2..2 + rows.len() as i64).collect::<Vec<_>>(), "gap-free");
    let head: i64 =
        sqlx::query_scalar(&format!("SELECT position FROM {s}.change_head")).fetch_one(&app.db).await.unwrap();
    assert_eq!(head, 1 + rows.len() as i64);
    assert!(rows[..7].iter().all(|r| r.txid == rows[0].txid), "one transaction");
    for update in &rows[5..7] {
        let old = update.old_value.as_ref().unwrap();
        assert_eq!((old["status"].as_str(), update.value["status"].as_str()), (Some("open"), Some("resolved")));
        assert_eq!(old["id"], update.value["id"], "an update pairs a row with its own old version");
    }
    // The key change, then the delete of r1 and its comment (the cascade
    // is logged after the statement that caused it, as in the WAL).
    let tail: Vec<(&str, &str, &str)> = rows[7..]
        .iter()
        .map(|r| (r.op.as_str(), r.relation.as_str(), r.value["title"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(
        tail,
        [
            ("delete", "requests", "r3"),
            ("insert", "requests", "r3"),
            ("delete", "requests", "r1"),
            ("delete", "request_comments", "")
        ],
        "{tail:?}"
    );
    assert_eq!(rows[8].key, moved.to_string());
    assert_eq!(rows[7].key, rows[2].key, "the delete carries the old key");
}

/// The job as the server runs it, on the test's pool, with `settings`.
fn job(app: &TestApp, settings: Settings) -> std::sync::Arc<Retention> {
    Retention::new(std::sync::Arc::new(app::backend::Databases::single(app.db.clone())), settings, None)
}

const KEEP_ALL: Settings = Settings {
    retention: Duration::from_secs(3600),
    keep_min: 5,
    compaction: false,
    compaction_lag: 0,
    interval: Duration::from_secs(3600),
};

async fn exec(app: &TestApp, sql: &str) {
    sqlx::raw_sql(sql).execute(&app.db).await.unwrap();
}

async fn floor_and_count(app: &TestApp, schema: &str) -> (i64, i64) {
    sqlx::query_as(&format!(
        "SELECT (SELECT position FROM \"{schema}\".change_floor), (SELECT count(*) FROM \"{schema}\".changes)"
    ))
    .fetch_one(&app.db)
    .await
    .unwrap()
}

/// Entries older than the retention go, oldest first, except the latest
/// `keep_min` positions; a client whose offset is below the new floor gets
/// 409 and refetches, ending equal to the table; one at or above it goes on.
#[tokio::test]
async fn retention_trims_old_entries_and_a_client_behind_refetches() {
    let app = TestApp::spawn().await;
    let (admin, slug, schema) = group(&app, "Ann").await;
    let s = format!("\"{schema}\"");
    let insert = |n: i32| {
        format!(
            "INSERT INTO {s}.announcements (id, author_id, title, body)
             SELECT gen_random_uuid(), gen_random_uuid(), 'a' || i, '' FROM generate_series(1, {n}) i"
        )
    };
    let mut behind = ShapeClient::new(&admin, &app.base, &slug, "announcements", &[]);
    behind.sync().await;
    exec(&app, &insert(20)).await; // positions 2..=21
    let job = job(&app, KEEP_ALL);
    assert_eq!(job.sweep(&app_schema(&schema)).await.unwrap().trimmed, 0, "nothing is old yet");
    assert_eq!(floor_and_count(&app, &schema).await, (0, 21));

    // Age everything written so far by two hours; then 3 new entries.
    exec(&app, &format!("UPDATE {s}.changes SET at = at - interval '2 hours'")).await;
    exec(&app, &insert(3)).await; // 22..=24
    let mut current = ShapeClient::new(&admin, &app.base, &slug, "announcements", &[]);
    current.sync().await;
    let swept = job.sweep(&app_schema(&schema)).await.unwrap();
    // Old: 1..=21, all below head - keep_min = 19: 1..=19 go.
    assert_eq!(swept.trimmed, 19);
    assert_eq!(floor_and_count(&app, &schema).await, (19, 5));
    // Again: the remaining old ones are within the latest five.
    assert_eq!(job.sweep(&app_schema(&schema)).await.unwrap().trimmed, 0);

    exec(&app, &insert(2)).await;
    behind.sync().await;
    assert_eq!(behind.refetches, 1, "a client below the floor starts again");
    assert_eq!(behind.rows_by_id("id"), app.table_rows(&schema, "announcements").await);
    current.sync().await;
    assert_eq!(current.refetches, 0, "a client above the floor goes on");
    assert_eq!(current.rows_by_id("id"), app.table_rows(&schema, "announcements").await);

    // An entry still young stops the floor, even with older ones after it
    // (a long transaction's entries carry its start): the log stays whole.
    exec(&app, &format!("UPDATE {s}.changes SET at = at - interval '2 hours'")).await;
    exec(&app, &insert(10)).await; // 27..=36
    exec(&app, &format!("UPDATE {s}.changes SET at = at - interval '2 hours' WHERE position > 27")).await;
    // (A pass over every group this time, as the server's job makes.)
    let swept = job.sweep_all().await.unwrap();
    assert_eq!(swept.trimmed, 7, "20..=26 go, 27 stays");
    assert_eq!(floor_and_count(&app, &schema).await.0, 26);
}

fn app_schema(name: &str) -> app::backend::SchemaName {
    app::backend::SchemaName::parse(name).unwrap()
}

/// Compaction leaves holes where the updates it merged were; trimming
/// afterwards moves the floor past entries it removes only, so a client
/// whose offset is in such a hole resumes (with the merged entry), not with
/// a 409.
#[tokio::test]
async fn a_client_inside_a_merged_run_resumes_after_later_passes() {
    let app = TestApp::spawn().await;
    let (admin, slug, schema) = group(&app, "Ann").await;
    let s = format!("\"{schema}\"");
    let id = Uuid::new_v4();
    exec(
        &app,
        &format!(
            "INSERT INTO {s}.announcements (id, author_id, title, body) VALUES ('{id}', gen_random_uuid(), 'A', '')"
        ),
    )
    .await;
    // The insert aged out already: the log starts with the row's updates.
    exec(
        &app,
        &format!(
            "DELETE FROM {s}.changes; UPDATE {s}.change_floor SET position = (SELECT position FROM {s}.change_head)"
        ),
    )
    .await;
    let mut client = ShapeClient::new(&admin, &app.base, &slug, "announcements", &[]);
    client.sync().await;
    exec(&app, &format!("UPDATE {s}.announcements SET title = 'B' WHERE id = '{id}'")).await;
    client.sync().await;
    for title in ["C", "D", "E"] {
        exec(&app, &format!("UPDATE {s}.announcements SET title = '{title}' WHERE id = '{id}'")).await;
    }
    let (floor, _) = floor_and_count(&app, &schema).await;
    let job = job(&app, Settings { compaction: true, keep_min: 1, ..KEEP_ALL });
    assert_eq!(job.sweep(&app_schema(&schema)).await.unwrap().merged, 3, "B, C and D merged into E");
    // Later passes find nothing old: the floor stays where it was.
    job.sweep(&app_schema(&schema)).await.unwrap();
    job.sweep(&app_schema(&schema)).await.unwrap();
    assert_eq!(floor_and_count(&app, &schema).await, (floor, 1));
    // The client saw B; it resumes and gets E (merged from B on).
    client.sync().await;
    assert_eq!(client.refetches, 0, "no 409");
    assert_eq!(client.rows_by_id("id")[&id.to_string()]["title"], "E");
}

/// Runs of updates to one row merge into one change; inserts and deletes
/// stay. Clients that saw none of a run, part of it, or all of it, with and
/// without `where` and with `replica=full`, all end equal to the table, and
/// a row edited 100 times costs one change to catch up on.
#[tokio::test]
async fn compaction_merges_updates_and_every_client_ends_equal() {
    let app = TestApp::spawn().await;
    let (admin, slug, schema) = group(&app, "Ann").await;
    let s = format!("\"{schema}\"");
    let (edited, flipper, reborn) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    exec(
        &app,
        &format!(
            "INSERT INTO {s}.announcements (id, author_id, title, body) VALUES
             ('{edited}', gen_random_uuid(), 'A', ''), ('{flipper}', gen_random_uuid(), 'F', '')"
        ),
    )
    .await;
    let pinned = [("where", "pinned = true")];
    let full = [("replica", "full")];
    let shapes: [&[(&str, &str)]; 3] = [&[], &pinned, &full];
    let follow = |extra: &[(&str, &str)]| ShapeClient::new(&admin, &app.base, &slug, "announcements", extra);
    let mut early: Vec<ShapeClient> = shapes.iter().map(|extra| follow(extra)).collect();
    for client in &mut early {
        client.sync().await;
    }
    let update = |sql: String| {
        let db = app.db.clone();
        async move { sqlx::raw_sql(&sql).execute(&db).await.unwrap() }
    };
    // `edited`: 50 title changes, ending at "B"; `flipper` pinned (into
    // the `where`); `reborn` inserted, edited, deleted, inserted again.
    for i in 0..50 {
        update(format!("UPDATE {s}.announcements SET title = 'A{i}' WHERE id = '{edited}'")).await;
    }
    update(format!("UPDATE {s}.announcements SET title = 'B' WHERE id = '{edited}'")).await;
    update(format!("UPDATE {s}.announcements SET pinned = true WHERE id = '{flipper}'")).await;
    update(format!(
        "INSERT INTO {s}.announcements (id, author_id, title, body) VALUES ('{reborn}', gen_random_uuid(), 'R', '')"
    ))
    .await;
    update(format!("UPDATE {s}.announcements SET body = 'x' WHERE id = '{reborn}'")).await;
    update(format!("UPDATE {s}.announcements SET body = 'y' WHERE id = '{reborn}'")).await;
    update(format!("DELETE FROM {s}.announcements WHERE id = '{reborn}'")).await;
    update(format!(
        "INSERT INTO {s}.announcements (id, author_id, title, body) VALUES ('{reborn}', gen_random_uuid(), 'R2', '')"
    ))
    .await;
    // Clients in the middle of every run.
    let mut middle: Vec<ShapeClient> = shapes.iter().map(|extra| follow(extra)).collect();
    for client in &mut middle {
        client.sync().await;
    }
    // `edited` goes back to its first title (a column changed and changed
    // back within one run); `flipper` leaves the `where` again and changes.
    for i in 0..50 {
        update(format!("UPDATE {s}.announcements SET title = 'C{i}' WHERE id = '{edited}'")).await;
    }
    update(format!("UPDATE {s}.announcements SET title = 'A' WHERE id = '{edited}'")).await;
    update(format!("UPDATE {s}.announcements SET pinned = false, title = 'F2' WHERE id = '{flipper}'")).await;
    update(format!("UPDATE {s}.announcements SET body = 'z' WHERE id = '{reborn}'")).await;
    update(format!("UPDATE {s}.announcements SET body = 'w' WHERE id = '{reborn}'")).await;

    let before: i64 =
        sqlx::query_scalar(&format!("SELECT count(*) FROM {s}.changes")).fetch_one(&app.db).await.unwrap();
    let job = job(&app, Settings { compaction: true, ..KEEP_ALL });
    let swept = job.sweep(&app_schema(&schema)).await.unwrap();
    let after: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {s}.changes")).fetch_one(&app.db).await.unwrap();
    assert_eq!(swept.merged as i64, before - after);
    let of = |id: Uuid| {
        let db = app.db.clone();
        let sql = format!("SELECT op FROM {s}.changes WHERE key = '{id}' ORDER BY position");
        async move { sqlx::query_scalar::<_, String>(&sql).fetch_all(&db).await.unwrap() }
    };
    assert_eq!(of(edited).await, ["insert", "update"], "102 updates became one");
    assert_eq!(of(flipper).await, ["insert", "update"]);
    assert_eq!(of(reborn).await, ["insert", "update", "delete", "insert", "update"]);
    assert_eq!(job.sweep(&app_schema(&schema)).await.unwrap().merged, 0, "a second pass finds nothing");
    // Two more edits merge into the merged one, which keeps the first
    // original update as where its run began.
    let merged_from = |id: Uuid| {
        let db = app.db.clone();
        let sql = format!("SELECT merged_from FROM {s}.changes WHERE key = '{id}' AND op = 'update'");
        async move { sqlx::query_scalar::<_, Option<i64>>(&sql).fetch_one(&db).await.unwrap() }
    };
    let first = merged_from(edited).await;
    assert!(first.is_some());
    update(format!("UPDATE {s}.announcements SET title = 'D' WHERE id = '{edited}'")).await;
    update(format!("UPDATE {s}.announcements SET title = 'A' WHERE id = '{edited}'")).await;
    assert_eq!(job.sweep(&app_schema(&schema)).await.unwrap(), Swept { merged: 2, ..Swept::default() });
    assert_eq!(of(edited).await, ["insert", "update"]);
    assert_eq!(merged_from(edited).await, first);

    let late: Vec<ShapeClient> = shapes.iter().map(|extra| follow(extra)).collect();
    let table = app.table_rows(&schema, "announcements").await;
    for (n, mut client) in early.into_iter().chain(middle).chain(late).enumerate() {
        let from = client.positions.len();
        client.sync().await;
        assert_eq!(client.refetches, 0);
        let shape = shapes[n % 3];
        let expected: Vec<&String> = table
            .iter()
            .filter(|(_, row)| shape != pinned.as_slice() || row["pinned"] == "t")
            .map(|(id, _)| id)
            .collect();
        let rows = client.rows_by_id("id");
        assert_eq!(rows.keys().collect::<Vec<_>>(), expected, "client {n} ({shape:?})");
        for (id, row) in &rows {
            for (column, value) in row {
                assert_eq!(&table[id][column], value, "client {n} ({shape:?}): {id}.{column}");
            }
        }
        if n == 0 {
            let caught_up = client.positions.len() - from;
            assert!(caught_up <= 6, "an early client catches up on {caught_up} changes, not 100 and more");
        }
    }
}
