//! The HTTP side of a shape answer: Electric's headers, cache-control
//! values, CORS, and the error bodies (400 `{"message","errors"}`, 409
//! `must-refetch`).

use super::{batch::Answer, offset::Offset, request::FieldErrors};
use app::error::AppError;
use axum::{
    body::Body,
    http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use serde_json::json;

pub const EXPOSED_HEADERS: &str =
    "electric-cursor,electric-handle,electric-has-data,electric-offset,electric-schema,electric-up-to-date,retry-after";
// Electric's lifetimes, but `private`: an answer carries one member's view
// of their group, and a shared cache must never hand it to anyone else
// (docs/sync.md says how a CDN can still sit in front).
const CACHE_START: &str = "private, max-age=604800, stale-while-revalidate=2629746";
const CACHE_CATCH_UP: &str = "private, max-age=60, stale-while-revalidate=300";
const CACHE_LIVE: &str = "private, max-age=5, stale-while-revalidate=5";
const CACHE_REFETCH: &str = "private, max-age=60, must-revalidate";

/// What kind of request an answer is for (it picks the cache-control).
pub enum Kind<'a> {
    /// `offset=-1`: the snapshot's first chunk.
    Start {
        schema: String,
    },
    CatchUp {
        schema: String,
    },
    Live {
        cursor: &'a str,
    },
}

pub fn answer(handle: &str, kind: Kind<'_>, answer: Answer) -> Response {
    let mut headers = base_headers();
    set(&mut headers, "electric-handle", handle);
    set(&mut headers, "electric-offset", &answer.offset.to_string());
    if answer.up_to_date {
        set(&mut headers, "electric-up-to-date", "");
    }
    let cache = match kind {
        Kind::Start { schema } => {
            set(&mut headers, "electric-schema", &schema);
            CACHE_START
        }
        Kind::CatchUp { schema } => {
            set(&mut headers, "electric-schema", &schema);
            CACHE_CATCH_UP
        }
        Kind::Live { cursor } => {
            set(&mut headers, "electric-cursor", cursor);
            CACHE_LIVE
        }
    };
    set(&mut headers, header::CACHE_CONTROL.as_str(), cache);
    set(&mut headers, header::CONTENT_TYPE.as_str(), "application/json");
    (StatusCode::OK, headers, answer.body).into_response()
}

/// The head of a live event stream (`live_sse=true`): `offset` is where
/// it starts; it is cacheable for the stream's length less a second, as
/// Electric's, but by the browser only.
pub fn event_stream(handle: &str, offset: i64, cursor: &str, timeout: std::time::Duration, body: Body) -> Response {
    let mut headers = base_headers();
    set(&mut headers, "electric-handle", handle);
    set(&mut headers, "electric-offset", &Offset::Log(offset).to_string());
    set(&mut headers, "electric-cursor", cursor);
    let max_age = timeout.as_secs().saturating_sub(1).max(1);
    set(&mut headers, header::CACHE_CONTROL.as_str(), &format!("private, max-age={max_age}"));
    set(&mut headers, header::CONTENT_TYPE.as_str(), "text/event-stream");
    // nginx passes it through as it comes rather than buffering it.
    set(&mut headers, "x-accel-buffering", "no");
    (StatusCode::OK, headers, body).into_response()
}

/// The head of a wake event stream: never cached (each is one tab's wait).
pub fn wake_stream(body: Body) -> Response {
    let mut headers = base_headers();
    set(&mut headers, header::CACHE_CONTROL.as_str(), "no-store");
    set(&mut headers, header::CONTENT_TYPE.as_str(), "text/event-stream");
    set(&mut headers, "x-accel-buffering", "no");
    (StatusCode::OK, headers, body).into_response()
}

pub fn must_refetch(handle: &str) -> Response {
    let mut headers = base_headers();
    set(&mut headers, "electric-handle", handle);
    set(&mut headers, header::CACHE_CONTROL.as_str(), CACHE_REFETCH);
    let body = json!([{ "headers": { "control": "must-refetch" } }]);
    (StatusCode::CONFLICT, headers, axum::Json(body)).into_response()
}

pub fn invalid(errors: FieldErrors) -> Response {
    let mut headers = base_headers();
    set(&mut headers, header::CACHE_CONTROL.as_str(), "no-store");
    let body = json!({ "message": "Invalid request", "errors": errors });
    (StatusCode::BAD_REQUEST, headers, axum::Json(body)).into_response()
}

pub fn error(error: AppError) -> Response {
    let mut response = error.into_response();
    let headers = response.headers_mut();
    headers.extend(base_headers());
    set(headers, header::CACHE_CONTROL.as_str(), "no-store");
    response
}

/// The answer to a CORS preflight: any origin may read a shape with a
/// bearer token (cookies are not sent cross-origin to `*`).
pub fn preflight() -> Response {
    let mut headers = base_headers();
    set(&mut headers, "access-control-allow-methods", "GET, HEAD, OPTIONS");
    set(&mut headers, "access-control-allow-headers", "authorization, content-type, if-none-match");
    set(&mut headers, "access-control-max-age", "86400");
    (StatusCode::NO_CONTENT, headers).into_response()
}

fn base_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    set(&mut headers, "access-control-allow-origin", "*");
    set(&mut headers, "access-control-expose-headers", EXPOSED_HEADERS);
    // Answers depend on who asks: a shared cache keys on the credential.
    set(&mut headers, "vary", "cookie, authorization");
    headers
}

fn set(headers: &mut HeaderMap, name: &str, value: &str) {
    if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
        headers.insert(name, value);
    }
}

/// Electric's live cursor: seconds since 2024-10-09, rounded up to the
/// long-poll timeout, so requests in one window share a cache key; if that
/// is not past the client's cursor, its cursor plus a random 1..3600.
pub fn live_cursor(now: chrono::DateTime<chrono::Utc>, timeout_secs: u64, previous: Option<&str>) -> String {
    let epoch = chrono::DateTime::parse_from_rfc3339("2024-10-09T00:00:00Z").expect("a fixed date").to_utc();
    let elapsed = (now - epoch).num_seconds().max(0) as u64;
    let interval = timeout_secs.max(1);
    let cursor = elapsed.div_ceil(interval) * interval;
    match previous.and_then(|p| p.parse::<u64>().ok()) {
        Some(previous) if cursor <= previous => {
            let jitter = 1 + (uuid::Uuid::new_v4().as_u128() % 3600) as u64;
            previous.saturating_add(jitter).to_string()
        }
        _ => cursor.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_cursor_rounds_up_and_always_moves_past_the_clients() {
        let now = chrono::DateTime::parse_from_rfc3339("2024-10-09T00:00:41Z").unwrap().to_utc();
        assert_eq!(live_cursor(now, 20, None), "60");
        assert_eq!(live_cursor(now, 20, Some("garbage")), "60");
        let moved: u64 = live_cursor(now, 20, Some("60")).parse().unwrap();
        assert!((61..=3660).contains(&moved), "{moved}");
    }
}
