//! Groups on two group databases: the registry's own (`main`) and a second
//! Postgres cluster (started here with `initdb` on another port). New
//! groups are placed by the fewest-groups policy, and every endpoint works
//! alike for a group on either; one database going away leaves the other's
//! groups served, and `/readyz` and `/metrics` tell them apart.

mod common;

use common::{cluster::Cluster, shape_client::ShapeClient, TestApp};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use sqlx::{postgres::PgPoolOptions, Connection, PgConnection, PgPool};
use std::time::Duration;
use uuid::Uuid;

fn create(id: Uuid, title: &str) -> Value {
    json!([{"id": Uuid::new_v4(), "name": "announcement.create", "args": {"id": id, "title": title, "body": "b"}}])
}

/// A second cluster with a database for groups: the cluster and its URL.
async fn second_cluster() -> (Cluster, String) {
    let cluster = Cluster::start();
    let mut conn = PgConnection::connect(&cluster.url("postgres")).await.unwrap();
    sqlx::query("CREATE DATABASE groups").execute(&mut conn).await.unwrap();
    let url = cluster.url("groups");
    (cluster, url)
}

async fn schema_exists(pool: &PgPool, schema: &str) -> bool {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)")
        .bind(schema)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Everything a resident does, for the group at `slug`, whose schema lives
