//! `/api/groups` and `/api/invites`.

use super::json::JsonBody;
use app::{
    backend::{auth::CurrentUser, groups, invites, AppState},
    error::AppError,
    model::{GroupSummary, InviteInfo},
};
use axum::{
    extract::{Path, State},
    http::StatusCode,
    Json,
};
use serde::Deserialize;

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
) -> Result<(StatusCode, Json<InviteInfo>), AppError> {
    let member = groups::resolve(&state, user.id, &slug).await?;
    tracing::Span::current().record("group.slug", slug.as_str());
    let invite = invites::create(&state, &member).await?;
    Ok((StatusCode::CREATED, Json(invite)))
}

pub async fn accept_invite(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(code): Path<String>,
) -> Result<Json<GroupSummary>, AppError> {
    Ok(Json(invites::accept(&state, &user, &code).await?))
}
