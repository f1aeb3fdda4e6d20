//! Request size limits the handlers do not see: headers over 32 KiB in all
//! are refused with 431 (bodies are capped per handler at 2 MB: 413).

use axum::{
    extract::Request,
    http::StatusCode,
    middleware::Next,
    response::{IntoResponse, Response},
    Json,
};

pub const MAX_HEADER_BYTES: usize = 32 * 1024;

pub async fn header_size(request: Request, next: Next) -> Response {
    let size: usize = request.headers().iter().map(|(name, value)| name.as_str().len() + value.len()).sum();
    if size > MAX_HEADER_BYTES {
        let body = Json(serde_json::json!({ "error": "request headers are too large" }));
        return (StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, body).into_response();
    }
    next.run(request).await
}
