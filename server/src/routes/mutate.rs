//! `POST /api/mutate`: the one write path (see `app::backend::mutate`).

use super::json::JsonBody;
use crate::ops::metrics;
use app::{
    backend::{auth::CurrentUser, mutate, AppState},
    error::AppError,
    model::{MutateRequest, MutateResponse, MutationStatus},
};
use axum::{extract::State, Json};

pub async fn mutate(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    JsonBody(request): JsonBody<MutateRequest>,
) -> Result<Json<MutateResponse>, AppError> {
    tracing::Span::current().record("group.slug", request.group.as_str());
    let response = mutate::apply(&state, &user, &request).await?;
    let group = state.settings.metrics_per_group.then_some(request.group.as_str());
    for (envelope, outcome) in request.mutations.iter().zip(&response.results) {
        let status = match outcome.status {
            MutationStatus::Applied => "applied",
            MutationStatus::Duplicate => "duplicate",
            MutationStatus::Rejected => "rejected",
        };
        metrics::mutation(&envelope.name, envelope.is_known(), status, group);
    }
    Ok(Json(response))
}
