//! Request size limits the handlers do not see: headers over 32 KiB in all
//! are refused with 431, and bodies over 2 MB with 413, for the JSON API
//! and the server functions alike.
//!
//! - A body declared (or, chunked, found) too large is read to its end and
//!   dropped, chunk by chunk (up to 16 MB, within 10 s), so a client still
//!   sending it reads the 413 rather than a broken connection; past that
//!   the connection is closed.
//! - Server functions read their body whole, so this layer reads it for
//!   them first, up to the cap and within 10 s (408 after), with at most 32
//!   such bodies being read at once (503 past that): a crowd of slow or
//!   large uploads cannot hold more than 64 MB.
//! - The JSON API's extractors apply the same cap themselves, after the
//!   session is checked; any other path never reads a body.

use axum::{
    body::Body,
    extract::Request,
    http::{header, HeaderValue, Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
    Json,
};
use http_body_util::BodyExt;
use std::time::Duration;
use tokio::sync::Semaphore;

pub const MAX_HEADER_BYTES: usize = 32 * 1024;
/// axum's default body limit, which the JSON API's extractors apply too.
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;
/// How much of an oversized body is read (and dropped) before the 413.
const MAX_DRAINED_BYTES: usize = 16 * 1024 * 1024;
/// How long reading a body may take.
const BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// Server function bodies being read at once.
const BODIES_AT_ONCE: usize = 32;

pub async fn header_size(request: Request, next: Next) -> Response {
    let size: usize = request.headers().iter().map(|(name, value)| name.as_str().len() + value.len()).sum();
    if size > MAX_HEADER_BYTES {
        return refuse(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, "request headers are too large");
    }
    next.run(request).await
}

pub async fn body_size(request: Request, next: Next) -> Response {
    if matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(request).await;
    }
    let declared = request.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|length| length > MAX_BODY_BYTES as u64) {
        return too_large(request.into_body(), declared).await;
    }
    if !request.uri().path().starts_with("/fn/") {
        return next.run(request).await;
    }
    static READING: Semaphore = Semaphore::const_new(BODIES_AT_ONCE);
    let Ok(_reading) = READING.try_acquire() else {
        let mut busy = refuse(StatusCode::SERVICE_UNAVAILABLE, "the service is briefly unavailable; try again");
        busy.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(1));
        return busy;
    };
    let (parts, mut body) = request.into_parts();
    let mut buffered = Vec::new();
    let read = tokio::time::timeout(BODY_TIMEOUT, async {
        while let Some(frame) = body.frame().await {
            let Ok(frame) = frame else { return Read::Broken };
            if let Ok(data) = frame.into_data() {
                buffered.extend_from_slice(&data);
                if buffered.len() > MAX_BODY_BYTES {
                    return Read::TooLarge;
                }
            }
        }
        Read::Whole
    })
    .await;
    match read {
        Ok(Read::Whole) => next.run(Request::from_parts(parts, Body::from(buffered))).await,
        Ok(Read::TooLarge) => too_large(body, None).await,
        Ok(Read::Broken) => refuse(StatusCode::BAD_REQUEST, "the request body could not be read"),
        Err(_) => closing(refuse(StatusCode::REQUEST_TIMEOUT, "the request body took too long")),
    }
}

enum Read {
    Whole,
    TooLarge,
    Broken,
}

/// 413, after reading (and dropping) what is left of a body not too far
/// over, so a client still sending it reads the answer.
async fn too_large(mut body: Body, declared: Option<u64>) -> Response {
    let response = refuse(StatusCode::PAYLOAD_TOO_LARGE, "the request body is too large");
    if declared.is_some_and(|length| length > MAX_DRAINED_BYTES as u64) {
        return closing(response);
    }
    let drained = tokio::time::timeout(BODY_TIMEOUT, async {
        let mut seen = 0;
        while let Some(Ok(frame)) = body.frame().await {
            seen += frame.data_ref().map_or(0, |data| data.len());
            if seen > MAX_DRAINED_BYTES {
                return false;
            }
        }
        true
    })
    .await;
    match drained {
        Ok(true) => response,
        _ => closing(response),
    }
}

fn closing(mut response: Response) -> Response {
    response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

fn refuse(status: StatusCode, message: &str) -> Response {
    (status, Json(serde_json::json!({ "error": message }))).into_response()
}
