//! Moving a group to another group database while it is used: 5 clients
//! follow its tables live and 2 write, the group moves from the registry's
//! database to a second Postgres cluster, and afterwards every follower
//! equals the table on the new database, having gone on from its offset
//! with its handle (no refetch), with no change seen twice and no write
//! lost or applied twice. The old copy refuses writes, and is dropped
//! after the grace period.

mod common;

use common::{cluster::Cluster, shape_client::ShapeClient, TestApp};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use sqlx::{postgres::PgPoolOptions, Connection, PgConnection};
use std::{
    collections::BTreeSet,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::Duration,
};
use uuid::Uuid;

/// Sends `mutations` until the server takes them (through the move's
/// pause, and a 503 from the old copy); returns how many tries it took.
async fn send(app: &TestApp, client: &Client, slug: &str, mutations: Value) -> usize {
    for tries in 1..=200 {
        let (status, body) = app.mutate(client, slug, mutations.clone()).await;
        if status == StatusCode::OK {
            assert!(body["results"].as_array().unwrap().iter().all(|r| r["status"] != "rejected"), "{body}");
            return tries;
        }
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the write never went through");
}

fn one(name: &str, args: Value) -> Value {
    json!([{"id": Uuid::new_v4(), "name": name, "args": args}])
}

/// Follows until `stop`, then until up to date; retries what fails.
async fn follow(mut client: ShapeClient, stop: Arc<AtomicBool>) -> ShapeClient {
    client.sync().await;
    loop {
        let stopping = stop.load(Ordering::Relaxed);
        match client.try_poll().await {
            Ok(reply) if reply.status == StatusCode::OK => {
                let up_to_date = reply.messages().last().is_some_and(|m| m["headers"]["control"] == "up-to-date");
                if stopping && up_to_date && reply.messages().len() == 1 {
                    return client;
                }
            }
            Ok(reply) if reply.status == StatusCode::CONFLICT => {}
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

#[tokio::test]
async fn a_group_moves_under_load_with_nothing_lost() {
    let second = Cluster::start();
    let mut conn = PgConnection::connect(&second.url("postgres")).await.unwrap();
    sqlx::query("CREATE DATABASE groups").execute(&mut conn).await.unwrap();
    let second_url = second.url("groups");
    let databases = format!("main= second={second_url}");
    // Short long-polls: followers come back often, through the move.
    let overrides = [("COURTYARD_DATABASES", databases.as_str()), ("COURTYARD_SYNC_LONG_POLL_TIMEOUT_SECS", "2")];
    let app = TestApp::spawn_with(&overrides).await;
    let (admin, slug) = app.admin_of_new_group().await;
    let resident = app.resident(&admin, &slug, "Bo").await;
    let schema = app.schema_of(&slug).await;

    // Something to copy: notices, a request thread, and a history in the log.
    let mut notices = Vec::new();
    for i in 0..30 {
        let id = Uuid::new_v4();
        send(&app, &admin, &slug, one("announcement.create", json!({"id": id, "title": format!("n{i}"), "body": "b"})))
            .await;
        notices.push(id);
    }
    let request = Uuid::new_v4();
    send(&app, &resident, &slug, one("request.create", json!({"id": request, "title": "Leak", "description": "d"})))
        .await;

    let stop = Arc::new(AtomicBool::new(false));
    let followers: Vec<_> = [
        (&admin, "announcements"),
        (&resident, "announcements"),
        (&resident, "requests"),
        (&admin, "request_comments"),
        (&resident, "members"),
    ]
    .into_iter()
    .map(|(client, table)| {
        (table, tokio::spawn(follow(ShapeClient::new(client, &app.base, &slug, table, &[]), stop.clone())))
    })
    .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Two writers: notices made, edited and removed; comments on the request.
    let writing = Arc::new(AtomicBool::new(true));
    let admin_writer = {
        let (app, admin, slug, writing, notices) =
            (&app, admin.clone(), slug.clone(), writing.clone(), notices.clone());
        async move {
            let (mut made, mut removed, mut tries) = (BTreeSet::new(), BTreeSet::new(), 0);
            let mut i = 0;
            while writing.load(Ordering::Relaxed) {
                let id = Uuid::new_v4();
                tries += send(
                    app,
                    &admin,
                    &slug,
                    one("announcement.create", json!({"id": id, "title": format!("w{i}"), "body": "b"})),
                )
                .await;
                made.insert(id);
                // An edit of a notice still there; every fifth step, of the
                // first ten, one goes.
                let old = notices[i % notices.len()];
                if !removed.contains(&old) {
                    let edit = json!({"id": old, "body": format!("edited {i}")});
                    tries += send(app, &admin, &slug, one("announcement.update", edit)).await;
                }
                if i % 5 == 4 && i < 50 {
                    let gone = notices[i / 5];
                    send(app, &admin, &slug, one("announcement.delete", json!({"id": gone}))).await;
                    removed.insert(gone);
                }
                i += 1;
            }
            (made, removed, tries)
        }
    };
    let resident_writer = {
        let (app, resident, slug, writing) = (&app, resident.clone(), slug.clone(), writing.clone());
        async move {
            let (mut made, mut tries) = (BTreeSet::new(), 0);
            while writing.load(Ordering::Relaxed) {
                let id = Uuid::new_v4();
                tries += send(
                    app,
                    &resident,
                    &slug,
                    one("request.comment", json!({"id": id, "request_id": request, "body": "more water"})),
                )
                .await;
                made.insert(id);
            }
            (made, tries)
        }
    };
    let mover = async {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let config = common::config_for(&app.database_url, &overrides);
        let databases = server::connect(&config).await.unwrap();
        let moved = server::moves::move_group(&databases, &slug, "second").await.expect("the group moves");
        tokio::time::sleep(Duration::from_millis(1500)).await;
        writing.store(false, Ordering::Relaxed);
        (moved, databases)
    };
    let ((made, removed, admin_tries), (comments, resident_tries), (moved, databases)) =
        tokio::join!(admin_writer, resident_writer, mover);
    assert!(moved.pause < Duration::from_secs(5), "{moved:?}");
    assert!(!made.is_empty() && !comments.is_empty());
    println!("{moved:?}; tries: {admin_tries} and {resident_tries}");

    // The registry says the new database, the new copy holds everything.
    let placed: String =
        sqlx::query_scalar("SELECT database FROM groups WHERE slug = $1").bind(&slug).fetch_one(&app.db).await.unwrap();
    assert_eq!(placed, "second");
    let target = PgPoolOptions::new().max_connections(2).connect(&second_url).await.unwrap();
    let ids = |table: &'static str| {
        let (target, schema) = (target.clone(), schema.clone());
        async move {
            let rows: Vec<Uuid> =
                sqlx::query_scalar(&format!("SELECT id FROM \"{schema}\".{table}")).fetch_all(&target).await.unwrap();
            rows.into_iter().collect::<BTreeSet<Uuid>>()
        }
    };
    let expected: BTreeSet<Uuid> = notices.iter().chain(&made).filter(|id| !removed.contains(id)).copied().collect();
    assert_eq!(ids("announcements").await, expected, "every notice written, once, and none removed back");
    assert_eq!(ids("request_comments").await, comments, "every comment, once");

    // Followers: up to date from their offsets, equal to the new tables.
    stop.store(true, Ordering::Relaxed);
    for (table, follower) in followers {
        let follower = tokio::time::timeout(Duration::from_secs(30), follower).await.expect("caught up").unwrap();
        let pk = app::model::registry::table(table).unwrap().pk;
        let rows = common::table_rows_in(&target, &schema, table).await;
        assert_eq!(follower.rows_by_id(pk), rows, "{table}: the follower equals the table");
        assert_eq!(follower.refetches, 0, "{table}: went on from its offset, with its handle");
        let snapshot = follower.snapshot_at.unwrap();
        let logged: Vec<i64> = follower.positions.iter().copied().filter(|p| *p > snapshot).collect();
        assert!(logged.windows(2).all(|w| w[0] < w[1]), "{table}: no change twice, in order");
    }

    // The old copy refuses writes; after the grace period it is dropped.
    let refused = sqlx::query(&format!(
        "INSERT INTO \"{schema}\".announcements (id, author_id, title, body) VALUES (gen_random_uuid(), gen_random_uuid(), 'late', 'b')"
    ))
    .execute(&app.db)
    .await
    .expect_err("the old copy refuses writes");
    assert_eq!(refused.as_database_error().and_then(|e| e.code()).as_deref(), Some("CY001"), "{refused}");
    assert_eq!(server::moves::drop_old_copies(&databases, Duration::from_secs(3600)).await.unwrap(), 0);
    assert_eq!(server::moves::drop_old_copies(&databases, Duration::ZERO).await.unwrap(), 1);
    let left: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)")
        .bind(&schema)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert!(!left, "the old copy is gone");
    // And the group goes on on its new database.
    send(&app, &admin, &slug, one("announcement.create", json!({"id": Uuid::new_v4(), "title": "after", "body": "b"})))
        .await;
}

#[tokio::test]
async fn a_move_to_where_the_group_is_or_to_an_unknown_database_changes_nothing() {
    let app = TestApp::spawn().await;
    let (_, slug) = app.admin_of_new_group().await;
    let databases = server::connect(&common::config_for(&app.database_url, &[])).await.unwrap();
    let error = server::moves::move_group(&databases, &slug, "main").await.unwrap_err();
    assert!(error.to_string().contains("already lives on"), "{error}");
    let error = server::moves::move_group(&databases, &slug, "elsewhere").await.unwrap_err();
    assert!(error.to_string().contains("elsewhere"), "{error}");
    let error = server::moves::move_group(&databases, "no-such-group", "main").await.unwrap_err();
    assert!(error.to_string().contains("no group has"), "{error}");
}

/// `server admin …` as an operator runs it: the binary, with the servers'
/// configuration in its environment.
fn admin(registry: &str, databases: &str, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_server"))
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .env("DATABASE_URL", registry)
        .env("COURTYARD_DATABASES", databases)
        .env("RUST_LOG", "warn")
        .arg("admin")
        .args(args)
        .output()
        .expect("the server binary runs")
}

#[tokio::test]
async fn the_operators_commands_list_groups_where_they_live_and_move_them() {
    let second = Cluster::start();
    let mut conn = PgConnection::connect(&second.url("postgres")).await.unwrap();
    sqlx::query("CREATE DATABASE groups").execute(&mut conn).await.unwrap();
    let databases = format!("main= second={}", second.url("groups"));
    let app = TestApp::spawn_with(&[("COURTYARD_DATABASES", &databases)]).await;
    let (admin_client, slug) = app.admin_of_new_group().await;
    app.resident(&admin_client, &slug, "Bo").await;

    let list = |app: &TestApp| {
        let output = admin(&app.database_url, &databases, &["groups", "--json"]);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let lines: Vec<Value> =
            String::from_utf8(output.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        lines
    };
    let before = list(&app);
    assert_eq!(before.len(), 1);
    assert_eq!((before[0]["slug"].as_str(), before[0]["database"].as_str()), (Some(slug.as_str()), Some("main")));
    assert_eq!(before[0]["members"], 2);

    let moved = admin(&app.database_url, &databases, &["move-group", &slug, "second"]);
    let said = String::from_utf8_lossy(&moved.stdout);
    assert!(moved.status.success(), "{said} {}", String::from_utf8_lossy(&moved.stderr));
    assert!(said.starts_with(&format!("moved {slug} to second")), "{said}");
    assert_eq!(list(&app)[0]["database"], "second");
    // Moving it again to where it is fails, saying why, with a failure status.
    let again = admin(&app.database_url, &databases, &["move-group", &slug, "second"]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already lives on"));
    // The group goes on where it is now.
    send(
        &app,
        &admin_client,
        &slug,
        one("announcement.create", json!({"id": Uuid::new_v4(), "title": "t", "body": "b"})),
    )
    .await;
}
