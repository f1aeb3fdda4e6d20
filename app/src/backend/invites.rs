//! Invite codes: an admin makes one, anyone holding it may join the group
//! as a resident until it expires, or until someone's membership of the
//! group ends (then the admin makes a new one).

use crate::{
    backend::{
        groups::{self, Group, GroupRow, Member},
        migrations, AppState,
    },
    error::AppError,
    model::{GroupSummary, InviteInfo, Role, UserInfo},
};
use argon2::password_hash::rand_core::{OsRng, RngCore};
use chrono::{DateTime, Utc};
use sqlx::PgExecutor;

pub async fn create(state: &AppState, member: &Member) -> Result<InviteInfo, AppError> {
    member.require_admin("invite residents")?;
    let mut bytes = [0u8; 16];
    OsRng.fill_bytes(&mut bytes);
    let code = hex::encode(bytes);
    let expires_at = Utc::now() + state.settings.invite_ttl;
    sqlx::query("INSERT INTO invites (code, group_id, created_by, expires_at) VALUES ($1, $2, $3, $4)")
        .bind(&code)
        .bind(member.group.id)
        .bind(member.user_id)
        .bind(expires_at)
        .execute(state.registry())
        .await?;
    Ok(InviteInfo { code, group_name: member.group.name.clone(), expires_at })
}

/// What an invite code leads to; 404 for an unknown or expired code.
pub async fn info(state: &AppState, code: &str) -> Result<InviteInfo, AppError> {
    let (group, expires_at, _) = live_invite(state, state.registry(), code).await?;
    Ok(InviteInfo { code: code.to_owned(), group_name: group.name, expires_at })
}

/// Joins the invite's group as a resident. Accepting again (or as an
/// existing member) changes nothing and answers the same.
pub async fn accept(state: &AppState, user: &UserInfo, code: &str) -> Result<GroupSummary, AppError> {
    // The group's schema current first (start-up may not have reached it):
    // the join writes its directory.
    let (group, _, version) = live_invite(state, state.registry(), code).await?;
    migrations::ensure_current(state.registry(), &group, version).await?;
    let mut tx = state.registry().begin().await?;
    let (group, _, _) = live_invite(state, &mut *tx, code).await?;
    let role = groups::join(&mut tx, &group, user, Role::Resident).await?;
    // Checked again once joined: a removal that committed meanwhile (the
    // join waited for it if it was this person's) withdrew the invite.
    live_invite(state, &mut *tx, code).await?;
    tx.commit().await?;
    // Accepting again writes it if this fails (so does the member's next request).
    groups::sync_directory(state.registry(), &group, user.id).await?;
    Ok(GroupSummary { id: group.id, slug: group.slug, name: group.name, role })
}

/// The invite's group, its expiry, and the group's tenant version.
async fn live_invite(
    state: &AppState,
    db: impl PgExecutor<'_>,
    code: &str,
) -> Result<(Group, DateTime<Utc>, i64), AppError> {
    // Codes are 32 hex digits: anything else names no invite (and never reaches SQL).
    if code.len() != 32 || !code.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(AppError::NotFound);
    }
    // An invite made before someone's membership ended is withdrawn: a
    // removed person cannot come back through it, under any account.
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        group: GroupRow,
        expires_at: DateTime<Utc>,
    }
    let row: Option<Row> = sqlx::query_as(
        "SELECT g.id, g.slug, g.name, g.schema_name, g.database, g.tenant_version, i.expires_at
         FROM invites i JOIN groups g ON g.id = i.group_id
         WHERE i.code = $1 AND i.expires_at > now()
           AND NOT EXISTS (SELECT 1 FROM ended_memberships e
                           WHERE e.group_id = i.group_id AND e.ended_at >= i.created_at)",
    )
    .bind(code)
    .fetch_optional(db)
    .await?;
    let Row { group, expires_at } = row.ok_or(AppError::NotFound)?;
    let (group, version) = group.resolve(state)?;
    Ok((group, expires_at, version))
}
