//! The pages' writes: the same pipeline as `POST /api/mutate`.

use crate::{
    error::AppError,
    model::{MutateRequest, MutateResponse},
};
use leptos::prelude::*;
use leptos::server_fn::codec::Json;

#[server(prefix = "/fn", endpoint = "mutate", input = Json)]
pub async fn mutate(request: MutateRequest) -> Result<MutateResponse, AppError> {
    use crate::backend::{auth, mutate, AppState};
    let state = AppState::from_context()?;
    let user = auth::current_user_in_context(&state).await?;
    mutate::apply(&state, &user, &request).await
}
