//! The JSON HTTP API under `/api` (documented in docs/api.md). Handlers are
//! thin: extract, call `app::backend`, answer.

mod account;
mod auth;
mod calendar;
mod csrf;
#[cfg(debug_assertions)]
mod dev_mail;
mod files;
mod fn_status;
mod groups;
mod json;
mod limits;
mod mutate;
mod pages;
mod proxies;
mod unsubscribe;

use app::{backend::AppState, error::AppError};
use axum::{
    routing::{any, delete, get, post, put},
    Router,
};

pub use csrf::same_origin;
pub use fn_status::error_status as server_fn_error_status;
pub use limits::{body_size as limit_body_size, header_size as limit_header_size};
pub use pages::{security_headers, sign_in_first};
pub use proxies::{real_client, TrustedProxies};

/// `/dev/mail`: in debug builds, when mail goes to the log (`mail.smtp_url`
/// empty); otherwise nothing.
pub fn dev(mail_to_log: bool) -> Router<AppState> {
    #[cfg(debug_assertions)]
    if mail_to_log {
        return Router::new().route("/dev/mail", get(dev_mail::page));
    }
    let _ = mail_to_log;
    Router::new()
}

pub fn api() -> Router<AppState> {
    Router::new()
        .route("/api/auth/signup", post(auth::sign_up))
        .route("/api/auth/login", post(auth::log_in))
        .route("/api/auth/logout", post(auth::log_out))
        .route("/api/auth/token", post(auth::token))
        .route("/api/auth/reset", post(auth::request_reset))
        .route("/api/auth/reset/confirm", post(auth::confirm_reset))
        .route("/api/auth/verify", post(auth::confirm_email))
        .route("/api/auth/verify/resend", post(auth::resend_verification))
        .route("/api/me", get(auth::me))
        .route("/api/account/name", post(account::rename))
        .route("/api/account/password", post(account::change_password))
        .route("/api/account/email", post(account::change_email))
        .route("/api/account/sessions", get(account::sessions))
        .route("/api/account/sessions/{id}", delete(account::end_session))
        .route("/api/account/delete", post(account::delete))
        .route("/api/groups", post(groups::create))
        .route("/api/groups/{slug}/invites", post(groups::create_invite).get(groups::invites))
        .route("/api/groups/{slug}/invites/{code}", delete(groups::revoke_invite))
        .route("/api/groups/{slug}/members/{id}", delete(groups::remove_member))
        .route("/api/groups/{slug}/members/{id}/role", post(groups::set_role))
        .route("/api/groups/{slug}/leave", post(groups::leave))
        .route("/api/groups/{slug}/name", post(groups::rename))
        .route("/api/groups/{slug}/polls", post(groups::set_poll_rule))
        .route("/api/groups/{slug}/close", post(groups::close))
        .route("/api/groups/{slug}/export", get(groups::export))
        .route("/api/groups/{slug}/uploads/{sha256}", put(files::put_chunk).get(files::state))
        .route("/api/groups/{slug}/files/{id}", get(files::download))
        .route("/api/invites/{code}/accept", post(groups::accept_invite))
        .route("/api/mutate", post(mutate::mutate))
        .route("/api/unsubscribe/{token}", post(unsubscribe::one_click).get(unsubscribe::visit))
        .route("/cal/{file}", get(calendar::feed))
        .route("/api", any(not_found))
        .route("/api/{*rest}", any(not_found))
}

async fn not_found() -> AppError {
    AppError::NotFound
}
