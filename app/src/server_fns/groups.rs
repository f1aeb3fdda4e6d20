//! Groups and invites.

use crate::{error::AppError, model::InviteInfo};
use leptos::prelude::*;

#[server(prefix = "/fn", endpoint = "create_group")]
pub async fn create_group(slug: String, name: String) -> Result<(), AppError> {
    use crate::backend::{auth, groups, AppState};
    let state = AppState::from_context()?;
    let user = auth::current_user_in_context(&state).await?;
    let group = groups::create(&state, &user, &slug, &name).await?;
    leptos_axum::redirect(&format!("/g/{}", group.slug));
    Ok(())
}

#[server(prefix = "/fn", endpoint = "create_invite")]
pub async fn create_invite(slug: String) -> Result<InviteInfo, AppError> {
    use crate::backend::{auth, groups, invites, AppState};
    let state = AppState::from_context()?;
    let user = auth::current_user_in_context(&state).await?;
    let member = groups::resolve(&state, user.id, &slug).await?;
    invites::create(&state, &member).await
}

#[server(prefix = "/fn", endpoint = "invite")]
pub async fn get_invite(code: String) -> Result<InviteInfo, AppError> {
    use crate::backend::{invites, AppState};
    let state = AppState::from_context()?;
    invites::info(&state, &code).await
}

#[server(prefix = "/fn", endpoint = "accept_invite")]
pub async fn accept_invite(code: String) -> Result<(), AppError> {
    use crate::backend::{auth, invites, AppState};
    let state = AppState::from_context()?;
    let user = auth::current_user_in_context(&state).await?;
    let group = invites::accept(&state, &user, &code).await?;
    leptos_axum::redirect(&format!("/g/{}", group.slug));
    Ok(())
}
