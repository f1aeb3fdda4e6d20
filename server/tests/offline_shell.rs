//! The offline app shell's server side: `/sw.js` is served as a script the
//! browser rechecks on every visit, naming this build's cache; pages link
//! the web app manifest.

mod common;

use common::TestApp;
use reqwest::StatusCode;

#[tokio::test]
async fn the_service_worker_is_served_fresh_with_its_build() {
    let app = TestApp::spawn().await;
    let response = app.client().get(app.url("/sw.js")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/javascript; charset=utf-8");
    assert_eq!(response.headers()["cache-control"], "no-cache");
    let script = response.text().await.unwrap();
    assert!(script.starts_with("const BUILD = \""), "{}", &script[..60]);
    assert!(script.contains("addEventListener('fetch'"));

    let page = app.client().get(app.url("/")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains(r#"<link rel="manifest" href="/manifest.webmanifest""#), "{page}");
}
