//! The group registry (`groups`, `memberships`) and each group's `members`
//! directory. Requests name a group by slug; `resolve` turns that into a
//! `Member` only for someone who belongs to it.

use crate::{
    backend::{migrations, AppState, SchemaName},
    error::AppError,
    model::{validate, GroupSummary, MemberInfo, Role, UserInfo},
};
use sqlx::{PgConnection, PgExecutor, PgPool};
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct Group {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub schema: SchemaName,
}

/// A signed-in user resolved as a member of a group.
#[derive(Debug, Clone)]
pub struct Member {
    pub group: Group,
    pub user_id: Uuid,
    pub role: Role,
}

impl Member {
    pub fn require_admin(&self, what: &str) -> Result<(), AppError> {
        match self.role {
            Role::Admin => Ok(()),
            Role::Resident => Err(AppError::Forbidden(format!("only admins can {what}"))),
        }
    }

    pub fn summary(&self) -> GroupSummary {
        GroupSummary {
            id: self.group.id,
            slug: self.group.slug.clone(),
            name: self.group.name.clone(),
            role: self.role,
        }
    }
}

/// Creates a group with its schema; the creator becomes its admin. One
/// account creates at most `max_groups_per_user` groups (each is a schema).
pub async fn create(state: &AppState, user: &UserInfo, slug: &str, name: &str) -> Result<GroupSummary, AppError> {
    let slug = validate::slug(slug)?;
    let name = validate::name("name", name)?;
    let id = Uuid::new_v4();
    let group = Group { id, slug, name, schema: SchemaName::for_group(id) };
    let mut tx = state.pool.begin().await?;
    // Counted under a per-user lock, so parallel requests cannot all pass.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('groups.created_by:' || $1::text, 0))")
        .bind(user.id)
        .execute(&mut *tx)
        .await?;
    let created: i64 = sqlx::query_scalar("SELECT count(*) FROM groups WHERE created_by = $1")
        .bind(user.id)
        .fetch_one(&mut *tx)
        .await?;
    let limit = state.settings.max_groups_per_user;
    if created >= limit {
        return Err(AppError::Forbidden(format!("one account can create at most {limit} groups")));
    }
    // Provisioned below at the latest version, in this transaction.
    sqlx::query(
        "INSERT INTO groups (id, slug, name, schema_name, created_by, tenant_version) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(group.id)
    .bind(&group.slug)
    .bind(&group.name)
    .bind(group.schema.as_str())
    .bind(user.id)
    .bind(migrations::latest_tenant_version())
    .execute(&mut *tx)
    .await
    .map_err(|error| match AppError::from(error) {
        AppError::Conflict(_) => AppError::Conflict("that address is taken".into()),
        other => other,
    })?;
    migrations::provision(&mut tx, &group.schema).await?;
    let role = add_member(&mut tx, &group, user, Role::Admin).await?;
    tx.commit().await?;
    tracing::info!(group.slug = %group.slug, user.id = %user.id, "group created");
    Ok(GroupSummary { id: group.id, slug: group.slug, name: group.name, role })
}

/// Adds a user to a group with `role`, in `memberships` and the group's
/// `members`; a user already there keeps the role they have. Returns it.
pub async fn add_member(conn: &mut PgConnection, group: &Group, user: &UserInfo, role: Role) -> Result<Role, AppError> {
    let role = loop {
        let inserted: Option<Role> = sqlx::query_scalar(
            "INSERT INTO memberships (user_id, group_id, role) VALUES ($1, $2, $3)
             ON CONFLICT (user_id, group_id) DO NOTHING RETURNING role",
        )
        .bind(user.id)
        .bind(group.id)
        .bind(role)
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(role) = inserted {
            break role;
        }
        // Already a member (perhaps by a join that committed a moment ago:
        // this statement's snapshot is newer than the insert's, so it sees it).
        let existing: Option<Role> =
            sqlx::query_scalar("SELECT role FROM memberships WHERE user_id = $1 AND group_id = $2")
                .bind(user.id)
                .bind(group.id)
                .fetch_optional(&mut *conn)
                .await?;
        if let Some(role) = existing {
            break role;
        }
    };
    sqlx::query(&format!(
        "INSERT INTO {}.members (user_id, display_name, role) VALUES ($1, $2, $3)
         ON CONFLICT (user_id) DO NOTHING",
        group.schema.ident()
    ))
    .bind(user.id)
    .bind(&user.name)
    .bind(role)
    .execute(&mut *conn)
    .await?;
    Ok(role)
}

/// The groups a user belongs to, oldest membership first.
pub async fn of_user(db: impl PgExecutor<'_>, user_id: Uuid) -> Result<Vec<GroupSummary>, AppError> {
    Ok(sqlx::query_as(
        "SELECT g.id, g.slug, g.name, m.role FROM memberships m JOIN groups g ON g.id = m.group_id
         WHERE m.user_id = $1 ORDER BY m.created_at, g.slug",
    )
    .bind(user_id)
    .fetch_all(db)
    .await?)
}

/// The user as a member of the group at `slug`; 404 alike for a group that
/// does not exist and one the user is not in, so existence does not leak.
/// A group whose schema start-up has not migrated yet is migrated first.
pub async fn resolve(pool: &PgPool, user_id: Uuid, slug: &str) -> Result<Member, AppError> {
    if validate::slug(slug).is_err() {
        return Err(AppError::NotFound);
    }
    let row: Option<(Uuid, String, String, String, i64, Role)> = sqlx::query_as(
        "SELECT g.id, g.slug, g.name, g.schema_name, g.tenant_version, m.role
         FROM groups g JOIN memberships m ON m.group_id = g.id AND m.user_id = $1
         WHERE g.slug = $2",
    )
    .bind(user_id)
    .bind(slug)
    .fetch_optional(pool)
    .await?;
    let (id, slug, name, schema, version, role) = row.ok_or(AppError::NotFound)?;
    let group = Group { id, slug, name, schema: schema_name(&schema)? };
    migrations::ensure_current(pool, &group.schema, version).await?;
    Ok(Member { group, user_id, role })
}

/// The group's directory, by display name.
pub async fn members(db: impl PgExecutor<'_>, group: &Group) -> Result<Vec<MemberInfo>, AppError> {
    Ok(sqlx::query_as(&format!(
        "SELECT user_id, display_name, unit, role, joined_at FROM {}.members
         ORDER BY lower(display_name), user_id",
        group.schema.ident()
    ))
    .fetch_all(db)
    .await?)
}

pub(crate) fn schema_name(text: &str) -> Result<SchemaName, AppError> {
    SchemaName::parse(text).ok_or_else(|| {
        tracing::error!(schema = text, "group schema name has an unexpected form");
        AppError::Internal
    })
}
