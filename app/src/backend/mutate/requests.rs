//! `request.*` mutations: maintenance requests and their comments.

use super::{id_taken, missing, read_marks, Failure};
use crate::{
    backend::groups::Member,
    error::AppError,
    model::{
        mutation::{CommentCreate, RequestCreate, RequestSetStatus},
        RequestStatus, Role,
    },
};
use sqlx::PgConnection;
use uuid::Uuid;

pub async fn create(conn: &mut PgConnection, member: &Member, args: &RequestCreate) -> Result<(), Failure> {
    sqlx::query(&format!(
        "INSERT INTO {}.requests (id, author_id, title, description) VALUES ($1, $2, $3, $4)",
        member.group.schema.ident()
    ))
    .bind(args.id)
    .bind(member.user_id)
    .bind(&args.title)
    .bind(&args.description)
    .execute(&mut *conn)
    .await
    .map_err(id_taken)?;
    read_marks::seen_now(conn, member, args.id).await
}

/// Admins set any status; a request's author may only close (resolve) it.
pub async fn set_status(conn: &mut PgConnection, member: &Member, args: &RequestSetStatus) -> Result<(), Failure> {
    let schema = member.group.schema.ident();
    let author: Uuid = sqlx::query_scalar(&format!("SELECT author_id FROM {schema}.requests WHERE id = $1 FOR UPDATE"))
        .bind(args.id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| missing("request"))?;
    let closing_own = author == member.user_id && args.status == RequestStatus::Resolved;
    if member.role != Role::Admin && !closing_own {
        let why = "only an admin can change a request's status (its author may close it)";
        return Err(Failure::Rejected(AppError::Forbidden(why.into())));
    }
    sqlx::query(&format!("UPDATE {schema}.requests SET status = $2, updated_at = now() WHERE id = $1"))
        .bind(args.id)
        .bind(args.status)
        .execute(&mut *conn)
        .await?;
    read_marks::seen_now(conn, member, args.id).await
}

pub async fn comment(conn: &mut PgConnection, member: &Member, args: &CommentCreate) -> Result<(), Failure> {
    let schema = member.group.schema.ident();
    let touched = sqlx::query(&format!("UPDATE {schema}.requests SET updated_at = now() WHERE id = $1"))
        .bind(args.request_id)
        .execute(&mut *conn)
        .await?;
    if touched.rows_affected() == 0 {
        return Err(missing("request").into());
    }
    sqlx::query(&format!(
        "INSERT INTO {schema}.request_comments (id, request_id, author_id, body) VALUES ($1, $2, $3, $4)"
    ))
    .bind(args.id)
    .bind(args.request_id)
    .bind(member.user_id)
    .bind(&args.body)
    .execute(&mut *conn)
    .await
    .map_err(id_taken)?;
    read_marks::seen_now(conn, member, args.request_id).await
}
