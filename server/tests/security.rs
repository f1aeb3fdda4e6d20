//! Hostile requests: cross-site posts riding the session cookie, password
//! guessing, session rotation, another group's slugs, ids and tables, a
//! removed member's session, and oversized input. Refused with a 4xx,
//! nothing leaked, nothing written.

mod common;

use common::TestApp;
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

const EVIL: &str = "https://evil.example";

async fn counts(app: &TestApp, schema: &str) -> Vec<i64> {
    let mut out = Vec::new();
    for table in app::model::registry::table_names().chain(["applied_mutations"]) {
        let n: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM \"{schema}\".\"{table}\""))
            .fetch_one(&app.db)
            .await
            .unwrap();
        out.push(n);
    }
    let global: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM groups) + (SELECT count(*) FROM invites) + (SELECT count(*) FROM memberships)",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    out.push(global);
    out
}

#[tokio::test]
async fn cross_site_posts_carrying_the_session_cookie_are_refused() {
    let app = TestApp::spawn().await;
    let (admin, slug) = app.admin_of_new_group().await;
    let schema = app.schema_of(&slug).await;
    let code = app.invite(&admin, &slug).await;
    let before = counts(&app, &schema).await;
    let mutation = json!({"group": slug, "mutations": [{"id": Uuid::new_v4(), "name": "announcement.create",
        "args": {"id": Uuid::new_v4(), "title": "forged", "body": "x"}}]});
    let posts: Vec<(&str, String, Value)> = vec![
        ("json", "/api/groups".into(), json!({"slug": "forged", "name": "Forged"})),
        ("json", format!("/api/groups/{slug}/invites"), json!({})),
        ("json", format!("/api/invites/{code}/accept"), json!({})),
        ("json", "/api/mutate".into(), mutation.clone()),
        ("json", "/api/auth/logout".into(), json!({})),
        ("json", "/fn/mutate".into(), json!({"request": mutation})),
        ("form", "/fn/create_group".into(), json!({"slug": "forged2", "name": "Forged"})),
        ("form", "/fn/create_invite".into(), json!({"slug": slug})),
        ("form", "/fn/log_out".into(), json!({})),
    ];
    for (kind, path, body) in &posts {
        for (origin_header, origin) in [("origin", EVIL), ("referer", "https://evil.example/page"), ("origin", "null")]
        {
            let request = admin.post(app.url(path)).header(origin_header, origin);
            let request = match *kind {
                "json" => request.json(body),
                _ => request.form(
                    &body
                        .as_object()
                        .unwrap()
                        .iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                        .collect::<Vec<_>>(),
                ),
            };
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path} with {origin_header}: {origin}");
        }
    }
    assert_eq!(counts(&app, &schema).await, before, "nothing was written");
    assert_eq!(app.get(&admin, "/api/me").await.0, StatusCode::OK, "the session survived the forged logouts");

    // The same request from this site goes through.
    let own = admin
        .post(app.url("/api/groups"))
        .header("origin", &app.base)
        .json(&json!({"slug": format!("own-{}", &Uuid::new_v4().simple().to_string()[..6]), "name": "Own"}));
    assert_eq!(own.send().await.unwrap().status(), StatusCode::CREATED);
}

#[tokio::test]
async fn password_guessing_is_rate_limited_per_account_and_per_address() {
    let app = TestApp::spawn_with(&[("COURTYARD_SESSION_MAX_LOGIN_FAILURES_PER_IP", "8")]).await;
    let client = app.client();
    let me = app.sign_up(&client, "Ann").await;
    let email = me["email"].as_str().unwrap().to_owned();
    let login = |email: String, password: &'static str| {
        let app_client = app.client();
        let url = app.url("/api/auth/login");
        async move { app_client.post(url).json(&json!({"email": email, "password": password})).send().await.unwrap() }
    };
    for _ in 0..5 {
        assert_eq!(login(email.clone(), "wrong guess").await.status(), StatusCode::UNAUTHORIZED);
    }
    // Locked: even the right password waits, and is told how long.
    let locked = login(email.clone(), "correct horse").await;
    assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = locked.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=900).contains(&wait), "{wait}");
    let (_, body) = common::read(locked).await;
    assert!(body["error"].as_str().unwrap().contains("try again"), "{body}");
    let token =
        app.client().post(app.url("/api/auth/token")).json(&json!({"email": email, "password": "correct horse"}));
    assert_eq!(token.send().await.unwrap().status(), StatusCode::TOO_MANY_REQUESTS, "the token endpoint too");

    // Per address: guesses spread over many accounts are stopped as well.
    for n in 0..3 {
        let status = login(format!("nobody{n}@example.org"), "guess").await.status();
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let status = login("someone-else@example.org".into(), "guess").await.status();
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "8 failures from one address");
}

