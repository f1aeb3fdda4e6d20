//! `/api/auth/*` and `/api/me`.

use super::json::JsonBody;
use app::{
    backend::{
        accounts, auth,
        auth::{ClientIp, CurrentUser},
        AppState,
    },
    error::AppError,
    model::{Me, UserInfo},
};
use axum::{
    extract::State,
    http::{header::SET_COOKIE, HeaderMap, StatusCode},
    response::IntoResponse,
    Json,
};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
pub struct SignUp {
    email: String,
    password: String,
    name: String,
}

#[derive(Deserialize)]
pub struct LogIn {
    email: String,
    password: String,
}

#[derive(Serialize)]
pub struct Signed {
    user: UserInfo,
}

#[derive(Serialize)]
pub struct Token {
    user: UserInfo,
    token: String,
    expires_at: chrono::DateTime<chrono::Utc>,
}

pub async fn sign_up(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    JsonBody(input): JsonBody<SignUp>,
) -> Result<impl IntoResponse, AppError> {
    let (user, token) = auth::sign_up(&state, &input.email, &input.password, &input.name, ip).await?;
    let cookie = auth::session::set_cookie(&token, &state.settings);
    Ok((StatusCode::CREATED, [(SET_COOKIE, cookie)], Json(Signed { user })))
}

pub async fn log_in(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    JsonBody(input): JsonBody<LogIn>,
) -> Result<impl IntoResponse, AppError> {
    let (user, token) = auth::log_in(&state, &input.email, &input.password, ip).await?;
    let cookie = auth::session::set_cookie(&token, &state.settings);
    Ok(([(SET_COOKIE, cookie)], Json(Signed { user })))
}

/// A session token for non-browser clients, sent as `Authorization: Bearer`.
pub async fn token(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    JsonBody(input): JsonBody<LogIn>,
) -> Result<(StatusCode, Json<Token>), AppError> {
    let (user, token) = auth::log_in(&state, &input.email, &input.password, ip).await?;
    let expires_at = chrono::Utc::now() + state.settings.session_ttl;
    Ok((StatusCode::CREATED, Json(Token { user, token, expires_at })))
}

pub async fn log_out(State(state): State<AppState>, headers: HeaderMap) -> Result<impl IntoResponse, AppError> {
    auth::log_out(&state, &headers).await?;
    Ok((StatusCode::NO_CONTENT, [(SET_COOKIE, auth::session::clear_cookie())]))
}

pub async fn me(State(state): State<AppState>, CurrentUser(user): CurrentUser) -> Result<Json<Me>, AppError> {
    Ok(Json(accounts::me(state.registry(), user).await?))
}
