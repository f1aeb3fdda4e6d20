//! Change capture: every write to a group's synced tables lands in that
//! group's `changes` log, gap-free and in commit order.

mod common;

use common::TestApp;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::{postgres::PgPoolOptions, Connection, PgConnection};
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
                for _ in 0..(1 + i % 3) {
                    sqlx::query(&format!(
                        "INSERT INTO \"{schema}\".announcements (id, author_id, title, body) VALUES ($1, $2, 't', '')"
                    ))
                    .bind(Uuid::new_v4())
                    .bind(author)
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
