//! The one write path: named mutations applied idempotently. A request's
//! mutations run in order in one transaction, each in a savepoint of its own,
//! so a rejected one undoes only itself. A mutation's id is claimed in
//! `applied_mutations` before it runs (outside its savepoint, so a rejection
//! turns the claim into a verdict and never frees it): a replay finds the
//! claim and does nothing again.
//!
//! Lock order: the transaction takes the group's log-position lock (its
//! `change_head` row) before anything else, then row locks. Every other
//! writer of the group takes that lock first too (a statement trigger, tenant
//! migration 0004), so two batches touching the same rows in opposite orders
//! queue instead of deadlocking, and replays of one mutation run one after
//! the other. A deadlock with a writer outside this order (an admin's psql
//! session locking rows by hand) is retried.

mod announcements;
mod bookings;
mod files;
mod members;
mod polls;
mod read_marks;
mod requests;
mod resources;

use crate::{
    backend::{groups, groups::Member, AppState},
    error::AppError,
    model::{
        mutation::MAX_BATCH, MutateRequest, MutateResponse, Mutation, MutationEnvelope, MutationOutcome,
        MutationStatus, UserInfo,
    },
};
use serde_json::{json, Value};
use sqlx::{Executor, PgConnection};
use uuid::Uuid;

pub async fn apply(state: &AppState, user: &UserInfo, request: &MutateRequest) -> Result<MutateResponse, AppError> {
    if request.mutations.len() > MAX_BATCH {
        return Err(AppError::TooLarge(format!("send at most {MAX_BATCH} mutations per request")));
    }
    let member = groups::resolve(state, user.id, &request.group).await?;
    if let Some(unknown) = request.mutations.iter().find(|m| !m.is_known()) {
        return Err(AppError::validation(
            "mutations",
            format!("unknown mutation {:?}; known: {}", unknown.name, Mutation::NAMES.join(", ")),
        ));
    }
    // Each mutation read and checked once: what the transaction applies.
    let prepared: Vec<Result<Mutation, AppError>> = request
        .mutations
        .iter()
        .map(|envelope| envelope.parse().map_err(|message| AppError::validation("args", message))?.normalized())
        .collect();
    polls::remember_closings(state, &member, prepared.iter().flatten()).await?;
    let mut attempt = 1;
    loop {
        match apply_all(&member, request, &prepared).await {
            Err(Retry::Transient(_)) if attempt < MAX_ATTEMPTS => {
                tracing::warn!(attempt, "mutations hit a deadlock or serialization failure; retrying");
                attempt += 1;
            }
            Err(Retry::Transient(error) | Retry::Failed(error)) => return Err(error),
            Ok(response) => return Ok(response),
        }
    }
}

/// Why a mutation did not apply, by whose fault: the mutation's own
/// (recorded as its verdict, so a replay gets the same answer) or the
/// infrastructure's (never recorded: the request fails, the browser sends
/// the write again). A database outage is never a rejection.
#[derive(Debug)]
pub enum Failure {
    /// Refused for what it asks (a 4xx): bad input, not allowed, no such
    /// row, already taken.
    Rejected(AppError),
    /// The database or the server failed (a 5xx).
    Infrastructure(AppError),
}

impl From<AppError> for Failure {
    fn from(error: AppError) -> Self {
        if error.status() >= 500 {
            Self::Infrastructure(error)
        } else {
            Self::Rejected(error)
        }
    }
}

impl From<sqlx::Error> for Failure {
    fn from(error: sqlx::Error) -> Self {
        AppError::from(error).into()
    }
}

/// Tries of a request whose transaction a deadlock (or serialization
/// failure) rolled back: nothing of it was kept, so it runs again whole.
const MAX_ATTEMPTS: u32 = 3;

/// Why a try failed: worth another try (the transaction was rolled back by
/// a deadlock, or the database went away meanwhile), or not.
enum Retry {
    Transient(AppError),
    Failed(AppError),
}

