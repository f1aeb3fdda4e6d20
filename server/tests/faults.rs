//! Failures, bounded in time, on loopback: a second server process, a
//! server killed with SIGKILL and restarted, Postgres restarted under a
//! running server. Clients always end equal to the table, with every log
//! position delivered once.

mod common;

use common::{cluster::Cluster, process::ServerProcess, shape_client::ShapeClient, TestApp};
use serde_json::json;
use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::Duration,
};
use uuid::Uuid;

/// Keeps writing one-row transactions until `stop`; returns how many committed.
async fn write_until(db: sqlx::PgPool, schema: String, stop: Arc<AtomicBool>) -> usize {
    let mut committed = 0;
    while !stop.load(Ordering::SeqCst) {
        let insert = sqlx::query(&format!(
            "INSERT INTO \"{schema}\".announcements (id, author_id, title, body) VALUES ($1, $1, 'w', 'b')"
        ))
        .bind(Uuid::new_v4())
        .execute(&db)
        .await;
        match insert {
            Ok(_) => committed += 1,
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    committed
}

/// Follows the shape (retrying through failures) until `written` (set once
/// every writer has finished: a write still committing would come after a
/// head read meanwhile) and caught up with the log's head.
async fn follow_until(
    mut client: ShapeClient,
    db: sqlx::PgPool,
    schema: String,
    written: Arc<AtomicBool>,
) -> ShapeClient {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        assert!(tokio::time::Instant::now() < deadline, "the client never caught up");
        match client.try_poll().await {
            // 409: refetch; 503: the database is restarting (retried, as Electric's client does).
            Ok(reply) if reply.status.as_u16() == 503 => tokio::time::sleep(Duration::from_millis(200)).await,
            Ok(reply) => assert!(reply.status.is_success() || reply.status.as_u16() == 409, "{}", reply.status),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
        if written.load(Ordering::SeqCst) && client.live {
            let head = sqlx::query_scalar::<_, i64>(&format!("SELECT position FROM \"{schema}\".change_head"))
                .fetch_one(&db)
                .await;
            if head.is_ok_and(|head| client.position() >= head) {
                return client;
            }
        }
    }
}

/// Every client holds exactly the table and got each logged position once.
async fn assert_converged(app_db: &TestApp, schema: &str, clients: Vec<ShapeClient>) {
    let table = app_db.table_rows(schema, "announcements").await;
    for (n, client) in clients.into_iter().enumerate() {
        assert!(client.positions.windows(2).all(|w| w[0] < w[1]), "client {n}: a position twice or out of order");
        let logged = app_db.logged_positions(schema, "announcements", client.snapshot_at.unwrap()).await;
        assert_eq!(client.positions, logged, "client {n}: skipped or doubled");
        assert_eq!(client.rows_by_id("id"), table, "client {n}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_through_one_server_reaches_a_live_client_of_another() {
    let one = TestApp::spawn().await;
    let two = TestApp::spawn_on(&one.database_url, &[]).await;
    let (admin, slug) = one.admin_of_new_group().await;
    let mut follower = ShapeClient::new(&admin, &two.base, &slug, "announcements", &[]);
    follower.sync().await;
    let waiting = tokio::spawn(async move {
        let reply = follower.poll().await;
        (follower, reply)
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let id = Uuid::new_v4();
    let mutation = json!({"group": slug, "mutations": [{"id": Uuid::new_v4(), "name": "announcement.create", "args": {"id": id, "title": "via one", "body": "b"}}]});
    let (status, _) = one.post(&admin, "/api/mutate", mutation).await;
    assert!(status.is_success());
    let (_, reply) = tokio::time::timeout(Duration::from_secs(10), waiting).await.expect("delivered in time").unwrap();
    assert_eq!(reply.messages()[0]["value"]["title"], "via one");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn clients_converge_after_the_server_is_killed_and_restarted() {
    let app = TestApp::spawn().await; // provides the database and the helpers
    let (admin, slug) = app.admin_of_new_group().await;
    let schema = app.schema_of(&slug).await;
    let server = ServerProcess::start(&app.database_url, &[]).await;
    let (port, base) = (server.port, server.base.clone());

    let (stop, written) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)));
    let writers: Vec<_> =
        (0..2).map(|_| tokio::spawn(write_until(app.db.clone(), schema.clone(), stop.clone()))).collect();
    let clients: Vec<_> = (0..20)
        .map(|_| {
            let client = ShapeClient::new(&admin, &base, &slug, "announcements", &[]);
            tokio::spawn(follow_until(client, app.db.clone(), schema.clone(), written.clone()))
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.kill();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let server = ServerProcess::start_on(&app.database_url, port, &[]).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.store(true, Ordering::SeqCst);
    let mut writes = 0;
    for writer in writers {
        writes += writer.await.unwrap();
    }
    written.store(true, Ordering::SeqCst);
    assert!(writes > 20, "{writes} writes");
    let mut followed = Vec::new();
    for client in clients {
        followed.push(client.await.unwrap());
    }
    assert_converged(&app, &schema, followed).await;
    server.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_server_rides_out_a_postgres_restart() {
    let cluster = Cluster::start();
    let admin_url = cluster.url("postgres");
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&admin_url).await.unwrap();
    sqlx::query("CREATE DATABASE courtyard").execute(&mut conn).await.unwrap();
    drop(conn);
    let app = TestApp::spawn_on(&cluster.url("courtyard"), &[("COURTYARD_SYNC_LONG_POLL_TIMEOUT_SECS", "2")]).await;
    let (admin, slug) = app.admin_of_new_group().await;
    let schema = app.schema_of(&slug).await;

    let (stop, written) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)));
    let clients: Vec<_> = (0..5)
        .map(|_| {
            let client = ShapeClient::new(&admin, &app.base, &slug, "announcements", &[]);
            tokio::spawn(follow_until(client, app.db.clone(), schema.clone(), written.clone()))
        })
        .collect();
    let writer = tokio::spawn(write_until(app.db.clone(), schema.clone(), stop.clone()));
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let before: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM \"{schema}\".announcements"))
        .fetch_one(&app.db)
        .await
        .unwrap();
    cluster.restart();
    // Writes through the server's own API work again without restarting it.
    let mut ok = false;
    for _ in 0..100 {
        let mutation = json!({"group": slug, "mutations": [{"id": Uuid::new_v4(), "name": "announcement.create", "args": {"id": Uuid::new_v4(), "title": "after", "body": "b"}}]});
        if app.post(&admin, "/api/mutate", mutation).await.0.is_success() {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(ok, "the server never wrote again after the restart");
    tokio::time::sleep(Duration::from_millis(1000)).await;
    stop.store(true, Ordering::SeqCst);
    writer.await.unwrap();
    written.store(true, Ordering::SeqCst);
    let after: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM \"{schema}\".announcements"))
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert!(after > before, "acknowledged writes survive and more follow");
    let mut followed = Vec::new();
    for client in clients {
        followed.push(client.await.unwrap());
    }
    assert_converged(&app, &schema, followed).await;
}
