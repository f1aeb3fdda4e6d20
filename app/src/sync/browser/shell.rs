//! The offline app shell from the page's side: registers the service worker
//! (`/sw.js`) and asks it to keep a group's pages once they are synced.

use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;
use web_sys::ServiceWorkerRegistration;

/// Registers the service worker (where the browser has them).
pub fn register() {
    let Some(window) = web_sys::window() else { return };
    let container = window.navigator().service_worker();
    // `serviceWorker` is undefined on insecure origins other than localhost.
    if JsValue::from(container.clone()).is_undefined() {
        return;
    }
    let _ = container.register("/sw.js");
}

/// Asks the service worker to keep the group's pages for offline use.
pub async fn keep_group_pages(slug: &str) {
    let pages: Vec<String> = crate::pages::group::SECTIONS.iter().map(|(path, _)| format!("/g/{slug}{path}")).collect();
    tell_worker(serde_json::json!({ "keep": pages })).await;
}

/// At sign-out: the service worker forgets every kept page (they show the
/// person signing out), so nobody sees them offline on this browser.
pub async fn forget_pages() {
    tell_worker(serde_json::json!({ "forget": true })).await;
}

/// When this browser forgets a group (left, removed): the service worker
/// forgets its kept pages too.
pub async fn forget_group(slug: &str) {
    tell_worker(serde_json::json!({ "forget_group": slug })).await;
}

async fn tell_worker(message: serde_json::Value) {
    let Some(window) = web_sys::window() else { return };
    let container = window.navigator().service_worker();
    if JsValue::from(container.clone()).is_undefined() {
        return;
    }
    let Ok(ready) = container.ready() else { return };
    let Ok(registration) = JsFuture::from(ready).await else { return };
    let registration = ServiceWorkerRegistration::from(registration);
    let Some(worker) = registration.active() else { return };
    if let Ok(message) = js_sys::JSON::parse(&message.to_string()) {
        let _ = worker.post_message(&message);
    }
}
