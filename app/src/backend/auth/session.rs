//! Server-side sessions: a random token in an HttpOnly cookie (or an
//! `Authorization: Bearer` header), stored in Postgres only as its SHA-256.

use crate::{backend::Settings, error::AppError, model::UserInfo};
use argon2::password_hash::rand_core::{OsRng, RngCore};
use axum::http::{header, HeaderMap, HeaderValue};
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use sqlx::PgExecutor;
use uuid::Uuid;

pub const COOKIE: &str = "courtyard_session";

/// Starts a session for `client` and returns its token (the only copy of it).
pub async fn create(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    settings: &Settings,
    client: &super::Client,
) -> Result<String, AppError> {
    let token = new_token();
    sqlx::query("INSERT INTO sessions (token_hash, user_id, expires_at, user_agent) VALUES ($1, $2, $3, $4)")
        .bind(digest(&token))
        .bind(user_id)
        .bind(Utc::now() + settings.session_ttl)
        .bind(&client.user_agent)
        .execute(db)
        .await?;
    Ok(token)
}

pub async fn delete(db: impl PgExecutor<'_>, token: &str) -> Result<(), AppError> {
    sqlx::query("DELETE FROM sessions WHERE token_hash = $1").bind(digest(token)).execute(db).await?;
    Ok(())
}

/// The user a live session belongs to, and when the session ends.
pub async fn user(db: impl PgExecutor<'_>, token: &str) -> Result<Option<(UserInfo, DateTime<Utc>)>, AppError> {
    let row: Option<(Uuid, String, String, bool, DateTime<Utc>)> = sqlx::query_as(
        "SELECT u.id, u.email, u.name, u.email_verified_at IS NOT NULL, s.expires_at \
         FROM sessions s JOIN users u ON u.id = s.user_id \
         WHERE s.token_hash = $1 AND s.expires_at > now()",
    )
    .bind(digest(token))
    .fetch_optional(db)
    .await?;
    Ok(row.map(|(id, email, name, email_verified, expires_at)| {
        (UserInfo { id, email, name, email_verified }, expires_at)
    }))
}

/// The session token a request carries: the cookie, else a bearer token.
pub fn token_from_headers(headers: &HeaderMap) -> Option<String> {
    let from_cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_owned());
    from_cookie.or_else(|| {
        headers.get(header::AUTHORIZATION)?.to_str().ok()?.strip_prefix("Bearer ").map(|token| token.trim().to_owned())
    })
}

pub fn set_cookie(token: &str, settings: &Settings) -> HeaderValue {
    let secure = if settings.secure_cookies { "; Secure" } else { "" };
    let max_age = settings.session_ttl.num_seconds();
    cookie_value(format!("{COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"))
}

pub fn clear_cookie() -> HeaderValue {
    cookie_value(format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"))
}

fn cookie_value(text: String) -> HeaderValue {
    // The token is hex and the rest is fixed text, so this cannot fail.
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Ends every session of `user_id` but `keep` (a token).
pub async fn end_others(db: impl PgExecutor<'_>, user_id: Uuid, keep: Option<&str>) -> Result<u64, AppError> {
    let ended = sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND token_hash IS DISTINCT FROM $2")
        .bind(user_id)
        .bind(keep.map(digest))
        .execute(db)
        .await?;
    Ok(ended.rows_affected())
}

/// A new random token (64 hex digits): the only copy is the one returned.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Whether `token` looks like one [`new_token`] makes (so junk never reaches SQL).
pub fn well_formed(token: &str) -> bool {
    token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit())
}

/// What is stored of a token: its SHA-256.
pub fn digest(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_is_read_from_the_cookie_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_static("a=1; courtyard_session=abc; b=2"));
        assert_eq!(token_from_headers(&headers).as_deref(), Some("abc"));
    }

    #[test]
    fn bearer_token_is_used_without_a_cookie() {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer xyz"));
        assert_eq!(token_from_headers(&headers).as_deref(), Some("xyz"));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic xyz"));
        assert_eq!(token_from_headers(&headers), None);
    }

    #[test]
    fn session_cookie_is_http_only_and_lax() {
        let cookie = set_cookie("abc", &Settings::default());
        let text = cookie.to_str().unwrap();
        assert!(text.starts_with("courtyard_session=abc;"));
        assert!(text.contains("HttpOnly") && text.contains("SameSite=Lax"));
    }
}
