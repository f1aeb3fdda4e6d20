//! `/api/groups` and `/api/invites`: groups made, administered, left,
//! closed and exported.

use super::json::{JsonBody, JsonOrNothing};
use app::{
    backend::{auth::CurrentUser, closing, export, groups, groups::Member, invites, membership, AppState},
    error::AppError,
    model::{GroupSummary, InviteInfo, OpenInvite, Role},
};
use axum::{
    body::Body,
    extract::{Path, State},
    http::{header, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde::Deserialize;
use uuid::Uuid;

/// The signed-in user as a member of the group at `slug` (404 otherwise).
pub(super) async fn member(state: &AppState, user: &app::model::UserInfo, slug: &str) -> Result<Member, AppError> {
    let member = groups::resolve(state, user.id, slug).await?;
    tracing::Span::current().record("group.slug", slug);
    Ok(member)
}

/// A member named in a path: an id that is no UUID names nobody (404).
fn member_id(text: &str) -> Result<Uuid, AppError> {
    text.parse().map_err(|_| AppError::NotFound)
}

#[derive(Deserialize, Default)]
pub struct NewInvite {
    #[serde(default)]
    email: Option<String>,
}

#[derive(Deserialize)]
pub struct NewRole {
    role: String,
}

#[derive(Deserialize)]
pub struct Named {
    name: String,
}

#[derive(Deserialize)]
pub struct NewGroup {
    slug: String,
    name: String,
}

pub async fn create(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    JsonBody(input): JsonBody<NewGroup>,
) -> Result<(StatusCode, Json<GroupSummary>), AppError> {
    let group = groups::create(&state, &user, &input.slug, &input.name).await?;
    Ok((StatusCode::CREATED, Json(group)))
}

pub async fn create_invite(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(slug): Path<String>,
    JsonOrNothing(input): JsonOrNothing<NewInvite>,
) -> Result<(StatusCode, Json<InviteInfo>), AppError> {
    let member = member(&state, &user, &slug).await?;
    let invite = invites::create(&state, &member, input.email.as_deref()).await?;
    Ok((StatusCode::CREATED, Json(invite)))
}

pub async fn invites(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(slug): Path<String>,
) -> Result<Json<Vec<OpenInvite>>, AppError> {
    let member = member(&state, &user, &slug).await?;
    Ok(Json(invites::list(&state, &member).await?))
}

pub async fn revoke_invite(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path((slug, code)): Path<(String, String)>,
) -> Result<StatusCode, AppError> {
    let member = member(&state, &user, &slug).await?;
    invites::revoke(&state, &member, &code).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn set_role(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path((slug, id)): Path<(String, String)>,
    JsonBody(input): JsonBody<NewRole>,
) -> Result<StatusCode, AppError> {
    let member = member(&state, &user, &slug).await?;
    let role = Role::parse(&input.role).ok_or_else(|| AppError::validation("role", "admin or resident"))?;
    membership::set_role(&state, &member, member_id(&id)?, role).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn remove_member(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path((slug, id)): Path<(String, String)>,
) -> Result<StatusCode, AppError> {
    let member = member(&state, &user, &slug).await?;
    membership::remove(&state, &member, member_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn leave(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(slug): Path<String>,
) -> Result<StatusCode, AppError> {
    let member = member(&state, &user, &slug).await?;
    membership::leave(&state, &member).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn rename(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(slug): Path<String>,
    JsonBody(input): JsonBody<Named>,
) -> Result<Json<GroupSummary>, AppError> {
    let member = member(&state, &user, &slug).await?;
    Ok(Json(groups::rename(&state, &member, &input.name).await?))
}

/// `{"residents_open_polls": bool}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PollRule {
    residents_open_polls: bool,
}

pub async fn set_poll_rule(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(slug): Path<String>,
    JsonBody(input): JsonBody<PollRule>,
) -> Result<Json<GroupSummary>, AppError> {
    let member = member(&state, &user, &slug).await?;
    Ok(Json(groups::set_residents_open_polls(&state, &member, input.residents_open_polls).await?))
}

/// `{"name"}`: the group's name, typed to confirm.
pub async fn close(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(slug): Path<String>,
    JsonBody(input): JsonBody<Named>,
) -> Result<Json<GroupSummary>, AppError> {
    let member = member(&state, &user, &slug).await?;
    Ok(Json(closing::close(&state, &member, &input.name).await?))
}

/// The group's data as one JSON document, streamed (admins).
pub async fn export(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(slug): Path<String>,
) -> Result<Response, AppError> {
    let member = member(&state, &user, &slug).await?;
    let filename = format!("{}-{}.json", member.group.slug, chrono::Utc::now().format("%Y-%m-%d"));
    let pieces = export::stream(member).await?;
    let body = futures_util::stream::unfold(pieces, |mut pieces| async move {
        let piece = pieces.recv().await?;
        Some((piece.map(axum::body::Bytes::from).map_err(std::io::Error::other), pieces))
    });
    Ok((
        [
            (header::CONTENT_TYPE, "application/json".to_owned()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{filename}\"")),
            (header::CACHE_CONTROL, "private, no-store".to_owned()),
        ],
        Body::from_stream(body),
    )
        .into_response())
}

pub async fn accept_invite(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(code): Path<String>,
) -> Result<Json<GroupSummary>, AppError> {
    Ok(Json(invites::accept(&state, &user, &code).await?))
}
