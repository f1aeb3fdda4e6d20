//! Sign-up, log-in, log-out and "who is asking": the session checks every
//! HTTP handler and server function goes through.

pub mod password;
pub mod session;

use crate::{
    backend::{accounts, AppState},
    error::AppError,
    model::{validate, UserInfo},
};
use axum::{extract::FromRequestParts, http::request::Parts, http::HeaderMap};

/// A new account, signed in: the user and their session token.
pub async fn sign_up(
    state: &AppState,
    email: &str,
    password: &str,
    name: &str,
) -> Result<(UserInfo, String), AppError> {
    let email = validate::email(email)?;
    let password = validate::password(password)?.to_owned();
    let name = validate::name("name", name)?;
    let hash = password::hash(password).await?;
    let mut tx = state.pool.begin().await?;
    let user = accounts::insert(&mut *tx, &email, &hash, &name).await?;
    let token = session::create(&mut *tx, user.id, &state.settings).await?;
    tx.commit().await?;
    Ok((user, token))
}

/// A new session for the right email and password; the same error for a
/// wrong email as for a wrong password.
pub async fn log_in(state: &AppState, email: &str, password: &str) -> Result<(UserInfo, String), AppError> {
    let email = email.trim().to_lowercase();
    let found = accounts::credentials(&state.pool, &email).await?;
    let (user, hash) = match found {
        Some((user, hash)) => (Some(user), Some(hash)),
        None => (None, None),
    };
    if !password::verify(password.to_owned(), hash).await? {
        return Err(AppError::WrongCredentials);
    }
    let user = user.ok_or(AppError::WrongCredentials)?;
    let token = session::create(&state.pool, user.id, &state.settings).await?;
    Ok((user, token))
}

pub async fn log_out(state: &AppState, headers: &HeaderMap) -> Result<(), AppError> {
    if let Some(token) = session::token_from_headers(headers) {
        session::delete(&state.pool, &token).await?;
    }
    Ok(())
}

/// The signed-in user of a request, or 401.
pub async fn current_user(state: &AppState, headers: &HeaderMap) -> Result<UserInfo, AppError> {
    let token = session::token_from_headers(headers).ok_or(AppError::Unauthorized)?;
    session::user(&state.pool, &token).await?.ok_or(AppError::Unauthorized)
}

/// The signed-in user of a server function call (or SSR render), or 401.
pub async fn current_user_in_context(state: &AppState) -> Result<UserInfo, AppError> {
    let parts = leptos::prelude::use_context::<Parts>().ok_or(AppError::Unauthorized)?;
    current_user(state, &parts.headers).await
}

/// Extractor for the JSON API: the signed-in user, or a 401.
pub struct CurrentUser(pub UserInfo);

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let user = current_user(state, &parts.headers).await?;
        tracing::Span::current().record("user.id", tracing::field::display(user.id));
        Ok(CurrentUser(user))
    }
}
