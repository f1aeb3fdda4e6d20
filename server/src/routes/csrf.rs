//! Cross-site request refusal. A state-changing request (anything but GET,
//! HEAD, OPTIONS) that carries the session cookie must come from this site:
//! its `Origin` (or, without one, its `Referer`) must name this host.
//! Browsers send `Origin` with every cross-site POST, so a forged form or
//! fetch from another site is refused even where `SameSite=Lax` is not
//! honoured. Requests with neither header are not a browser's cross-site
//! request (curl, the test suite) and pass; bearer-token requests carry no
//! ambient credential and pass.

use app::{backend::auth::session, error::AppError};
use axum::{
    extract::Request,
    http::{header, HeaderMap, Method},
    middleware::Next,
    response::{IntoResponse, Response},
};

pub async fn same_origin(request: Request, next: Next) -> Response {
    let safe = matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe && has_session_cookie(request.headers()) && !from_this_site(request.headers()) {
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

fn from_this_site(headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else { return false };
    let claimed = headers.get(header::ORIGIN).or_else(|| headers.get(header::REFERER));
    match claimed.map(|v| v.to_str().map(authority)) {
        None => true,
        Some(Ok(Some(authority))) => authority.eq_ignore_ascii_case(host),
        Some(_) => false,
    }
}

/// `https://example.org:8080/path` → `example.org:8080`; `None` for `null`
/// or anything without a scheme.
fn authority(url: &str) -> Option<&str> {
    let (_, rest) = url.split_once("://")?;
    Some(rest.split(['/', '?', '#']).next().unwrap_or(rest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(name.clone(), HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn the_origin_or_referer_must_name_this_host() {
        let host = (header::HOST, "courtyard.example:3000");
        assert!(from_this_site(&headers(&[host.clone(), (header::ORIGIN, "http://courtyard.example:3000")])));
        assert!(from_this_site(&headers(&[host.clone(), (header::REFERER, "http://courtyard.example:3000/g/x")])));
        assert!(
            from_this_site(&headers(std::slice::from_ref(&host))),
            "no Origin, no Referer: not a browser's cross-site request"
        );
        assert!(!from_this_site(&headers(&[host.clone(), (header::ORIGIN, "https://evil.example")])));
        assert!(!from_this_site(&headers(&[host.clone(), (header::ORIGIN, "null")])));
        assert!(!from_this_site(&headers(&[host, (header::ORIGIN, "http://courtyard.example:3000.evil.example")])));
    }

    #[test]
    fn only_the_session_cookie_counts() {
        assert!(has_session_cookie(&headers(&[(header::COOKIE, "a=1; courtyard_session=abc")])));
        assert!(!has_session_cookie(&headers(&[(header::COOKIE, "courtyard_session_old=abc")])));
    }
}
