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
    // With its database down the listing still comes, its figures unknown.
    second.stop();
    let listed = list(&app);
    assert_eq!((listed[0]["database"].as_str(), &listed[0]["rows_estimate"]), (Some("second"), &Value::Null));
}

/// Two clusters' worth of set-up for the tests below: the app with groups
/// placeable on `main` and `second`, and the group's admin and slug.
async fn two_databases() -> (Cluster, TestApp, String, Client, String) {
    let second = Cluster::start();
    let mut conn = PgConnection::connect(&second.url("postgres")).await.unwrap();
    sqlx::query("CREATE DATABASE groups").execute(&mut conn).await.unwrap();
    let databases = format!("main= second={}", second.url("groups"));
    let app = TestApp::spawn_with(&[("COURTYARD_DATABASES", &databases)]).await;
    let (admin, slug) = app.admin_of_new_group().await;
    (second, app, databases, admin, slug)
}

async fn connect(app: &TestApp, databases: &str) -> app::backend::Databases {
    server::connect(&common::config_for(&app.database_url, &[("COURTYARD_DATABASES", databases)])).await.unwrap()
}

#[tokio::test]
async fn two_moves_of_one_group_at_once_move_it_once() {
    let (_second, app, databases, admin, slug) = two_databases().await;
    let (one_db, other_db) = (connect(&app, &databases).await, connect(&app, &databases).await);
    let (first, other) = tokio::join!(
        server::moves::move_group(&one_db, &slug, "second"),
        server::moves::move_group(&other_db, &slug, "second")
    );
    let refused = match (first, other) {
        (Ok(_), Err(refused)) | (Err(refused), Ok(_)) => refused,
        outcomes => panic!("one move, one refusal: {outcomes:?}"),
    };
    assert!(refused.to_string().contains("already lives on"), "{refused}");
    // The group works where it went, and what is written there stays.
    let id = Uuid::new_v4();
    send(&app, &admin, &slug, one("announcement.create", json!({"id": id, "title": "t", "body": "b"}))).await;
    let error = server::moves::move_group(&one_db, &slug, "second").await.unwrap_err();
    assert!(error.to_string().contains("already lives on"));
    let (status, body) = app.get(&admin, &format!("/g/{slug}/v1/shape?table=announcements&offset=-1")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.to_string().contains(&id.to_string()));
}

#[tokio::test]
async fn a_move_interrupted_after_its_pause_refuses_writes_until_it_is_run_again() {
    let (_second, app, databases, admin, slug) = two_databases().await;
    let schema = app.schema_of(&slug).await;
    // What a mover that died between its pause and the registry's flip
    // leaves: the old copy marked, the registry unchanged.
    sqlx::query(&format!("UPDATE \"{schema}\".change_head SET moved_to = 'second'")).execute(&app.db).await.unwrap();
    let write = one("announcement.create", json!({"id": Uuid::new_v4(), "title": "t", "body": "b"}));
    let (status, _) = app.mutate(&admin, &slug, write.clone()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "refused, not written where it would be lost");
    let databases = connect(&app, &databases).await;
    server::moves::move_group(&databases, &slug, "second").await.expect("running it again recovers and moves");
    send(&app, &admin, &slug, write).await;
}

#[tokio::test]
async fn a_group_moved_there_and_back_keeps_its_data_when_old_copies_go() {
    let (_second, app, databases, admin, slug) = two_databases().await;
    let databases = connect(&app, &databases).await;
    let first = Uuid::new_v4();
    send(&app, &admin, &slug, one("announcement.create", json!({"id": first, "title": "1", "body": "b"}))).await;
    server::moves::move_group(&databases, &slug, "second").await.unwrap();
    let second = Uuid::new_v4();
    send(&app, &admin, &slug, one("announcement.create", json!({"id": second, "title": "2", "body": "b"}))).await;
    server::moves::move_group(&databases, &slug, "main").await.unwrap();
    // Both moves' grace over: only the copy on `second` goes.
    assert_eq!(server::moves::drop_old_copies(&databases, Duration::ZERO).await.unwrap(), 2);
    let (status, body) = app.get(&admin, &format!("/g/{slug}/v1/shape?table=announcements&offset=-1")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let text = body.to_string();
    assert!(text.contains(&first.to_string()) && text.contains(&second.to_string()), "{text}");
    send(&app, &admin, &slug, one("announcement.create", json!({"id": Uuid::new_v4(), "title": "3", "body": "b"})))
        .await;
}

/// A file's bytes are in the object store under the group's id, its blob's
/// row in the group's schema: after a move the row is there (copied at the
/// pause) and the file is named and served as before.
#[tokio::test]
async fn a_groups_uploaded_files_are_named_and_served_after_it_moves() {
    use sha2::{Digest, Sha256};
    let (_second, app, databases, admin, slug) = two_databases().await;
    let databases = connect(&app, &databases).await;
    let pdf = b"%PDF-1.4\n% the house rules, moved\n%%EOF\n".to_vec();
    let sha256 = hex::encode(Sha256::digest(&pdf));
    let uploaded = admin
        .put(app.url(&format!("/api/groups/{slug}/uploads/{sha256}")))
        .header(reqwest::header::CONTENT_RANGE, format!("bytes 0-{}/{}", pdf.len() - 1, pdf.len()))
        .body(pdf.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(uploaded.status(), StatusCode::OK);
    server::moves::move_group(&databases, &slug, "second").await.unwrap();
    let id = Uuid::new_v4();
    send(&app, &admin, &slug, one("file.attach", json!({"id": id, "sha256": sha256, "name": "rules.pdf"}))).await;
    let served = admin.get(app.url(&format!("/api/groups/{slug}/files/{id}"))).send().await.unwrap();
    assert_eq!(served.status(), StatusCode::OK);
    assert_eq!(served.bytes().await.unwrap().as_ref(), pdf.as_slice());
}
