//! Request size limits the handlers do not see: headers over 32 KiB in all
//! are refused with 431, and bodies over 2 MB with 413.
//!
//! Every request body is read here, before any handler: within 10 s (408
//! after, and the connection is closed), and against a budget of 64 MiB for
//! all bodies the process holds at once, taken as the bytes arrive and given
//! back when the request is answered (past it, 503 with `Retry-After`). So
//! slow or large uploads, signed in or not, cannot hold more memory than
//! that, and a trickle costs the budget only what it has sent.
//!
//! A body declared (or, chunked, found) too large is read to its end and
//! dropped, chunk by chunk (up to 16 MB, within 10 s), so a client still
//! sending it reads the 413 rather than a broken connection; past that the
//! connection is closed.

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
use tokio::sync::{Semaphore, SemaphorePermit};

pub const MAX_HEADER_BYTES: usize = 32 * 1024;
/// axum's default body limit, which the JSON API's extractors apply too.
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;
/// How much of an oversized body is read (and dropped) before the 413.
const MAX_DRAINED_BYTES: usize = 16 * 1024 * 1024;
/// How long reading a body may take.
const BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// Bytes of request bodies the process holds at once.
const BODY_BUDGET: usize = 64 * 1024 * 1024;

static HELD: Semaphore = Semaphore::const_new(BODY_BUDGET);

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
    let (parts, mut body) = request.into_parts();
    let mut buffered = Vec::new();
    // Held until the request is answered: the body lives as long.
    let mut held: Option<SemaphorePermit<'static>> = None;
    let read = tokio::time::timeout(BODY_TIMEOUT, async {
        while let Some(frame) = body.frame().await {
            let Ok(frame) = frame else { return Read::Broken };
            let Ok(data) = frame.into_data() else { continue };
            if buffered.len() + data.len() > MAX_BODY_BYTES {
                return Read::TooLarge;
            }
            let Ok(more) = HELD.try_acquire_many(data.len() as u32) else { return Read::Busy };
            match held.as_mut() {
                Some(held) => held.merge(more),
                None => held = Some(more),
            }
            buffered.extend_from_slice(&data);
        }
        Read::Whole
    })
    .await;
    match read {
        Ok(Read::Whole) => next.run(Request::from_parts(parts, Body::from(buffered))).await,
        Ok(Read::TooLarge) => {
            drop((held, buffered));
            too_large(body, None).await
        }
        Ok(Read::Busy) => {
            let mut busy = refuse(StatusCode::SERVICE_UNAVAILABLE, "the service is briefly unavailable; try again");
            busy.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(1));
            closing(busy)
        }
        Ok(Read::Broken) => refuse(StatusCode::BAD_REQUEST, "the request body could not be read"),
        Err(_) => closing(refuse(StatusCode::REQUEST_TIMEOUT, "the request body took too long")),
    }
}

enum Read {
    Whole,
    TooLarge,
    /// The process holds its budget of bodies already.
    Busy,
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
