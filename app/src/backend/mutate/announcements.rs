//! `announcement.*` mutations.

use super::{id_taken, missing, require_owner_or_admin};
use crate::{
    backend::groups::Member,
    error::AppError,
    model::{
        mutation::{AnnouncementCreate, AnnouncementPin, AnnouncementUpdate},
        validate,
    },
};
use sqlx::PgConnection;
use uuid::Uuid;

pub async fn create(conn: &mut PgConnection, member: &Member, args: &AnnouncementCreate) -> Result<(), AppError> {
    let title = validate::title(&args.title)?;
    let body = validate::text("body", &args.body, false)?;
    sqlx::query(&format!(
        "INSERT INTO {}.announcements (id, author_id, title, body) VALUES ($1, $2, $3, $4)",
        member.group.schema.ident()
    ))
    .bind(args.id)
    .bind(member.user_id)
    .bind(title)
    .bind(body)
    .execute(conn)
    .await
    .map_err(id_taken)?;
    Ok(())
}

pub async fn update(conn: &mut PgConnection, member: &Member, args: &AnnouncementUpdate) -> Result<(), AppError> {
    let title = args.title.as_deref().map(validate::title).transpose()?;
    let body = args.body.as_deref().map(|b| validate::text("body", b, false)).transpose()?;
    if title.is_none() && body.is_none() {
        return Err(AppError::validation("title", "nothing to change: give a title or a body"));
    }
    let author = author_of(conn, member, args.id).await?;
    require_owner_or_admin(member, author, "edit this announcement")?;
    sqlx::query(&format!(
        "UPDATE {}.announcements SET title = coalesce($2, title), body = coalesce($3, body), updated_at = now()
         WHERE id = $1",
        member.group.schema.ident()
    ))
    .bind(args.id)
    .bind(title)
    .bind(body)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn pin(conn: &mut PgConnection, member: &Member, args: &AnnouncementPin) -> Result<(), AppError> {
    member.require_admin("pin announcements")?;
    let updated = sqlx::query(&format!(
        "UPDATE {}.announcements SET pinned = $2, updated_at = now() WHERE id = $1",
        member.group.schema.ident()
    ))
    .bind(args.id)
    .bind(args.pinned)
    .execute(conn)
    .await?;
    if updated.rows_affected() == 0 {
        return Err(missing("announcement"));
    }
    Ok(())
}

pub async fn delete(conn: &mut PgConnection, member: &Member, id: Uuid) -> Result<(), AppError> {
    let author = author_of(conn, member, id).await?;
    require_owner_or_admin(member, author, "delete this announcement")?;
    sqlx::query(&format!("DELETE FROM {}.announcements WHERE id = $1", member.group.schema.ident()))
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// The author of an announcement, locking it for the rest of the mutation.
async fn author_of(conn: &mut PgConnection, member: &Member, id: Uuid) -> Result<Uuid, AppError> {
    sqlx::query_scalar(&format!(
        "SELECT author_id FROM {}.announcements WHERE id = $1 FOR UPDATE",
        member.group.schema.ident()
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?
    .ok_or_else(|| missing("announcement"))
}
