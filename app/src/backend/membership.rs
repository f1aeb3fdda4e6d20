//! Memberships changing: an admin changes a member's role or removes them,
//! a member leaves. The registry changes in one transaction (under a lock
//! on the group's admins, so a group always keeps one), then the group's
//! directory on its own database follows: [`groups::sync_directory`] for a
//! new role, [`sync_departure`] for someone gone. What a failure in between
//! leaves undone, [`sync_pending`] (the server's directory job) finishes.
//!
//! Ending a membership ends the person's access at once (`courtyard_access`),
//! and their browser wipes its copy of the group, as when any access ends.

use crate::{
    backend::{
        groups::{self, Group, GroupRow, Member, GROUP_COLUMNS},
        AppState,
    },
    error::AppError,
    model::{registry, Role},
};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// Takes the locks on the admins of `groups` (in one order: callers pass
/// them sorted), for the rest of the transaction.
pub(crate) async fn lock_admins(conn: &mut PgConnection, groups: &[Uuid]) -> Result<(), AppError> {
    for group in groups {
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('group.admins:' || $1::text, 0))")
            .bind(group)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Whether the group has an admin besides `user_id`.
pub(crate) async fn has_other_admin(conn: &mut PgConnection, group: Uuid, user_id: Uuid) -> Result<bool, AppError> {
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM memberships WHERE group_id = $1 AND role = 'admin' AND user_id <> $2)",
    )
    .bind(group)
    .bind(user_id)
    .fetch_one(&mut *conn)
    .await?)
}

/// Takes the lock on the admins of `admin`'s group and checks, under it,
/// that they are an admin still (a demotion or removal committed since
/// their request resolved them would otherwise go unseen): 403 if not.
pub(crate) async fn still_admin(conn: &mut PgConnection, admin: &Member, what: &str) -> Result<(), AppError> {
    lock_admins(conn, &[admin.group.id]).await?;
    let role: Option<Role> = sqlx::query_scalar("SELECT role FROM memberships WHERE user_id = $1 AND group_id = $2")
        .bind(admin.user_id)
        .bind(admin.group.id)
        .fetch_optional(&mut *conn)
        .await?;
    match role {
        Some(Role::Admin) => Ok(()),
        Some(Role::Resident) => Err(AppError::Forbidden(format!("only admins can {what}"))),
        None => Err(AppError::NotFound),
    }
}

fn last_admin(what: &str) -> AppError {
    AppError::Conflict(format!("a group keeps at least one admin: make someone else admin before {what}"))
}

/// Makes the member `user_id` an admin or a resident (admins only). 404
/// for someone not in the group; 409 to demote the last admin.
pub async fn set_role(state: &AppState, admin: &Member, user_id: Uuid, role: Role) -> Result<(), AppError> {
    admin.require_admin("change roles")?;
    admin.group.require_open()?;
    let mut tx = state.registry().begin().await?;
    still_admin(&mut tx, admin, "change roles").await?;
    if role == Role::Resident && !has_other_admin(&mut tx, admin.group.id, user_id).await? {
        return Err(last_admin("stepping down"));
    }
    let changed = sqlx::query(
        "UPDATE memberships SET role = $3, directory_synced = false
         WHERE user_id = $1 AND group_id = $2 AND role <> $3",
    )
    .bind(user_id)
    .bind(admin.group.id)
    .bind(role)
    .execute(&mut *tx)
    .await?;
    if changed.rows_affected() == 0 {
        // The same role already, or no such member.
        let member: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM memberships WHERE user_id = $1 AND group_id = $2)")
                .bind(user_id)
                .bind(admin.group.id)
                .fetch_one(&mut *tx)
                .await?;
        return if member { Ok(()) } else { Err(AppError::NotFound) };
    }
    tx.commit().await?;
    tracing::info!(group.slug = %admin.group.slug, user.id = %user_id, role = role.as_str(), "role changed");
    sync_now(groups::sync_directory(state.registry(), &admin.group, user_id)).await;
    Ok(())
}

