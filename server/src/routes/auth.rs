//! `/api/auth/*` and `/api/me`.

use super::json::JsonBody;
use app::{
    backend::{
        accounts, auth,
        auth::{Client, CurrentUser},
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
    client: Client,
    JsonBody(input): JsonBody<SignUp>,
) -> Result<impl IntoResponse, AppError> {
    let (user, token) = auth::sign_up(&state, &input.email, &input.password, &input.name, &client).await?;
    let cookie = auth::session::set_cookie(&token, &state.settings);
    Ok((StatusCode::CREATED, [(SET_COOKIE, cookie)], Json(Signed { user })))
}

pub async fn log_in(
    State(state): State<AppState>,
    client: Client,
    JsonBody(input): JsonBody<LogIn>,
) -> Result<impl IntoResponse, AppError> {
    let (user, token) = auth::log_in(&state, &input.email, &input.password, &client).await?;
    let cookie = auth::session::set_cookie(&token, &state.settings);
    Ok(([(SET_COOKIE, cookie)], Json(Signed { user })))
}

/// A session token for non-browser clients, sent as `Authorization: Bearer`.
pub async fn token(
    State(state): State<AppState>,
    client: Client,
    JsonBody(input): JsonBody<LogIn>,
) -> Result<(StatusCode, Json<Token>), AppError> {
    let (user, token) = auth::log_in(&state, &input.email, &input.password, &client).await?;
    let expires_at = chrono::Utc::now() + state.settings.session_ttl;
    Ok((StatusCode::CREATED, Json(Token { user, token, expires_at })))
}

pub async fn log_out(State(state): State<AppState>, headers: HeaderMap) -> Result<impl IntoResponse, AppError> {
    auth::log_out(&state, &headers).await?;
    Ok((StatusCode::NO_CONTENT, [(SET_COOKIE, auth::session::clear_cookie())]))
}

#[derive(Deserialize)]
pub struct ResetRequest {
    email: String,
}

#[derive(Deserialize)]
pub struct ResetConfirm {
    token: String,
    password: String,
}

#[derive(Deserialize)]
pub struct VerifyConfirm {
    token: String,
}

#[derive(Serialize)]
pub struct Verified {
    email: String,
}

/// 202 whether or not an account has the address.
pub async fn request_reset(
    State(state): State<AppState>,
    client: Client,
    JsonBody(input): JsonBody<ResetRequest>,
) -> Result<StatusCode, AppError> {
    auth::reset::request(&state, &input.email, &client).await?;
    Ok(StatusCode::ACCEPTED)
}

/// The new password set, every session ended, and this client signed in.
pub async fn confirm_reset(
    State(state): State<AppState>,
    client: Client,
    JsonBody(input): JsonBody<ResetConfirm>,
) -> Result<impl IntoResponse, AppError> {
    let (user, token) = auth::reset::complete(&state, &input.token, &input.password, &client).await?;
    let cookie = auth::session::set_cookie(&token, &state.settings);
    Ok(([(SET_COOKIE, cookie)], Json(Signed { user })))
}

pub async fn confirm_email(
    State(state): State<AppState>,
    JsonBody(input): JsonBody<VerifyConfirm>,
) -> Result<Json<Verified>, AppError> {
    let email = auth::verify::confirm(&state, &input.token).await?;
    Ok(Json(Verified { email }))
}

pub async fn resend_verification(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
) -> Result<StatusCode, AppError> {
    auth::verify::resend(&state, &user).await?;
    Ok(StatusCode::ACCEPTED)
}

pub async fn me(State(state): State<AppState>, CurrentUser(user): CurrentUser) -> Result<Json<Me>, AppError> {
    Ok(Json(accounts::me(state.registry(), user).await?))
}
