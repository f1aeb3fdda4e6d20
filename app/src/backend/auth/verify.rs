//! Email verification: a link sent to an account's address (at sign-up, or
//! when asked again); following it marks the address verified. Until then
//! the app works, and its pages ask the person to verify.

use super::{
    email_link::{self, Purpose},
    throttle,
    throttle::Limit,
};
use crate::{
    backend::{
        mail::{self, Mail, Part},
        AppState, Settings,
    },
    error::AppError,
    model::UserInfo,
};
use sqlx::PgConnection;

/// Queues the mail asking `user` to confirm their address.
pub async fn send(db: &mut PgConnection, settings: &Settings, user: &UserInfo) -> Result<(), AppError> {
    let token = email_link::create(&mut *db, Purpose::Verify, user.id, &user.email, settings.verify_link_ttl).await?;
    let ask = format!("Please confirm that {} is your address: Courtyard sends you mail there.", user.email);
    let lasts = format!("The link works for {}.", mail::lasts(settings.verify_link_ttl));
    let mail = Mail::compose(
        settings,
        &user.email,
        "Confirm your email for Courtyard",
        &format!("Hello {},", user.name),
        &[Part::Text(&ask), Part::Link("Confirm my email", &Purpose::Verify.path(&token)), Part::Text(&lasts)],
    );
    mail::queue(&mut *db, &mail).await
}

/// Sends the link again (at most `reset_limits.per_email` times in its
/// window: 429 past it). Nothing is sent for an address already verified.
pub async fn resend(state: &AppState, user: &UserInfo) -> Result<(), AppError> {
    if user.email_verified {
        return Ok(());
    }
    let limits = &state.settings.reset_limits;
    let limit = Limit { kind: "verify.user", key: Some(user.id.to_string()), max: limits.per_email };
    throttle::count(state.registry(), limits.window, &[limit]).await?;
    let mut tx = state.registry().begin().await?;
    send(&mut tx, &state.settings, user).await?;
    tx.commit().await?;
    Ok(())
}

/// Follows a verification link: the address it went to is verified, and,
/// for a link to a new address, becomes the account's (the old address is
/// told). Returns the address. No sign-in needed (the link may be opened on
/// another device). 404 when the link is unknown, used or expired, or (to
/// verify) the account's address changed since; 409 when another account
/// took the new address meanwhile.
pub async fn confirm(state: &AppState, token: &str) -> Result<String, AppError> {
    let mut tx = state.registry().begin().await?;
    let link = email_link::take(&mut *tx, &[Purpose::Verify, Purpose::Change], token).await?;
    match link.purpose {
        Purpose::Change => {
            let old: Option<(String, String)> =
                sqlx::query_as("SELECT email, name FROM users WHERE id = $1 FOR UPDATE")
                    .bind(link.user_id)
                    .fetch_optional(&mut *tx)
                    .await?;
            let (old, name) = old.ok_or(AppError::NotFound)?;
            sqlx::query("UPDATE users SET email = $2, email_verified_at = now() WHERE id = $1")
                .bind(link.user_id)
                .bind(&link.email)
                .execute(&mut *tx)
                .await
                .map_err(|error| match AppError::from(error) {
                    AppError::Conflict(_) => AppError::Conflict("another account has that email now".into()),
                    other => other,
                })?;
            // Links sent to the old address stop working.
            for purpose in [Purpose::Reset, Purpose::Verify, Purpose::Change] {
                email_link::withdraw(&mut *tx, purpose, link.user_id).await?;
            }
            if old != link.email {
                let told =
                    format!("The email of your Courtyard account is now {}: mail goes there from now on.", link.email);
                let mail = Mail::compose(
                    &state.settings,
                    &old,
                    "Your Courtyard email was changed",
                    &format!("Hello {name},"),
                    &[
                        Part::Text(&told),
                        Part::Text("If that was not you, reset your password at once:"),
                        Part::Link("Reset my password", "/forgot"),
                    ],
                );
                mail::queue(&mut *tx, &mail).await?;
            }
        }
        _ => {
            let verified = sqlx::query(
                "UPDATE users SET email_verified_at = coalesce(email_verified_at, now()) WHERE id = $1 AND email = $2",
            )
            .bind(link.user_id)
            .bind(&link.email)
            .execute(&mut *tx)
            .await?;
            if verified.rows_affected() == 0 {
                return Err(AppError::NotFound);
            }
            email_link::withdraw(&mut *tx, Purpose::Verify, link.user_id).await?;
        }
    }
    tx.commit().await?;
    Ok(link.email)
}

/// Queues the mail asking to confirm `new_email` as the new address of
/// `user` (who stays at their old one until they follow it).
pub async fn send_change(
    db: &mut PgConnection,
    settings: &Settings,
    user: &UserInfo,
    new_email: &str,
) -> Result<(), AppError> {
    let token = email_link::create(&mut *db, Purpose::Change, user.id, new_email, settings.verify_link_ttl).await?;
    let ask =
        format!("Please confirm that {new_email} is to be the email of your Courtyard account (now {}).", user.email);
    let lasts =
        format!("The link works for {}. Until you follow it, nothing changes.", mail::lasts(settings.verify_link_ttl));
    let mail = Mail::compose(
        settings,
        new_email,
        "Confirm your new email for Courtyard",
        &format!("Hello {},", user.name),
        &[Part::Text(&ask), Part::Link("Confirm my new email", &Purpose::Change.path(&token)), Part::Text(&lasts)],
    );
    mail::queue(&mut *db, &mail).await
}
