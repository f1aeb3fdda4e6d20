//! `/api/unsubscribe/{token}`: the one-click unsubscribe address (RFC 8058)
//! a notification's `List-Unsubscribe` header names. A mail provider posts
//! `List-Unsubscribe=One-Click` to it with no session (the token is the
//! credential); a visit (a mail client opening it) goes to the page that
//! asks first.

use app::{
    backend::{notify::choices, AppState},
    error::AppError,
};
use axum::{
    extract::{Path, State},
    http::{header, StatusCode},
    response::{IntoResponse, Redirect},
};

pub async fn one_click(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<impl IntoResponse, AppError> {
    let stopped = choices::unsubscribe(&state, &token).await?;
    Ok((
        StatusCode::OK,
        [(header::CACHE_CONTROL, "no-store")],
        format!("Unsubscribed: no more emails about {} from {}.\n", stopped.kind.describe(), stopped.group_name),
    ))
}

pub async fn visit(Path(token): Path<String>) -> Result<Redirect, AppError> {
    if !app::backend::auth::session::well_formed(&token) {
        return Err(AppError::NotFound);
    }
    Ok(Redirect::to(&format!("/unsubscribe/{token}")))
}
