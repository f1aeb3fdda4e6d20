//! The browser entry: hydrates the server-rendered page.

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
    // Keeps the app shell for offline use (docs/offline.md).
    app::sync::browser::shell::register();
    // Lets tests (and curious developers) see that the WASM took over.
    if let Some(body) = leptos::prelude::document().body() {
        let _ = body.set_attribute("data-hydrated", "");
    }
}
