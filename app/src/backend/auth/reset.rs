//! Password reset by email: asked for with an address (accepted whether or
//! not it has an account, so the answer tells nobody who has one), then
//! done with the emailed link's token and a new password, which ends every
//! session of the account and starts one.

use super::{
    email_link::{self, Purpose},
    password, session, throttle,
    throttle::Limit,
};
use crate::{
    backend::{
        mail::{self, Mail, Part},
        AppState, Settings,
    },
    error::AppError,
    model::{validate, UserInfo},
};
use uuid::Uuid;

/// Sends a reset link to `email` if an account has it. 422 for what is not
/// an email address; 429 past the limits per address and per client.
pub async fn request(state: &AppState, email: &str, client: &super::Client) -> Result<(), AppError> {
    let email = validate::email(email)?;
    let limits = &state.settings.reset_limits;
    throttle::count(
        state.registry(),
        limits.window,
        &[
            Limit { kind: "reset.email", key: Some(email.clone()), max: limits.per_email },
            Limit { kind: "reset.ip", key: throttle::ip_key(client.ip), max: limits.per_ip },
        ],
    )
    .await?;
    let mut tx = state.registry().begin().await?;
    let user: Option<(Uuid, String)> =
        sqlx::query_as("SELECT id, name FROM users WHERE email = $1").bind(&email).fetch_optional(&mut *tx).await?;
    if let Some((user_id, name)) = user {
        let ttl = state.settings.reset_link_ttl;
        let token = email_link::create(&mut *tx, Purpose::Reset, user_id, &email, ttl).await?;
        mail::queue(&mut *tx, &link_mail(&state.settings, &email, &name, &token)).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Sets the password of the account the link `token` was sent for, ends
/// its sessions and starts one (returned with the user). 404 when the link
/// is unknown, used, expired, or went to an address the account no longer
/// has; 422 for a password the rules refuse.
pub async fn complete(
    state: &AppState,
    token: &str,
    new_password: &str,
    client: &super::Client,
) -> Result<(UserInfo, String), AppError> {
    // A dead link is told before the (deliberately slow) hashing.
    email_link::peek(state.registry(), &[Purpose::Reset], token).await?;
    let new_password = validate::password(new_password)?.to_owned();
    let hash = password::hash(&state.hashing, new_password).await?;
    let mut tx = state.registry().begin().await?;
    let link = email_link::take(&mut *tx, &[Purpose::Reset], token).await?;
    // The address it went to proved to be the person's: it is verified too.
    let user: Option<(String,)> = sqlx::query_as(
        "UPDATE users SET password_hash = $3, email_verified_at = coalesce(email_verified_at, now())
         WHERE id = $1 AND email = $2 RETURNING name",
    )
    .bind(link.user_id)
    .bind(&link.email)
    .bind(&hash)
    .fetch_optional(&mut *tx)
    .await?;
    let (name,) = user.ok_or(AppError::NotFound)?;
    email_link::withdraw_all(&mut *tx, link.user_id).await?;
    crate::backend::calendar::stop_all(&mut *tx, link.user_id, None).await?;
    session::end_others(&mut *tx, link.user_id, None).await?;
    throttle::succeeded(&mut *tx, &link.email).await?;
    let session = session::create(&mut *tx, link.user_id, &state.settings, client).await?;
    mail::queue(&mut *tx, &changed_mail(&state.settings, &link.email, &name)).await?;
    tx.commit().await?;
    let user = UserInfo { id: link.user_id, email: link.email, name, email_verified: true };
    Ok((user, session))
}

fn link_mail(settings: &Settings, email: &str, name: &str, token: &str) -> Mail {
    let asked = format!("Someone, we hope you, asked to reset the password of your Courtyard account {email}.");
    let lasts = format!(
        "The link works once, for {}. If you did not ask, ignore this message: your password stays as it is.",
        mail::lasts(settings.reset_link_ttl)
    );
    Mail::compose(
        settings,
        email,
        "Reset your Courtyard password",
        &format!("Hello {name},"),
        &[Part::Text(&asked), Part::Link("Choose a new password", &Purpose::Reset.path(token)), Part::Text(&lasts)],
    )
}

fn changed_mail(settings: &Settings, email: &str, name: &str) -> Mail {
    Mail::compose(
        settings,
        email,
        "Your Courtyard password was changed",
        &format!("Hello {name},"),
        &[
            Part::Text("The password of your Courtyard account was just changed, and every device signed in to it was signed out."),
            Part::Text("If that was not you, choose a new password at once:"),
            Part::Link("Reset my password", "/forgot"),
        ],
    )
}
