//! Single-use links sent by email (`email_links`): a random token in the
//! link, only its SHA-256 stored, tied to the account and to the address it
//! was sent to, working until it expires or is used.

use super::session::{digest, new_token, well_formed};
use crate::error::AppError;
use sqlx::PgExecutor;
use uuid::Uuid;

/// What a link is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Choosing a new password (`/reset/{token}`).
    Reset,
    /// Confirming an account's address (`/verify/{token}`).
    Verify,
    /// Confirming a new address for an account, which becomes its address
    /// then (`/verify/{token}` too).
    Change,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Self::Reset => "reset",
            Self::Verify => "verify",
            Self::Change => "change",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        [Self::Reset, Self::Verify, Self::Change].into_iter().find(|p| p.as_str() == text)
    }

    /// The site path the link opens.
    pub fn path(self, token: &str) -> String {
        match self {
            Self::Reset => format!("/reset/{token}"),
            Self::Verify | Self::Change => format!("/verify/{token}"),
        }
    }
}

/// A live link: what for, whose it is and the address it was sent to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub purpose: Purpose,
    pub user_id: Uuid,
    pub email: String,
}

/// Makes a link for `user_id` sent to `email`, working for `ttl`; returns
/// its token (the only copy: it goes into the mail).
pub async fn create(
    db: impl PgExecutor<'_>,
    purpose: Purpose,
    user_id: Uuid,
    email: &str,
    ttl: chrono::Duration,
) -> Result<String, AppError> {
    let token = new_token();
    sqlx::query(
        "INSERT INTO email_links (token_hash, purpose, user_id, email, expires_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(digest(&token))
    .bind(purpose.as_str())
    .bind(user_id)
    .bind(email)
    .bind(chrono::Utc::now() + ttl)
    .execute(db)
    .await?;
    Ok(token)
}

/// The live link `token` names if it is for one of `purposes`, leaving it
/// live; 404 for an unknown, used or expired one.
pub async fn peek(db: impl PgExecutor<'_>, purposes: &[Purpose], token: &str) -> Result<Link, AppError> {
    const SQL: &str = "SELECT purpose, user_id, email FROM email_links \
                       WHERE token_hash = $1 AND purpose = ANY($2) AND expires_at > now()";
    find(db, purposes, token, SQL).await
}

/// Uses the link `token` names if it is for one of `purposes` (it works
/// once); 404 for an unknown, used or expired one.
pub async fn take(db: impl PgExecutor<'_>, purposes: &[Purpose], token: &str) -> Result<Link, AppError> {
    const SQL: &str = "DELETE FROM email_links \
                       WHERE token_hash = $1 AND purpose = ANY($2) AND expires_at > now() \
                       RETURNING purpose, user_id, email";
    find(db, purposes, token, SQL).await
}

async fn find(db: impl PgExecutor<'_>, purposes: &[Purpose], token: &str, sql: &'static str) -> Result<Link, AppError> {
    if !well_formed(token) {
        return Err(AppError::NotFound);
    }
    let purposes: Vec<&str> = purposes.iter().map(|p| p.as_str()).collect();
    let row: Option<(String, Uuid, String)> =
        sqlx::query_as(sql).bind(digest(token)).bind(&purposes).fetch_optional(db).await?;
    let (purpose, user_id, email) = row.ok_or(AppError::NotFound)?;
    let purpose = Purpose::parse(&purpose).ok_or(AppError::Internal)?;
    Ok(Link { purpose, user_id, email })
}

/// Withdraws every link of `user_id` for `purpose` (one was used, or the
/// address changed).
pub async fn withdraw(db: impl PgExecutor<'_>, purpose: Purpose, user_id: Uuid) -> Result<(), AppError> {
    sqlx::query("DELETE FROM email_links WHERE user_id = $1 AND purpose = $2")
        .bind(user_id)
        .bind(purpose.as_str())
        .execute(db)
        .await?;
    Ok(())
}

/// Withdraws every link of `user_id`, whatever for: after a password reset
/// or change, no link anyone asked for before (a change of address, say,
/// by someone who knew the old password) works any more.
pub async fn withdraw_all(db: impl PgExecutor<'_>, user_id: Uuid) -> Result<(), AppError> {
    sqlx::query("DELETE FROM email_links WHERE user_id = $1").bind(user_id).execute(db).await?;
    Ok(())
}

/// Forgets expired links (the mail job calls it now and then).
pub async fn forget_expired(db: impl PgExecutor<'_>) -> Result<u64, AppError> {
    let done = sqlx::query("DELETE FROM email_links WHERE expires_at <= now()").execute(db).await?;
    Ok(done.rows_affected())
}
