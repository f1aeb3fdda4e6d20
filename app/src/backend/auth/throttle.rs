//! Sign-in rate limits: too many failed attempts for one account, or from
//! one client address, within the window answer 429 with `Retry-After`
//! (before any password is checked). Counted in Postgres, so every server
//! process sees the same attempts.

use crate::{backend::state::LoginLimits, error::AppError};
use sqlx::{postgres::types::PgInterval, PgExecutor};
use std::net::IpAddr;

/// Refuses when the account or the address has used up its failures;
/// `retry_after` is when the oldest counted failure leaves the window.
pub async fn check(
    db: impl PgExecutor<'_>,
    limits: &LoginLimits,
    email: &str,
    ip: Option<IpAddr>,
) -> Result<(), AppError> {
    let window = interval(limits);
    let ip = ip.map(|ip| ip.to_string());
    let waits: Option<f64> = sqlx::query_scalar(
        "WITH recent AS (
             SELECT email = $1 AS by_account, $2::text IS NOT NULL AND ip = $2 AS by_ip, at
             FROM login_failures
             WHERE at > now() - $3::interval AND (email = $1 OR ip = $2)
         ), blocked AS (
             SELECT (SELECT at FROM recent WHERE by_account ORDER BY at DESC OFFSET $4::bigint - 1 LIMIT 1) AS account_at,
                    (SELECT at FROM recent WHERE by_ip ORDER BY at DESC OFFSET $5::bigint - 1 LIMIT 1) AS ip_at
         )
         SELECT extract(epoch FROM greatest(account_at, ip_at) + $3::interval - now())::float8
         FROM blocked WHERE account_at IS NOT NULL OR ip_at IS NOT NULL",
    )
    .bind(email)
    .bind(ip)
    .bind(window)
    .bind(limits.per_account)
    .bind(limits.per_ip)
    .fetch_optional(db)
    .await?
    .flatten();
    match waits {
        Some(seconds) => Err(AppError::RateLimited { retry_after_secs: seconds.ceil().max(1.0) as u64 }),
        None => Ok(()),
    }
}

/// Counts a failed attempt (and forgets attempts older than the window).
pub async fn failed(
    db: impl PgExecutor<'_>,
    limits: &LoginLimits,
    email: &str,
    ip: Option<IpAddr>,
) -> Result<(), AppError> {
    let ip = ip.map(|ip| ip.to_string());
    sqlx::query(
        "WITH forgotten AS (DELETE FROM login_failures WHERE at < now() - $3::interval)
         INSERT INTO login_failures (email, ip) VALUES ($1, $2)",
    )
    .bind(email)
    .bind(ip)
    .bind(interval(limits))
    .execute(db)
    .await?;
    Ok(())
}

/// A successful sign-in clears the account's failures.
pub async fn succeeded(db: impl PgExecutor<'_>, email: &str) -> Result<(), AppError> {
    sqlx::query("DELETE FROM login_failures WHERE email = $1").bind(email).execute(db).await?;
    Ok(())
}

fn interval(limits: &LoginLimits) -> PgInterval {
    PgInterval { months: 0, days: 0, microseconds: limits.window.num_microseconds().unwrap_or(i64::MAX) }
}
