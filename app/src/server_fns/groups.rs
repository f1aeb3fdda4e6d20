//! Groups and invites.

use crate::{
    error::AppError,
    model::{InviteInfo, OpenInvite, Role},
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

#[server(prefix = "/fn", endpoint = "create_invite")]
pub async fn create_invite(slug: String) -> Result<InviteInfo, AppError> {
    use crate::backend::invites;
    let (state, member) = super::member_of(&slug).await?;
    invites::create(&state, &member, None).await
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

/// The group's open invites (admins).
#[server(prefix = "/fn", endpoint = "group_invites")]
pub async fn group_invites(slug: String) -> Result<Vec<OpenInvite>, AppError> {
    use crate::backend::invites;
    let (state, member) = super::member_of(&slug).await?;
    invites::list(&state, &member).await
}

#[server(prefix = "/fn", endpoint = "invite_by_email")]
pub async fn invite_by_email(slug: String, email: String) -> Result<InviteInfo, AppError> {
    use crate::backend::invites;
    let (state, member) = super::member_of(&slug).await?;
    if email.trim().is_empty() {
        return Err(AppError::validation("email", "enter the address to invite"));
    }
    invites::create(&state, &member, Some(&email)).await
}

#[server(prefix = "/fn", endpoint = "revoke_invite")]
pub async fn revoke_invite(slug: String, code: String) -> Result<(), AppError> {
    use crate::backend::invites;
    let (state, member) = super::member_of(&slug).await?;
    invites::revoke(&state, &member, &code).await
}

#[server(prefix = "/fn", endpoint = "set_member_role")]
pub async fn set_member_role(slug: String, user_id: uuid::Uuid, role: Role) -> Result<(), AppError> {
    use crate::backend::membership;
    let (state, member) = super::member_of(&slug).await?;
    membership::set_role(&state, &member, user_id, role).await
}

#[server(prefix = "/fn", endpoint = "remove_member")]
pub async fn remove_member(slug: String, user_id: uuid::Uuid) -> Result<(), AppError> {
    use crate::backend::membership;
    let (state, member) = super::member_of(&slug).await?;
    membership::remove(&state, &member, user_id).await
}

#[server(prefix = "/fn", endpoint = "leave_group")]
pub async fn leave_group(slug: String) -> Result<(), AppError> {
    use crate::backend::membership;
    let (state, member) = super::member_of(&slug).await?;
    membership::leave(&state, &member).await
}

#[server(prefix = "/fn", endpoint = "rename_group")]
pub async fn rename_group(slug: String, name: String) -> Result<(), AppError> {
    use crate::backend::groups;
    let (state, member) = super::member_of(&slug).await?;
    groups::rename(&state, &member, &name).await.map(|_| ())
}

#[server(prefix = "/fn", endpoint = "set_poll_rule")]
pub async fn set_poll_rule(slug: String, residents_open_polls: bool) -> Result<(), AppError> {
    use crate::backend::groups;
    let (state, member) = super::member_of(&slug).await?;
    groups::set_residents_open_polls(&state, &member, residents_open_polls).await.map(|_| ())
}

#[server(prefix = "/fn", endpoint = "close_group")]
pub async fn close_group(slug: String, name: String) -> Result<(), AppError> {
    use crate::backend::closing;
    let (state, member) = super::member_of(&slug).await?;
    closing::close(&state, &member, &name).await.map(|_| ())
}

/// When the member's calendar feed link of the group was made, if it was.
#[server(prefix = "/fn", endpoint = "calendar_feed")]
pub async fn calendar_feed(slug: String) -> Result<Option<chrono::DateTime<chrono::Utc>>, AppError> {
    let (state, member) = super::member_of(&slug).await?;
    crate::backend::calendar::made_at(&state, &member).await
}

/// A new calendar feed link (the old one stops working): its path.
#[server(prefix = "/fn", endpoint = "renew_calendar_feed")]
pub async fn renew_calendar_feed(slug: String) -> Result<String, AppError> {
    let (state, member) = super::member_of(&slug).await?;
    crate::backend::calendar::renew(&state, &member).await
}

#[server(prefix = "/fn", endpoint = "stop_calendar_feed")]
pub async fn stop_calendar_feed(slug: String) -> Result<(), AppError> {
    let (state, member) = super::member_of(&slug).await?;
    crate::backend::calendar::stop(&state, &member).await
}
