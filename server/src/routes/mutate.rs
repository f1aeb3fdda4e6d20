//! `POST /api/mutate`: the one write path (see `app::backend::mutate`).

use super::json::JsonBody;
use app::{
    backend::{auth::CurrentUser, mutate, AppState},
    error::AppError,
    model::{MutateRequest, MutateResponse},
};
use axum::{extract::State, Json};

pub async fn mutate(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    JsonBody(request): JsonBody<MutateRequest>,
) -> Result<Json<MutateResponse>, AppError> {
    tracing::Span::current().record("group.slug", request.group.as_str());
    Ok(Json(mutate::apply(&state, &user, &request).await?))
}