impl From<sqlx::Error> for Retry {
    fn from(error: sqlx::Error) -> Self {
        let code = error.as_database_error().and_then(|e| e.code()).unwrap_or_default();
        // deadlock_detected, serialization_failure
        let transient = matches!(code.as_ref(), "40P01" | "40001");
        let error = AppError::from(error);
        if transient {
            Self::Transient(error)
        } else {
            Self::Failed(error)
        }
    }
}

impl From<AppError> for Retry {
    fn from(error: AppError) -> Self {
        Self::Failed(error)
    }
}

async fn apply_all(
    member: &Member,
    request: &MutateRequest,
    prepared: &[Result<Mutation, AppError>],
) -> Result<MutateResponse, Retry> {
    let mut tx = member.group.db.pool.begin().await?;
    // The lock, and who the transaction's logged changes are by (tenant
    // migration 0011: no one is mailed about what they did themselves).
    let moved: Option<String> = sqlx::query_scalar(&format!(
        "SELECT moved_to FROM {}.change_head, set_config('courtyard.actor', $1, true) FOR UPDATE OF change_head",
        member.group.schema.ident()
    ))
    .bind(member.user_id.to_string())
    .fetch_one(&mut *tx)
    .await?;
    if moved.is_some() {
        // Moved to another group database while this request waited: the
        // browser sends the batch again, and it goes there.
        return Err(Retry::Failed(AppError::Unavailable));
    }
    let mut results = Vec::with_capacity(request.mutations.len());
    for (envelope, mutation) in request.mutations.iter().zip(prepared) {
        results.push(apply_one(&mut tx, member, envelope, mutation).await?);
    }
    let txid: String = sqlx::query_scalar("SELECT pg_current_xact_id()::text").fetch_one(&mut *tx).await?;
    tx.commit().await?;
    // Live polls' counts, each in a transaction of its own.
    let mut voted: Vec<Uuid> = (results.iter().zip(prepared))
        .filter_map(|(result, mutation)| match (result.status, mutation) {
            (MutationStatus::Applied, Ok(Mutation::PollVote(vote))) => Some(vote.poll_id),
            _ => None,
        })
        .collect();
    voted.sort_unstable();
    voted.dedup();
    crate::backend::polls::recount(&member.group, &voted).await;
    Ok(MutateResponse { results, txid })
}

async fn apply_one(
    conn: &mut PgConnection,
    member: &Member,
    envelope: &MutationEnvelope,
    mutation: &Result<Mutation, AppError>,
) -> Result<MutationOutcome, Retry> {
    let outcome = |status, error| MutationOutcome { id: envelope.id, status, error };
    if !claim(conn, member, envelope).await? {
        return Ok(match earlier_rejection(conn, member, envelope).await? {
            Some(error) => outcome(MutationStatus::Rejected, Some(error)),
            None => outcome(MutationStatus::Duplicate, None),
        });
    }
    conn.execute("SAVEPOINT mutation").await?;
    let result = match mutation {
        Ok(mutation) => run(conn, member, mutation).await,
        Err(rejection) => Err(Failure::Rejected(rejection.clone())),
    };
    match result {
        Ok(()) => {
            conn.execute("RELEASE SAVEPOINT mutation").await?;
            Ok(outcome(MutationStatus::Applied, None))
        }
        // Not the mutation's fault: the whole request fails, and is tried
        // again if the database may do better (a deadlock, a lost connection).
        Err(Failure::Infrastructure(AppError::Unavailable)) => Err(Retry::Transient(AppError::Unavailable)),
        Err(Failure::Infrastructure(error)) => Err(Retry::Failed(error)),
        Err(Failure::Rejected(rejection)) => {
            let error = rejection.to_string();
            conn.execute("ROLLBACK TO SAVEPOINT mutation; RELEASE SAVEPOINT mutation").await?;
            // Remember the verdict so a replay gets the same answer.
            sqlx::query(&format!(
                "UPDATE {}.applied_mutations SET result = $2 WHERE id = $1",
                member.group.schema.ident()
            ))
            .bind(envelope.id)
            .bind(json!({"status": "rejected", "error": error}))
            .execute(&mut *conn)
            .await?;
            Ok(outcome(MutationStatus::Rejected, Some(error)))
        }
    }
}

