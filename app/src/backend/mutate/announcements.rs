//! `announcement.*` mutations.

use super::{id_taken, missing, require_owner_or_admin, Failure};
use crate::{
    backend::groups::Member,
    error::AppError,
    model::mutation::{AnnouncementCreate, AnnouncementPin, AnnouncementUpdate},
};
use sqlx::PgConnection;
use uuid::Uuid;

pub async fn create(conn: &mut PgConnection, member: &Member, args: &AnnouncementCreate) -> Result<(), Failure> {
    sqlx::query(&format!(
        "INSERT INTO {}.announcements (id, author_id, title, body) VALUES ($1, $2, $3, $4)",
        member.group.schema.ident()
    ))
    .bind(args.id)
    .bind(member.user_id)
    .bind(&args.title)
    .bind(&args.body)
    .execute(conn)
    .await
    .map_err(id_taken)?;
    Ok(())
}

pub async fn update(conn: &mut PgConnection, member: &Member, args: &AnnouncementUpdate) -> Result<(), Failure> {
    let author = author_of(conn, member, args.id).await?;
    require_owner_or_admin(member, author, "edit this announcement")?;
    sqlx::query(&format!(
        "UPDATE {}.announcements SET title = coalesce($2, title), body = coalesce($3, body), updated_at = now()
         WHERE id = $1",
        member.group.schema.ident()
    ))
    .bind(args.id)
    .bind(&args.title)
    .bind(&args.body)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn pin(conn: &mut PgConnection, member: &Member, args: &AnnouncementPin) -> Result<(), Failure> {
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
        return Err(missing("announcement").into());
    }
    Ok(())
}

pub async fn delete(conn: &mut PgConnection, member: &Member, id: Uuid) -> Result<(), Failure> {
    let author = author_of(conn, member, id).await?;
    require_owner_or_admin(member, author, "delete this announcement")?;
    let schema = member.group.schema.ident();
    // Its readers' marks go with it.
    sqlx::query(&format!("DELETE FROM {schema}.read_marks WHERE subject_id = $1")).bind(id).execute(&mut *conn).await?;
    sqlx::query(&format!("DELETE FROM {schema}.announcements WHERE id = $1")).bind(id).execute(conn).await?;
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
