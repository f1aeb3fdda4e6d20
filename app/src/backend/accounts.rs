//! Accounts (the `users` table): made, found, and managed by their owner
//! (name, email, password, sessions, deletion).

use crate::{
    backend::{
        auth::{self, throttle, Client},
        groups::{GroupRow, GROUP_COLUMNS},
        mail::{self, Mail, Part},
        membership, AppState,
    },
    error::AppError,
    model::{validate, Role, SessionInfo, UserInfo},
};
use sqlx::PgExecutor;
use uuid::Uuid;

/// Inserts a user with an already validated email and name.
pub async fn insert(
    db: impl PgExecutor<'_>,
    email: &str,
    password_hash: &str,
    name: &str,
) -> Result<UserInfo, AppError> {
    let id = Uuid::new_v4();
    sqlx::query("INSERT INTO users (id, email, password_hash, name) VALUES ($1, $2, $3, $4)")
        .bind(id)
        .bind(email)
        .bind(password_hash)
        .bind(name)
        .execute(db)
        .await
        .map_err(|error| match AppError::from(error) {
            AppError::Conflict(_) => AppError::Conflict("an account with that email exists".into()),
            other => other,
        })?;
    Ok(UserInfo { id, email: email.to_owned(), name: name.to_owned(), email_verified: false })
}

/// The user with this (lowercased) email and their password hash.
pub async fn credentials(db: impl PgExecutor<'_>, email: &str) -> Result<Option<(UserInfo, String)>, AppError> {
    let row: Option<(Uuid, String, String, bool, String)> = sqlx::query_as(
        "SELECT id, email, name, email_verified_at IS NOT NULL, password_hash FROM users WHERE email = $1",
    )
    .bind(email)
    .fetch_optional(db)
    .await?;
    Ok(row.map(|(id, email, name, email_verified, hash)| (UserInfo { id, email, name, email_verified }, hash)))
}

/// `GET /api/me`: the user and their groups.
pub async fn me(db: impl PgExecutor<'_>, user: UserInfo) -> Result<crate::model::Me, AppError> {
    let groups = crate::backend::groups::of_user(db, user.id).await?;
    Ok(crate::model::Me { user, groups })
}

/// Renames the account. (Each group's directory shows the name its member
/// gave there: that one is theirs to edit in the group.)
pub async fn rename(state: &AppState, user: &UserInfo, name: &str) -> Result<UserInfo, AppError> {
    let name = validate::name("name", name)?;
    sqlx::query("UPDATE users SET name = $2 WHERE id = $1").bind(user.id).bind(&name).execute(state.registry()).await?;
    Ok(UserInfo { name, ..user.clone() })
}

/// Checks `password` is `user`'s, before a change to their account: counted
/// as a sign-in attempt (the same limits: 429 past them); a wrong one is a
/// 422 on `current_password` (not 401: the person is signed in).
async fn check_password(state: &AppState, user: &UserInfo, password: &str, client: &Client) -> Result<(), AppError> {
    let limits = &state.settings.login_limits;
    let reservation = throttle::reserve_login(state.registry(), limits, &user.email, client.ip).await?;
    let stored: String = sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
        .bind(user.id)
        .fetch_one(state.registry())
        .await?;
    match auth::password::verify(&state.hashing, password.to_owned(), Some(stored)).await {
        Ok(true) => throttle::succeeded(state.registry(), &user.email).await,
        Ok(false) => Err(AppError::validation("current_password", "that is not your current password")),
        Err(error) => {
            throttle::release_login(state.registry(), reservation).await?;
            Err(error)
        }
    }
}

/// Changes the password (the current one first): every other session of
/// the account ends; the one of `token` stays. Returns how many ended.
pub async fn change_password(
    state: &AppState,
    user: &UserInfo,
    token: &str,
    current: &str,
    new: &str,
    client: &Client,
) -> Result<u64, AppError> {
    let new = validate::password(new)?.to_owned();
    check_password(state, user, current, client).await?;
    let hash = auth::password::hash(&state.hashing, new).await?;
    let mut tx = state.registry().begin().await?;
    sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
        .bind(user.id)
        .bind(&hash)
        .execute(&mut *tx)
        .await?;
    let ended = auth::session::end_others(&mut *tx, user.id, Some(token)).await?;
    crate::backend::calendar::stop_all(&mut *tx, user.id, None).await?;
    // Links to reset or to move the account (a verification link stays).
    for purpose in [auth::email_link::Purpose::Reset, auth::email_link::Purpose::Change] {
        auth::email_link::withdraw(&mut *tx, purpose, user.id).await?;
    }
    let told = Mail::compose(
        &state.settings,
        &user.email,
        "Your Courtyard password was changed",
        &format!("Hello {},", user.name),
        &[
            Part::Text("The password of your Courtyard account was just changed, and every other device signed in to it was signed out."),
            Part::Text("If that was not you, choose a new password at once:"),
            Part::Link("Reset my password", "/forgot"),
        ],
    );
    mail::queue(&mut *tx, &told).await?;
    tx.commit().await?;
    Ok(ended)
}