/// on `pool`: join by invite (the directory entry lands on the group's
/// database), write, read the page, follow a table live and by the wake
/// long-poll, and see another's write arrive.
async fn every_endpoint_works(app: &TestApp, admin: &Client, slug: &str, pool: &PgPool) {
    let schema = app.schema_of(slug).await;
    let resident = app.resident(admin, slug, "Bo").await;
    let members: i64 =
        sqlx::query_scalar(&format!("SELECT count(*) FROM \"{schema}\".members")).fetch_one(pool).await.unwrap();
    assert_eq!(members, 2, "{slug}: both in the directory, on the group's database");

    let first = Uuid::new_v4();
    let (status, body) = app.mutate(&resident, slug, create(first, "Boiler service")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["results"][0]["status"], "applied", "{body}");
    let page = resident.get(app.url(&format!("/g/{slug}/announcements"))).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("Boiler service"), "{slug}: the page shows it");

    let mut follower = ShapeClient::new(&resident, &app.base, slug, "announcements", &[]);
    follower.sync().await;
    assert_eq!(follower.rows_by_id("id").len(), 1);
    let head = follower.position();
    let wake = resident.get(app.url(&format!("/g/{slug}/v1/wake?after={head}"))).send();
    let live = tokio::spawn(async move {
        let reply = follower.poll().await;
        (reply.status, follower)
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let second = Uuid::new_v4();
    let (status, body) = app.mutate(admin, slug, create(second, "Bike room")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, follower) = tokio::time::timeout(Duration::from_secs(10), live).await.unwrap().unwrap();
    assert_eq!(status, StatusCode::OK);
    assert!(follower.rows_by_id("id").contains_key(&second.to_string()), "{slug}: the live request got it");
    let woken = tokio::time::timeout(Duration::from_secs(10), wake).await.unwrap().unwrap();
    let woken: Value = woken.json().await.unwrap();
    assert!(woken["head"].as_i64().unwrap() > head, "{slug}: {woken}");
    assert_eq!(woken["tables"], json!(["announcements"]), "{slug}");
}

#[tokio::test]
async fn groups_are_placed_on_two_databases_and_served_alike() {
    let (second, second_url) = second_cluster().await;
    let databases = format!("main= second={second_url}");
    let app = TestApp::spawn_with(&[("COURTYARD_DATABASES", &databases)]).await;
    let second_pool = PgPoolOptions::new().max_connections(2).connect(&second_url).await.unwrap();

    // Fewest groups: the first group goes to `main` (a tie: the first
    // listed), the next to `second`, the third to either (a tie again).
    let (admin, on_main) = app.admin_of_new_group().await;
    let on_second = app.create_group(&admin, "Oak").await;
    let placed = |slug: String| {
        let db = app.db.clone();
        async move {
            sqlx::query_scalar::<_, String>("SELECT database FROM groups WHERE slug = $1")
                .bind(slug)
                .fetch_one(&db)
                .await
                .unwrap()
        }
    };
    assert_eq!(placed(on_main.clone()).await, "main");
    assert_eq!(placed(on_second.clone()).await, "second");
    let (main_schema, second_schema) = (app.schema_of(&on_main).await, app.schema_of(&on_second).await);
    assert!(schema_exists(&app.db, &main_schema).await && !schema_exists(&second_pool, &main_schema).await);
    assert!(schema_exists(&second_pool, &second_schema).await && !schema_exists(&app.db, &second_schema).await);

    every_endpoint_works(&app, &admin, &on_main, &app.db).await;
    every_endpoint_works(&app, &admin, &on_second, &second_pool).await;
    let swept = app.shapes.retention().sweep_all().await;
    assert!(swept.is_ok(), "the log job goes over both databases: {swept:?}");

    let body = app.wait_ready(StatusCode::OK, Duration::from_secs(5)).await;
    assert_eq!(body["databases"], json!({"main": "ok", "second": "ok"}));
    assert_eq!(body["listening"], json!({"main": true, "second": true}));
    let metrics = reqwest::get(app.url("/metrics")).await.unwrap().text().await.unwrap();
    for line in [
        "courtyard_groups{database=\"second\"} 1",
        "courtyard_groups{database=\"main\"} 1",
        "courtyard_db_listen_up{database=\"second\"} 1",
        "courtyard_db_pool_max_connections{database=\"second\"} 10",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} in:\n{metrics}");
    }

    // The second database goes away: its groups cannot be served, the
    // others' can, and readiness says which.
    second.stop();
    // (Its LISTEN connection may fail before the next check of it: until
    // then readiness is already 503 for that.)
    let until = tokio::time::Instant::now() + Duration::from_secs(10);
    let body = loop {
        let (status, body) = app.readiness().await;
        if body["databases"]["second"] != "ok" {
            assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
            break body;
        }
        assert!(tokio::time::Instant::now() < until, "the second database still looks up: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(body["registry"], "ok");
    assert_eq!(body["databases"]["main"], "ok");
    assert_ne!(body["databases"]["second"], "ok");
    let (status, body) = app.mutate(&admin, &on_main, create(Uuid::new_v4(), "Still here")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = app.mutate(&admin, &on_second, create(Uuid::new_v4(), "Later")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);

    second.resume();
    let body = app.wait_ready(StatusCode::OK, Duration::from_secs(30)).await;
    assert_eq!(body["listening"], json!({"main": true, "second": true}));
    let (status, body) = app.mutate(&admin, &on_second, create(Uuid::new_v4(), "Later")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn a_group_whose_directory_entry_was_not_written_gets_it_on_its_next_request() {
    let app = TestApp::spawn().await;
    let (admin, slug) = app.admin_of_new_group().await;
    let resident = app.resident(&admin, &slug, "Bo").await;
    let schema = app.schema_of(&slug).await;
    // As if the server stopped between the membership's commit and the
    // directory's write.
    let bo: Uuid =
        sqlx::query_scalar(&format!("DELETE FROM \"{schema}\".members WHERE display_name = 'Bo' RETURNING user_id"))
            .fetch_one(&app.db)
            .await
            .unwrap();
    sqlx::query("UPDATE memberships SET directory_synced = false WHERE user_id = $1")
        .bind(bo)
        .execute(&app.db)
        .await
        .unwrap();

    let (status, body) = app.mutate(&resident, &slug, create(Uuid::new_v4(), "Hello")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let listed: Option<String> =
        sqlx::query_scalar(&format!("SELECT display_name FROM \"{schema}\".members WHERE user_id = $1"))
            .bind(bo)
            .fetch_optional(&app.db)
            .await
            .unwrap();
    assert_eq!(listed.as_deref(), Some("Bo"));
    let synced: bool = sqlx::query_scalar("SELECT directory_synced FROM memberships WHERE user_id = $1")
        .bind(bo)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert!(synced);
}

#[tokio::test]
async fn a_server_missing_a_database_its_groups_live_on_refuses_to_start() {
    let url = common::fresh_database().await;
    let config = common::config_for(&url, &[]);
    let databases = server::connect(&config).await.unwrap();
    sqlx::query(
        "INSERT INTO groups (id, slug, name, schema_name, database) VALUES ($1, 'far', 'Far', $2, 'elsewhere')",
    )
    .bind(Uuid::nil())
    .bind(format!("g_{}", Uuid::nil().simple()))
    .execute(&databases.registry)
    .await
    .unwrap();
    let refused = server::connect(&config).await.expect_err("the start is refused");
    assert!(refused.to_string().contains("elsewhere"), "{refused}");
}

#[tokio::test]
async fn the_registrys_database_listed_by_another_spelling_of_its_url_is_the_registry() {
    let url = common::fresh_database().await;
    let databases = format!("main={url}?application_name=courtyard");
    let app = TestApp::spawn_on(&url, &[("COURTYARD_DATABASES", databases.as_str())]).await;
    let (admin, slug) = app.admin_of_new_group().await;
    let (status, body) = app.mutate(&admin, &slug, create(Uuid::new_v4(), "Hello")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let version: i64 = sqlx::query_scalar("SELECT tenant_version FROM groups WHERE slug = $1")
        .bind(&slug)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(version, app::backend::migrations::latest_tenant_version());
}
