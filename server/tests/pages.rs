//! Server-rendered pages: what a browser gets before any WASM runs.

mod common;

use common::TestApp;
use reqwest::StatusCode;

#[tokio::test]
async fn signed_out_home_is_the_landing_page() {
    let app = TestApp::spawn().await;
    let page = app.client().get(app.url("/")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("Create an account"), "{html}");
}

#[tokio::test]
async fn signed_in_home_lists_my_groups() {
    let app = TestApp::spawn().await;
    let ann = app.client();
    app.sign_up(&ann, "Ann").await;
    let slug = app.create_group(&ann, "Maple Yard").await;
    let html = ann.get(app.url("/")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("Maple Yard") && html.contains(&format!("/g/{slug}")), "{html}");
}

#[tokio::test]
async fn a_signed_out_visitor_of_a_group_page_is_sent_to_login() {
    let app = TestApp::spawn().await;
    // Whatever the client accepts, and with a session that ended.
    let (ann, slug) = app.admin_of_new_group().await;
    sqlx::query("UPDATE sessions SET expires_at = now() - interval '1 second'").execute(&app.db).await.unwrap();
    for (client, accept) in [(app.client(), "text/html"), (app.client(), "*/*"), (ann, "text/html")] {
        let page =
            client.get(app.url(&format!("/g/{slug}/requests?status=open"))).header("accept", accept).send().await;
        let page = page.unwrap();
        assert_eq!(page.status(), StatusCode::SEE_OTHER);
        let next = format!("/login?next=%2Fg%2F{slug}%2Frequests%3Fstatus%3Dopen");
        assert_eq!(page.headers()["location"], next.as_str());
        assert!(page.text().await.unwrap().is_empty(), "nothing of the page");
    }
    // A return address sign-in would refuse (too long) falls back to the page itself.
    let long = format!("/g/{slug}/requests?q={}", "a".repeat(3000));
    let page = app.client().get(app.url(&long)).send().await.unwrap();
    assert_eq!(page.headers()["location"], format!("/login?next=%2Fg%2F{slug}%2Frequests").as_str());
}

#[tokio::test]
async fn group_home_shows_its_members_to_a_member() {
    let app = TestApp::spawn().await;
    let ann = app.client();
    app.sign_up(&ann, "Ann").await;
    let slug = app.create_group(&ann, "Willow").await;
    let bo = app.resident(&ann, &slug, "Bo").await;
    for client in [&ann, &bo] {
        let page = client.get(app.url(&format!("/g/{slug}"))).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        let html = page.text().await.unwrap();
        assert!(html.contains("Willow") && html.contains("Ann") && html.contains("Bo"), "{html}");
    }
}

#[tokio::test]
async fn unknown_pages_are_404() {
    let app = TestApp::spawn().await;
    let page = app.client().get(app.url("/no/such/page")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn every_group_page_renders_the_groups_data_for_a_member() {
    let app = TestApp::spawn().await;
    let ann = app.client();
    app.sign_up(&ann, "Ann").await;
    let slug = app.create_group(&ann, "Rowan").await;
    let request = uuid::Uuid::new_v4();
    let mutations = serde_json::json!([
        {"id": uuid::Uuid::new_v4(), "name": "announcement.create", "args": {"id": uuid::Uuid::new_v4(), "title": "Bins on Tuesday", "body": "Green bin"}},
        {"id": uuid::Uuid::new_v4(), "name": "request.create", "args": {"id": request, "title": "Broken gate", "description": "Hinge"}},
        {"id": uuid::Uuid::new_v4(), "name": "resource.create", "args": {"id": uuid::Uuid::new_v4(), "name": "Laundry room"}},
    ]);
    let (status, _) = app.post(&ann, "/api/mutate", serde_json::json!({"group": slug, "mutations": mutations})).await;
    assert_eq!(status, StatusCode::OK);
    let pages = [
        ("", "Bins on Tuesday"),
        ("/announcements", "Green bin"),
        ("/requests", "Broken gate"),
        (&format!("/requests/{request}"), "Hinge"),
        ("/bookings", "Laundry room"),
        ("/members", "Ann"),
    ];
    for (path, text) in pages {
        let page = ann.get(app.url(&format!("/g/{slug}{path}"))).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK, "{path}");
        let html = page.text().await.unwrap();
        assert!(html.contains(text), "{path} shows {text:?}");
    }
    let missing = ann.get(app.url(&format!("/g/{slug}/requests/{}", uuid::Uuid::new_v4()))).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_stranger_gets_404_on_every_group_page() {
    let app = TestApp::spawn().await;
    let ann = app.client();
    app.sign_up(&ann, "Ann").await;
    let slug = app.create_group(&ann, "Hazel").await;
    let stranger = app.client();
    app.sign_up(&stranger, "Eve").await;
    for path in ["", "/announcements", "/requests", "/bookings", "/members"] {
        let page = stranger.get(app.url(&format!("/g/{slug}{path}"))).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::NOT_FOUND, "{path}");
        assert!(!page.text().await.unwrap().contains("Hazel"));
    }
}

/// Regression: renders stalled now and then while another server of the
/// process was starting (Leptos' route listing switches resource loading
/// off process-wide; `server::router` lists the routes once per process).
/// These tests run concurrently, each with a server of its own.
#[tokio::test]
async fn concurrent_group_page_renders_all_complete() {
    let app = TestApp::spawn().await;
    let ann = app.client();
    app.sign_up(&ann, "Ann").await;
    let slug = app.create_group(&ann, "Linden").await;
    let pages = (0..48).map(|i| {
        let path = ["", "/members", "/bookings", "/requests"][i % 4];
        ann.get(app.url(&format!("/g/{slug}{path}")))
            .header("accept", "text/html")
            .timeout(std::time::Duration::from_secs(20))
            .send()
    });
    for response in futures::future::join_all(pages).await {
        assert_eq!(response.expect("every render completes").status(), StatusCode::OK);
    }
}
