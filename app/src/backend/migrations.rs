//! Database migrations: the global schema (`migrations/global`) and each
//! group's schema (`migrations/tenant`), whose applied versions are recorded
//! in that schema's own `schema_migrations` table.

use crate::{backend::SchemaName, error::AppError};
use sqlx::{migrate::Migrator, Executor, PgConnection, PgPool};

static GLOBAL: Migrator = sqlx::migrate!("../migrations/global");
static TENANT: Migrator = sqlx::migrate!("../migrations/tenant");

/// Applies the global migrations (sqlx takes its own advisory lock).
pub async fn run_global(pool: &PgPool) -> Result<(), AppError> {
    GLOBAL.run(pool).await.map_err(|error| {
        tracing::error!(%error, "global migrations failed");
        AppError::Internal
    })
}

/// The version every group schema is brought to.
pub fn latest_tenant_version() -> i64 {
    tenant_migrations().map(|m| m.version).max().unwrap_or(0)
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

/// Brings every group schema to the latest version. Each group migrates in a
/// transaction of its own under a per-group advisory lock, so servers starting
/// at once never apply a migration twice. Returns how many were applied.
pub async fn migrate_groups(pool: &PgPool) -> Result<usize, AppError> {
    let names: Vec<String> =
        sqlx::query_scalar("SELECT schema_name FROM groups ORDER BY created_at").fetch_all(pool).await?;
    let mut applied = 0;
    for name in names {
        let Some(schema) = SchemaName::parse(&name) else {
            tracing::error!(schema = %name, "group schema name has an unexpected form; skipped");
            continue;
        };
        let mut tx = pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('courtyard.tenant.' || $1, 0))")
            .bind(schema.as_str())
            .execute(&mut *tx)
            .await?;
        applied += apply_pending(&mut tx, &schema).await?;
        tx.commit().await?;
    }
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
