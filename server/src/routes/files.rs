//! `/api/groups/{slug}/uploads/{sha256}` (resumable uploads) and
//! `/api/groups/{slug}/files/{id}` (a file's bytes, to members only).

use super::groups::member;
use app::{
    backend::{auth::CurrentUser, files, AppState},
    error::AppError,
    model::files::{parse_content_range, UploadState},
};
use axum::{
    body::{Body, Bytes},
    extract::{Path, Query, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use futures_util::TryStreamExt;
use serde::Deserialize;
use uuid::Uuid;

/// How far an upload is (404: nothing of it here yet).
pub async fn state(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path((slug, sha256)): Path<(String, String)>,
) -> Result<Json<UploadState>, AppError> {
    let member = member(&state, &user, &slug).await?;
    Ok(Json(files::upload::state(&state, &member, &sha256).await?))
}

/// One chunk, `Content-Range: bytes <first>-<last>/<total>`.
pub async fn put_chunk(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path((slug, sha256)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<UploadState>, AppError> {
    let member = member(&state, &user, &slug).await?;
    let range = headers
        .get(header::CONTENT_RANGE)
        .and_then(|value| value.to_str().ok())
        .and_then(parse_content_range)
        .ok_or_else(|| AppError::BadRequest("send Content-Range: bytes <first>-<last>/<total>".into()))?;
    Ok(Json(files::upload::receive(&state, &member, &sha256, range, body).await?))
}

/// `?thumb=true` asks for the thumbnail; any other value, the file.
#[derive(Deserialize)]
pub struct Variant {
    #[serde(default)]
    thumb: Option<String>,
}

/// The file's bytes (or its thumbnail, `?thumb=true`): private to the
/// browser (never a shared cache), revalidated by ETag, images shown,
/// anything else downloaded, never run as a page.
pub async fn download(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path((slug, id)): Path<(String, String)>,
    Query(variant): Query<Variant>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let member = member(&state, &user, &slug).await?;
    let id: Uuid = id.parse().map_err(|_| AppError::NotFound)?;
    let asked = headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok());
    let private = [
        (header::CACHE_CONTROL, HeaderValue::from_static("private, no-cache")),
        (header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("default-src 'none'; sandbox")),
    ];
    let opened = match files::open(&state, &member, id, variant.thumb.as_deref() == Some("true"), asked).await? {
        files::Answer::Bytes(opened) => opened,
        files::Answer::NotModified { tag } => {
            let tag = HeaderValue::from_str(&tag).map_err(|_| AppError::Internal)?;
            return Ok((StatusCode::NOT_MODIFIED, private, [(header::ETAG, tag)]).into_response());
        }
    };
    let inline = opened.content_type.starts_with("image/");
    let disposition =
        format!("{}; filename*=UTF-8''{}", if inline { "inline" } else { "attachment" }, percent_encode(&opened.name));
    let stream = opened.body.into_stream().map_err(std::io::Error::other);
    let headers = [
        (header::CONTENT_TYPE, HeaderValue::from_str(&opened.content_type).map_err(|_| AppError::Internal)?),
        (header::CONTENT_LENGTH, HeaderValue::from(opened.size)),
        (header::ETAG, HeaderValue::from_str(&opened.tag).map_err(|_| AppError::Internal)?),
        (header::CONTENT_DISPOSITION, HeaderValue::from_str(&disposition).map_err(|_| AppError::Internal)?),
    ];
    Ok((private, headers, Body::from_stream(stream)).into_response())
}

/// RFC 8187's encoding of a file name (all but unreserved characters as %XX).
fn percent_encode(name: &str) -> String {
    name.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
