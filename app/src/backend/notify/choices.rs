//! Each member's choices of mail from a group (`mail_preferences`), and the
//! one-click unsubscribe links (RFC 8058) each notification carries: a link
//! whose token is its only credential (a mail provider posts to it with no
//! session), stopping one kind of mail from one group. One link per member,
//! group and kind, in every message of that kind; it works while the
//! membership lasts. The token is kept as is (every message must carry it,
//! and all it can do is stop that mail).

use crate::{
    backend::{
        auth::session::{new_token, well_formed},
        groups::Member,
        AppState,
    },
    error::AppError,
    model::{MailChoices, MailKind, Unsubscribe},
};
use sqlx::PgExecutor;
use uuid::Uuid;

/// The member's choices (all on if they never changed them).
pub async fn get(state: &AppState, member: &Member) -> Result<MailChoices, AppError> {
    let found: Option<MailChoices> =
        sqlx::query_as("SELECT notices, requests, bookings FROM mail_preferences WHERE user_id = $1 AND group_id = $2")
            .bind(member.user_id)
            .bind(member.group.id)
            .fetch_optional(state.registry())
            .await?;
    Ok(found.unwrap_or_default())
}

/// Sets the member's choices.
pub async fn set(state: &AppState, member: &Member, choices: MailChoices) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO mail_preferences (user_id, group_id, notices, requests, bookings) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (user_id, group_id) DO UPDATE
         SET notices = EXCLUDED.notices, requests = EXCLUDED.requests, bookings = EXCLUDED.bookings",
    )
    .bind(member.user_id)
    .bind(member.group.id)
    .bind(choices.notices)
    .bind(choices.requests)
    .bind(choices.bookings)
    .execute(state.registry())
    .await?;
    Ok(())
}

/// The member's unsubscribe link for `kind` from the group (made the first
/// time): its token.
pub async fn link(db: impl PgExecutor<'_>, user_id: Uuid, group_id: Uuid, kind: MailKind) -> Result<String, AppError> {
    Ok(sqlx::query_scalar(
        "INSERT INTO unsubscribe_links (token, user_id, group_id, kind) VALUES ($1, $2, $3, $4)
         ON CONFLICT (user_id, group_id, kind) DO UPDATE SET kind = EXCLUDED.kind RETURNING token",
    )
    .bind(new_token())
    .bind(user_id)
    .bind(group_id)
    .bind(kind.as_str())
    .fetch_one(db)
    .await?)
}

#[derive(sqlx::FromRow)]
struct Link {
    user_id: Uuid,
    group_id: Uuid,
    kind: String,
    group_name: String,
    group_slug: String,
    still_on: Option<bool>,
}

async fn find(state: &AppState, token: &str) -> Result<(Link, MailKind), AppError> {
    if !well_formed(token) {
        return Err(AppError::NotFound);
    }
    let link: Option<Link> = sqlx::query_as(
        "SELECT l.user_id, l.group_id, l.kind, g.name AS group_name, g.slug AS group_slug,
                CASE l.kind WHEN 'notices' THEN p.notices WHEN 'requests' THEN p.requests ELSE p.bookings END AS still_on
         FROM unsubscribe_links l
         JOIN groups g ON g.id = l.group_id
         LEFT JOIN mail_preferences p ON p.user_id = l.user_id AND p.group_id = l.group_id
         WHERE l.token = $1",
    )
    .bind(token)
    .fetch_optional(state.registry())
    .await?;
    let link = link.ok_or(AppError::NotFound)?;
    let kind = MailKind::parse(&link.kind).ok_or(AppError::Internal)?;
    Ok((link, kind))
}

/// What the link stops; 404 for an unknown or ended one (its owner left the
/// group).
pub async fn info(state: &AppState, token: &str) -> Result<Unsubscribe, AppError> {
    let (link, kind) = find(state, token).await?;
    Ok(Unsubscribe {
        group_name: link.group_name,
        group_slug: link.group_slug,
        kind,
        on: link.still_on.unwrap_or(true),
    })
}

/// Stops the mail the link names (again: nothing changes); what it stopped.
pub async fn unsubscribe(state: &AppState, token: &str) -> Result<Unsubscribe, AppError> {
    let (link, kind) = find(state, token).await?;
    let column = kind.as_str();
    sqlx::query(&format!(
        "INSERT INTO mail_preferences (user_id, group_id, {column}) VALUES ($1, $2, false)
         ON CONFLICT (user_id, group_id) DO UPDATE SET {column} = false"
    ))
    .bind(link.user_id)
    .bind(link.group_id)
    .execute(state.registry())
    .await?;
    tracing::info!(user.id = %link.user_id, group.slug = %link.group_slug, kind = column, "unsubscribed by link");
    Ok(Unsubscribe { group_name: link.group_name, group_slug: link.group_slug, kind, on: false })
}
