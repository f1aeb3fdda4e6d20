//! `/api/account/*`: the signed-in person manages their account.

use super::json::JsonBody;
use app::{
    backend::{
        accounts,
        auth::{self, Client, CurrentUser},
        AppState,
    },
    error::AppError,
    model::{SessionInfo, UserInfo},
};
use axum::{
    extract::{Path, State},
    http::{header::SET_COOKIE, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
pub struct Rename {
    name: String,
}

#[derive(Serialize)]
pub struct Renamed {
    user: UserInfo,
}

#[derive(Deserialize)]
pub struct NewPassword {
    current_password: String,
    new_password: String,
}

#[derive(Serialize)]
pub struct PasswordChanged {
    sessions_ended: u64,
}

#[derive(Deserialize)]
pub struct NewEmail {
    email: String,
    password: String,
}

#[derive(Deserialize)]
pub struct Deletion {
    password: String,
    #[serde(default)]
    remove_content: bool,
}

/// The asking session's token (the extractor already found one).
fn token(headers: &HeaderMap) -> Result<String, AppError> {
    auth::session::token_from_headers(headers).ok_or(AppError::Unauthorized)
}

pub async fn rename(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    JsonBody(input): JsonBody<Rename>,
) -> Result<Json<Renamed>, AppError> {
    Ok(Json(Renamed { user: accounts::rename(&state, &user, &input.name).await? }))
}

pub async fn change_password(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    client: Client,
    headers: HeaderMap,
    JsonBody(input): JsonBody<NewPassword>,
) -> Result<Json<PasswordChanged>, AppError> {
    let token = token(&headers)?;
    let sessions_ended =
        accounts::change_password(&state, &user, &token, &input.current_password, &input.new_password, &client).await?;
    Ok(Json(PasswordChanged { sessions_ended }))
}

pub async fn change_email(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    client: Client,
    JsonBody(input): JsonBody<NewEmail>,
) -> Result<StatusCode, AppError> {
    accounts::change_email(&state, &user, &input.email, &input.password, &client).await?;
    Ok(StatusCode::ACCEPTED)
}

pub async fn sessions(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    headers: HeaderMap,
) -> Result<Json<Vec<SessionInfo>>, AppError> {
    Ok(Json(accounts::sessions(&state, &user, &token(&headers)?).await?))
}

/// Ending the asking session signs this client out (the cookie is cleared).
pub async fn end_session(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let current = accounts::end_session(&state, &user, &token(&headers)?, &id).await?;
    Ok(if current {
        (StatusCode::NO_CONTENT, [(SET_COOKIE, auth::session::clear_cookie())]).into_response()
    } else {
        StatusCode::NO_CONTENT.into_response()
    })
}

pub async fn delete(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    client: Client,
    JsonBody(input): JsonBody<Deletion>,
) -> Result<impl IntoResponse, AppError> {
    accounts::delete(&state, &user, &input.password, input.remove_content, &client).await?;
    Ok((StatusCode::NO_CONTENT, [(SET_COOKIE, auth::session::clear_cookie())]))
}
