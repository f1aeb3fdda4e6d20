//! Server functions answer every error with 500 (Leptos' default). This
//! layer gives such an error the status its `AppError` carries, so a 404 or
//! a 422 from a server function is a 404 or a 422 on the wire too.

use app::error::AppError;
use axum::{
    body::{to_bytes, Body},
    extract::Request,
    http::StatusCode,
    middleware::Next,
    response::Response,
};

/// Error bodies are a few dozen bytes of JSON; anything bigger is left alone.
const MAX_ERROR_BODY: usize = 64 * 1024;

pub async fn error_status(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    if response.status() != StatusCode::INTERNAL_SERVER_ERROR
        || !response.headers().contains_key(leptos::server_fn::error::SERVER_FN_ERROR_HEADER)
    {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_ERROR_BODY).await else {
        return Response::from_parts(parts, Body::empty());
    };
    if let Ok(error) = serde_json::from_slice::<AppError>(&bytes) {
        parts.status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if let Some(seconds) = error.retry_after() {
            parts.headers.insert(axum::http::header::RETRY_AFTER, seconds.into());
        }
    }
    Response::from_parts(parts, Body::from(bytes))
}
