//! Courtyard's Leptos app, compiled twice: with `ssr` into the server and
//! with `hydrate` into the browser's WASM.

// Release builds keep Leptos' full view types (debug builds erase them with
// `--cfg erase_components`); the group pages' nesting needs more depth.
#![recursion_limit = "256"]

#[cfg(feature = "ssr")]
pub mod backend;
pub mod components;
pub mod error;
pub mod model;
pub mod pages;
pub mod server_fns;
pub mod sync;

use components::{provide_zone, Header, MeResource, VerifyBanner};
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::{
    components::{ParentRoute, Route, Router, Routes},
    hooks::use_location,
    path, SsrMode,
};
use pages::*;

/// The HTML document around the app (rendered on the server only).
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    set_content_security_policy();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                <link rel="manifest" href="/manifest.webmanifest" />
                <meta name="theme-color" content="#2f6f5e" />
                <AutoReload options=options.clone() />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// Sends the page's Content-Security-Policy, naming the nonce Leptos puts
/// on this response's inline scripts (`backend::csp`).
#[cfg(feature = "ssr")]
fn set_content_security_policy() {
    let (Some(response), Some(state)) =
        (use_context::<leptos_axum::ResponseOptions>(), use_context::<backend::AppState>())
    else {
        return;
    };
    let nonce = leptos::nonce::use_nonce().map(|nonce| nonce.to_string());
    let policy = backend::csp::policy(nonce.as_deref(), &state.settings);
    if let Ok(value) = http::HeaderValue::from_str(&policy) {
        response.insert_header(http::header::CONTENT_SECURITY_POLICY, value);
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    provide_zone();
    view! {
        <Stylesheet id="leptos" href="/pkg/courtyard.css" />
        <Title formatter=|page: String| {
            if page.is_empty() { "Courtyard".to_owned() } else { format!("{page} · Courtyard") }
        } />
        <Router>
            <SignedInUser>
                <Header />
                <VerifyBanner />
                <main id="main">
                    <Routes fallback=NotFound>
                        <Route path=path!("/") view=HomePage ssr=SsrMode::Async />
                        <Route path=path!("/signup") view=SignupPage />
                        <Route path=path!("/login") view=LoginPage />
                        <Route path=path!("/forgot") view=ForgotPage />
                        <Route path=path!("/account") view=AccountPage ssr=SsrMode::Async />
                        <Route path=path!("/reset/:token") view=ResetPage />
                        <Route path=path!("/verify/:token") view=VerifyPage />
                        <Route path=path!("/unsubscribe/:token") view=UnsubscribePage ssr=SsrMode::Async />
                        <Route path=path!("/groups/new") view=NewGroupPage ssr=SsrMode::Async />
                        <Route path=path!("/join/:code") view=JoinPage ssr=SsrMode::Async />
                        <ParentRoute path=path!("/g/:slug") view=GroupLayout ssr=SsrMode::Async>
                            <Route path=path!("") view=GroupHomePage ssr=SsrMode::Async />
                            <Route path=path!("announcements") view=AnnouncementsPage ssr=SsrMode::Async />
                            <Route path=path!("requests") view=RequestsPage ssr=SsrMode::Async />
                            <Route path=path!("requests/:id") view=RequestPage ssr=SsrMode::Async />
                            <Route path=path!("bookings") view=BookingsPage ssr=SsrMode::Async />
                            <Route path=path!("polls") view=PollsPage ssr=SsrMode::Async />
                            <Route path=path!("documents") view=DocumentsPage ssr=SsrMode::Async />
                            <Route path=path!("members") view=MembersPage ssr=SsrMode::Async />
                        </ParentRoute>
                    </Routes>
                </main>
            </SignedInUser>
        </Router>
    }
}

/// Provides the signed-in user to every page, refetched on each navigation
/// (signing in or out always ends in one).
#[component]
fn SignedInUser(children: Children) -> impl IntoView {
    let location = use_location();
    let me = Resource::new(move || location.pathname.get(), |_| server_fns::get_me());
    provide_context(MeResource(me));
    children()
}
