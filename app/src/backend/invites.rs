//! Invites: an admin makes a shareable link, or sends one by email. Anyone
//! holding a shareable link may join the group as a resident until it
//! expires or an admin revokes it, or removes someone from the group (a
//! removed person cannot come back through a link they saw, under any
//! account). An emailed invite is for the account with that address
//! (verified, unless `invites.email_needs_verified` is off), once.

use crate::{
    backend::{
        auth::{throttle, throttle::Limit},
        groups::{self, Group, GroupRow, Member, GROUP_COLUMNS},
        mail::{self, Mail, Part},
        membership, migrations, AppState,
    },
    error::AppError,
    model::{validate, GroupSummary, InviteInfo, OpenInvite, Role, UserInfo},
};
use argon2::password_hash::rand_core::{OsRng, RngCore};
use chrono::{DateTime, Utc};
use sqlx::PgExecutor;

/// An invite still open: not expired, not withdrawn by a removal since.
const LIVE: &str = "i.expires_at > now()
    AND NOT EXISTS (SELECT 1 FROM ended_memberships e LEFT JOIN users u ON u.id = e.user_id
                    WHERE e.group_id = i.group_id AND e.removed AND e.ended_at >= i.created_at
                      AND (i.email IS NULL OR u.email = i.email))";

/// Makes an invite (admins; not in a closed group): a shareable link, or,
/// given `email`, one sent there. 409 when that address already belongs to
/// a member. Invitations by email are sent by admins with a verified
/// address only (403), at most `accounts.max_resets_per_email` to one
/// address and `accounts.max_resets_per_ip` from one admin, and from one
/// group, per window (429):
/// the server must not become anyone's mailer.
pub async fn create(state: &AppState, member: &Member, email: Option<&str>) -> Result<InviteInfo, AppError> {
    member.require_admin("invite residents")?;
    member.group.require_open()?;
    let email = match email.map(str::trim).filter(|e| !e.is_empty()) {
        Some(email) => Some(validate::email(email)?),
        None => None,
    };
    let mut bytes = [0u8; 16];
    OsRng.fill_bytes(&mut bytes);
    let code = hex::encode(bytes);
    let expires_at = Utc::now() + state.settings.invite_ttl;
    let (inviter, verified): (String, bool) =
        sqlx::query_as("SELECT name, email_verified_at IS NOT NULL FROM users WHERE id = $1")
            .bind(member.user_id)
            .fetch_one(state.registry())
            .await?;
    if let Some(email) = &email {
        if !verified {
            return Err(AppError::Forbidden("confirm your own email before inviting by email".into()));
        }
        let limits = &state.settings.reset_limits;
        throttle::count(
            state.registry(),
            limits.window,
            &[
                Limit { kind: "invite.user", key: Some(member.user_id.to_string()), max: limits.per_ip },
                Limit { kind: "invite.group", key: Some(member.group.id.to_string()), max: limits.per_ip },
                Limit { kind: "invite.email", key: Some(email.clone()), max: limits.per_email },
            ],
        )
        .await?;
    }
    let mut tx = state.registry().begin().await?;
    membership::still_admin(&mut tx, member, "invite residents").await?;
    if let Some(email) = &email {
        let member_already: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM memberships m JOIN users u ON u.id = m.user_id
                            WHERE m.group_id = $1 AND u.email = $2)",
        )
        .bind(member.group.id)
        .bind(email)
        .fetch_one(&mut *tx)
        .await?;
        if member_already {
            return Err(AppError::Conflict("someone with that email is a member already".into()));
        }
    }
    sqlx::query("INSERT INTO invites (code, group_id, created_by, expires_at, email) VALUES ($1, $2, $3, $4, $5)")
        .bind(&code)
        .bind(member.group.id)
        .bind(member.user_id)
        .bind(expires_at)
        .bind(&email)
        .execute(&mut *tx)
        .await?;
    if let Some(email) = &email {
        mail::queue(&mut *tx, &invite_mail(state, email, &inviter, &member.group.name, &code)).await?;
    }
    tx.commit().await?;
    Ok(InviteInfo { code, group_name: member.group.name.clone(), expires_at, email })
}

fn invite_mail(state: &AppState, email: &str, inviter: &str, group: &str, code: &str) -> Mail {
    let settings = &state.settings;
    let invited = format!("{inviter} invites you to join {group} on Courtyard, where its residents share notices, maintenance requests, room bookings and a directory.");
    let how = format!(
        "Sign up or log in with this address ({email}) to join. The invitation works for {}.",
        mail::lasts(settings.invite_ttl)
    );
    Mail::compose(
        settings,
        email,
        &format!("{inviter} invites you to {group} on Courtyard"),
        "Hello,",
        &[Part::Text(&invited), Part::Link(&format!("Join {group}"), &format!("/join/{code}")), Part::Text(&how)],
    )
}