/// Removes the member `user_id` (admins only; any admin, but not the last
/// one). 404 for someone not in the group.
pub async fn remove(state: &AppState, admin: &Member, user_id: Uuid) -> Result<(), AppError> {
    admin.require_admin("remove members")?;
    admin.group.require_open()?;
    end(state, &admin.group, user_id, Some(admin)).await
}

/// The member leaves the group (the last admin of an open group hands over
/// first: 409; a closed one they may leave, as they may delete their
/// account, and nobody exports it then).
pub async fn leave(state: &AppState, member: &Member) -> Result<(), AppError> {
    end(state, &member.group, member.user_id, None).await
}

/// Ends `user_id`'s membership of `group`: removed by an admin (`by`), then
/// the invite links made before are withdrawn, and an emailed invite to
/// their address; or they leave.
async fn end(state: &AppState, group: &Group, user_id: Uuid, by: Option<&Member>) -> Result<(), AppError> {
    let removed = by.is_some();
    let mut tx = state.registry().begin().await?;
    match by {
        Some(admin) => still_admin(&mut tx, admin, "remove members").await?,
        None => lock_admins(&mut tx, &[group.id]).await?,
    }
    let role: Option<Role> = sqlx::query_scalar("SELECT role FROM memberships WHERE user_id = $1 AND group_id = $2")
        .bind(user_id)
        .bind(group.id)
        .fetch_optional(&mut *tx)
        .await?;
    let role = role.ok_or(AppError::NotFound)?;
    if role == Role::Admin && group.closed_at.is_none() && !has_other_admin(&mut tx, group.id, user_id).await? {
        return Err(last_admin(if removed { "removing this admin" } else { "leaving" }));
    }
    if removed {
        sqlx::query(
            "DELETE FROM invites WHERE group_id = $1
               AND (email IS NULL OR email = (SELECT email FROM users WHERE id = $2))",
        )
        .bind(group.id)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query("DELETE FROM memberships WHERE user_id = $1 AND group_id = $2")
        .bind(user_id)
        .bind(group.id)
        .execute(&mut *tx)
        .await?;
    crate::backend::calendar::stop_all(&mut *tx, user_id, Some(group.id)).await?;
    // (The deletion recorded it as a removal: a departure says otherwise.)
    sqlx::query("UPDATE ended_memberships SET removed = $3 WHERE user_id = $1 AND group_id = $2")
        .bind(user_id)
        .bind(group.id)
        .bind(removed)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    tracing::info!(group.slug = %group.slug, user.id = %user_id, removed, "membership ended");
    sync_now(sync_departure(state.registry(), group, user_id)).await;
    Ok(())
}

/// Runs a directory sync right after its registry change; a failure is
/// logged and left to the directory job.
async fn sync_now(sync: impl std::future::Future<Output = Result<(), AppError>>) {
    if let Err(error) = sync.await {
        tracing::warn!(?error, "the group's directory is left for the directory job to update");
    }
}

/// Takes a former member's entry out of the group's directory (and what
/// they wrote, if they asked), on the group's database, then marks the
/// departure done. Nothing for someone who is a member again.
pub async fn sync_departure(registry: &PgPool, group: &Group, user_id: Uuid) -> Result<(), AppError> {
    let pending: Option<(bool, chrono::DateTime<chrono::Utc>)> = sqlx::query_as(
        "SELECT e.remove_content, e.ended_at FROM ended_memberships e
         WHERE e.user_id = $1 AND e.group_id = $2 AND NOT e.directory_synced
           AND NOT EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = $1 AND m.group_id = $2)",
    )
    .bind(user_id)
    .bind(group.id)
    .fetch_optional(registry)
    .await?;
    let Some((remove_content, ended_at)) = pending else { return Ok(()) };
    let mut tx = group.db.pool.begin().await?;
    let schema = group.schema.ident();
    // Polls whose counts their ballots were in, counted again without them.
    let voted: Vec<Uuid> = if remove_content {
        sqlx::query_scalar(&format!("SELECT DISTINCT poll_id FROM {schema}.ballots WHERE member_id = $1"))
            .bind(user_id)
            .fetch_all(&mut *tx)
            .await?
    } else {
        Vec::new()
    };
    for table in registry::tables() {
        // The directory entry and what only they saw (their read marks)
        // always; the rest only when asked.
        let Some(owner) = table.owner else { continue };
        if table.name == "members" || table.name == "read_marks" || remove_content {
            sqlx::query(&format!("DELETE FROM {schema}.\"{}\" WHERE \"{owner}\" = $1", table.name))
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
        }
    }
    for poll in voted {
        super::polls::count(&mut tx, &group.schema, poll).await?;
    }
    if remove_content {
        // Others' marks on what went with them.
        sqlx::query(&format!(
            "DELETE FROM {schema}.read_marks r WHERE NOT EXISTS (SELECT 1 FROM {schema}.announcements a WHERE a.id = r.subject_id)
               AND NOT EXISTS (SELECT 1 FROM {schema}.requests q WHERE q.id = r.subject_id)"
        ))
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    sqlx::query(
        "UPDATE ended_memberships SET directory_synced = true WHERE user_id = $1 AND group_id = $2 AND ended_at = $3",
    )
    .bind(user_id)
    .bind(group.id)
    .bind(ended_at)
    .execute(registry)
    .await?;
    Ok(())
}

/// Finishes the directory changes left undone (a group database away when
/// they were made): new roles and entries of members, departures. Returns
/// how many it finished; the server runs it every minute.
pub async fn sync_pending(state: &AppState) -> Result<usize, AppError> {
    #[derive(sqlx::FromRow)]
    struct Pending {
        #[sqlx(flatten)]
        group: GroupRow,
        user_id: Uuid,
        departed: bool,
    }
    // Oldest first; a database found away is skipped for the rest of the
    // pass (its connection timeouts would hold up the others).
    let pending: Vec<Pending> = sqlx::query_as(&format!(
        "SELECT * FROM (
             SELECT {GROUP_COLUMNS}, m.user_id, false AS departed, m.created_at AS since
             FROM memberships m JOIN groups g ON g.id = m.group_id WHERE NOT m.directory_synced
             UNION ALL
             SELECT {GROUP_COLUMNS}, e.user_id, true AS departed, e.ended_at AS since
             FROM ended_memberships e JOIN groups g ON g.id = e.group_id WHERE NOT e.directory_synced
         ) pending ORDER BY since LIMIT 500"
    ))
    .fetch_all(state.registry())
    .await?;
    let mut done = 0;
    let mut away: Vec<String> = Vec::new();
    for Pending { group, user_id, departed } in pending {
        if away.iter().any(|name| *name == group.database()) {
            continue;
        }
        let database = group.database().to_owned();
        let (group, version) = match group.resolve(state) {
            Ok(resolved) => resolved,
            Err(error) => {
                tracing::warn!(?error, "a group of a pending directory change cannot be resolved");
                continue;
            }
        };
        let synced = async {
            crate::backend::migrations::ensure_current(state.registry(), &group, version).await?;
            if departed {
                sync_departure(state.registry(), &group, user_id).await
            } else {
                groups::sync_directory(state.registry(), &group, user_id).await
            }
        };
        match synced.await {
            Ok(()) => done += 1,
            Err(error) => {
                tracing::warn!(?error, group.slug = %group.slug, "a directory change is still pending");
                // The database away: its other changes wait for the next
                // pass. (Any other failure is this group's alone.)
                if error == AppError::Unavailable {
                    away.push(database);
                }
            }
        }
    }
    Ok(done)
}