#[tokio::test]
async fn each_login_is_a_new_session_and_logout_ends_it_on_the_server() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let me = app.sign_up(&client, "Ann").await;
    let credentials = json!({"email": me["email"], "password": "correct horse"});
    let token = |client: Client| {
        let (url, credentials) = (app.url("/api/auth/token"), credentials.clone());
        async move {
            let body: Value = client.post(url).json(&credentials).send().await.unwrap().json().await.unwrap();
            body["token"].as_str().unwrap().to_owned()
        }
    };
    let (first, second) = (token(app.client()).await, token(app.client()).await);
    assert_ne!(first, second, "a login never reuses a session");
    let bearer = |t: &str| format!("Bearer {t}");
    let logout = app.client().post(app.url("/api/auth/logout")).header("authorization", bearer(&first));
    assert_eq!(logout.send().await.unwrap().status(), StatusCode::NO_CONTENT);
    let me_with = |t: String| {
        let url = app.url("/api/me");
        async move { Client::new().get(url).header("authorization", format!("Bearer {t}")).send().await.unwrap().status() }
    };
    assert_eq!(me_with(first).await, StatusCode::UNAUTHORIZED);
    assert_eq!(me_with(second).await, StatusCode::OK, "other sessions live on");
}

#[tokio::test]
async fn another_groups_slug_ids_and_tables_name_nothing_and_a_removed_member_is_out() {
    let app = TestApp::spawn().await;
    let (ann, elm) = app.admin_of_new_group().await;
    let bo = app.client();
    app.sign_up(&bo, "Bo").await;
    let oak = app.create_group(&bo, "Oak").await;
    let oak_schema = app.schema_of(&oak).await;
    // Oak has rows with known ids.
    let (room, notice) = (Uuid::new_v4(), Uuid::new_v4());
    let seed = json!({"group": oak, "mutations": [
        {"id": Uuid::new_v4(), "name": "resource.create", "args": {"id": room, "name": "Oak laundry"}},
        {"id": Uuid::new_v4(), "name": "announcement.create", "args": {"id": notice, "title": "Oak only", "body": "x"}}]});
    assert_eq!(app.post(&bo, "/api/mutate", seed).await.0, StatusCode::OK);
    let before = counts(&app, &oak_schema).await;

    // Ann (Elm's admin) aims at Oak in every way she can.
    let (status, _) = app.post(&ann, &format!("/api/groups/{oak}/invites"), json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let aimed = json!({"group": oak, "mutations": [{"id": Uuid::new_v4(), "name": "announcement.delete", "args": {"id": notice}}]});
    assert_eq!(app.post(&ann, "/api/mutate", aimed).await.0, StatusCode::NOT_FOUND);
    let start = (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339();
    let end = (chrono::Utc::now() + chrono::Duration::days(1) + chrono::Duration::hours(1)).to_rfc3339();
    let by_id = json!({"group": elm, "mutations": [
        {"id": Uuid::new_v4(), "name": "announcement.delete", "args": {"id": notice}},
        {"id": Uuid::new_v4(), "name": "booking.create", "args": {"id": Uuid::new_v4(), "resource_id": room, "starts_at": start, "ends_at": end}},
        {"id": Uuid::new_v4(), "name": "resource.delete", "args": {"id": room}}]});
    let (status, body) = app.post(&ann, "/api/mutate", by_id).await;
    assert_eq!(status, StatusCode::OK);
    for result in body["results"].as_array().unwrap() {
        assert_eq!(result["status"], "rejected", "{body}");
    }
    for path in [
        format!("/g/{oak}/v1/shape?table=announcements&offset=-1"),
        format!("/g/{oak}/v1/wake?after=0"),
        format!("/g/{oak}"),
    ] {
        let response = ann.get(app.url(&path)).header("accept", "text/html").send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        assert!(!response.text().await.unwrap().contains("Oak only"), "{path} leaks");
    }
    let own_shape = format!("/g/{elm}/v1/shape?table={oak_schema}.announcements&offset=-1");
    assert_eq!(app.get(&ann, &own_shape).await.0, StatusCode::BAD_REQUEST);
    // Each view of a group, asked for another group's.
    let (day, next) = ("2030-01-07T00:00:00Z", "2030-01-14T00:00:00Z");
    let any_id = Uuid::new_v4().to_string();
    let views: [(&str, Vec<(&str, &str)>); 7] = [
        ("group_header", vec![]),
        ("board", vec![("limit", "50")]),
        ("requests", vec![("status", "open"), ("limit", "50")]),
        ("request_thread", vec![("id", &any_id), ("limit", "50")]),
        ("rooms", vec![("from", day), ("to", next)]),
        ("directory", vec![("limit", "50")]),
        ("summary", vec![("from", day), ("to", next)]),
    ];
    for (name, args) in views {
        let form: Vec<_> = [("slug", oak.as_str())].into_iter().chain(args.iter().copied()).collect();
        let own: Vec<_> = [("slug", elm.as_str())].into_iter().chain(args.iter().copied()).collect();
        let theirs = ann.post(app.url(&format!("/fn/{name}"))).form(&form).send().await.unwrap();
        assert_eq!(theirs.status(), StatusCode::NOT_FOUND, "{name}");
        assert!(!theirs.text().await.unwrap().contains("Oak only"), "{name} leaks");
        let mine = ann.post(app.url(&format!("/fn/{name}"))).form(&own).send().await.unwrap();
        assert_eq!(mine.status(), StatusCode::OK, "{name} of one's own group");
    }
    assert_eq!(counts(&app, &oak_schema).await, before, "nothing of Oak changed");

    // A removed member's session reaches nothing of the group any more.
    let cy = app.resident(&bo, &oak, "Cy").await;
    assert_eq!(app.get(&cy, &format!("/g/{oak}/v1/shape?table=announcements&offset=-1")).await.0, StatusCode::OK);
    sqlx::query(
        "DELETE FROM memberships WHERE role = 'resident' AND group_id = (SELECT id FROM groups WHERE slug = $1)",
    )
    .bind(&oak)
    .execute(&app.db)
    .await
    .unwrap();
    let before = counts(&app, &oak_schema).await;
    let write = json!({"group": oak, "mutations": [{"id": Uuid::new_v4(), "name": "request.create", "args": {"id": Uuid::new_v4(), "title": "t", "description": "d"}}]});
    assert_eq!(app.post(&cy, "/api/mutate", write).await.0, StatusCode::NOT_FOUND);
    assert_eq!(app.post(&cy, &format!("/api/groups/{oak}/invites"), json!({})).await.0, StatusCode::NOT_FOUND);
    for path in [format!("/g/{oak}/v1/shape?table=members&offset=-1"), format!("/g/{oak}/v1/wake?after=0")] {
        assert_eq!(app.get(&cy, &path).await.0, StatusCode::NOT_FOUND, "{path}");
    }
    assert_eq!(counts(&app, &oak_schema).await, before);
}

#[tokio::test]
async fn oversized_requests_get_4xx_never_5xx() {
    let app = TestApp::spawn().await;
    let (ann, slug) = app.admin_of_new_group().await;
    let huge_header = "x".repeat(40 * 1024);
    let response = ann.get(app.url("/api/me")).header("x-padding", &huge_header).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    let long_query = format!("/g/{slug}/v1/shape?table=announcements&offset=-1&where={}", "a".repeat(30_000));
    let status = app.get(&ann, &long_query).await.0;
    assert!(status.is_client_error(), "{status}");
    // Last: the server answers 413 before reading it all and closes the connection.
    let body = "x".repeat(3 * 1024 * 1024);
    let response =
        ann.post(app.url("/api/mutate")).header("content-type", "application/json").body(body).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
}
