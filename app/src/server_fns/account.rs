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
    let (_, token) = auth::sign_up(&state, &email, &password, &name, auth::client_ip_in_context()).await?;
    super::set_session_cookie(auth::session::set_cookie(&token, &state.settings));
    leptos_axum::redirect(&next);
    Ok(())
}

#[server(prefix = "/fn", endpoint = "log_in")]
pub async fn log_in(email: String, password: String, next: Option<String>) -> Result<(), AppError> {
    use crate::backend::{auth, AppState};
    let state = AppState::from_context()?;
    let next = crate::model::validate::next_path(next.as_deref())?;
    let (_, token) = auth::log_in(&state, &email, &password, auth::client_ip_in_context()).await?;
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
