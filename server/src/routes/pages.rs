//! What page answers need around the Leptos renderer: a signed-out visitor
//! of a group page gets a real redirect to sign in (303, before anything
//! renders); every page names whose it is, for the service worker, which
//! keeps pages per person (`courtyard-user`, empty when signed out, and
//! `courtyard-session-ends`, Unix seconds) and is never stored by a shared
//! cache; and every answer carries the security headers (docs/api.md,
//! "Security"): pages frame-proof, no MIME sniffing, no referrer to other
//! sites, and HTML under a Content-Security-Policy (the shell sets it with
//! its nonce; anything else gets the policy without one).

use app::{
    backend::{auth, csp, AppState},
    error::AppError,
    model::validate,
};
use axum::{
    extract::{Request, State},
    http::{header, HeaderValue, Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};

/// The header naming whose page an answer is (the user's id, or empty).
pub const PAGE_USER: &str = "courtyard-user";
/// The header saying when that person's session ends (Unix seconds).
pub const PAGE_SESSION_ENDS: &str = "courtyard-session-ends";

pub async fn sign_in_first(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let get = matches!(*request.method(), Method::GET | Method::HEAD);
    let group_page = get && is_group_page(request.uri().path());
    let mut session = None;
    if group_page {
        match auth::current_session(&state, request.headers()).await {
            Err(AppError::Unauthorized) => {
                // Back here after signing in, if sign-in will take this address.
                let uri = request.uri();
                let here = [uri.path_and_query().map(|p| p.as_str()), Some(uri.path())]
                    .into_iter()
                    .flatten()
                    .find(|here| validate::next_path(Some(here)).is_ok())
                    .unwrap_or("/");
                let next: String = form_urlencoded::byte_serialize(here.as_bytes()).collect();
                return (StatusCode::SEE_OTHER, [(header::LOCATION, format!("/login?next={next}"))]).into_response();
            }
            found => session = Some(found),
        }
    }
    let headers = request.headers().clone();
    let path = request.uri().path().to_owned();
    let mut response = next.run(request).await;
    let html = response.headers().get(header::CONTENT_TYPE).is_some_and(|t| t.as_bytes().starts_with(b"text/html"));
    if get && html {
        let session = match session {
            Some(session) => session,
            None => auth::current_session(&state, &headers).await,
        };
        let owner = match session {
            Ok((user, ends)) => Some((user.id.to_string(), ends.timestamp().to_string())),
            Err(AppError::Unauthorized) => Some((String::new(), "0".to_owned())),
            // Not known (the database is away): the worker keeps what it knows.
            Err(_) => None,
        };
        let headers = response.headers_mut();
        if let Some((user, ends)) = owner {
            for (name, value) in [(PAGE_USER, user), (PAGE_SESSION_ENDS, ends)] {
                if let Ok(value) = HeaderValue::from_str(&value) {
                    headers.insert(name, value);
                }
            }
        }
        // Pages holding a secret link's token or one's account details are
        // never kept (the service worker skips `no-store` too).
        let policy = if is_private_page(&path) { "private, no-store" } else { "private, no-cache" };
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(policy));
    }
    response
}

/// `/reset/{token}`, `/verify/{token}`, `/unsubscribe/{token}` and `/account`.
fn is_private_page(path: &str) -> bool {
    path == "/account" || ["/reset/", "/verify/", "/unsubscribe/"].iter().any(|prefix| path.starts_with(prefix))
}

/// `/g/{slug}` and the pages under it (not the sync endpoints under `/v1/`).
fn is_group_page(path: &str) -> bool {
    let mut segments = path.strip_prefix("/g/").map(|rest| rest.split('/')).into_iter().flatten();
    matches!(segments.next(), Some(slug) if !slug.is_empty()) && segments.next() != Some("v1")
}

pub async fn security_headers(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    let html = headers.get(header::CONTENT_TYPE).is_some_and(|t| t.as_bytes().starts_with(b"text/html"));
    if html && !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        if let Ok(policy) = HeaderValue::from_str(&csp::policy(None, &state.settings)) {
            headers.insert(header::CONTENT_SECURITY_POLICY, policy);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::is_group_page;

    #[test]
    fn group_pages_are_told_from_the_sync_endpoints() {
        for page in ["/g/elm", "/g/elm/", "/g/elm/requests", "/g/elm/requests/abc"] {
            assert!(is_group_page(page), "{page}");
        }
        for other in ["/g/", "/g", "/", "/login", "/g/elm/v1/shape", "/g/elm/v1/wake", "/gx/elm"] {
            assert!(!is_group_page(other), "{other}");
        }
    }
}
