//! Groups and invites.

use crate::{
    error::AppError,
    model::{GroupData, InviteInfo},
};
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

/// Everything of the group its pages show, read from one snapshot; unless
/// `whole`, the notice board only up to its first page (what a page renders,
/// and so what it carries for hydration).
#[server(prefix = "/fn", endpoint = "group_data")]
pub async fn get_group_data(slug: String, #[server(default)] whole: bool) -> Result<GroupData, AppError> {
    use crate::backend::{auth, group_data, groups, AppState};
    let state = AppState::from_context()?;
    let user = auth::current_user_in_context(&state).await?;
    let member = groups::resolve(&state.pool, user.id, &slug).await?;
    group_data::load(&state.pool, &member, (!whole).then_some(crate::model::PAGE)).await
}

#[server(prefix = "/fn", endpoint = "create_invite")]
pub async fn create_invite(slug: String) -> Result<InviteInfo, AppError> {
    use crate::backend::{auth, groups, invites, AppState};
    let state = AppState::from_context()?;
    let user = auth::current_user_in_context(&state).await?;
    let member = groups::resolve(&state.pool, user.id, &slug).await?;
    invites::create(&state, &member).await
}

#[server(prefix = "/fn", endpoint = "invite")]
pub async fn get_invite(code: String) -> Result<InviteInfo, AppError> {
    use crate::backend::{invites, AppState};
    let state = AppState::from_context()?;
    invites::info(&state.pool, &code).await
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
