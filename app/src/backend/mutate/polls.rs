//! `poll.*` mutations. One ballot per member and poll is the table's unique
//! constraint; a vote replaces the member's ballot until the poll closes.

use super::{id_taken, missing, require_owner_or_admin, Failure};
use crate::{
    backend::{groups::Member, polls, AppState},
    error::AppError,
    model::{
        mutation::{Mutation, PollCreate, PollVote},
        validate, Ballot, Role,
    },
};
use chrono::Utc;
use sqlx::PgConnection;
use uuid::Uuid;

/// Whether `member` may open polls: admins, and residents where the group
/// lets them.
fn may_open(member: &Member) -> Result<(), AppError> {
    if member.role != Role::Admin && !member.group.residents_open_polls {
        return Err(AppError::Forbidden("only admins can open polls in this group".into()));
    }
    Ok(())
}

/// Notes the end of each poll the batch would open, before the batch's
/// transaction begins (see `polls::remember_closing`); nothing for what the
/// batch will be refused anyway.
pub async fn remember_closings<'a>(
    state: &AppState,
    member: &Member,
    batch: impl Iterator<Item = &'a Mutation>,
) -> Result<(), AppError> {
    for mutation in batch {
        let Mutation::PollCreate(args) = mutation else { continue };
        if may_open(member).is_ok() && validate::poll_end(args.closes_at, Utc::now()).is_ok() {
            polls::remember_closing(state, &member.group, args.id, args.closes_at).await?;
        }
    }
    Ok(())
}

/// Opens a poll (its end already noted by `remember_closings`).
pub async fn create(conn: &mut PgConnection, member: &Member, args: &PollCreate) -> Result<(), Failure> {
    may_open(member)?;
    validate::poll_end(args.closes_at, Utc::now())?;
    let schema = member.group.schema.ident();
    sqlx::query(&format!(
        "INSERT INTO {schema}.polls (id, author_id, question, multiple, anonymous, live_results, closes_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)"
    ))
    .bind(args.id)
    .bind(member.user_id)
    .bind(&args.question)
    .bind(args.multiple)
    .bind(args.anonymous)
    .bind(args.live_results)
    .bind(args.closes_at)
    .execute(&mut *conn)
    .await
    .map_err(id_taken)?;
    let ids: Vec<Uuid> = args.options.iter().map(|o| o.id).collect();
    let labels: Vec<&str> = args.options.iter().map(|o| o.label.as_str()).collect();
    // Live counts start at zero; hidden ones are null until the poll closes.
    sqlx::query(&format!(
        "INSERT INTO {schema}.poll_options (id, poll_id, position, label, votes)
         SELECT o.id, $3, o.n - 1, o.label, CASE WHEN $4 THEN 0 END
         FROM unnest($1::uuid[], $2::text[]) WITH ORDINALITY AS o (id, label, n)"
    ))
    .bind(&ids)
    .bind(&labels)
    .bind(args.id)
    .bind(args.live_results)
    .execute(&mut *conn)
    .await
    .map_err(id_taken)?;
    Ok(())
}

/// The member's ballot, replacing theirs if they voted before; refused once
/// the poll has closed (by the database's clock, as the count goes). A live
/// poll's counts are written after the batch commits (`polls::recount`).
pub async fn vote(conn: &mut PgConnection, member: &Member, args: &PollVote) -> Result<(), Failure> {
    let schema = member.group.schema.ident();
    let poll: Option<(bool, bool)> = sqlx::query_as(&format!(
        "SELECT closes_at <= clock_timestamp(), multiple FROM {schema}.polls WHERE id = $1 FOR SHARE"
    ))
    .bind(args.poll_id)
    .fetch_optional(&mut *conn)
    .await?;
    let (closed, multiple) = poll.ok_or_else(|| missing("poll"))?;
    if closed {
        return Err(AppError::Conflict("this poll has closed".into()).into());
    }
    if !multiple && args.option_ids.len() != 1 {
        return Err(AppError::validation("option_ids", "this poll takes one choice").into());
    }
    let offered: Vec<Uuid> = sqlx::query_scalar(&format!("SELECT id FROM {schema}.poll_options WHERE poll_id = $1"))
        .bind(args.poll_id)
        .fetch_all(&mut *conn)
        .await?;
    if args.option_ids.iter().any(|id| !offered.contains(id)) {
        return Err(AppError::validation("option_ids", "that is not an option of this poll").into());
    }
    sqlx::query(&format!(
        "INSERT INTO {schema}.ballots (id, poll_id, member_id, choices) VALUES ($1, $2, $3, $4)
         ON CONFLICT (poll_id, member_id) DO UPDATE SET choices = EXCLUDED.choices, cast_at = now()"
    ))
    .bind(Ballot::key_of(args.poll_id, member.user_id))
    .bind(args.poll_id)
    .bind(member.user_id)
    .bind(serde_json::json!(args.option_ids).to_string())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Closes the poll now (its author or an admin): the results show.
pub async fn close(conn: &mut PgConnection, member: &Member, id: Uuid) -> Result<(), Failure> {
    let author = author_of(conn, member, id).await?;
    require_owner_or_admin(member, author, "close this poll")?;
    let schema = member.group.schema.ident();
    sqlx::query(&format!("UPDATE {schema}.polls SET closes_at = least(closes_at, now()) WHERE id = $1"))
        .bind(id)
        .execute(&mut *conn)
        .await?;
    polls::count(conn, &member.group.schema, id).await?;
    Ok(())
}

/// Deletes the poll with its options and ballots (its author or an admin).
pub async fn delete(conn: &mut PgConnection, member: &Member, id: Uuid) -> Result<(), Failure> {
    let author = author_of(conn, member, id).await?;
    require_owner_or_admin(member, author, "delete this poll")?;
    sqlx::query(&format!("DELETE FROM {}.polls WHERE id = $1", member.group.schema.ident()))
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

async fn author_of(conn: &mut PgConnection, member: &Member, id: Uuid) -> Result<Uuid, AppError> {
    sqlx::query_scalar(&format!("SELECT author_id FROM {}.polls WHERE id = $1 FOR UPDATE", member.group.schema.ident()))
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or_else(|| missing("poll"))
}
