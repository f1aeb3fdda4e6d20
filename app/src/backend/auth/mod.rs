//! Sign-up, log-in, log-out and "who is asking": the session checks every
//! HTTP handler and server function goes through.

pub mod email_link;
pub mod password;
pub mod reset;
pub mod session;
pub mod throttle;
pub mod verify;

use crate::{
    backend::{accounts, AppState},
    error::AppError,
    model::{validate, UserInfo, EXPECTED_USER_HEADER},
};
use axum::{extract::FromRequestParts, http::request::Parts, http::HeaderMap};

/// A new account, signed in: the user and their session token. Counted
/// per client address before the password is hashed.
pub async fn sign_up(
    state: &AppState,
    email: &str,
    password: &str,
    name: &str,
    client: &Client,
) -> Result<(UserInfo, String), AppError> {
    let email = validate::email(email)?;
    let password = validate::password(password)?.to_owned();
    let name = validate::name("name", name)?;
    let reservation = throttle::reserve_signup(state.registry(), &state.settings.signup_limits, client.ip).await?;
    let hash = match password::hash(&state.hashing, password).await {
        Ok(hash) => hash,
        Err(error) => {
            throttle::release_signup(state.registry(), reservation).await?;
            return Err(error);
        }
    };
    let mut tx = state.registry().begin().await?;
    let user = accounts::insert(&mut *tx, &email, &hash, &name).await?;
    verify::send(&mut tx, &state.settings, &user).await?;
    let token = session::create(&mut *tx, user.id, &state.settings, client).await?;
    tx.commit().await?;
    Ok((user, token))
}

/// A new session for the right email and password; the same error for a
/// wrong email as for a wrong password; 429 after too many failures for the
/// account or from the client's address (docs/api.md). The attempt is
/// counted before the password is checked.
pub async fn log_in(
    state: &AppState,
    email: &str,
    password: &str,
    client: &Client,
) -> Result<(UserInfo, String), AppError> {
    let email = email.trim().to_lowercase();
    if email.is_empty() || email.len() > 254 || email.chars().any(char::is_control) {
        // No account has such an email (sign-up refuses it).
        return Err(AppError::WrongCredentials);
    }
    let reservation =
        throttle::reserve_login(state.registry(), &state.settings.login_limits, &email, client.ip).await?;
    let found = accounts::credentials(state.registry(), &email).await?;
    let (user, hash) = match found {
        Some((user, hash)) => (Some(user), Some(hash)),
        None => (None, None),
    };
    // Without an account this checks a dummy hash: the same time either way.
    let verified = match password::verify(&state.hashing, password.to_owned(), hash).await {
        Ok(verified) => verified,
        Err(error) => {
            throttle::release_login(state.registry(), reservation).await?;
            return Err(error);
        }
    };
    let user = match user {
        Some(user) if verified => user,
        // The reservation stays: it was a failure.
        _ => return Err(AppError::WrongCredentials),
    };
    throttle::succeeded(state.registry(), &email).await?;
    let token = session::create(state.registry(), user.id, &state.settings, client).await?;
    Ok((user, token))
}

pub async fn log_out(state: &AppState, headers: &HeaderMap) -> Result<(), AppError> {
    if let Some(token) = session::token_from_headers(headers) {
        session::delete(state.registry(), &token).await?;
    }
    Ok(())
}

/// The signed-in user of a request, or 401.
pub async fn current_user(state: &AppState, headers: &HeaderMap) -> Result<UserInfo, AppError> {
    current_session(state, headers).await.map(|(user, _)| user)
}

/// The signed-in user of a request and when their session ends, or 401.
pub async fn current_session(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<(UserInfo, chrono::DateTime<chrono::Utc>), AppError> {
    let token = session::token_from_headers(headers).ok_or(AppError::Unauthorized)?;
    session::user(state.registry(), &token).await?.ok_or(AppError::Unauthorized)
}

/// 401 when the request names the user it acts for
/// ([`EXPECTED_USER_HEADER`]) and the session is someone else's.
pub fn check_expected_user(headers: &HeaderMap, user_id: uuid::Uuid) -> Result<(), AppError> {
    match headers.get(EXPECTED_USER_HEADER) {
        None => Ok(()),
        Some(named) if named.to_str().ok().and_then(|n| n.parse().ok()) == Some(user_id) => Ok(()),
        Some(_) => Err(AppError::Unauthorized),
    }
}

/// The signed-in user of a server function call (or SSR render), or 401.
pub async fn current_user_in_context(state: &AppState) -> Result<UserInfo, AppError> {
    let parts = leptos::prelude::use_context::<Parts>().ok_or(AppError::Unauthorized)?;
    let user = current_user(state, &parts.headers).await?;
    check_expected_user(&parts.headers, user.id)?;
    Ok(user)
}

/// Who is calling, as far as sign-in needs: the client's address (for the
/// rate limits; behind a trusted proxy, the one it names) and its
/// `User-Agent` (shown in the list of one's sessions).
#[derive(Debug, Clone, Default)]
pub struct Client {
    pub ip: Option<std::net::IpAddr>,
    pub user_agent: String,
}

impl Client {
    pub fn of(parts: &Parts) -> Self {
        let ip = parts.extensions.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|info| info.0.ip());
        let user_agent = parts
            .headers
            .get(axum::http::header::USER_AGENT)
            .and_then(|value| value.to_str().ok())
            .map(|agent| agent.chars().filter(|c| !c.is_control()).take(200).collect())
            .unwrap_or_default();
        Self { ip, user_agent }
    }

    /// The caller of a server function.
    pub fn in_context() -> Self {
        leptos::prelude::use_context::<Parts>().as_ref().map(Self::of).unwrap_or_default()
    }
}

/// Extractor: the [`Client`].
impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::of(parts))
    }
}

/// Extractor for the JSON API: the signed-in user (who must be the one the
/// request names, if it names one), or a 401.
pub struct CurrentUser(pub UserInfo);

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let user = current_user(state, &parts.headers).await?;
        check_expected_user(&parts.headers, user.id)?;
        tracing::Span::current().record("user.id", tracing::field::display(user.id));
        Ok(CurrentUser(user))
    }
}
