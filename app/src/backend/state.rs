//! What every request handler and server function shares.

use crate::error::AppError;
use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use sqlx::PgPool;
use std::sync::Arc;

/// Runtime settings request handling needs (loaded from Leptos.toml and the
/// environment by the server at start-up).
#[derive(Debug, Clone)]
pub struct Settings {
    pub session_ttl: chrono::Duration,
    /// Mark the session cookie `Secure` (serve over HTTPS).
    pub secure_cookies: bool,
    pub invite_ttl: chrono::Duration,
    pub login_limits: LoginLimits,
}

/// Failed sign-ins allowed per account and per client address in `window`.
#[derive(Debug, Clone)]
pub struct LoginLimits {
    pub per_account: i64,
    pub per_ip: i64,
    pub window: chrono::Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            session_ttl: chrono::Duration::days(30),
            secure_cookies: false,
            invite_ttl: chrono::Duration::days(7),
            login_limits: LoginLimits { per_account: 5, per_ip: 50, window: chrono::Duration::minutes(15) },
        }
    }
}

#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub leptos_options: LeptosOptions,
    pub settings: Arc<Settings>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

impl AppState {
    /// The state inside a server function (the server provides it as context).
    pub fn from_context() -> Result<Self, AppError> {
        leptos::prelude::use_context::<Self>().ok_or_else(|| {
            tracing::error!("AppState missing from the Leptos context");
            AppError::Internal
        })
    }
}
