//! Reads everything of a group its pages show (groups are small: hundreds of
//! members, thousands of rows).

use crate::{
    backend::groups::{self, Member},
    error::AppError,
    model::GroupData,
};
use sqlx::PgConnection;

pub async fn load(conn: &mut PgConnection, member: &Member) -> Result<GroupData, AppError> {
    let s = member.group.schema.ident();
    let members = groups::members(&mut *conn, &member.group).await?;
    let announcements = sqlx::query_as(&format!("SELECT * FROM {s}.announcements")).fetch_all(&mut *conn).await?;
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
    })
}