/// The group's open invites, newest first (admins).
pub async fn list(state: &AppState, member: &Member) -> Result<Vec<OpenInvite>, AppError> {
    member.require_admin("see the invites")?;
    Ok(sqlx::query_as(&format!(
        "SELECT i.code, i.email, u.name AS created_by, i.created_at, i.expires_at
         FROM invites i LEFT JOIN users u ON u.id = i.created_by
         WHERE i.group_id = $1 AND {LIVE}
         ORDER BY i.created_at DESC, i.code"
    ))
    .bind(member.group.id)
    .fetch_all(state.registry())
    .await?)
}

/// Revokes an invite of the group (admins); 404 for a code it does not have.
pub async fn revoke(state: &AppState, member: &Member, code: &str) -> Result<(), AppError> {
    member.require_admin("revoke invites")?;
    let mut tx = state.registry().begin().await?;
    membership::still_admin(&mut tx, member, "revoke invites").await?;
    let revoked = sqlx::query("DELETE FROM invites WHERE code = $1 AND group_id = $2")
        .bind(code)
        .bind(member.group.id)
        .execute(&mut *tx)
        .await?;
    if revoked.rows_affected() == 0 {
        return Err(AppError::NotFound);
    }
    tx.commit().await?;
    Ok(())
}

/// What an invite code leads to; 404 for an unknown, expired or withdrawn code.
pub async fn info(state: &AppState, code: &str) -> Result<InviteInfo, AppError> {
    let invite = live_invite(state, state.registry(), code).await?;
    Ok(InviteInfo {
        code: code.to_owned(),
        group_name: invite.group.name,
        expires_at: invite.expires_at,
        email: invite.email,
    })
}

/// Joins the invite's group as a resident. Accepting again (or as an
/// existing member) changes nothing and answers the same. An emailed invite
/// takes only the account with its address (403 otherwise, or while that
/// address is not verified), and is used up.
pub async fn accept(state: &AppState, user: &UserInfo, code: &str) -> Result<GroupSummary, AppError> {
    // The group's schema current first (start-up may not have reached it):
    // the join writes its directory.
    let invite = live_invite(state, state.registry(), code).await?;
    migrations::ensure_current(state.registry(), &invite.group, invite.version).await?;
    let mut tx = state.registry().begin().await?;
    let Invite { group, email, .. } = live_invite(state, &mut *tx, code).await?;
    group.require_open()?;
    if let Some(email) = &email {
        if *email != user.email {
            return Err(AppError::Forbidden(format!(
                "this invitation was sent to {email}: sign in with that address to accept it"
            )));
        }
        if state.settings.email_invites_need_verified && !user.email_verified {
            return Err(AppError::Forbidden(
                "confirm your email first: follow the link we sent you, then accept again".into(),
            ));
        }
    }
    let role = groups::join(&mut tx, &group, user, Role::Resident).await?;
    // Checked again once joined: a removal that committed meanwhile (the
    // join waited for it if it was this person's) withdrew the invite.
    live_invite(state, &mut *tx, code).await?;
    if email.is_some() {
        sqlx::query("DELETE FROM invites WHERE code = $1").bind(code).execute(&mut *tx).await?;
    }
    // A departure of this person still to be written out of the directory
    // is moot: they are back.
    sqlx::query("UPDATE ended_memberships SET directory_synced = true WHERE user_id = $1 AND group_id = $2")
        .bind(user.id)
        .bind(group.id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    // Accepting again writes it if this fails (so does the member's next request).
    groups::sync_directory(state.registry(), &group, user.id).await?;
    Ok(GroupSummary {
        id: group.id,
        slug: group.slug,
        name: group.name,
        role,
        closed_at: group.closed_at,
        residents_open_polls: group.residents_open_polls,
    })
}

struct Invite {
    group: Group,
    expires_at: DateTime<Utc>,
    email: Option<String>,
    /// The group's tenant version.
    version: i64,
}

async fn live_invite(state: &AppState, db: impl PgExecutor<'_>, code: &str) -> Result<Invite, AppError> {
    // Codes are 32 hex digits: anything else names no invite (and never reaches SQL).
    if code.len() != 32 || !code.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(AppError::NotFound);
    }
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        group: GroupRow,
        expires_at: DateTime<Utc>,
        email: Option<String>,
    }
    let row: Option<Row> = sqlx::query_as(&format!(
        "SELECT {GROUP_COLUMNS}, i.expires_at, i.email
         FROM invites i JOIN groups g ON g.id = i.group_id
         WHERE i.code = $1 AND {LIVE}"
    ))
    .bind(code)
    .fetch_optional(db)
    .await?;
    let Row { group, expires_at, email } = row.ok_or(AppError::NotFound)?;
    let (group, version) = group.resolve(state)?;
    Ok(Invite { group, expires_at, email, version })
}
