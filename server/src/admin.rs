//! `server admin …`: an operator's tasks, run against the databases without
//! serving (docs/deploy.md lists them).

use crate::{config::Config, connect, pool, StartError};
use std::io::Write;

/// Where group schemas live, in listings (one database for now: the
/// registry's own).
const DATABASE: &str = "main";

#[derive(Debug, clap::Subcommand)]
pub enum Admin {
    /// List the groups: where each lives, its schema version, members,
    /// rows and change log.
    Groups {
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Bring the registry and every group schema up to date, then exit
    /// (the server does it by itself at start; this is for doing it before).
    Migrate,
}

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{0}")]
    Start(#[from] StartError),
    #[error("the database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("cannot write the output: {0}")]
    Output(#[from] std::io::Error),
    #[error("{0} group schemas could not be migrated (the log says why)")]
    Failed(usize),
}

#[derive(Debug, serde::Serialize, sqlx::FromRow)]
struct GroupLine {
    slug: String,
    name: String,
    database: String,
    schema_version: i64,
    members: i64,
    /// Rows of the synced tables, as Postgres' statistics count them.
    rows_estimate: i64,
    log_bytes: i64,
}

/// Runs `command`, writing what it has to say to `out`.
pub async fn run(config: &Config, command: Admin, out: &mut impl Write) -> Result<(), AdminError> {
    match command {
        Admin::Migrate => {
            let pool = connect(config).await?;
            let started = std::time::Instant::now();
            let migrated = app::backend::migrations::migrate_groups(&pool, config.database.migrate_parallelism())
                .await
                .map_err(StartError::Migrate)?;
            let took = started.elapsed().as_secs_f64();
            writeln!(out, "{} group migrations applied in {took:.1} s", migrated.applied)?;
            if migrated.failed > 0 {
                return Err(AdminError::Failed(migrated.failed));
            }
        }
        Admin::Groups { json } => {
            // Looking migrates nothing.
            let groups = groups(&pool(config).await?).await?;
            if json {
                for group in &groups {
                    let line = serde_json::to_string(group).map_err(std::io::Error::other)?;
                    writeln!(out, "{line}")?;
                }
            } else {
                writeln!(
                    out,
                    "{:<32} {:<8} {:>7} {:>7} {:>10} {:>10}  name",
                    "slug", "database", "version", "members", "rows≈", "log"
                )?;
                for g in &groups {
                    let log = format!("{} KiB", g.log_bytes / 1024);
                    writeln!(
                        out,
                        "{:<32} {:<8} {:>7} {:>7} {:>10} {:>10}  {}",
                        g.slug, g.database, g.schema_version, g.members, g.rows_estimate, log, g.name
                    )?;
                }
                writeln!(out, "{} groups", groups.len())?;
            }
        }
    }
    Ok(())
}

/// Every group, from the registry and the catalogue (no table is read).
async fn groups(pool: &sqlx::PgPool) -> Result<Vec<GroupLine>, sqlx::Error> {
    let tables: Vec<&str> = app::model::registry::table_names().collect();
    sqlx::query_as(
        "SELECT g.slug, g.name, $2::text AS database, g.tenant_version AS schema_version,
                (SELECT count(*) FROM memberships m WHERE m.group_id = g.id) AS members,
                coalesce((SELECT sum(s.n_live_tup) FROM pg_stat_user_tables s
                          WHERE s.schemaname = g.schema_name AND s.relname = ANY($1)), 0)::bigint AS rows_estimate,
                coalesce((SELECT pg_total_relation_size(c.oid) FROM pg_class c
                          JOIN pg_namespace n ON n.oid = c.relnamespace
                          WHERE n.nspname = g.schema_name AND c.relname = 'changes' AND c.relkind = 'r'), 0)
                  AS log_bytes
         FROM groups g ORDER BY g.slug",
    )
    .bind(tables)
    .bind(DATABASE)
    .fetch_all(pool)
    .await
}
