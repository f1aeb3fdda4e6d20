//! `read.mark`: how far a member has seen a notice or a request. A mark
//! only ever moves forward, and never past the change it records (the
//! subject's `updated_at`, whatever the clocks say).

use super::Failure;
use crate::{
    backend::groups::Member,
    model::{mutation::MarkRead, ReadMark},
};
use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

/// Records the member's mark; nothing for a subject that is gone (deleted
/// while the mark waited in a browser's outbox: there is nothing left to
/// mark, and it is not the resident's mistake).
pub async fn mark(conn: &mut PgConnection, member: &Member, args: &MarkRead) -> Result<(), Failure> {
    record(conn, member, args.subject_id, Some(args.seen_at)).await
}

/// Marks `subject` seen by `member` now: acting on a request (opening it,
/// commenting, changing its status) is seeing it.
pub async fn seen_now(conn: &mut PgConnection, member: &Member, subject: Uuid) -> Result<(), Failure> {
    record(conn, member, subject, None).await
}

async fn record(
    conn: &mut PgConnection,
    member: &Member,
    subject: Uuid,
    seen_at: Option<DateTime<Utc>>,
) -> Result<(), Failure> {
    let schema = member.group.schema.ident();
    sqlx::query(&format!(
        "INSERT INTO {schema}.read_marks (id, member_id, subject_id, seen_at)
         SELECT $1, $2, $3, least(coalesce($4, now()), s.updated_at)
         FROM (SELECT updated_at FROM {schema}.announcements WHERE id = $3
               UNION ALL SELECT updated_at FROM {schema}.requests WHERE id = $3) s
         LIMIT 1
         ON CONFLICT (id) DO UPDATE SET seen_at = EXCLUDED.seen_at WHERE read_marks.seen_at < EXCLUDED.seen_at"
    ))
    .bind(ReadMark::key_of(subject, member.user_id))
    .bind(member.user_id)
    .bind(subject)
    .bind(seen_at)
    .execute(conn)
    .await?;
    Ok(())
}
