//! Reads everything of a group its pages show (groups are small: hundreds of
//! members, thousands of rows), or all of it but the notice board past its
//! first page.

use crate::{
    backend::groups::{self, Member},
    error::AppError,
    model::{Announcement, GroupData},
};
use sqlx::{PgConnection, PgPool};

/// Reads the group from one snapshot (a read-only repeatable-read
/// transaction); with `notices = Some(n)`, the board's first `n` notices
/// (its order: pinned, then newest) and a count of the rest.
pub async fn load(pool: &PgPool, member: &Member, notices: Option<usize>) -> Result<GroupData, AppError> {
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY").execute(&mut *tx).await?;
    let data = read(&mut tx, member, notices).await?;
    tx.commit().await?;
    Ok(data)
}

async fn read(conn: &mut PgConnection, member: &Member, notices: Option<usize>) -> Result<GroupData, AppError> {
    let s = member.group.schema.ident();
    let members = groups::members(&mut *conn, &member.group).await?;
    let (announcements, notices_left_out) = match notices {
        None => (sqlx::query_as(&format!("SELECT * FROM {s}.announcements")).fetch_all(&mut *conn).await?, 0),
        Some(n) => {
            let first: Vec<Announcement> = sqlx::query_as(&format!(
                "SELECT * FROM {s}.announcements ORDER BY pinned DESC, created_at DESC, id LIMIT $1"
            ))
            .bind(n as i64)
            .fetch_all(&mut *conn)
            .await?;
            let total: i64 =
                sqlx::query_scalar(&format!("SELECT count(*) FROM {s}.announcements")).fetch_one(&mut *conn).await?;
            let left_out = (total as usize).saturating_sub(first.len());
            (first, left_out)
        }
    };
    let requests = sqlx::query_as(&format!("SELECT * FROM {s}.requests")).fetch_all(&mut *conn).await?;
    let comments = sqlx::query_as(&format!("SELECT * FROM {s}.request_comments")).fetch_all(&mut *conn).await?;
    let resources = sqlx::query_as(&format!("SELECT * FROM {s}.resources")).fetch_all(&mut *conn).await?;
    let bookings = sqlx::query_as(&format!("SELECT * FROM {s}.bookings")).fetch_all(&mut *conn).await?;
    Ok(GroupData {
        group: member.summary(),
        me: member.user_id,
        members,
        announcements,
        requests,
        comments,
        resources,
        bookings,
        notices_left_out,
    })
}
