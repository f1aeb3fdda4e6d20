//! `GET /cal/{token}.ics[?mine=true]`: a member's secret calendar feed of
//! their group's bookings (no session: the link is the credential).

use app::{
    backend::{calendar, AppState},
    error::AppError,
};
use axum::{
    extract::{Path, Query, State},
    http::header,
    response::IntoResponse,
};
use std::collections::HashMap;

pub async fn feed(
    State(state): State<AppState>,
    Path(file): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<impl IntoResponse, AppError> {
    let mine = query.get("mine").is_some_and(|value| value == "true");
    let text = calendar::feed(&state, &file, mine).await?;
    Ok(([(header::CONTENT_TYPE, "text/calendar; charset=utf-8"), (header::CACHE_CONTROL, "private, no-store")], text))
}
