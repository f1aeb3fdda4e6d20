//! Server functions: the pages' calls into the server. Each one checks the
//! session and the group itself (any HTTP client can call it) and delegates
//! to `crate::backend`, where the rules live. Endpoints are fixed under `/fn/`
//! so the service worker and the docs can name them.

mod account;
mod groups;
mod mail;
mod mutate;
mod views;

pub use account::*;
pub use groups::*;
pub use mail::*;
pub use mutate::*;
pub use views::*;

#[cfg(feature = "ssr")]
fn set_session_cookie(value: http::HeaderValue) {
    if let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
        response.append_header(http::header::SET_COOKIE, value);
    }
}

/// The signed-in member of `slug` asking (401 signed out, 404 not a member).
#[cfg(feature = "ssr")]
async fn member_of(
    slug: &str,
) -> Result<(crate::backend::AppState, crate::backend::groups::Member), crate::error::AppError> {
    use crate::backend::{auth, groups, AppState};
    let state = AppState::from_context()?;
    let user = auth::current_user_in_context(&state).await?;
    let member = groups::resolve(&state, user.id, slug).await?;
    Ok((state, member))
}