/// Asks to change the account's email (the current password first): a
/// link goes to the new address, which becomes the account's when followed
/// (`verify::confirm`). 409 when another account has it; 429 past
/// `accounts.max_resets_per_email` asks per window.
pub async fn change_email(
    state: &AppState,
    user: &UserInfo,
    new_email: &str,
    password: &str,
    client: &Client,
) -> Result<(), AppError> {
    let new_email = validate::email(new_email)?;
    if new_email == user.email {
        return Err(AppError::validation("email", "that is your email already"));
    }
    check_password(state, user, password, client).await?;
    let limits = &state.settings.reset_limits;
    let limit = throttle::Limit { kind: "email_change.user", key: Some(user.id.to_string()), max: limits.per_email };
    throttle::count(state.registry(), limits.window, &[limit]).await?;
    let mut tx = state.registry().begin().await?;
    let taken: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM users WHERE email = $1)")
        .bind(&new_email)
        .fetch_one(&mut *tx)
        .await?;
    if taken {
        return Err(AppError::Conflict("an account with that email exists".into()));
    }
    // One address asked for at a time: an earlier link stops working.
    auth::email_link::withdraw(&mut *tx, auth::email_link::Purpose::Change, user.id).await?;
    auth::verify::send_change(&mut tx, &state.settings, user, &new_email).await?;
    tx.commit().await?;
    Ok(())
}

/// What a session is named by in the list (the first 8 bytes of its
/// token's SHA-256, in hex: it says nothing of the token).
const SESSION_ID: &str = "encode(substr(token_hash, 1, 8), 'hex')";

/// The account's live sessions, newest first; `token` is the asking one.
pub async fn sessions(state: &AppState, user: &UserInfo, token: &str) -> Result<Vec<SessionInfo>, AppError> {
    Ok(sqlx::query_as(&format!(
        "SELECT {SESSION_ID} AS id, created_at, expires_at, user_agent, token_hash = $2 AS current
         FROM sessions WHERE user_id = $1 AND expires_at > now() ORDER BY created_at DESC, token_hash"
    ))
    .bind(user.id)
    .bind(auth::session::digest(token))
    .fetch_all(state.registry())
    .await?)
}

/// Ends one of the account's sessions; 404 for an id it has not. Returns
/// whether it was the asking one (`token`'s).
pub async fn end_session(state: &AppState, user: &UserInfo, token: &str, id: &str) -> Result<bool, AppError> {
    if id.len() != 16 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(AppError::NotFound);
    }
    let ended: Option<bool> = sqlx::query_scalar(&format!(
        "DELETE FROM sessions WHERE user_id = $1 AND {SESSION_ID} = lower($2) RETURNING token_hash = $3"
    ))
    .bind(user.id)
    .bind(id)
    .bind(auth::session::digest(token))
    .fetch_optional(state.registry())
    .await?;
    ended.ok_or(AppError::NotFound)
}

/// Deletes the account (its password first). Every membership ends; what
/// the person wrote stays, under "former member", unless `remove_content`.
/// 409 while they are the only admin of an open group (they hand it over
/// or close it first).
pub async fn delete(
    state: &AppState,
    user: &UserInfo,
    password: &str,
    remove_content: bool,
    client: &Client,
) -> Result<(), AppError> {
    check_password(state, user, password, client).await?;
    let mut tx = state.registry().begin().await?;
    #[derive(sqlx::FromRow)]
    struct Membership {
        #[sqlx(flatten)]
        group: GroupRow,
        role: Role,
    }
    let read = format!(
        "SELECT {GROUP_COLUMNS}, m.role FROM memberships m JOIN groups g ON g.id = m.group_id
         WHERE m.user_id = $1 ORDER BY g.id"
    );
    // The groups' admins locked, then the memberships read again under the
    // locks (a promotion meanwhile is seen).
    let before: Vec<Membership> = sqlx::query_as(&read).bind(user.id).fetch_all(&mut *tx).await?;
    let ids: Vec<Uuid> = before.iter().map(|m| m.group.id()).collect();
    membership::lock_admins(&mut tx, &ids).await?;
    let memberships: Vec<Membership> = sqlx::query_as(&read).bind(user.id).fetch_all(&mut *tx).await?;
    let mut groups = Vec::new();
    for membership in memberships {
        groups.push((membership.group.resolve(state)?.0, membership.role));
    }
    let ids: Vec<Uuid> = groups.iter().map(|(group, _)| group.id).collect();
    let mut sole = Vec::new();
    for (group, role) in &groups {
        if *role == Role::Admin
            && group.closed_at.is_none()
            && !membership::has_other_admin(&mut tx, group.id, user.id).await?
        {
            sole.push(group.name.clone());
        }
    }
    if !sole.is_empty() {
        return Err(AppError::Conflict(format!(
            "you are the only admin of {}: make someone else admin, or close the group, first",
            sole.join(", ")
        )));
    }
    sqlx::query("DELETE FROM memberships WHERE user_id = $1").bind(user.id).execute(&mut *tx).await?;
    sqlx::query(
        "UPDATE ended_memberships SET removed = false, remove_content = $2 WHERE user_id = $1 AND group_id = ANY($3)",
    )
    .bind(user.id)
    .bind(remove_content)
    .bind(&ids)
    .execute(&mut *tx)
    .await?;
    let told = Mail::compose(
        &state.settings,
        &user.email,
        "Your Courtyard account was deleted",
        &format!("Hello {},", user.name),
        &[Part::Text(if remove_content {
            "Your Courtyard account was deleted, with what you wrote in your groups."
        } else {
            "Your Courtyard account was deleted. What you wrote in your groups stays there, under \"former member\"."
        })],
    );
    mail::queue(&mut *tx, &told).await?;
    sqlx::query("DELETE FROM users WHERE id = $1").bind(user.id).execute(&mut *tx).await?;
    tx.commit().await?;
    tracing::info!(user.id = %user.id, groups = groups.len(), remove_content, "account deleted");
    for (group, _) in &groups {
        if let Err(error) = membership::sync_departure(state.registry(), group, user.id).await {
            tracing::warn!(?error, group.slug = %group.slug, "left for the directory job");
        }
    }
    Ok(())
}
