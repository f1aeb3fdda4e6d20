//! The `users` table.

use crate::{error::AppError, model::UserInfo};
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
    Ok(UserInfo { id, email: email.to_owned(), name: name.to_owned() })
}

/// The user with this (lowercased) email and their password hash.
pub async fn credentials(db: impl PgExecutor<'_>, email: &str) -> Result<Option<(UserInfo, String)>, AppError> {
    let row: Option<(Uuid, String, String, String)> =
        sqlx::query_as("SELECT id, email, name, password_hash FROM users WHERE email = $1")
            .bind(email)
            .fetch_optional(db)
            .await?;
    Ok(row.map(|(id, email, name, hash)| (UserInfo { id, email, name }, hash)))
}

/// `GET /api/me`: the user and their groups.
pub async fn me(db: impl PgExecutor<'_>, user: UserInfo) -> Result<crate::model::Me, AppError> {
    let groups = crate::backend::groups::of_user(db, user.id).await?;
    Ok(crate::model::Me { user, groups })
}
