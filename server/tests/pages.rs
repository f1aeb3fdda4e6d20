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
    let html = ann
        .get(app.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("Maple Yard") && html.contains(&format!("/g/{slug}")),
        "{html}"
    );
}

#[tokio::test]
async fn a_signed_out_visitor_of_a_group_page_is_sent_to_login() {
    let app = TestApp::spawn().await;
    // As a browser asks: Leptos redirects with a status only for HTML requests.
    let page = app
        .client()
        .get(app.url("/g/some-group"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert!(page.status().is_redirection(), "{}", page.status());
    assert_eq!(page.headers()["location"], "/login?next=/g/some-group");
}

#[tokio::test]
async fn group_home_shows_its_members_to_a_member() {
    let app = TestApp::spawn().await;
    let ann = app.client();
    app.sign_up(&ann, "Ann").await;
    let slug = app.create_group(&ann, "Willow").await;
    let bo = app.resident(&ann, &slug, "Bo").await;
    for client in [&ann, &bo] {
        let page = client
            .get(app.url(&format!("/g/{slug}")))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        let html = page.text().await.unwrap();
        assert!(
            html.contains("Willow") && html.contains("Ann") && html.contains("Bo"),
            "{html}"
        );
    }
}

#[tokio::test]
async fn unknown_pages_are_404() {
    let app = TestApp::spawn().await;
    let page = app
        .client()
        .get(app.url("/no/such/page"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::NOT_FOUND);
}
