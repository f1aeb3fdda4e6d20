//! `server admin …`: an operator's tasks, run against the databases without
//! serving (docs/deploy.md lists them).

use crate::{config::Config, connect, open, StartError};
use app::backend::Databases;
use std::{collections::HashMap, io::Write};

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
    /// Move a group's schema to another group database while it is in use
    /// (writes pause for the switch; followers go on from their offsets).
    /// The old copy is dropped by the servers after `database.move_grace`.
    MoveGroup {
        /// The group's address.
        slug: String,
        /// The group database to move it to (a name in `[[databases]]`).
        database: String,
    },
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
    #[error("the group was not moved: {0}")]
    Move(#[from] crate::moves::MoveError),
}

#[derive(Debug, serde::Serialize)]
struct GroupLine {
    slug: String,
    name: String,
    database: String,
    schema_version: i64,
    members: i64,
    /// Rows of the synced tables, as Postgres' statistics count them, and
    /// the change log's size; null when the group's database does not answer.
    rows_estimate: Option<i64>,
    log_bytes: Option<i64>,
}

/// Runs `command`, writing what it has to say to `out`.
pub async fn run(config: &Config, command: Admin, out: &mut impl Write) -> Result<(), AdminError> {
    match command {
        Admin::Migrate => {
            let databases = connect(config).await?;
            let started = std::time::Instant::now();
            let migrated = app::backend::migrations::migrate_groups(&databases, config.database.migrate_parallelism())
                .await
                .map_err(StartError::Migrate)?;
            let took = started.elapsed().as_secs_f64();
            writeln!(out, "{} group migrations applied in {took:.1} s", migrated.applied)?;
            if migrated.failed > 0 {
                return Err(AdminError::Failed(migrated.failed));
            }
        }
        Admin::MoveGroup { slug, database } => {
            let databases = connect(config).await?;
            let moved = crate::moves::move_group(&databases, &slug, &database).await?;
            writeln!(
                out,
                "moved {slug} to {database} in {:.1} s: {} rows copied, {} caught up in a pause of {} ms",
                moved.took.as_secs_f64(),
                moved.copied,
                moved.caught_up,
                moved.pause.as_millis()
            )?;
        }
        Admin::Groups { json } => {
            // Looking migrates nothing.
            let groups = groups(&open(config).await?).await?;
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
                    let rows = g.rows_estimate.map_or("?".to_owned(), |rows| rows.to_string());
                    let log = g.log_bytes.map_or("?".to_owned(), |bytes| format!("{} KiB", bytes / 1024));
                    writeln!(
                        out,
                        "{:<32} {:<8} {:>7} {:>7} {:>10} {:>10}  {}",
                        g.slug, g.database, g.schema_version, g.members, rows, log, g.name
                    )?;
                }
                writeln!(out, "{} groups", groups.len())?;
            }
        }
    }
    Ok(())
}

/// Every group, from the registry and each group database's catalogue (no
/// table is read).
async fn groups(databases: &Databases) -> Result<Vec<GroupLine>, sqlx::Error> {
    let rows: Vec<(String, String, String, String, i64, i64)> = sqlx::query_as(
        "SELECT g.slug, g.name, g.schema_name, g.database, g.tenant_version,
                (SELECT count(*) FROM memberships m WHERE m.group_id = g.id)
         FROM groups g ORDER BY g.slug",
    )
    .fetch_all(&databases.registry)
    .await?;
    let tables: Vec<&str> = app::model::registry::table_names().collect();
    let mut sizes: HashMap<(String, String), (i64, i64)> = HashMap::new();
    for db in databases.all() {
        let found: Result<Vec<(String, i64, i64)>, _> = sqlx::query_as(
            "SELECT n.nspname::text,
                    coalesce((SELECT sum(s.n_live_tup) FROM pg_stat_user_tables s
                              WHERE s.schemaname = n.nspname AND s.relname = ANY($1)), 0)::bigint,
                    coalesce((SELECT pg_total_relation_size(c.oid) FROM pg_class c
                              WHERE c.relnamespace = n.oid AND c.relname = 'changes' AND c.relkind = 'r'), 0)
             FROM pg_namespace n WHERE n.nspname LIKE 'g\\_%'",
        )
        .bind(&tables)
        .fetch_all(&db.pool)
        .await;
        // A database that does not answer leaves its groups' figures unknown.
        let found = match found {
            Ok(found) => found,
            Err(error) => {
                tracing::warn!(%error, database = db.name(), "a group database does not answer");
                continue;
            }
        };
        for (schema, rows, log) in found {
            sizes.insert((db.name().to_owned(), schema), (rows, log));
        }
    }
    Ok(rows
        .into_iter()
        .map(|(slug, name, schema, database, schema_version, members)| {
            let found = sizes.get(&(database.clone(), schema)).copied();
            let (rows_estimate, log_bytes) = (found.map(|(rows, _)| rows), found.map(|(_, log)| log));
            GroupLine { slug, name, database, schema_version, members, rows_estimate, log_bytes }
        })
        .collect())
}
