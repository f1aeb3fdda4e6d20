//! The one write path: named mutations applied idempotently. A request's
//! mutations run in order in one transaction, each in a savepoint of its own,
//! so a rejected one undoes only itself. A mutation's id is claimed in
//! `applied_mutations` before it runs: a replay (even a concurrent one, which
//! waits on the claim) finds the claim and does nothing again.

mod announcements;
mod bookings;
mod members;
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

pub async fn apply(state: &AppState, user: &UserInfo, request: &MutateRequest) -> Result<MutateResponse, AppError> {
    if request.mutations.len() > MAX_BATCH {
        return Err(AppError::TooLarge(format!("send at most {MAX_BATCH} mutations per request")));
    }
    let member = groups::resolve(&state.pool, user.id, &request.group).await?;
    if let Some(unknown) = request.mutations.iter().find(|m| !m.is_known()) {
        return Err(AppError::validation(
            "mutations",
            format!("unknown mutation {:?}; known: {}", unknown.name, Mutation::NAMES.join(", ")),
        ));
    }
    let mut tx = state.pool.begin().await?;
    let mut results = Vec::with_capacity(request.mutations.len());
    for envelope in &request.mutations {
        results.push(apply_one(&mut tx, &member, envelope).await?);
    }
    let txid: String = sqlx::query_scalar("SELECT pg_current_xact_id()::text").fetch_one(&mut *tx).await?;
    tx.commit().await?;
    Ok(MutateResponse { results, txid })
}

async fn apply_one(
    conn: &mut PgConnection,
    member: &Member,
    envelope: &MutationEnvelope,
) -> Result<MutationOutcome, AppError> {
    let outcome = |status, error| MutationOutcome { id: envelope.id, status, error };
    conn.execute("SAVEPOINT mutation").await?;
    if !claim(conn, member, envelope, &json!({"status": "applied"})).await? {
        conn.execute("RELEASE SAVEPOINT mutation").await?;
        return Ok(match earlier_rejection(conn, member, envelope).await? {
            Some(error) => outcome(MutationStatus::Rejected, Some(error)),
            None => outcome(MutationStatus::Duplicate, None),
        });
    }
    let result = match envelope.parse() {
        Ok(mutation) => run(conn, member, &mutation).await,
        Err(message) => Err(AppError::validation("args", message)),
    };
    match result {
        Ok(()) => {
            conn.execute("RELEASE SAVEPOINT mutation").await?;
            Ok(outcome(MutationStatus::Applied, None))
        }
        // Something is broken, not the mutation: fail the whole request.
        Err(AppError::Internal) => Err(AppError::Internal),
        Err(rejection) => {
            let error = rejection.to_string();
            conn.execute("ROLLBACK TO SAVEPOINT mutation; RELEASE SAVEPOINT mutation").await?;
            // Remember the verdict so a replay gets the same answer.
            claim(conn, member, envelope, &json!({"status": "rejected", "error": error})).await?;
            Ok(outcome(MutationStatus::Rejected, Some(error)))
        }
    }
}

/// Records the mutation id; false if it was recorded before.
async fn claim(
    conn: &mut PgConnection,
    member: &Member,
    envelope: &MutationEnvelope,
    result: &Value,
) -> Result<bool, AppError> {
    let inserted = sqlx::query(&format!(
        "INSERT INTO {}.applied_mutations (id, name, result) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING",
        member.group.schema.ident()
    ))
    .bind(envelope.id)
    .bind(&envelope.name)
    .bind(result)
    .execute(&mut *conn)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

/// The error a mutation with this id was rejected with, if it was.
async fn earlier_rejection(
    conn: &mut PgConnection,
    member: &Member,
    envelope: &MutationEnvelope,
) -> Result<Option<String>, AppError> {
    let result: Value = sqlx::query_scalar(&format!(
        "SELECT result FROM {}.applied_mutations WHERE id = $1",
        member.group.schema.ident()
    ))
    .bind(envelope.id)
    .fetch_one(&mut *conn)
    .await?;
    Ok((result["status"] == "rejected").then(|| result["error"].as_str().unwrap_or("rejected").to_owned()))
}

async fn run(conn: &mut PgConnection, member: &Member, mutation: &Mutation) -> Result<(), AppError> {
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
