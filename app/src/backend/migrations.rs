//! Database migrations: the global schema (`migrations/global`, in the
//! registry's database) and each group's schema (`migrations/tenant`, on
//! the group's database), whose applied versions are recorded in that
//! schema's own `schema_migrations` table; `groups.tenant_version` records
//! where each group is, so the ones behind are found in one query. Version
//! 0 is a group whose schema is not made yet (a new one), or one from
//! before the column: its schema is made if missing, then migrated.

use crate::{
    backend::{groups::Group, Databases, GroupDb, SchemaName},
    error::AppError,
};
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
/// What a group database other than the registry's needs before group
/// schemas can be made on it (the extensions they use). As for the
/// registry, a newer server's migrations are accepted.
static GROUP_DATABASE: LazyLock<Migrator> = LazyLock::new(|| {
    let mut migrator = sqlx::migrate!("../migrations/group_database");
    migrator.set_ignore_missing(true);
    migrator
});

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

/// Brings a group database other than the registry's up to date (once per
/// process; sqlx takes its own advisory lock). Done before any group schema
/// is migrated there.
pub async fn prepare(db: &GroupDb) -> Result<(), AppError> {
    if db.is_registry() {
        return Ok(());
    }
    db.prepared
        .get_or_try_init(|| async {
            GROUP_DATABASE.run(&db.pool).await.map_err(|error| {
                tracing::error!(%error, database = db.name(), "the group database's migrations failed");
                match error {
                    sqlx::migrate::MigrateError::Execute(error) => AppError::from(error),
                    _ => AppError::Internal,
                }
            })
        })
        .await
        .map(|_| ())
}

/// The level every group schema is brought to, as `groups.tenant_version`
/// records it: how many tenant migrations there are (a count, not the
/// highest version, so a migration merged late with an earlier timestamp
/// still raises it; migrations are never removed).
pub fn latest_tenant_version() -> i64 {
    tenant_migrations().count() as i64
}

/// Makes a group's schema if it is not there (one recorded at version 0)
/// and brings it up to date, on `conn` in the caller's transaction (the
/// caller records the version in the registry); returns the migrations
/// applied.
pub async fn provision(conn: &mut PgConnection, schema: &SchemaName) -> Result<usize, AppError> {
    let ident = schema.ident();
    let create = format!(
        "CREATE SCHEMA IF NOT EXISTS {ident};
         CREATE TABLE IF NOT EXISTS {ident}.schema_migrations (
             version     bigint PRIMARY KEY,
             description text NOT NULL,
             applied_at  timestamptz NOT NULL DEFAULT now()
         );"
    );
    // `Executor::execute` with plain text runs a multi-statement simple query;
    // `sqlx::raw_sql` would too, but its future fails rustc's higher-ranked
    // Send check inside server functions.
    conn.execute(create.as_str()).await?;
    apply_pending(conn, schema).await
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
/// time on each group database (the databases at once). Each group migrates
/// in a transaction of its own under a per-group advisory lock, so servers
/// starting at once never apply a migration twice, and a request for a
/// group not reached yet migrates it first (see [`ensure_current`]). One
/// group's failure does not stop the others.
pub async fn migrate_groups(databases: &Databases, parallelism: usize) -> Result<Migrated, AppError> {
    let rows: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT schema_name, database, tenant_version FROM groups WHERE tenant_version < $1 ORDER BY created_at",
    )
    .bind(latest_tenant_version())
    .fetch_all(&databases.registry)
    .await?;
    let mut migrated = Migrated::default();
    // Collected first, per database: a borrowing iterator inside the
    // stream trips rustc's Send inference for a spawned task.
    let mut work: Vec<(GroupDb, Vec<(SchemaName, bool)>)> =
        databases.all().iter().map(|db| (db.clone(), Vec::new())).collect();
    for (name, database, version) in rows {
        let Some(schema) = SchemaName::parse(&name) else {
            tracing::error!(schema = %name, "group schema name has an unexpected form; skipped");
            continue;
        };
        match work.iter_mut().find(|(db, _)| db.name() == database) {
            Some((_, schemas)) => schemas.push((schema, version == 0)),
            None => {
                tracing::error!(schema = %name, %database, "the group lives on a database not configured here; skipped");
                migrated.failed += 1;
            }
        }
    }
    let runs = work.into_iter().map(|(db, schemas)| {
        let registry = databases.registry.clone();
        async move {
            let mut done = Migrated::default();
            let mut runs = futures::stream::iter(schemas.into_iter().map(|(schema, provision)| {
                let (registry, db) = (registry.clone(), db.clone());
                async move {
                    let result = migrate_group(&registry, &db, &schema, provision).await;
                    (schema, result)
                }
            }))
            .buffer_unordered(parallelism.max(1));
            while let Some((schema, result)) = runs.next().await {
                match result {
                    Ok(applied) => done.applied += applied,
                    Err(error) => {
                        tracing::error!(
                            ?error,
                            schema = schema.as_str(),
                            database = db.name(),
                            "migrating a group schema failed"
                        );
                        done.failed += 1;
                    }
                }
            }
            done
        }
    });
    for done in futures::future::join_all(runs).await {
        migrated.applied += done.applied;
        migrated.failed += done.failed;
    }
    Ok(migrated)
}

