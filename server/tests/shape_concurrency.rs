//! Many writers and live followers on one group at once: every follower ends
//! with exactly the table, and was handed every logged change of it once,
//! in order, with none skipped.

mod common;

use common::{shape_client::ShapeClient, TestApp};
use std::sync::{
    atomic::{AtomicBool, Ordering},
    Arc,
};
use uuid::Uuid;

const WRITERS: usize = 8;
const TRANSACTIONS: usize = 500;
const FOLLOWERS: usize = 5;

/// One writer: 500 transactions of one or two statements over its own rows.
async fn write(db: sqlx::PgPool, schema: String, seed: u64) {
    let table = format!("\"{schema}\".announcements");
    let mut mine: Vec<Uuid> = Vec::new();
    let mut state = seed;
    let mut next = move |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    for i in 0..TRANSACTIONS {
        let mut tx = db.begin().await.unwrap();
        for _ in 0..1 + next(2) {
            match (next(10), mine.is_empty()) {
                (0..=4, _) | (_, true) => {
                    let id = Uuid::new_v4();
                    sqlx::query(&format!("INSERT INTO {table} (id, author_id, title, body) VALUES ($1, $1, $2, 'b')"))
                        .bind(id)
                        .bind(format!("w{seed} t{i}"))
                        .execute(&mut *tx)
                        .await
                        .unwrap();
                    mine.push(id);
                }
                (5..=7, false) => {
                    let id = mine[next(mine.len())];
                    sqlx::query(&format!("UPDATE {table} SET title = $2, pinned = NOT pinned WHERE id = $1"))
                        .bind(id)
                        .bind(format!("w{seed} t{i} edited"))
                        .execute(&mut *tx)
                        .await
                        .unwrap();
                }
                _ => {
                    let id = mine.swap_remove(next(mine.len()));
                    sqlx::query(&format!("DELETE FROM {table} WHERE id = $1"))
                        .bind(id)
                        .execute(&mut *tx)
                        .await
                        .unwrap();
                }
            }
        }
        tx.commit().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_writers_and_five_live_followers_agree_on_every_position() {
    let app = TestApp::spawn_with(&[("COURTYARD_SYNC_LONG_POLL_TIMEOUT_SECS", "2")]).await;
    let (admin, slug) = app.admin_of_new_group().await;
    let schema = app.schema_of(&slug).await;
    let writers_db =
        sqlx::postgres::PgPoolOptions::new().max_connections(WRITERS as u32).connect(&app.database_url).await.unwrap();
    let done = Arc::new(AtomicBool::new(false));

    let spawn_follower = |delay_ms: u64| {
        let (admin, base, slug, done, db, schema) =
            (admin.clone(), app.base.clone(), slug.clone(), done.clone(), app.db.clone(), schema.clone());
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(delay_ms)).await;
            let mut client = ShapeClient::new(&admin, &base, &slug, "announcements", &[]);
            loop {
                let reply = client.poll().await;
                assert!(reply.status.is_success(), "{} {}", reply.status, reply.body);
                if done.load(Ordering::SeqCst) && client.live {
                    let head: i64 = sqlx::query_scalar(&format!("SELECT position FROM \"{schema}\".change_head"))
                        .fetch_one(&db)
                        .await
                        .unwrap();
                    if client.position() >= head {
                        return client;
                    }
                }
            }
        })
    };
    // Two follow from the start, three join while the writers write.
    let mut followers: Vec<_> =
        (0..FOLLOWERS).map(|n| spawn_follower(if n < 2 { 0 } else { 400 * n as u64 })).collect();
    let writers: Vec<_> = (0..WRITERS)
        .map(|n| tokio::spawn(write(writers_db.clone(), schema.clone(), 0x9e37_79b9 + n as u64 * 7919)))
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    done.store(true, Ordering::SeqCst);

    let table = app.table_rows(&schema, "announcements").await;
    assert!(!table.is_empty());
    for (n, follower) in followers.drain(..).enumerate() {
        let client = follower.await.unwrap();
        assert!(
            client.positions.windows(2).all(|w| w[0] < w[1]),
            "follower {n}: a position came twice or out of order"
        );
        let logged: Vec<i64> = app.logged_positions(&schema, "announcements", client.snapshot_at.unwrap()).await;
        assert_eq!(client.positions.len(), logged.len(), "follower {n}: changes skipped or doubled");
        assert_eq!(client.positions, logged, "follower {n}");
        assert_eq!(client.rows_by_id("id"), table, "follower {n} ends equal to the table");
    }
    let transactions: i64 = sqlx::query_scalar(&format!(
        "SELECT count(DISTINCT txid) FROM \"{schema}\".changes WHERE relation = 'announcements'"
    ))
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(transactions as usize, WRITERS * TRANSACTIONS);
}
