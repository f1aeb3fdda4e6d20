//! The group registry (`groups`, `memberships`) and each group's `members`
//! directory (on the group's own database). Requests name a group by slug;
//! `resolve` turns that into a `Member` only for someone who belongs to it.

use crate::{
    backend::{migrations, AppState, GroupDb, SchemaName},
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
    /// The group database its schema lives on.
    pub db: GroupDb,
    /// Closed by an admin: read-only until its schema is dropped.
    pub closed_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Residents may open polls (else only admins).
    pub residents_open_polls: bool,
}

impl Group {
    /// 409 once the group is closed (it is read-only).
    pub fn require_open(&self) -> Result<(), AppError> {
        match self.closed_at {
            None => Ok(()),
            Some(_) => Err(AppError::Conflict("this group is closed: it is read-only until it is deleted".into())),
        }
    }
}

/// A `groups` row as requests read it (`id, slug, name, schema_name,
/// database, tenant_version, closed_at, residents_open_polls`: [`GROUP_COLUMNS`]).
#[derive(sqlx::FromRow)]
pub(crate) struct GroupRow {
    id: Uuid,
    slug: String,
    name: String,
    schema_name: String,
    database: String,
    tenant_version: i64,
    closed_at: Option<chrono::DateTime<chrono::Utc>>,
    residents_open_polls: bool,
}

/// The columns of `groups g` a [`GroupRow`] reads.
pub(crate) const GROUP_COLUMNS: &str =
    "g.id, g.slug, g.name, g.schema_name, g.database, g.tenant_version, g.closed_at, g.residents_open_polls";

impl GroupRow {
    pub(crate) fn slug(&self) -> &str {
        &self.slug
    }

    pub(crate) fn id(&self) -> Uuid {
        self.id
    }

    pub(crate) fn database(&self) -> &str {
        &self.database
    }

    /// The group, on its database, and its schema's tenant version.
    pub(crate) fn resolve(self, state: &AppState) -> Result<(Group, i64), AppError> {
        let db = state.databases.get(&self.database)?.clone();
        let schema = schema_name(&self.schema_name)?;
        let group = Group {
            id: self.id,
            slug: self.slug,
            name: self.name,
            schema,
            db,
            closed_at: self.closed_at,
            residents_open_polls: self.residents_open_polls,
        };
        Ok((group, self.tenant_version))
    }
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
            closed_at: self.group.closed_at,
            residents_open_polls: self.group.residents_open_polls,
        }
    }
}

/// Creates a group; the creator becomes its admin. One account creates at
/// most `max_groups_per_user` groups (each is a schema). The group is
/// recorded in the registry first, placed on a group database by the
/// placement policy, then its schema is made there: a group whose schema
/// could not be made (that database away, the server stopped) is made by
/// its first request, or start-up's migration run, instead.
pub async fn create(state: &AppState, user: &UserInfo, slug: &str, name: &str) -> Result<GroupSummary, AppError> {
    let slug = validate::slug(slug)?;
    let name = validate::name("name", name)?;
    let id = Uuid::new_v4();
    let db = state.databases.place().await?.clone();
    let group =
        Group { id, slug, name, schema: SchemaName::for_group(id), db, closed_at: None, residents_open_polls: false };
    let mut tx = state.registry().begin().await?;
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
    // Tenant version 0: its schema is not made yet (see `migrations`).
    sqlx::query(
        "INSERT INTO groups (id, slug, name, schema_name, created_by, tenant_version, database)
         VALUES ($1, $2, $3, $4, $5, 0, $6)",
    )
    .bind(group.id)
    .bind(&group.slug)
    .bind(&group.name)
    .bind(group.schema.as_str())
    .bind(user.id)
    .bind(group.db.name())
    .execute(&mut *tx)
    .await
    .map_err(|error| match AppError::from(error) {
        AppError::Conflict(_) => AppError::Conflict("that address is taken".into()),
        other => other,
    })?;
    let role = join(&mut tx, &group, user, Role::Admin).await?;
    if state.settings.notify {
        crate::backend::notify::watch(&mut *tx, &state.settings, group.id, 0).await?;
    }
    tx.commit().await?;
    tracing::info!(group.slug = %group.slug, user.id = %user.id, database = group.db.name(), "group created");
    let made = async {
        migrations::ensure_current(state.registry(), &group, 0).await?;
        sync_directory(state.registry(), &group, user.id).await
    };
    if let Err(error) = made.await {
        tracing::warn!(?error, group.slug = %group.slug, "the new group's schema is left for its first request to make");
    }
    Ok(GroupSummary {
        id: group.id,
        slug: group.slug,
        name: group.name,
        role,
        closed_at: None,
        residents_open_polls: false,
    })
}

/// Renames the group (admins; not once it is closed).
pub async fn rename(state: &AppState, member: &Member, name: &str) -> Result<GroupSummary, AppError> {
    member.require_admin("rename the group")?;
    member.group.require_open()?;
    let name = validate::name("name", name)?;
    let mut tx = state.registry().begin().await?;
    crate::backend::membership::still_admin(&mut tx, member, "rename the group").await?;
    sqlx::query("UPDATE groups SET name = $2 WHERE id = $1 AND closed_at IS NULL")
        .bind(member.group.id)
        .bind(&name)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(GroupSummary { name, ..member.summary() })
}

