//! The JSON HTTP API under `/api` (documented in docs/api.md). Handlers are
//! thin: extract, call `app::backend`, answer.

mod auth;
mod csrf;
mod fn_status;
mod groups;
mod json;
mod limits;
mod mutate;
mod pages;
mod proxies;

use app::{backend::AppState, error::AppError};
use axum::{
    routing::{any, get, post},
    Router,
};

pub use csrf::same_origin;
pub use fn_status::error_status as server_fn_error_status;
pub use limits::{body_size as limit_body_size, header_size as limit_header_size};
pub use pages::{security_headers, sign_in_first};
pub use proxies::{real_client, TrustedProxies};

pub fn api() -> Router<AppState> {
    Router::new()
        .route("/api/auth/signup", post(auth::sign_up))
        .route("/api/auth/login", post(auth::log_in))
        .route("/api/auth/logout", post(auth::log_out))
        .route("/api/auth/token", post(auth::token))
        .route("/api/me", get(auth::me))
        .route("/api/groups", post(groups::create))
        .route("/api/groups/{slug}/invites", post(groups::create_invite))
        .route("/api/invites/{code}/accept", post(groups::accept_invite))
        .route("/api/mutate", post(mutate::mutate))
        .route("/api", any(not_found))
        .route("/api/{*rest}", any(not_found))
}

async fn not_found() -> AppError {
    AppError::NotFound
}
