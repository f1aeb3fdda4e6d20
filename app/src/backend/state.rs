//! What every request handler and server function shares.

use crate::{
    backend::{auth::password::Hashing, Databases},
    error::AppError,
};
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
    /// An invite sent by email is accepted only by an account that has
    /// verified that address (`invites.email_needs_verified`).
    pub email_invites_need_verified: bool,
    /// How long a closed group stays, read-only, before it is deleted.
    pub close_grace: chrono::Duration,
    pub login_limits: LoginLimits,
    pub signup_limits: SignupLimits,
    /// Groups one account may create.
    pub max_groups_per_user: i64,
    /// Password hashes computed at once, and how many more may wait.
    pub hashes_at_once: usize,
    pub hashes_waiting: usize,
    /// The site's own origin (`https://courtyard.example`), when configured;
    /// otherwise a request's own `Host` names it (see `routes::csrf`).
    pub public_origin: Option<String>,
    /// The live-reload port of `cargo leptos watch` (allowed by the CSP).
    pub live_reload_port: Option<u32>,
    /// Label the server's metrics by group too (`metrics.per_group`).
    pub metrics_per_group: bool,
    /// The site's address at the start of links sent by email
    /// (`server.public_origin`, else `http://` and the listening address):
    /// never a request's `Host`, which a client chooses.
    pub links_base: String,
    /// How long a password-reset link works, and an email-verification link.
    pub reset_link_ttl: chrono::Duration,
    pub verify_link_ttl: chrono::Duration,
    /// Password resets asked for per email and per client address.
    pub reset_limits: EmailLimits,
    /// The notification job runs (`backend::notify`): mail is sent, or this
    /// is a debug build (scripts/dev lists it at /dev/mail). Never a
    /// production log full of residents' notices.
    pub notify: bool,
    /// How often a group's other new notices go out in a digest
    /// (`mail.digest_every`).
    pub digest_every: chrono::Duration,
    /// How long before a booking starts its reminder goes
    /// (`mail.booking_reminder`).
    pub booking_reminder: chrono::Duration,
    /// Where files' bytes go, and their limits (`[files]`).
    pub files: super::files::FileSettings,
}

/// Requests that send mail, allowed per email address and per client
/// address in `window`.
#[derive(Debug, Clone)]
pub struct EmailLimits {
    pub per_email: i64,
    pub per_ip: i64,
    pub window: chrono::Duration,
}

/// Sign-ups allowed per client address in `window`.
#[derive(Debug, Clone)]
pub struct SignupLimits {
    pub per_ip: i64,
    pub window: chrono::Duration,
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
            email_invites_need_verified: true,
            close_grace: chrono::Duration::days(30),
            login_limits: LoginLimits { per_account: 5, per_ip: 50, window: chrono::Duration::minutes(15) },
            signup_limits: SignupLimits { per_ip: 100, window: chrono::Duration::hours(1) },
            max_groups_per_user: 20,
            hashes_at_once: std::thread::available_parallelism().map_or(2, usize::from),
            hashes_waiting: std::thread::available_parallelism().map_or(2, usize::from),
            public_origin: None,
            live_reload_port: None,
            metrics_per_group: false,
            links_base: "http://127.0.0.1:3000".to_owned(),
            reset_link_ttl: chrono::Duration::hours(1),
            verify_link_ttl: chrono::Duration::days(7),
            reset_limits: EmailLimits { per_email: 3, per_ip: 20, window: chrono::Duration::hours(1) },
            notify: true,
            digest_every: chrono::Duration::days(1),
            booking_reminder: chrono::Duration::hours(24),
            files: Default::default(),
        }
    }
}

#[derive(Clone)]
pub struct AppState {
    /// The registry's database and the group databases.
    pub databases: Arc<Databases>,
    pub leptos_options: LeptosOptions,
    pub settings: Arc<Settings>,
    /// The bound on password hashing (see `auth::password`).
    pub hashing: Arc<Hashing>,
    /// The files' object store (see `files`).
    pub files: Arc<super::files::Files>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

impl AppState {
    pub fn new(databases: Databases, leptos_options: LeptosOptions, settings: Settings) -> Self {
        let hashing = Arc::new(Hashing::new(settings.hashes_at_once, settings.hashes_waiting));
        // The server opens it once before (`server::state`), so a bad
        // `files.store` stops the start with its reason.
        let files = super::files::Files::open(&settings.files).expect("files.store was checked at start-up");
        Self {
            databases: Arc::new(databases),
            leptos_options,
            settings: Arc::new(settings),
            hashing,
            files: Arc::new(files),
        }
    }

    /// The registry's pool (users, sessions, groups, memberships, invites).
    pub fn registry(&self) -> &PgPool {
        &self.databases.registry
    }

    /// The state inside a server function (the server provides it as context).
    pub fn from_context() -> Result<Self, AppError> {
        leptos::prelude::use_context::<Self>().ok_or_else(|| {
            tracing::error!("AppState missing from the Leptos context");
            AppError::Internal
        })
    }
}