/// Records the mutation id as applied; false if it was recorded before.
async fn claim(conn: &mut PgConnection, member: &Member, envelope: &MutationEnvelope) -> Result<bool, Retry> {
    let inserted = sqlx::query(&format!(
        "INSERT INTO {}.applied_mutations (id, name, result) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING",
        member.group.schema.ident()
    ))
    .bind(envelope.id)
    .bind(&envelope.name)
    .bind(json!({"status": "applied"}))
    .execute(&mut *conn)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

/// The error a mutation with this id was rejected with, if it was.
async fn earlier_rejection(
    conn: &mut PgConnection,
    member: &Member,
    envelope: &MutationEnvelope,
) -> Result<Option<String>, Retry> {
    let result: Value = sqlx::query_scalar(&format!(
        "SELECT result FROM {}.applied_mutations WHERE id = $1",
        member.group.schema.ident()
    ))
    .bind(envelope.id)
    .fetch_one(&mut *conn)
    .await?;
    Ok((result["status"] == "rejected").then(|| result["error"].as_str().unwrap_or("rejected").to_owned()))
}

/// Applies a normalized mutation (`Mutation::normalized`: its texts are
/// already trimmed and checked, as the browser's overlay shows them).
async fn run(conn: &mut PgConnection, member: &Member, mutation: &Mutation) -> Result<(), Failure> {
    // A closed group is read-only: each write is rejected (and dropped from
    // the browser's outbox with this reason).
    member.group.require_open()?;
    match mutation {
        Mutation::AnnouncementCreate(args) => announcements::create(conn, member, args).await,
        Mutation::AnnouncementUpdate(args) => announcements::update(conn, member, args).await,
        Mutation::AnnouncementPin(args) => announcements::pin(conn, member, args).await,
        Mutation::AnnouncementDelete(args) => announcements::delete(conn, member, args.id).await,
        Mutation::RequestCreate(args) => requests::create(conn, member, args).await,
        Mutation::RequestSetStatus(args) => requests::set_status(conn, member, args).await,
        Mutation::RequestComment(args) => requests::comment(conn, member, args).await,
        Mutation::ResourceCreate(args) => resources::create(conn, member, args).await,
        Mutation::ResourceDelete(args) => resources::delete(conn, member, args.id).await,
        Mutation::BookingCreate(args) => bookings::create(conn, member, args).await,
        Mutation::BookingCancel(args) => bookings::cancel(conn, member, args.id).await,
        Mutation::MemberUpdateProfile(args) => members::update_profile(conn, member, args).await,
        Mutation::PollCreate(args) => polls::create(conn, member, args).await,
        Mutation::PollVote(args) => polls::vote(conn, member, args).await,
        Mutation::PollClose(args) => polls::close(conn, member, args.id).await,
        Mutation::PollDelete(args) => polls::delete(conn, member, args.id).await,
        Mutation::ReadMark(args) => read_marks::mark(conn, member, args).await,
        Mutation::FileAttach(args) => files::attach(conn, member, args).await,
        Mutation::FileRemove(args) => files::remove(conn, member, args.id).await,
    }
}

/// The rejection for an id that names nothing in this group (including ids
/// of other groups' rows: they are not in this schema).
fn missing(what: &str) -> AppError {
    AppError::validation("id", format!("there is no such {what} in this group"))
}

/// The rejection for a create whose id is taken.
fn id_taken(error: sqlx::Error) -> AppError {
    match AppError::from(error) {
        AppError::Conflict(_) => AppError::Conflict("a row with this id already exists".into()),
        other => other,
    }
}

/// Whoever made a row may change it; admins may change any.
fn require_owner_or_admin(member: &Member, owner: uuid::Uuid, what: &str) -> Result<(), AppError> {
    if owner == member.user_id || member.role == crate::model::Role::Admin {
        Ok(())
    } else {
        Err(AppError::Forbidden(format!("only whoever made it or an admin can {what}")))
    }
}
