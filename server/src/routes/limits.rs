//! Request size limits the handlers do not see: headers over 32 KiB in all
//! are refused with 431, and bodies over 2 MB with 413, for the JSON API
//! and the server functions alike (which read their body whole). A body
//! over the limit is read to its end and dropped (up to 16 MB), so the
//! client, still sending, gets the 413 rather than a broken connection.

use axum::{
    body::{to_bytes, Body},
    extract::Request,
    http::{header, Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
    Json,
};
use http_body_util::BodyExt;

pub const MAX_HEADER_BYTES: usize = 32 * 1024;
/// axum's default body limit, which the JSON API's extractors apply too.
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;
/// How much of an oversized body is read (and dropped) before the 413;
/// past this the connection is closed.
const MAX_DRAINED_BYTES: u64 = 16 * 1024 * 1024;

pub async fn header_size(request: Request, next: Next) -> Response {
    let size: usize = request.headers().iter().map(|(name, value)| name.as_str().len() + value.len()).sum();
    if size > MAX_HEADER_BYTES {
        return refuse(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, "request headers are too large");
    }
    next.run(request).await
}

/// Reads the body up to the cap before the handler runs; refuses it with
/// 413 by its declared length, or once a chunked body runs over.
pub async fn body_size(request: Request, next: Next) -> Response {
    if matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(request).await;
    }
    let declared = request.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    let (parts, body) = request.into_parts();
    if declared.is_some_and(|length| length > MAX_BODY_BYTES as u64) {
        return too_large(body, declared).await;
    }
    let mut buffered = Vec::new();
    let mut body = body;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return refuse(StatusCode::BAD_REQUEST, "the request body could not be read");
        };
        if let Ok(data) = frame.into_data() {
            buffered.extend_from_slice(&data);
            if buffered.len() > MAX_BODY_BYTES {
                return too_large(body, None).await;
            }
        }
    }
    next.run(Request::from_parts(parts, Body::from(buffered))).await
}

/// 413, after reading (and dropping) what is left of a body not too far
/// over, so a client still sending it reads the answer.
async fn too_large(body: Body, declared: Option<u64>) -> Response {
    let mut response = refuse(StatusCode::PAYLOAD_TOO_LARGE, "the request body is too large");
    if declared.is_none_or(|length| length <= MAX_DRAINED_BYTES) {
        let drained = to_bytes(body, MAX_DRAINED_BYTES as usize).await;
        if drained.is_err() {
            response.headers_mut().insert(header::CONNECTION, header::HeaderValue::from_static("close"));
        }
    } else {
        response.headers_mut().insert(header::CONNECTION, header::HeaderValue::from_static("close"));
    }
    response
}

fn refuse(status: StatusCode, message: &str) -> Response {
    (status, Json(serde_json::json!({ "error": message }))).into_response()
}
