//! The operator's endpoints: `/healthz`, `/readyz` (following the database
//! as it goes away and comes back, and the server as it shuts down) and
//! `/metrics` (what it counts, and who may read it). The metrics' values
//! are the process's, so one test reads them (tests run at once).

mod common;

use common::{cluster::Cluster, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;
use uuid::Uuid;

/// The value of the sample of `name` carrying every label of `labels`.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines().filter(|line| !line.starts_with('#')).find_map(|line| {
        let (series, value) = line.rsplit_once(' ')?;
        let rest = series.strip_prefix(name)?;
        let matches = (rest.is_empty() || rest.starts_with('{'))
            && labels.iter().all(|(key, value)| rest.contains(&format!("{key}=\"{value}\"")));
        matches.then(|| value.parse().ok()).flatten()
    })
}

async fn scrape(app: &TestApp) -> String {
    scrape_with(app, None).await
}

async fn scrape_with(app: &TestApp, token: Option<&str>) -> String {
    let request = reqwest::Client::new().get(app.url("/metrics"));
    let request = match token {
        Some(token) => request.bearer_auth(token),
        None => request,
    };
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let kind = response.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(kind.starts_with("text/plain; version=0.0.4"), "{kind}");
    response.text().await.unwrap()
}

fn create(id: Uuid, title: &str) -> Value {
    json!([{"id": Uuid::new_v4(), "name": "announcement.create", "args": {"id": id, "title": title, "body": "b"}}])
}

