//! The test harness: the real server on a random loopback port, backed by a
//! fresh Postgres database per test.
#![allow(dead_code)] // each test binary uses part of it

use reqwest::{Client, StatusCode};
use serde_json::{json, Map, Value};
use server::config::Config;
use sqlx::{Connection, PgConnection, PgPool};
use std::collections::BTreeMap;
use std::path::Path;
use tokio::sync::oneshot;

pub mod cluster;
pub mod files;
pub mod nginx;
pub mod process;
pub mod s3;
pub mod shape_client;
pub mod smtp;

/// Where test databases are created (`TEST_DATABASE_URL`, default: the
/// local Postgres as `postgres`).
pub fn admin_url() -> String {
    std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A new, empty database; returns its URL.
pub async fn fresh_database() -> String {
    let admin = admin_url();
    let name = format!("courtyard_test_{}", uuid::Uuid::new_v4().simple());
    let mut conn = PgConnection::connect(&admin).await.expect("connect to Postgres");
    sqlx::query(&format!("CREATE DATABASE \"{name}\"")).execute(&mut conn).await.expect("create test database");
    let (base, _) = admin.rsplit_once('/').expect("database URL has a path");
    format!("{base}/{name}")
}

/// The file store of the servers on `database_url`.
pub fn files_dir(database_url: &str) -> std::path::PathBuf {
    let name = database_url.rsplit('/').next().unwrap_or("courtyard");
    std::env::temp_dir().join("courtyard-test-files").join(name)
}

pub fn config_for(database_url: &str, overrides: &[(&str, &str)]) -> Config {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Leptos.toml");
    let database_url = database_url.to_owned();
    let mut overrides: Vec<(String, String)> = overrides.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    // Each test database its own file store (servers on one database share it).
    let files = files_dir(&database_url);
    overrides.push(("COURTYARD_FILES_STORE".into(), files.to_string_lossy().into_owned()));
    Config::load(&path, move |name| match name {
        "DATABASE_URL" => Some(database_url.clone()),
        "COURTYARD_SITE_ADDR" => Some("127.0.0.1:0".into()),
        "COURTYARD_DATABASE_MAX_CONNECTIONS" => Some("5".into()),
        // The first given wins (a test's own store over the default above).
        _ => overrides.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()),
    })
    .expect("Leptos.toml loads")
}

pub struct TestApp {
    pub base: String,
    /// A pool on the test database, for checking what the server wrote.
    pub db: PgPool,
    pub database_url: String,
    /// The server's shape stream (its hub's memory, for tests that bound it).
    pub shapes: server::shapes::Shapes,
    _stop: oneshot::Sender<()>,
}

impl TestApp {
    /// Starts the server on its own thread and multi-threaded runtime, as in
    /// production (and apart from the test's own runtime, like a real client).
    pub async fn spawn() -> Self {
        Self::spawn_with(&[]).await
    }

    /// As `spawn`, with settings overridden (environment variable → value).
    pub async fn spawn_with(overrides: &[(&str, &str)]) -> Self {
        Self::spawn_on(&fresh_database().await, overrides).await
    }