/// Brings the group's schema up to date if `version` (its `groups` row's
/// `tenant_version`) says it is behind: what a request does for a group
/// start-up has not reached yet. Requests for one group meanwhile wait for
/// the first one's migration.
pub async fn ensure_current(registry: &PgPool, group: &Group, version: i64) -> Result<(), AppError> {
    if version >= latest_tenant_version() {
        return Ok(());
    }
    let schema = &group.schema;
    let slot = IN_FLIGHT
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .entry(schema.as_str().to_owned())
        .or_default()
        .clone();
    let mut done = slot.lock().await;
    if !*done {
        let _turn = REQUEST_MIGRATIONS.acquire().await.map_err(|_| AppError::Internal)?;
        let migrated = migrate_group(registry, &group.db, schema, version == 0).await;
        // Later requests read the new level from `groups` (or, after a
        // failure, try again).
        IN_FLIGHT.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).remove(schema.as_str());
        migrated?;
        *done = true;
    }
    Ok(())
}

/// Migrates one group on its database under its advisory lock (making its
/// schema first if `provision`), then records its version in the registry;
/// returns how many migrations were applied (none if another server did
/// it meanwhile).
pub async fn migrate_group(
    registry: &PgPool,
    db: &GroupDb,
    schema: &SchemaName,
    provision: bool,
) -> Result<usize, AppError> {
    prepare(db).await?;
    let mut tx = db.pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('courtyard.tenant.' || $1, 0))")
        .bind(schema.as_str())
        .execute(&mut *tx)
        .await?;
    // Placed elsewhere meanwhile (a move finished while this waited for
    // the lock, which the move holds): this copy is not the group's.
    let placed: Option<String> = sqlx::query_scalar("SELECT database FROM groups WHERE schema_name = $1")
        .bind(schema.as_str())
        .fetch_optional(registry)
        .await?;
    if placed.as_deref() != Some(db.name()) {
        tracing::info!(schema = schema.as_str(), database = db.name(), "not migrated: the group lives elsewhere now");
        return Err(AppError::Unavailable);
    }
    let applied = match provision {
        true => self::provision(&mut tx, schema).await?,
        false => apply_pending(&mut tx, schema).await?,
    };
    tx.commit().await?;
    // Only ever forward: a server older than the schema leaves it as is.
    // (Recorded after the schema's commit: if this fails, the next run
    // finds nothing to apply and records it then.)
    sqlx::query("UPDATE groups SET tenant_version = $1 WHERE schema_name = $2 AND tenant_version < $1")
        .bind(latest_tenant_version())
        .bind(schema.as_str())
        .execute(registry)
        .await?;
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
