//! Signing up, in and out, and "who am I".

use crate::{error::AppError, model::Me};
use leptos::prelude::*;

/// The signed-in user and their groups; `None` when signed out.
#[server(prefix = "/fn", endpoint = "me")]
pub async fn get_me() -> Result<Option<Me>, AppError> {
    use crate::backend::{accounts, auth, AppState};
    let state = AppState::from_context()?;
    match auth::current_user_in_context(&state).await {
        Ok(user) => Ok(Some(accounts::me(state.registry(), user).await?)),
        Err(AppError::Unauthorized) => Ok(None),
        Err(error) => Err(error),
    }
}

#[server(prefix = "/fn", endpoint = "sign_up")]
pub async fn sign_up(email: String, password: String, name: String, next: Option<String>) -> Result<(), AppError> {
    use crate::backend::{auth, AppState};
    let state = AppState::from_context()?;
    let next = crate::model::validate::next_path(next.as_deref())?;
    let (_, token) = auth::sign_up(&state, &email, &password, &name, &auth::Client::in_context()).await?;
    super::set_session_cookie(auth::session::set_cookie(&token, &state.settings));
    leptos_axum::redirect(&next);
    Ok(())
}

#[server(prefix = "/fn", endpoint = "log_in")]
pub async fn log_in(email: String, password: String, next: Option<String>) -> Result<(), AppError> {
    use crate::backend::{auth, AppState};
    let state = AppState::from_context()?;
    let next = crate::model::validate::next_path(next.as_deref())?;
    let (_, token) = auth::log_in(&state, &email, &password, &auth::Client::in_context()).await?;
    super::set_session_cookie(auth::session::set_cookie(&token, &state.settings));
    leptos_axum::redirect(&next);
    Ok(())
}

#[server(prefix = "/fn", endpoint = "log_out")]
pub async fn log_out() -> Result<(), AppError> {
    use crate::backend::{auth, AppState};
    let state = AppState::from_context()?;
    let parts = use_context::<http::request::Parts>().ok_or(AppError::Unauthorized)?;
    auth::log_out(&state, &parts.headers).await?;
    super::set_session_cookie(auth::session::clear_cookie());
    leptos_axum::redirect("/");
    Ok(())
}

/// Sends a password-reset link to `email` if an account has it (the answer
/// is the same either way).
#[server(prefix = "/fn", endpoint = "request_reset")]
pub async fn request_reset(email: String) -> Result<(), AppError> {
    use crate::backend::{auth, AppState};
    let state = AppState::from_context()?;
    auth::reset::request(&state, &email, &auth::Client::in_context()).await
}

/// Sets a new password with a reset link's token: every session of the
/// account ends, and this browser is signed in.
#[server(prefix = "/fn", endpoint = "reset_password")]
pub async fn reset_password(token: String, password: String) -> Result<(), AppError> {
    use crate::backend::{auth, AppState};
    let state = AppState::from_context()?;
    let (_, session) = auth::reset::complete(&state, &token, &password, &auth::Client::in_context()).await?;
    super::set_session_cookie(auth::session::set_cookie(&session, &state.settings));
    leptos_axum::redirect("/");
    Ok(())
}

/// Confirms the address a verification link went to; returns it.
#[server(prefix = "/fn", endpoint = "verify_email")]
pub async fn verify_email(token: String) -> Result<String, AppError> {
    use crate::backend::{auth, AppState};
    let state = AppState::from_context()?;
    auth::verify::confirm(&state, &token).await
}

/// Sends the signed-in person's verification link again.
#[server(prefix = "/fn", endpoint = "resend_verification")]
pub async fn resend_verification() -> Result<(), AppError> {
    use crate::backend::{auth, AppState};
    let state = AppState::from_context()?;
    let user = auth::current_user_in_context(&state).await?;
    auth::verify::resend(&state, &user).await
}

/// The signed-in person's account page: who they are and their sessions.
#[server(prefix = "/fn", endpoint = "account")]
pub async fn get_account() -> Result<crate::model::AccountInfo, AppError> {
    use crate::backend::{accounts, auth, AppState};
    let state = AppState::from_context()?;
    let user = auth::current_user_in_context(&state).await?;
    let sessions = accounts::sessions(&state, &user, &session_token()?).await?;
    Ok(crate::model::AccountInfo { user, sessions })
}

/// The asking session's token.
#[cfg(feature = "ssr")]
fn session_token() -> Result<String, AppError> {
    let parts = use_context::<http::request::Parts>().ok_or(AppError::Unauthorized)?;
    crate::backend::auth::session::token_from_headers(&parts.headers).ok_or(AppError::Unauthorized)
}

#[server(prefix = "/fn", endpoint = "rename_account")]
pub async fn rename_account(name: String) -> Result<(), AppError> {
    use crate::backend::{accounts, auth, AppState};
    let state = AppState::from_context()?;
    let user = auth::current_user_in_context(&state).await?;
    accounts::rename(&state, &user, &name).await.map(|_| ())
}

/// Returns how many other sessions ended.
#[server(prefix = "/fn", endpoint = "change_password")]
pub async fn change_password(current_password: String, new_password: String) -> Result<u64, AppError> {
    use crate::backend::{accounts, auth, AppState};
    let state = AppState::from_context()?;
    let user = auth::current_user_in_context(&state).await?;
    let client = auth::Client::in_context();
    accounts::change_password(&state, &user, &session_token()?, &current_password, &new_password, &client).await
}

#[server(prefix = "/fn", endpoint = "change_email")]
pub async fn change_email(email: String, password: String) -> Result<(), AppError> {
    use crate::backend::{accounts, auth, AppState};
    let state = AppState::from_context()?;
    let user = auth::current_user_in_context(&state).await?;
    accounts::change_email(&state, &user, &email, &password, &auth::Client::in_context()).await
}

/// Ends one of the person's sessions; whether it was this one (then this
/// browser is signed out).
#[server(prefix = "/fn", endpoint = "end_session")]
pub async fn end_session(id: String) -> Result<bool, AppError> {
    use crate::backend::{accounts, auth, AppState};
    let state = AppState::from_context()?;
    let user = auth::current_user_in_context(&state).await?;
    let current = accounts::end_session(&state, &user, &session_token()?, &id).await?;
    if current {
        super::set_session_cookie(auth::session::clear_cookie());
    }
    Ok(current)
}

#[server(prefix = "/fn", endpoint = "delete_account")]
pub async fn delete_account(password: String, remove_content: Option<String>) -> Result<(), AppError> {
    use crate::backend::{accounts, auth, AppState};
    let state = AppState::from_context()?;
    let user = auth::current_user_in_context(&state).await?;
    let remove_content = remove_content.is_some();
    accounts::delete(&state, &user, &password, remove_content, &auth::Client::in_context()).await?;
    super::set_session_cookie(auth::session::clear_cookie());
    Ok(())
}
