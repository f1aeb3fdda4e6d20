//! Database migrations: the global schema (`migrations/global`) and each
//! group's schema (`migrations/tenant`), whose applied versions are recorded
//! in that schema's own `schema_migrations` table; `groups.tenant_version`
//! records where each group is, so the ones behind are found in one query.

use crate::{backend::SchemaName, error::AppError};
use futures::StreamExt;
use sqlx::{migrate::Migrator, Executor, PgConnection, PgPool};
use std::{
    collections::HashMap,
    sync::{Arc, LazyLock, Mutex},
};

/// The registry's migrations. A database migrated by a newer server (its
/// migrations unknown here) is accepted: during a rolling deployment the
/// previous version keeps serving, so global migrations only ever add
/// (docs/deploy.md).
static GLOBAL: LazyLock<Migrator> = LazyLock::new(|| {
    let mut migrator = sqlx::migrate!("../migrations/global");
    migrator.set_ignore_missing(true);
    migrator
});
static TENANT: Migrator = sqlx::migrate!("../migrations/tenant");

/// Groups being brought current by a request in this process, each with
/// whether it is done: the requests for one group wait for one migration,
/// rather than each holding a pooled connection on its advisory lock.
static IN_FLIGHT: LazyLock<Mutex<HashMap<String, Arc<tokio::sync::Mutex<bool>>>>> = LazyLock::new(Default::default);

/// Requests migrate one group at a time in a process (each such migration
/// holds a pooled connection, and start-up's run holds others): a burst of
/// requests for groups not reached yet never takes the whole pool.
static REQUEST_MIGRATIONS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);

/// Applies the global migrations (sqlx takes its own advisory lock).
pub async fn run_global(pool: &PgPool) -> Result<(), AppError> {
    GLOBAL.run(pool).await.map_err(|error| {
        tracing::error!(%error, "global migrations failed");
        AppError::Internal
    })
}

/// The level every group schema is brought to, as `groups.tenant_version`
/// records it: how many tenant migrations there are (a count, not the
/// highest version, so a migration merged late with an earlier timestamp
/// still raises it; migrations are never removed).
pub fn latest_tenant_version() -> i64 {
    tenant_migrations().count() as i64
}

/// Creates a new group's schema at the latest version, inside the caller's
/// transaction (so a failed group creation leaves no schema behind).
pub async fn provision(conn: &mut PgConnection, schema: &SchemaName) -> Result<(), AppError> {
    let ident = schema.ident();
    let create = format!(
        "CREATE SCHEMA {ident};
         CREATE TABLE {ident}.schema_migrations (
             version     bigint PRIMARY KEY,
             description text NOT NULL,
             applied_at  timestamptz NOT NULL DEFAULT now()
         );"
    );
    // `Executor::execute` with plain text runs a multi-statement simple query;
    // `sqlx::raw_sql` would too, but its future fails rustc's higher-ranked
    // Send check inside server functions.
    conn.execute(create.as_str()).await?;
    apply_pending(conn, schema).await.map(|_| ())
}

/// What a run over the groups did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Migrated {
    /// Migrations applied, over all groups.
    pub applied: usize,
    /// Groups whose migration failed (each logged; left behind, so the
    /// next run, or the group's next request, tries again).
    pub failed: usize,
}

/// Brings every group schema behind the latest version (as `groups`
/// records it: one query finds them) up to date, `parallelism` groups at a
/// time. Each group migrates in a transaction of its own under a per-group
/// advisory lock, so servers starting at once never apply a migration
/// twice, and a request for a group not reached yet migrates it first (see
/// [`ensure_current`]). One group's failure does not stop the others.
pub async fn migrate_groups(pool: &PgPool, parallelism: usize) -> Result<Migrated, AppError> {
    let names: Vec<String> =
        sqlx::query_scalar("SELECT schema_name FROM groups WHERE tenant_version < $1 ORDER BY created_at")
            .bind(latest_tenant_version())
            .fetch_all(pool)
            .await?;
    let mut migrated = Migrated::default();
    // Collected first: a borrowing iterator inside the stream trips rustc's
    // Send inference for a spawned task.
    let mut schemas = Vec::with_capacity(names.len());
    for name in names {
        match SchemaName::parse(&name) {
            Some(schema) => schemas.push(schema),
            None => tracing::error!(schema = %name, "group schema name has an unexpected form; skipped"),
        }
    }
    let mut runs = futures::stream::iter(schemas.into_iter().map(|schema| {
        let pool = pool.clone();
        async move {
            let result = migrate_group(&pool, &schema).await;
            (schema, result)
        }
    }))
    .buffer_unordered(parallelism.max(1));
    while let Some((schema, result)) = runs.next().await {
        match result {
            Ok(applied) => migrated.applied += applied,
            Err(error) => {
                tracing::error!(?error, schema = schema.as_str(), "migrating a group schema failed");
                migrated.failed += 1;
            }
        }
    }
    Ok(migrated)
}