    /// A server on an existing database (a second server process, say).
    pub async fn spawn_on(database_url: &str, overrides: &[(&str, &str)]) -> Self {
        let database_url = database_url.to_owned();
        let config = config_for(&database_url, overrides);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (ready, started) = oneshot::channel::<server::shapes::Shapes>();
        let (stop, stopped) = oneshot::channel::<()>();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
            runtime.block_on(async move {
                let databases = server::connect(&config).await.expect("server connects and migrates");
                let state = server::state(&config, databases).expect("app state");
                // Done before the test goes on: what a test does to groups
                // afterwards is the requests' to handle, not this run's.
                server::migrate_groups(&config, state.databases.clone()).await.expect("the groups are migrated");
                server::mail::spawn(&config.mail, state.registry().clone());
                if state.settings.notify {
                    server::notifications(state.clone(), config.mail.notify_interval);
                }
                server::housekeeping(state.clone());
                server::sweep_files(state.clone(), config.files.sweep_interval);
                let shapes = server::shapes::Shapes::start(state.clone(), &config.sync);
                let app = server::router(state, shapes.clone(), &config);
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let _ = ready.send(shapes);
                axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>())
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    })
                    .await
                    .expect("server runs");
            });
        });
        let shapes = started.await.expect("the server started");
        let db = sqlx::postgres::PgPoolOptions::new().max_connections(2).connect(&database_url).await.unwrap();
        TestApp { base, db, database_url, shapes, _stop: stop }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `/readyz`'s status and body.
    pub async fn readiness(&self) -> (StatusCode, Value) {
        let response = reqwest::get(self.url("/readyz")).await.unwrap();
        (response.status(), response.json().await.unwrap())
    }

    /// Polls `/readyz` until its status is `want` (within `within`).
    pub async fn wait_ready(&self, want: StatusCode, within: std::time::Duration) -> Value {
        let until = tokio::time::Instant::now() + within;
        loop {
            let (status, body) = self.readiness().await;
            if status == want {
                return body;
            }
            assert!(tokio::time::Instant::now() < until, "/readyz stayed {status}: {body}");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    /// A client with its own cookie jar (one browser, one person).
    pub fn client(&self) -> Client {
        Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap()
    }

    pub async fn post(&self, client: &Client, path: &str, body: Value) -> (StatusCode, Value) {
        let response = client.post(self.url(path)).json(&body).send().await.unwrap();
        read(response).await
    }

    pub async fn get(&self, client: &Client, path: &str) -> (StatusCode, Value) {
        read(client.get(self.url(path)).send().await.unwrap()).await
    }

    /// Sends one batch of mutations to `slug`; returns the status and body.
    pub async fn mutate(&self, client: &Client, slug: &str, mutations: Value) -> (StatusCode, Value) {
        self.post(client, "/api/mutate", json!({"group": slug, "mutations": mutations})).await
    }

    /// Signs up a new person on `client`; returns the user JSON.
    pub async fn sign_up(&self, client: &Client, name: &str) -> Value {
        let email = format!("{}-{}@example.org", name.to_lowercase(), uuid::Uuid::new_v4().simple());
        let (status, body) = self
            .post(client, "/api/auth/signup", json!({"email": email, "password": "correct horse", "name": name}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["user"].clone()
    }

    /// Creates a group as `client`; returns its slug.
    pub async fn create_group(&self, client: &Client, name: &str) -> String {
        let slug =
            format!("{}-{}", name.to_lowercase().replace(' ', "-"), &uuid::Uuid::new_v4().simple().to_string()[..8]);
        let (status, body) = self.post(client, "/api/groups", json!({"slug": slug, "name": name})).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        slug
    }

    /// A new person and the new group they created: their client and the slug.
    pub async fn admin_of_new_group(&self) -> (Client, String) {
        let admin = self.client();
        self.sign_up(&admin, "Ann").await;
        let slug = self.create_group(&admin, "Elm").await;
        (admin, slug)
    }

    /// An invite code of `slug`, made by its admin `client`.
    pub async fn invite(&self, client: &Client, slug: &str) -> String {
        let (status, body) = self.post(client, &format!("/api/groups/{slug}/invites"), json!({})).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["code"].as_str().unwrap().to_owned()
    }

    /// A signed-in resident of `slug` (invited by `admin`).
    pub async fn resident(&self, admin: &Client, slug: &str, name: &str) -> Client {
        let code = self.invite(admin, slug).await;
        let client = self.client();
        self.sign_up(&client, name).await;
        let (status, body) = self.post(&client, &format!("/api/invites/{code}/accept"), json!({})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        client
    }

    /// A group table's rows as the change log writes them (Postgres text
    /// values, timestamps in UTC), by primary key.
    pub async fn table_rows(&self, schema: &str, table: &str) -> BTreeMap<String, Map<String, Value>> {
        table_rows_in(&self.db, schema, table).await
    }

    /// The change-log positions of `table` after `after`, in order.
    pub async fn logged_positions(&self, schema: &str, table: &str, after: i64) -> Vec<i64> {
        sqlx::query_scalar(&format!(
            "SELECT position FROM \"{schema}\".changes WHERE relation = $1 AND position > $2 ORDER BY position"
        ))
        .bind(table)
        .bind(after)
        .fetch_all(&self.db)
        .await
        .unwrap()
    }

    pub async fn schema_of(&self, slug: &str) -> String {
        sqlx::query_scalar("SELECT schema_name FROM groups WHERE slug = $1")
            .bind(slug)
            .fetch_one(&self.db)
            .await
            .unwrap()
    }
}

/// [`TestApp::table_rows`] on the database of `pool` (a group database).
pub async fn table_rows_in(pool: &PgPool, schema: &str, table: &str) -> BTreeMap<String, Map<String, Value>> {
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("SET LOCAL timezone = 'UTC'").execute(&mut *tx).await.unwrap();
    sqlx::query("SET LOCAL datestyle = 'ISO, YMD'").execute(&mut *tx).await.unwrap();
    let rows: Vec<(Value,)> =
        sqlx::query_as(&format!("SELECT public.hstore_to_jsonb(public.hstore(t)) FROM \"{schema}\".\"{table}\" t"))
            .fetch_all(&mut *tx)
            .await
            .unwrap();
    let pk = app::model::registry::table(table).expect("a synced table").pk;
    rows.into_iter()
        .map(|(row,)| {
            let row = row.as_object().unwrap().clone();
            (row[pk].as_str().unwrap().to_owned(), row)
        })
        .collect()
}

pub async fn read(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.unwrap();
    let body = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
    (status, body)
}