#[tokio::test]
async fn health_readiness_and_metrics_count_what_happens() {
    let app = TestApp::spawn().await;
    let healthz = reqwest::get(app.url("/healthz")).await.unwrap();
    assert_eq!(healthz.status(), StatusCode::OK);
    assert_eq!(healthz.text().await.unwrap(), "ok\n");
    let body = app.wait_ready(StatusCode::OK, Duration::from_secs(5)).await;
    assert_eq!(
        body,
        json!({
            "ready": true, "registry": "ok", "databases": {"main": "ok"},
            "listen": true, "listening": {"main": true}, "closing": false
        })
    );

    let (admin, slug) = app.admin_of_new_group().await;
    let before = scrape(&app).await;
    let applied = |text: &str, outcome| {
        sample(text, "courtyard_mutations_total", &[("mutation", "announcement.create"), ("outcome", outcome)])
            .unwrap_or(0.0)
    };
    let mutations = |text: &str| {
        sample(
            text,
            "courtyard_http_requests_total",
            &[("route", "/api/mutate"), ("method", "POST"), ("status", "200")],
        )
        .unwrap_or(0.0)
    };

    // A wake long-poll waits: counted as a live subscriber while it does.
    let (_, woken) = app.get(&admin, &format!("/g/{slug}/v1/wake?after=0")).await;
    let head = woken["head"].as_i64().unwrap();
    let waiting = {
        let (admin, url) = (admin.clone(), app.url(&format!("/g/{slug}/v1/wake?after={head}")));
        tokio::spawn(async move { admin.get(url).send().await.unwrap().json::<Value>().await.unwrap() })
    };
    let until = tokio::time::Instant::now() + Duration::from_secs(5);
    let held = loop {
        let text = scrape(&app).await;
        let held = sample(&text, "courtyard_live_subscribers", &[("kind", "wake_long_poll")]).unwrap_or(0.0);
        if held >= 1.0 || tokio::time::Instant::now() > until {
            break held;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(held >= 1.0, "the waiting wake is counted");

    let id = Uuid::new_v4();
    let (status, body) = app.mutate(&admin, &slug, create(id, "Bins")).await;
    assert_eq!((status, body["results"][0]["status"].as_str()), (StatusCode::OK, Some("applied")));
    let woken = waiting.await.unwrap();
    assert_eq!(woken["tables"], json!(["announcements"]));
    let (_, body) = app.mutate(&admin, &slug, create(Uuid::new_v4(), &"t".repeat(201))).await;
    assert_eq!(body["results"][0]["status"], "rejected");

    let after = scrape(&app).await;
    assert_eq!(applied(&after, "applied") - applied(&before, "applied"), 1.0);
    assert_eq!(applied(&after, "rejected") - applied(&before, "rejected"), 1.0);
    assert_eq!(mutations(&after) - mutations(&before), 2.0);
    let delivered = |text: &str| sample(text, "courtyard_deliveries_total", &[("transport", "wake_long_poll")]);
    assert!(delivered(&after).unwrap_or(0.0) > delivered(&before).unwrap_or(0.0), "{after}");
    assert_eq!(sample(&after, "courtyard_live_subscribers", &[("kind", "wake_long_poll")]), Some(0.0));
    assert!(sample(&after, "courtyard_log_reads_total", &[]).unwrap() >= 1.0);
    assert_eq!(sample(&after, "courtyard_db_pool_max_connections", &[("database", "main")]), Some(5.0));
    assert!(sample(&after, "courtyard_db_pool_connections", &[("database", "main"), ("state", "in_use")]).is_some());
    assert_eq!(sample(&after, "courtyard_db_listen_up", &[("database", "main")]), Some(1.0));
    assert_eq!(sample(&after, "courtyard_groups", &[("database", "main")]), Some(1.0));
    assert_eq!(sample(&after, "courtyard_groups_behind", &[("database", "main")]), Some(0.0));
    assert!(sample(&after, "courtyard_change_log_bytes", &[("database", "main")]).unwrap() > 0.0);
    assert!(sample(&after, "courtyard_http_request_duration_seconds_bucket", &[("route", "/api/mutate")]).is_some());
    // Routes by pattern, never the path asked: no slug in any label.
    assert!(!after.contains(&slug), "a group's slug in the metrics: {after}");

    // Group labels only when asked for (and then behind a token).
    let per_group =
        TestApp::spawn_with(&[("COURTYARD_METRICS_PER_GROUP", "true"), ("COURTYARD_METRICS_TOKEN", "per-group")]).await;
    let (admin, slug) = per_group.admin_of_new_group().await;
    per_group.mutate(&admin, &slug, create(Uuid::new_v4(), "Keys")).await;
    let text = scrape_with(&per_group, Some("per-group")).await;
    assert!(sample(&text, "courtyard_change_log_bytes", &[("group", &slug)]).unwrap() > 0.0, "{text}");
    assert_eq!(sample(&text, "courtyard_mutations_total", &[("group", &slug), ("outcome", "applied")]), Some(1.0));

    // Not for the public: not through a proxy, and with a token only by its bearer.
    let proxied = reqwest::Client::new().get(app.url("/metrics")).header("x-forwarded-for", "203.0.113.9");
    assert_eq!(proxied.send().await.unwrap().status(), StatusCode::FORBIDDEN);
    let forwarded = reqwest::Client::new().get(app.url("/metrics")).header("forwarded", "for=203.0.113.9");
    assert_eq!(forwarded.send().await.unwrap().status(), StatusCode::FORBIDDEN);

    let locked = TestApp::spawn_with(&[("COURTYARD_METRICS_TOKEN", "s3cret-token")]).await;
    let client = reqwest::Client::new();
    let status = |auth: Option<&'static str>| {
        let request = client.get(locked.url("/metrics"));
        let request = match auth {
            Some(auth) => request.header("authorization", auth),
            None => request,
        };
        async move { request.send().await.unwrap().status() }
    };
    assert_eq!(status(None).await, StatusCode::FORBIDDEN);
    assert_eq!(status(Some("Bearer s3cret-toke")).await, StatusCode::FORBIDDEN);
    assert_eq!(status(Some("Basic s3cret-token")).await, StatusCode::FORBIDDEN);
    assert_eq!(status(Some("Bearer s3cret-token")).await, StatusCode::OK);

    // Readiness ends when shutting down, so a load balancer drains it.
    app.shapes.close();
    let (status, body) = app.readiness().await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["closing"], true);
}

#[tokio::test]
async fn readiness_follows_the_database() {
    let cluster = Cluster::start();
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&cluster.url("postgres")).await.unwrap();
    sqlx::query("CREATE DATABASE courtyard").execute(&mut conn).await.unwrap();
    drop(conn);
    let app = TestApp::spawn_on(&cluster.url("courtyard"), &[]).await;
    app.wait_ready(StatusCode::OK, Duration::from_secs(5)).await;

    cluster.stop();
    let body = app.wait_ready(StatusCode::SERVICE_UNAVAILABLE, Duration::from_secs(10)).await;
    assert_eq!(body["ready"], false);
    assert_ne!(body["registry"], "ok");
    // The process itself is still up.
    assert_eq!(reqwest::get(app.url("/healthz")).await.unwrap().status(), StatusCode::OK);

    cluster.resume();
    // The LISTEN connection comes back within its retry delay (at most 5 s).
    let body = app.wait_ready(StatusCode::OK, Duration::from_secs(30)).await;
    assert_eq!(
        body,
        json!({
            "ready": true, "registry": "ok", "databases": {"main": "ok"},
            "listen": true, "listening": {"main": true}, "closing": false
        })
    );
}
