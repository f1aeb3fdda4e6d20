//! Sign-in and sign-up rate limits, counted in Postgres so every server
//! process sees the same attempts.
//!
//! A sign-in attempt is counted (reserved as a failure) before its password
//! is checked, under advisory locks on the account and the address, so
//! parallel attempts cannot all pass the check: with a limit of 5, twenty
//! concurrent wrong passwords check at most 5. A right password clears the
//! account's failures, its own reservation included. Sign-ups are counted
//! per address the same way, before the password is hashed. An IPv6
//! address counts by its /64 (one subscriber's network: a client can pick
//! any address in it), an IPv4 address by itself.

use crate::{
    backend::state::{LoginLimits, SignupLimits},
    error::AppError,
};
use sqlx::{postgres::types::PgInterval, PgPool};
use std::net::IpAddr;

/// A sign-in attempt counted as a failure until it succeeds.
pub struct Reservation(i64);

/// Counts a sign-in attempt for `email` from `ip`, or refuses with 429 when
/// the account or the address has used up its failures in the window
/// (`retry_after`: when the oldest counted failure leaves it).
pub async fn reserve_login(
    pool: &PgPool,
    limits: &LoginLimits,
    email: &str,
    ip: Option<IpAddr>,
) -> Result<Reservation, AppError> {
    let ip = ip.map(address_key);
    let mut tx = pool.begin().await?;
    // Account first, then address: one order, so two attempts never wait on each other in a cycle.
    lock(&mut tx, "login.account", email).await?;
    if let Some(ip) = &ip {
        lock(&mut tx, "login.ip", ip).await?;
    }
    let window = interval(limits.window);
    let waits: Option<f64> = sqlx::query_scalar(
        "WITH forgotten AS (DELETE FROM login_failures WHERE at < now() - $3::interval),
         recent AS (
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
    .bind(&ip)
    .bind(window)
    .bind(limits.per_account)
    .bind(limits.per_ip)
    .fetch_optional(&mut *tx)
    .await?
    .flatten();
    refuse_for(waits)?;
    let id = sqlx::query_scalar("INSERT INTO login_failures (email, ip) VALUES ($1, $2) RETURNING id")
        .bind(email)
        .bind(&ip)
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Reservation(id))
}

/// Uncounts an attempt that never got to check its password (the server
/// was too busy), so a person is not locked out by the server's load.
pub async fn release_login(pool: &PgPool, reservation: Reservation) -> Result<(), AppError> {
    sqlx::query("DELETE FROM login_failures WHERE id = $1").bind(reservation.0).execute(pool).await?;
    Ok(())
}

/// A successful sign-in clears the account's failures (its reservation too).
pub async fn succeeded(db: impl sqlx::PgExecutor<'_>, email: &str) -> Result<(), AppError> {
    sqlx::query("DELETE FROM login_failures WHERE email = $1").bind(email).execute(db).await?;
    Ok(())
}

/// Counts a sign-up from `ip`, or refuses with 429 when the address has
/// signed up `limits.per_ip` times in the window. Without an address (no
/// connection info) there is nothing to count.
pub async fn reserve_signup(
    pool: &PgPool,
    limits: &SignupLimits,
    ip: Option<IpAddr>,
) -> Result<Option<Reservation>, AppError> {
    let Some(ip) = ip.map(address_key) else { return Ok(None) };
    let mut tx = pool.begin().await?;
    lock(&mut tx, "signup.ip", &ip).await?;
    let window = interval(limits.window);
    let waits: Option<f64> = sqlx::query_scalar(
        "WITH forgotten AS (DELETE FROM signups WHERE at < now() - $2::interval)
         SELECT extract(epoch FROM at + $2::interval - now())::float8 FROM signups
         WHERE ip = $1 AND at > now() - $2::interval
         ORDER BY at DESC OFFSET $3::bigint - 1 LIMIT 1",
    )
    .bind(&ip)
    .bind(window)
    .bind(limits.per_ip)
    .fetch_optional(&mut *tx)
    .await?
    .flatten();
    refuse_for(waits)?;
    let id =
        sqlx::query_scalar("INSERT INTO signups (ip) VALUES ($1) RETURNING id").bind(&ip).fetch_one(&mut *tx).await?;
    tx.commit().await?;
    Ok(Some(Reservation(id)))
}

/// Uncounts a sign-up that never got to hash its password (the server was
/// too busy).
pub async fn release_signup(pool: &PgPool, reservation: Option<Reservation>) -> Result<(), AppError> {
    if let Some(Reservation(id)) = reservation {
        sqlx::query("DELETE FROM signups WHERE id = $1").bind(id).execute(pool).await?;
    }
    Ok(())
}

/// A limit on one kind of request per key: requests of `kind` ("reset.email")
/// counted under `key` (an email, an address; none: not counted), at most
/// `max` in the window.
pub struct Limit {
    pub kind: &'static str,
    pub key: Option<String>,
    pub max: i64,
}

/// Counts a request against each of `limits`, or refuses with 429
/// (counting nothing) when one of them is used up within `window`.
pub async fn count(pool: &PgPool, window: chrono::Duration, limits: &[Limit]) -> Result<(), AppError> {
    let window = interval(window);
    let mut tx = pool.begin().await?;
    // Locked in the order given: callers list their limits in one order.
    for limit in limits {
        let Some(key) = &limit.key else { continue };
        lock(&mut tx, limit.kind, key).await?;
        let waits: Option<f64> = sqlx::query_scalar(
            "WITH forgotten AS (DELETE FROM throttle_events WHERE kind = $1 AND at < now() - $3::interval)
             SELECT extract(epoch FROM at + $3::interval - now())::float8 FROM throttle_events
             WHERE kind = $1 AND key = $2 AND at > now() - $3::interval
             ORDER BY at DESC OFFSET $4::bigint - 1 LIMIT 1",
        )
        .bind(limit.kind)
        .bind(key)
        .bind(window)
        .bind(limit.max)
        .fetch_optional(&mut *tx)
        .await?
        .flatten();
        refuse_for(waits)?;
        sqlx::query("INSERT INTO throttle_events (kind, key) VALUES ($1, $2)")
            .bind(limit.kind)
            .bind(key)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The key a client address is counted under (see [`address_key`]).
pub fn ip_key(ip: Option<IpAddr>) -> Option<String> {
    ip.map(address_key)
}

/// What a client address counts as: an IPv4 address (or one mapped into
/// IPv6) itself, an IPv6 address its /64.
fn address_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

/// A transaction-scoped advisory lock on `key` in the namespace `what`.
async fn lock(tx: &mut sqlx::PgConnection, what: &str, key: &str) -> Result<(), AppError> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1 || ':' || $2, 0))")
        .bind(what)
        .bind(key)
        .execute(tx)
        .await?;
    Ok(())
}

/// 429 for as many seconds as the limit still holds, if it does.
fn refuse_for(waits: Option<f64>) -> Result<(), AppError> {
    match waits {
        Some(seconds) => Err(AppError::RateLimited { retry_after_secs: seconds.ceil().max(1.0) as u64 }),
        None => Ok(()),
    }
}

fn interval(window: chrono::Duration) -> PgInterval {
    PgInterval { months: 0, days: 0, microseconds: window.num_microseconds().unwrap_or(i64::MAX) }
}

#[cfg(test)]
mod tests {
    use super::address_key;

    #[test]
    fn an_ipv6_network_counts_as_one_address() {
        let key = |text: &str| address_key(text.parse().unwrap());
        assert_eq!(key("2001:db8:1:2:aaaa::1"), key("2001:db8:1:2:bbbb:cccc:dddd:eeee"));
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        assert_eq!(key("::ffff:192.0.2.7"), key("192.0.2.7"));
        assert_ne!(key("192.0.2.7"), key("192.0.2.8"));
    }
}
