//! `file.*` mutations: naming uploaded bytes in the group (a photo on a
//! request or comment, a document in the library) and removing a file.

use super::{id_taken, missing, require_owner_or_admin, Failure};
use crate::{
    backend::groups::Member,
    error::AppError,
    model::{mutation::FileAttach, views::MAX_PHOTOS},
};
use sqlx::PgConnection;
use uuid::Uuid;

/// Names a stored blob (`backend::files::upload`) as a file. Photos on a
/// request are images, by anyone; documents are added by admins. The blob
/// row is locked, so the sweep never deletes what this names.
pub async fn attach(conn: &mut PgConnection, member: &Member, args: &FileAttach) -> Result<(), Failure> {
    let s = member.group.schema.ident();
    // Content no file names (removed, or never attached) is named only by
    // those who sent it: not by someone who knows its checksum.
    let blob: Option<(String, i32, bool)> = sqlx::query_as(&format!(
        "SELECT content_type, size, thumb FROM {s}.blobs
          WHERE sha256 = $1 AND (released_at IS NULL OR $2 = ANY (uploaders)) FOR UPDATE"
    ))
    .bind(&args.sha256)
    .bind(member.user_id)
    .fetch_optional(&mut *conn)
    .await?;
    let (content_type, size, thumb) =
        blob.ok_or_else(|| AppError::validation("sha256", "the file's bytes have not been uploaded"))?;
    match args.request_id {
        Some(request) => {
            let found = match args.comment_id {
                None => sqlx::query_scalar::<_, Uuid>(&format!("SELECT id FROM {s}.requests WHERE id = $1"))
                    .bind(request)
                    .fetch_optional(&mut *conn)
                    .await?
                    .is_some(),
                Some(comment) => sqlx::query_scalar::<_, Uuid>(&format!(
                    "SELECT id FROM {s}.request_comments WHERE id = $1 AND request_id = $2"
                ))
                .bind(comment)
                .bind(request)
                .fetch_optional(&mut *conn)
                .await?
                .is_some(),
            };
            if !found {
                return Err(missing(if args.comment_id.is_some() { "comment" } else { "request" }).into());
            }
            let photos: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {s}.files WHERE request_id = $1"))
                .bind(request)
                .fetch_one(&mut *conn)
                .await?;
            if photos >= MAX_PHOTOS as i64 {
                return Err(AppError::Conflict(format!("a request has at most {MAX_PHOTOS} photos")).into());
            }
            if !content_type.starts_with("image/") {
                return Err(
                    AppError::UnsupportedType("a request's photos are images (JPEG, PNG or WebP)".into()).into()
                );
            }
        }
        None => member.require_admin("add documents to the library")?,
    }
    sqlx::query(&format!(
        "INSERT INTO {s}.files (id, uploader_id, request_id, comment_id, name, content_type, size, sha256, thumb)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
    ))
    .bind(args.id)
    .bind(member.user_id)
    .bind(args.request_id)
    .bind(args.comment_id)
    .bind(&args.name)
    .bind(&content_type)
    .bind(size)
    .bind(&args.sha256)
    .bind(thumb)
    .execute(&mut *conn)
    .await
    .map_err(id_taken)?;
    sqlx::query(&format!("UPDATE {s}.blobs SET released_at = NULL WHERE sha256 = $1"))
        .bind(&args.sha256)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Whoever added a file, or an admin, removes it; its bytes go once the
/// log's retention has passed (`backend::files::sweep`).
pub async fn remove(conn: &mut PgConnection, member: &Member, id: Uuid) -> Result<(), Failure> {
    let s = member.group.schema.ident();
    let uploader: Uuid = sqlx::query_scalar(&format!("SELECT uploader_id FROM {s}.files WHERE id = $1 FOR UPDATE"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| missing("file"))?;
    require_owner_or_admin(member, uploader, "remove a file")?;
    sqlx::query(&format!("DELETE FROM {s}.files WHERE id = $1")).bind(id).execute(&mut *conn).await?;
    Ok(())
}
