//! Who may read a shape, and what bad input gets: 401 signed out, 404 for
//! strangers and removed members, 400 with `{"message","errors"}` for
//! malformed params; never a 5xx, never another group's row.

mod common;

use common::{shape_client::ShapeClient, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

#[tokio::test]
async fn signed_out_gets_401_strangers_and_removed_members_404() {
    let app = TestApp::spawn().await;
    let (admin, slug) = app.admin_of_new_group().await;
    let resident = app.resident(&admin, &slug, "Bo").await;
    let url = app.url(&format!("/g/{slug}/v1/shape?table=announcements&offset=-1"));

    let (status, body) = common::read(app.client().get(&url).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let stranger = app.client();
    app.sign_up(&stranger, "Cy").await;
    // The same 404 whatever the params say, and for a group that does not exist.
    for url in [
        url.clone(),
        app.url(&format!("/g/{slug}/v1/shape?table=nope")),
        app.url("/g/no-such-group/v1/shape?table=announcements&offset=-1"),
    ] {
        let (status, _) = common::read(stranger.get(&url).send().await.unwrap()).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{url}");
    }

    // A bearer token works like the cookie.
    let (_, me) = app.get(&resident, "/api/me").await;
    let email = me["user"]["email"].as_str().unwrap().to_owned();
    let (status, token) =
        app.post(&app.client(), "/api/auth/token", json!({"email": email, "password": "correct horse"})).await;
    assert_eq!(status, StatusCode::CREATED, "{token}");
    let bearer = format!("Bearer {}", token["token"].as_str().unwrap());
    let response = app.client().get(&url).header("authorization", &bearer).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    // Membership ends: the next request is a 404.
    let user_id: Uuid = me["user"]["id"].as_str().unwrap().parse().unwrap();
    sqlx::query("DELETE FROM memberships WHERE user_id = $1").bind(user_id).execute(&app.db).await.unwrap();
    let (status, _) = common::read(resident.get(&url).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let response = app.client().get(&url).header("authorization", &bearer).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_removed_member_waiting_live_is_answered_at_once_then_refused() {
    let app = TestApp::spawn_with(&[("COURTYARD_SYNC_LONG_POLL_TIMEOUT_SECS", "20")]).await;
    let (admin, slug) = app.admin_of_new_group().await;
    let resident = app.resident(&admin, &slug, "Bo").await;
    let mut client = ShapeClient::new(&resident, &app.base, &slug, "announcements", &[]);
    client.sync().await;
    // A live poll: it waits (and fills the access cache).
    let waiting = tokio::spawn(async move {
        let started = std::time::Instant::now();
        let reply = client.poll().await;
        (client, reply.status, started.elapsed())
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    sqlx::query("DELETE FROM memberships WHERE role = 'resident'").execute(&app.db).await.unwrap();
    let (mut client, status, waited) = waiting.await.unwrap();
    assert_eq!(status, StatusCode::OK);
    assert!(waited < std::time::Duration::from_secs(5), "answered when the membership ended, not at the timeout");
    let mut refused = false;
    for _ in 0..20 {
        if client.poll().await.status == StatusCode::NOT_FOUND {
            refused = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(refused, "the next live request is refused");
}

#[tokio::test]
async fn bad_input_is_a_named_400_never_a_5xx() {
    let app = TestApp::spawn().await;
    let (admin, slug) = app.admin_of_new_group().await;
    let other = app.create_group(&admin, "Oak").await;
    let other_schema = app.schema_of(&other).await;
    let long = "x".repeat(5000);
    let many_params: String = (1..=150).map(|n| format!("&params[{n}]=a")).collect();
    let cases: Vec<(String, &str)> = vec![
        (format!("table={other_schema}.announcements&offset=-1"), "table"),
        ("table=public.users&offset=-1".into(), "table"),
        ("table=users&offset=-1".into(), "table"),
        ("table=changes&offset=-1".into(), "table"),
        ("table=applied_mutations&offset=-1".into(), "table"),
        ("table=%22announcements%22.%22x%22&offset=-1".into(), "table"),
        ("offset=-1".into(), "table"),
        ("table=announcements".into(), "offset"),
        ("table=announcements&offset=garbage".into(), "offset"),
        ("table=announcements&offset=-5".into(), "offset"),
        ("table=announcements&offset=1_0".into(), "handle"),
        ("table=announcements&offset=-1&live=true".into(), "live"),
        ("table=announcements&offset=-1&where=1=1;DROP TABLE users".into(), "where"),
        ("table=announcements&offset=-1&where=id IN (SELECT user_id FROM memberships)".into(), "where"),
        ("table=announcements&offset=-1&where=pg_sleep(10) IS NULL".into(), "where"),
        ("table=announcements&offset=-1&where=secret = 1".into(), "where"),
        ("table=announcements&offset=-1&where=id = 'not-a-uuid'".into(), "where"),
        // Values Rust reads but Postgres refuses: never a 500.
        ("table=announcements&offset=-1&where=id = 'urn:uuid:a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'".into(), "where"),
        ("table=announcements&offset=-1&where=created_at > '0000-01-01T00:00:00Z'".into(), "where"),
        ("table=announcements&offset=-1&where=created_at > '2024-01-01T00:00:00%2B16:00'".into(), "where"),
        ("table=announcements&offset=-1&where=pinned = 'true%E3%80%80'".into(), "where"),
        ("table=announcements&offset=-1&where=title = 'a%00b'".into(), "where"),
        ("table=announcements&offset=-1&where=title = $1&params[1]=a%00b".into(), "where"),
        ("table=announcements&offset=-1&where=created_at < $1&params[1]=2024-01-01T00:00:00-23:00".into(), "where"),
        ("table=announcements&offset=-1&where=pinned = $1".into(), "where"),
        ("table=announcements&offset=-1&where=pinned = $1&params[1]=perhaps".into(), "where"),
        (format!("table=announcements&offset=-1&where=title = '{long}'"), "where"),
        (format!("table=announcements&offset=-1&where=title = $1&params[1]={long}"), "params"),
        (format!("table=announcements&offset=-1{many_params}"), "params"),
        ("table=announcements&offset=-1&columns=title".into(), "columns"),
        ("table=announcements&offset=-1&columns=id,nope".into(), "columns"),
        ("table=announcements&offset=-1&replica=half".into(), "replica"),
        (format!("table=announcements&offset=1_0&handle={long}"), "handle"),
    ];
    for (query, field) in cases {
        let url = app.url(&format!("/g/{slug}/v1/shape?{query}"));
        let (status, body) = common::read(admin.get(&url).send().await.unwrap()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert_eq!(body["message"], "Invalid request");
        assert!(body["errors"][field].is_array(), "{query}: {body}");
    }
    // Garbage handles and offsets this server never gave: 409, not 5xx.
    for query in ["offset=5_0&handle=zzz", "offset=18446744073709551615_0&handle=x", "offset=3_99&handle=%00"] {
        let url = app.url(&format!("/g/{slug}/v1/shape?table=announcements&{query}"));
        let status = admin.get(&url).send().await.unwrap().status();
        assert!(status.is_client_error(), "{query}: {status}");
    }
}

#[tokio::test]
async fn a_groups_shape_never_carries_another_groups_rows() {
    let app = TestApp::spawn_with(&[("COURTYARD_SYNC_LONG_POLL_TIMEOUT_SECS", "1")]).await;
    let admin = app.client();
    app.sign_up(&admin, "Ann").await;
    let (elm, oak) = (app.create_group(&admin, "Elm").await, app.create_group(&admin, "Oak").await);
    let post = |slug: String, title: &'static str| {
        let mutation = json!([{"id": Uuid::new_v4(), "name": "announcement.create", "args": {"id": Uuid::new_v4(), "title": title, "body": "b"}}]);
        (slug.clone(), json!({"group": slug, "mutations": mutation}))
    };
    let (_, body) = post(elm.clone(), "elm notice");
    app.post(&admin, "/api/mutate", body).await;
    let mut client = ShapeClient::new(&admin, &app.base, &elm, "announcements", &[]);
    client.sync().await;
    for _ in 0..3 {
        let (_, body) = post(oak.clone(), "oak notice");
        let (status, _) = app.post(&admin, "/api/mutate", body).await;
        assert_eq!(status, StatusCode::OK);
        let reply = client.poll().await;
        assert_eq!(reply.status, StatusCode::OK);
    }
    let titles: Vec<&Value> = client.rows.values().map(|r| &r["title"]).collect();
    assert_eq!(titles, [&json!("elm notice")]);
}