/// Lets residents open polls, or only admins (admins; not once it is closed).
pub async fn set_residents_open_polls(
    state: &AppState,
    member: &Member,
    allowed: bool,
) -> Result<GroupSummary, AppError> {
    member.require_admin("change who opens polls")?;
    member.group.require_open()?;
    let mut tx = state.registry().begin().await?;
    crate::backend::membership::still_admin(&mut tx, member, "change who opens polls").await?;
    sqlx::query("UPDATE groups SET residents_open_polls = $2 WHERE id = $1 AND closed_at IS NULL")
        .bind(member.group.id)
        .bind(allowed)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(GroupSummary { residents_open_polls: allowed, ..member.summary() })
}

/// Records a user as a member of a group with `role` in the registry (the
/// caller's transaction), their directory entry still to be written (by
/// [`sync_directory`] once this commits); a user already there keeps the
/// role they have. Returns it.
pub async fn join(conn: &mut PgConnection, group: &Group, user: &UserInfo, role: Role) -> Result<Role, AppError> {
    loop {
        let inserted: Option<Role> = sqlx::query_scalar(
            "INSERT INTO memberships (user_id, group_id, role, directory_synced) VALUES ($1, $2, $3, false)
             ON CONFLICT (user_id, group_id) DO NOTHING RETURNING role",
        )
        .bind(user.id)
        .bind(group.id)
        .bind(role)
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(role) = inserted {
            return Ok(role);
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
            return Ok(role);
        }
    }
}

/// Writes a new member's entry in the group's directory (`members`, on the
/// group's database), or their new role in it, and then marks the
/// membership as listed. The two are different databases, so no
/// transaction spans them: the entry is written idempotently, after the
/// membership committed and before the mark, so whatever fails in between,
/// the next request of that member (see [`resolve`]) or the server's
/// directory job writes it again. (The name in the directory is the
/// member's to edit there: only a new entry takes the account's.)
pub async fn sync_directory(registry: &PgPool, group: &Group, user_id: Uuid) -> Result<(), AppError> {
    let pending: Option<(String, Role)> = sqlx::query_as(
        "SELECT u.name, m.role FROM memberships m JOIN users u ON u.id = m.user_id
         WHERE m.user_id = $1 AND m.group_id = $2 AND NOT m.directory_synced",
    )
    .bind(user_id)
    .bind(group.id)
    .fetch_optional(registry)
    .await?;
    let Some((name, role)) = pending else { return Ok(()) };
    sqlx::query(&format!(
        "INSERT INTO {}.members (user_id, display_name, role) VALUES ($1, $2, $3)
         ON CONFLICT (user_id) DO UPDATE SET role = EXCLUDED.role WHERE members.role <> EXCLUDED.role",
        group.schema.ident()
    ))
    .bind(user_id)
    .bind(&name)
    .bind(role)
    .execute(&group.db.pool)
    .await?;
    // Listed as it was read: a role changed meanwhile is left for its own sync.
    sqlx::query("UPDATE memberships SET directory_synced = true WHERE user_id = $1 AND group_id = $2 AND role = $3")
        .bind(user_id)
        .bind(group.id)
        .bind(role)
        .execute(registry)
        .await?;
    Ok(())
}

/// The groups a user belongs to, oldest membership first.
pub async fn of_user(db: impl PgExecutor<'_>, user_id: Uuid) -> Result<Vec<GroupSummary>, AppError> {
    Ok(sqlx::query_as(
        "SELECT g.id, g.slug, g.name, m.role, g.closed_at, g.residents_open_polls FROM memberships m JOIN groups g ON g.id = m.group_id
         WHERE m.user_id = $1 ORDER BY m.created_at, g.slug",
    )
    .bind(user_id)
    .fetch_all(db)
    .await?)
}

/// The user as a member of the group at `slug`; 404 alike for a group that
/// does not exist and one the user is not in, so existence does not leak.
/// A group whose schema start-up has not migrated yet is migrated first,
/// and a membership whose directory entry is not written yet gets it.
pub async fn resolve(state: &AppState, user_id: Uuid, slug: &str) -> Result<Member, AppError> {
    if validate::slug(slug).is_err() {
        return Err(AppError::NotFound);
    }
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        group: GroupRow,
        role: Role,
        directory_synced: bool,
    }
    let row: Option<Row> = sqlx::query_as(&format!(
        "SELECT {GROUP_COLUMNS}, m.role, m.directory_synced
         FROM groups g JOIN memberships m ON m.group_id = g.id AND m.user_id = $1
         WHERE g.slug = $2"
    ))
    .bind(user_id)
    .bind(slug)
    .fetch_optional(state.registry())
    .await?;
    let Row { group, role, directory_synced: listed } = row.ok_or(AppError::NotFound)?;
    let (group, version) = group.resolve(state)?;
    migrations::ensure_current(state.registry(), &group, version).await?;
    if !listed {
        sync_directory(state.registry(), &group, user_id).await?;
    }
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
