//! Closing a group: an admin closes it, confirming with its name. It stays
//! read-only for `groups.close_grace` (members read it, admins download its
//! export), then the server's job drops its schema and forgets it.

use crate::{
    backend::{
        groups::{GroupRow, Member, GROUP_COLUMNS},
        mail::{self, Mail, Part},
        membership, AppState,
    },
    error::AppError,
    model::GroupSummary,
};

/// Closes the group (admins), `confirm` being its name as typed. 422 on
/// `name` when it differs; 409 when it is closed already. Open invites are
/// withdrawn and every member is told by email.
pub async fn close(state: &AppState, member: &Member, confirm: &str) -> Result<GroupSummary, AppError> {
    member.require_admin("close the group")?;
    member.group.require_open()?;
    if confirm.trim() != member.group.name {
        return Err(AppError::validation("name", format!("type the group's name, {}, to confirm", member.group.name)));
    }
    let mut tx = state.registry().begin().await?;
    membership::still_admin(&mut tx, member, "close the group").await?;
    let closed_at: Option<chrono::DateTime<chrono::Utc>> = sqlx::query_scalar(
        "UPDATE groups SET closed_at = now() WHERE id = $1 AND closed_at IS NULL RETURNING closed_at",
    )
    .bind(member.group.id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(closed_at) = closed_at else {
        return Err(AppError::Conflict("this group is closed already".into()));
    };
    sqlx::query("DELETE FROM invites WHERE group_id = $1").bind(member.group.id).execute(&mut *tx).await?;
    let (closer,): (String,) =
        sqlx::query_as("SELECT name FROM users WHERE id = $1").bind(member.user_id).fetch_one(&mut *tx).await?;
    let members: Vec<(String, String)> = sqlx::query_as(
        "SELECT u.email, u.name FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.group_id = $1",
    )
    .bind(member.group.id)
    .fetch_all(&mut *tx)
    .await?;
    let group = &member.group.name;
    let deleted_on = (closed_at + state.settings.close_grace).format("%-d %B %Y");
    let told = format!(
        "{closer} closed {group} on Courtyard. It is read-only now, and everything in it will be deleted on {deleted_on}. Until then its admins can download all of its data from its members page."
    );
    for (email, name) in &members {
        let mail = Mail::compose(
            &state.settings,
            email,
            &format!("{group} was closed"),
            &format!("Hello {name},"),
            &[Part::Text(&told), Part::Link(&format!("Open {group}"), &format!("/g/{}", member.group.slug))],
        );
        mail::queue(&mut *tx, &mail).await?;
    }
    tx.commit().await?;
    tracing::info!(group.slug = %member.group.slug, user.id = %member.user_id, "group closed");
    Ok(GroupSummary { closed_at: Some(closed_at), ..member.summary() })
}

/// Deletes the groups closed longer than `groups.close_grace` ago: the
/// schema on its group database (and any copy a move left elsewhere), then
/// the registry's rows (every membership ends with them). Not while the
/// group moves (the movers' lock). A group whose database is away is left
/// for the next pass; the others go on. Returns how many went; the server
/// runs it every minute.
pub async fn delete_expired(state: &AppState) -> Result<usize, AppError> {
    let interval = sqlx::postgres::types::PgInterval {
        months: 0,
        days: 0,
        microseconds: state.settings.close_grace.num_microseconds().unwrap_or(i64::MAX),
    };
    let expired: Vec<GroupRow> = sqlx::query_as(&format!(
        "SELECT {GROUP_COLUMNS} FROM groups g WHERE g.closed_at < now() - $1::interval ORDER BY g.closed_at LIMIT 100"
    ))
    .bind(interval)
    .fetch_all(state.registry())
    .await?;
    let mut deleted = 0;
    for row in expired {
        let slug = row.slug().to_owned();
        match delete(state, row).await {
            Ok(true) => {
                tracing::info!(group.slug = %slug, "closed group deleted");
                deleted += 1;
            }
            Ok(false) => {}
            Err(error) => tracing::warn!(?error, group.slug = %slug, "a closed group is left for the next pass"),
        }
    }
    Ok(deleted)
}

/// Deletes one closed group; false when it is moving (left for later).
/// The copies a move left go first, the schema where it lives last, then
/// the registry's rows: a failure part way leaves the group listed with its
/// schema, for the next pass.
async fn delete(state: &AppState, row: GroupRow) -> Result<bool, AppError> {
    let id = row.id();
    let mut tx = state.registry().begin().await?;
    let free: bool =
        sqlx::query_scalar("SELECT pg_try_advisory_xact_lock(hashtextextended('courtyard.move.' || $1::text, 0))")
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
    if !free {
        return Ok(false);
    }
    // Where it lives, read again under the movers' lock.
    let row: Option<GroupRow> = sqlx::query_as(&format!("SELECT {GROUP_COLUMNS} FROM groups g WHERE g.id = $1"))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
    let Some(row) = row else { return Ok(false) };
    let (group, _) = row.resolve(state)?;
    let mut places: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT d FROM group_moves, LATERAL (VALUES (from_database), (to_database)) AS v(d)
         WHERE group_id = $1 AND dropped_at IS NULL",
    )
    .bind(group.id)
    .fetch_all(&mut *tx)
    .await?;
    places.retain(|name| name != group.db.name());
    // Its files' bytes first: a failure leaves the group for the next pass.
    super::files::delete_group(state, group.id).await?;
    let drop = format!("DROP SCHEMA IF EXISTS {} CASCADE", group.schema.ident());
    for name in places {
        match state.databases.find(&name) {
            Some(db) => {
                sqlx::query(&drop).execute(&db.pool).await?;
            }
            None => tracing::warn!(database = name, "a moved copy of a deleted group is on a database not configured"),
        }
    }
    sqlx::query(&drop).execute(&group.db.pool).await?;
    sqlx::query("DELETE FROM groups WHERE id = $1").bind(group.id).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(true)
}
