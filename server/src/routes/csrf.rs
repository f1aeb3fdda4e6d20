//! Cross-site request refusal. A state-changing request (anything but GET,
//! HEAD, OPTIONS) that carries the session cookie, and every sign-in or
//! sign-up (login CSRF: a forged form would sign the victim in as the
//! attacker), must come from this site: its `Origin` (or, without one, its
//! `Referer`) must be this site's origin, scheme, host and port alike, and
//! `Sec-Fetch-Site`, where the browser sends it, must not say otherwise.
//! Browsers send `Origin` with every cross-site POST, so a forged form or
//! fetch from another site is refused even where `SameSite=Lax` is not
//! honoured. Requests with neither header are not a browser's cross-site
//! request (curl, the test suite) and pass; bearer-token requests carry no
//! ambient credential and pass.
//!
//! This site's origin is `server.public_origin` when configured, else the
//! request's `Host` over https when cookies are `Secure`, http otherwise.

use app::{
    backend::{auth::session, AppState},
    error::AppError,
};
use axum::{
    extract::{Request, State},
    http::{header, HeaderMap, Method},
    middleware::Next,
    response::{IntoResponse, Response},
};

/// Where a session is made: refused cross-site even without a cookie.
const SIGN_IN_PATHS: &[&str] = &[
    "/api/auth/signup",
    "/api/auth/login",
    "/api/auth/token",
    "/api/auth/reset/confirm",
    "/fn/sign_up",
    "/fn/log_in",
    "/fn/reset_password",
];

pub async fn same_origin(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let safe = matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    // A one-click unsubscribe carries its own credential, and is posted
    // from elsewhere by design (RFC 8058).
    let one_click = request.uri().path().starts_with("/api/unsubscribe/");
    let guarded =
        !one_click && (has_session_cookie(request.headers()) || SIGN_IN_PATHS.contains(&request.uri().path()));
    if !safe && guarded && !from_this_site(request.headers(), &state) {
        tracing::warn!(method = %request.method(), path = request.uri().path(), "cross-site request refused");
        return AppError::Forbidden("cross-site request refused".into()).into_response();
    }
    next.run(request).await
}

fn has_session_cookie(headers: &HeaderMap) -> bool {
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).any(|cookies| {
        cookies.split(';').any(|pair| pair.trim().split_once('=').is_some_and(|(name, _)| name == session::COOKIE))
    })
}

fn from_this_site(headers: &HeaderMap, state: &AppState) -> bool {
    let fetch_site = headers.get("sec-fetch-site").map(|v| v.as_bytes());
    if fetch_site.is_some_and(|site| site != b"same-origin" && site != b"none") {
        return false;
    }
    let claimed = headers.get(header::ORIGIN).or_else(|| headers.get(header::REFERER));
    let Some(claimed) = claimed else { return true };
    let Some(own) = own_origin(headers, state) else { return false };
    claimed.to_str().ok().and_then(origin_of).is_some_and(|origin| origin.eq_ignore_ascii_case(&own))
}

/// This site's origin as the browser names it: `scheme://host[:port]`.
fn own_origin(headers: &HeaderMap, state: &AppState) -> Option<String> {
    if let Some(origin) = &state.settings.public_origin {
        return Some(origin.clone());
    }
    let host = headers.get(header::HOST)?.to_str().ok()?;
    let scheme = if state.settings.secure_cookies { "https" } else { "http" };
    Some(format!("{scheme}://{host}"))
}

/// `https://example.org:8080/path?q` → `https://example.org:8080`; `None`
/// for `null`, anything without a scheme or host, or with user info (a
/// browser never sends that).
fn origin_of(url: &str) -> Option<&str> {
    let (scheme, rest) = url.split_once("://")?;
    if scheme.is_empty() || !scheme.bytes().all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b)) {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    if authority.is_empty() || authority.contains('@') || authority.contains('\\') {
        return None;
    }
    Some(&url[..scheme.len() + 3 + authority.len()])
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(header::HeaderName::from_bytes(name.as_bytes()).unwrap(), HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn state(public_origin: Option<&str>, secure_cookies: bool) -> AppState {
        let settings = app::backend::Settings {
            public_origin: public_origin.map(str::to_owned),
            secure_cookies,
            ..Default::default()
        };
        let pool = sqlx::postgres::PgPoolOptions::new().connect_lazy("postgres://localhost/none").unwrap();
        let databases = app::backend::Databases::single(pool);
        AppState::new(databases, leptos::config::LeptosOptions::builder().output_name("courtyard").build(), settings)
    }

    #[tokio::test]
    async fn the_origin_or_referer_must_be_this_origin() {
        let state = state(None, false);
        let host = ("host", "courtyard.example:3000");
        let ok = |pairs: &[(&str, &str)]| from_this_site(&headers(pairs), &state);
        assert!(ok(&[host, ("origin", "http://courtyard.example:3000")]));
        assert!(ok(&[host, ("referer", "http://courtyard.example:3000/g/x?y")]));
        assert!(ok(&[host]), "no Origin, no Referer: not a browser's cross-site request");
        assert!(ok(&[host, ("origin", "http://courtyard.example:3000"), ("sec-fetch-site", "same-origin")]));
        for bad in [
            "https://evil.example",
            "null",
            "http://courtyard.example:3000.evil.example",
            "https://courtyard.example:3000",
            "http://courtyard.example:3001",
            "http://courtyard.example",
            "http://user@courtyard.example:3000",
            "ws://courtyard.example:3000",
            "courtyard.example:3000",
        ] {
            assert!(!ok(&[host, ("origin", bad)]), "{bad}");
            assert!(!ok(&[host, ("referer", &format!("{bad}/page"))]), "referer {bad}");
        }
        for site in ["cross-site", "same-site", "garbage"] {
            assert!(!ok(&[host, ("origin", "http://courtyard.example:3000"), ("sec-fetch-site", site)]), "{site}");
        }
    }

    #[tokio::test]
    async fn a_configured_origin_or_secure_cookies_name_the_scheme() {
        let secure = state(None, true);
        let host = ("host", "courtyard.example");
        assert!(from_this_site(&headers(&[host, ("origin", "https://courtyard.example")]), &secure));
        assert!(!from_this_site(&headers(&[host, ("origin", "http://courtyard.example")]), &secure));
        let configured = state(Some("https://yard.example"), false);
        assert!(from_this_site(
            &headers(&[("host", "10.0.0.5:3000"), ("origin", "https://yard.example")]),
            &configured
        ));
        assert!(!from_this_site(
            &headers(&[("host", "10.0.0.5:3000"), ("origin", "http://10.0.0.5:3000")]),
            &configured
        ));
    }

    #[test]
    fn only_the_session_cookie_counts() {
        assert!(has_session_cookie(&headers(&[("cookie", "a=1; courtyard_session=abc")])));
        assert!(!has_session_cookie(&headers(&[("cookie", "courtyard_session_old=abc")])));
    }
}