/// Brings the group's schema up to date if `version` (its `groups` row's
/// `tenant_version`) says it is behind: what a request does for a group
/// start-up has not reached yet. Requests for one group meanwhile wait for
/// the first one's migration.
pub async fn ensure_current(pool: &PgPool, schema: &SchemaName, version: i64) -> Result<(), AppError> {
    if version >= latest_tenant_version() {
        return Ok(());
    }
    let slot = IN_FLIGHT
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .entry(schema.as_str().to_owned())
        .or_default()
        .clone();
    let mut done = slot.lock().await;
    if !*done {
        let _turn = REQUEST_MIGRATIONS.acquire().await.map_err(|_| AppError::Internal)?;
        let migrated = migrate_group(pool, schema).await;
        // Later requests read the new level from `groups` (or, after a
        // failure, try again).
        IN_FLIGHT.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).remove(schema.as_str());
        migrated?;
        *done = true;
    }
    Ok(())
}

/// Migrates one group under its advisory lock; returns how many
/// migrations were applied (none if another server did it meanwhile).
pub async fn migrate_group(pool: &PgPool, schema: &SchemaName) -> Result<usize, AppError> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('courtyard.tenant.' || $1, 0))")
        .bind(schema.as_str())
        .execute(&mut *tx)
        .await?;
    let applied = apply_pending(&mut tx, schema).await?;
    tx.commit().await?;
    Ok(applied)
}

async fn apply_pending(conn: &mut PgConnection, schema: &SchemaName) -> Result<usize, AppError> {
    let ident = schema.ident();
    let done: Vec<i64> =
        sqlx::query_scalar(&format!("SELECT version FROM {ident}.schema_migrations")).fetch_all(&mut *conn).await?;
    // Collected first: a borrowing iterator held across the awaits below
    // trips rustc's Send inference for the server-function futures.
    let pending: Vec<&'static sqlx::migrate::Migration> =
        tenant_migrations().filter(|m| !done.contains(&m.version)).collect();
    let mut applied = 0;
    for migration in pending {
        // Tenant migrations name their tables unqualified: they land in the
        // first schema of the path, the group's.
        let path = format!("SET LOCAL search_path TO {ident}, public");
        conn.execute(path.as_str()).await?;
        conn.execute(&*migration.sql).await.map_err(|error| {
            tracing::error!(%error, version = migration.version, schema = schema.as_str(), "tenant migration failed");
            AppError::Internal
        })?;
        conn.execute("SET LOCAL search_path TO DEFAULT").await?;
        sqlx::query(&format!("INSERT INTO {ident}.schema_migrations (version, description) VALUES ($1, $2)"))
            .bind(migration.version)
            .bind(&*migration.description)
            .execute(&mut *conn)
            .await?;
        applied += 1;
    }
    // Only ever forward: a server older than the schema leaves it as is.
    sqlx::query("UPDATE groups SET tenant_version = $1 WHERE schema_name = $2 AND tenant_version < $1")
        .bind(latest_tenant_version())
        .bind(schema.as_str())
        .execute(&mut *conn)
        .await?;
    if applied > 0 {
        // Shape streams of this group name the old schema: servers following
        // it (docs/sync.md) send their clients 409 and a new handle.
        sqlx::query("SELECT pg_notify('courtyard_schema', $1)").bind(schema.as_str()).execute(&mut *conn).await?;
    }
    Ok(applied)
}

fn tenant_migrations() -> impl Iterator<Item = &'static sqlx::migrate::Migration> {
    TENANT.iter().filter(|m| !m.migration_type.is_down_migration())
}
