//! Moving a group's schema to another group database while its residents
//! use it (`server admin move-group`), and dropping the old copy after the
//! grace period (a server's background job).
//!
//! The copy is a consistent dump plus a catch-up, with Postgres' COPY:
//!
//! 1. Under the group's log-job and migration locks on the source (held for
//!    the whole move, so the log and the schema's version stay put), its
//!    schema is made on the target at the same version, and every table is
//!    copied from one snapshot of the source, taken while no writer of the
//!    group is in flight (between two holders of its log-position lock).
//! 2. The pause: the source's log-position lock (`change_head`), which every
//!    writer takes first, is held, so writes queue. What changed since the
//!    snapshot is copied: the rows whose keys the log names after the
//!    snapshot's position (current values, or gone), the log's entries past
//!    it, the mutation claims made since (`applied_mutations.head`), the
//!    head and the floor. The target commits; the registry's placement
//!    flips; the source's copy is marked moved (its writers, released, get
//!    503 and try again at the new database); servers are told (the
//!    schema channel on the source, the access channel on the registry).
//!
//! The log's positions and the shape handles are the same on the new
//! database (the handle depends on the group and its schema's version and
//! columns only), so followers go on from their offsets (docs/sync.md).

use app::{
    backend::{migrations, Databases, GroupDb, SchemaName},
    error::AppError,
};
use futures_util::TryStreamExt;
use sqlx::{Connection, Executor, PgConnection, Postgres, Transaction};
use std::{
    collections::{BTreeMap, HashSet},
    time::{Duration, Instant},
};

#[derive(Debug, thiserror::Error)]
pub enum MoveError {
    #[error("no group has the address {0:?}")]
    NoSuchGroup(String),
    #[error("no group database is named {0:?} in the configuration")]
    NoSuchDatabase(String),
    #[error("the group already lives on {0:?}")]
    AlreadyThere(String),
    #[error("the group's schema is at version {found}, not {latest}: migrate it first (server admin migrate)")]
    Version { found: i64, latest: i64 },
    #[error("the registry did not take the new placement: the group stays where it was")]
    Raced,
    #[error("{0}")]
    App(#[from] AppError),
    #[error("the database: {0}")]
    Database(#[from] sqlx::Error),
}

/// What a move did.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Moved {
    /// Rows copied from the snapshot (every table, the log included).
    pub copied: u64,
    /// Rows copied again, or removed, in the pause.
    pub caught_up: u64,
    /// How long writes waited.
    pub pause: Duration,
    pub took: Duration,
}

/// A table of the group's schema, in the order a load needs (a table after
/// those it references).
struct Table {
    name: String,
    /// Its primary key's columns, and the first one's type.
    key: Vec<String>,
    key_type: String,
    columns: Vec<String>,
    /// Referenced by another table of the schema (a parent).
    referenced: bool,
}

/// Moves the group at `slug` to the group database `to`.
pub async fn move_group(databases: &Databases, slug: &str, to: &str) -> Result<Moved, MoveError> {
    let started = Instant::now();
    let registry = &databases.registry;
    let id: Option<uuid::Uuid> =
        sqlx::query_scalar("SELECT id FROM groups WHERE slug = $1").bind(slug).fetch_optional(registry).await?;
    let group_id = id.ok_or_else(|| MoveError::NoSuchGroup(slug.to_owned()))?;
    let target = databases.find(to).ok_or_else(|| MoveError::NoSuchDatabase(to.to_owned()))?.clone();

    // One move of a group at a time, and none while its old copies are
    // being dropped: a registry lock held for the whole move, on a
    // connection of its own. Where the group is is read under it.
    let mut moving = registry.acquire().await?.detach();
    sqlx::query("SELECT pg_advisory_lock(hashtextextended('courtyard.move.' || $1::text, 0))")
        .bind(group_id)
        .execute(&mut moving)
        .await?;
    let result = async {
        let (schema, from, version): (String, String, i64) =
            sqlx::query_as("SELECT schema_name, database, tenant_version FROM groups WHERE id = $1")
                .bind(group_id)
                .fetch_optional(registry)
                .await?
                .ok_or_else(|| MoveError::NoSuchGroup(slug.to_owned()))?;
        let schema = SchemaName::parse(&schema).ok_or(AppError::Internal)?;
        let source = databases.find(&from).ok_or_else(|| MoveError::NoSuchDatabase(from.clone()))?.clone();
        if source.name() == target.name() {
            return Err(MoveError::AlreadyThere(from));
        }
        let latest = migrations::latest_tenant_version();
        if version != latest {
            return Err(MoveError::Version { found: version, latest });
        }
        tracing::info!(slug, from = source.name(), to = target.name(), "moving a group");
        // The group's log job and migrations wait for the whole move, on
        // the source (session locks on a connection of their own).
        let mut held = source.pool.acquire().await?.detach();
        for job in ["courtyard.log.", "courtyard.tenant."] {
            sqlx::query("SELECT pg_advisory_lock(hashtextextended($1 || $2, 0))")
                .bind(job)
                .bind(schema.as_str())
                .execute(&mut held)
                .await?;
        }
        let moved = copy_and_switch(databases, &source, &target, &schema, group_id, slug).await;
        let _ = held.close().await;
        moved
    }
    .await;
    // Released whatever happened (closing the connection would too).
    let _ = moving.close().await;
    let mut moved = result?;
    moved.took = started.elapsed();
    tracing::info!(slug, to = target.name(), ?moved, "group moved");
    Ok(moved)
}

async fn copy_and_switch(
    databases: &Databases,
    source: &GroupDb,
    target: &GroupDb,
    schema: &SchemaName,
    group_id: uuid::Uuid,
    slug: &str,
) -> Result<Moved, MoveError> {
    let registry = &databases.registry;
    let ident = schema.ident();
    let mut src = source.pool.acquire().await?.detach();
    // A copy marked moved while the registry places the group here is what
    // an interrupted move left (it dies between its pause and its flip):
    // this copy is the group's, writes may go on.
    let recovered = sqlx::query(&format!("UPDATE {ident}.change_head SET moved_to = NULL WHERE moved_to IS NOT NULL"))
        .execute(&mut src)
        .await?;
    if recovered.rows_affected() > 0 {
        tracing::warn!(slug, "an interrupted move had left the group's writes refused; they go on");
    }
    let move_id: i64 = sqlx::query_scalar(
        "INSERT INTO group_moves (group_id, schema_name, from_database, to_database) VALUES ($1, $2, $3, $4)
         RETURNING id",
    )
    .bind(group_id)
    .bind(schema.as_str())
    .bind(source.name())
    .bind(target.name())
    .fetch_one(registry)
    .await?;

    // A copy left there by an earlier move (moved away since, or not
    // finished) is not the group's (the registry says where the group is):
    // start afresh.
    migrations::prepare(target).await?;
    target.pool.execute(format!("DROP SCHEMA IF EXISTS {ident} CASCADE").as_str()).await?;
    {
        let mut conn = target.pool.acquire().await?;
        let mut tx = conn.begin().await?;
        migrations::provision(&mut tx, schema).await?;
        tx.commit().await?;
    }
    let tables = tables(&mut src, schema).await?;

    // 1. The snapshot, taken between two writers, and every table from it.
    let (snapshot_at, copied) = {
        let mut gate = src.begin().await?;
        sqlx::query(&format!("SELECT 1 FROM {ident}.change_head FOR UPDATE")).execute(&mut *gate).await?;
        let mut snap = source.pool.acquire().await?.detach();
        snap.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").await?;
        let position: i64 =
            sqlx::query_scalar(&format!("SELECT position FROM {ident}.change_head")).fetch_one(&mut snap).await?;
        gate.commit().await?;
        let mut tgt = target.pool.begin().await?;
        let copied = load(&mut snap, &mut tgt, schema, &tables).await;
        let _ = snap.close().await;
        let copied = copied?;
        tgt.commit().await?;
        (position, copied)
    };

    // 2. The pause: writers queue on the head's lock; bounded, so a mover
    // that hangs does not hold the group's writers (and its database's
    // pool) for long.
    let paused = Instant::now();
    let mut pause = src.begin().await?;
    pause.execute("SET LOCAL statement_timeout = '60s'").await?;
    pause.execute("SET LOCAL idle_in_transaction_session_timeout = '60s'").await?;
    sqlx::query(&format!("SELECT 1 FROM {ident}.change_head FOR UPDATE")).execute(&mut *pause).await?;
    let mut tgt = target.pool.begin().await?;
    let caught_up = catch_up(&mut pause, &mut tgt, schema, &tables, snapshot_at).await?;
    tgt.commit().await?;
    // The old copy refuses writes from its commit on (writers released now
    // get 503 and try again), before the registry flips: whatever fails
    // from here, no write lands where nobody will read it.
    sqlx::query(&format!("UPDATE {ident}.change_head SET moved_to = $1"))
        .bind(target.name())
        .execute(&mut *pause)
        .await?;
    // Tails and catalogues of the old copy are dropped (at its commit).
    sqlx::query("SELECT pg_notify('courtyard_schema', $1)").bind(schema.as_str()).execute(&mut *pause).await?;
    pause.commit().await?;
    let flipped = sqlx::query("UPDATE groups SET database = $2 WHERE id = $1 AND database = $3")
        .bind(group_id)
        .bind(target.name())
        .bind(source.name())
        .execute(registry)
        .await;
    if let Err(error) = flipped {
        // Whether it committed is known only by asking again.
        tracing::warn!(%error, slug, "the placement's flip failed; asking where the group is");
    }
    let placed: Option<String> = sqlx::query_scalar("SELECT database FROM groups WHERE id = $1")
        .bind(group_id)
        .fetch_optional(registry)
        .await
        .map_err(|error| {
            tracing::error!(%error, slug, "where the group is cannot be read: its writes are refused until `server admin move-group` runs again");
            error
        })?;
    if placed.as_deref() != Some(target.name()) {
        // Still the source's: it takes writes again, the copy goes.
        sqlx::query(&format!("UPDATE {ident}.change_head SET moved_to = NULL")).execute(&mut src).await?;
        let _ = target.pool.execute(format!("DROP SCHEMA IF EXISTS {ident} CASCADE").as_str()).await;
        return Err(MoveError::Raced);
    }
    let pause = paused.elapsed();
    // Moved. What follows only tidies up and tells: a failure is logged.
    let finished =
        sqlx::query("UPDATE group_moves SET finished_at = now() WHERE id = $1").bind(move_id).execute(registry);
    if let Err(error) = finished.await {
        tracing::warn!(%error, slug, "the move is not marked finished: its old copy stays until dropped by hand");
    }
    // Servers forget who may follow this group (they hold its database
    // with it) and resolve it again.
    let told = sqlx::query("SELECT pg_notify('courtyard_access', 'group:' || $1)").bind(slug).execute(registry);
    if let Err(error) = told.await {
        tracing::warn!(%error, slug, "servers were not told of the move: they learn it within 30 s");
    }
    let _ = src.close().await;
    Ok(Moved { copied, caught_up, pause, took: Duration::ZERO })
}

/// The schema's tables with their keys and columns, parents first.
async fn tables(conn: &mut PgConnection, schema: &SchemaName) -> Result<Vec<Table>, MoveError> {
    #[derive(sqlx::FromRow)]
    struct Listed {
        name: String,
        key: Vec<String>,
        key_type: String,
        columns: Vec<String>,
        parents: Vec<String>,
    }
    let rows: Vec<Listed> = sqlx::query_as(
        "SELECT c.relname::text AS name,
                ARRAY(SELECT a.attname::text FROM pg_index i JOIN pg_attribute a
                      ON a.attrelid = c.oid AND a.attnum = ANY(i.indkey)
                      WHERE i.indrelid = c.oid AND i.indisprimary ORDER BY a.attnum) AS key,
                coalesce((SELECT format_type(a.atttypid, a.atttypmod) FROM pg_index i JOIN pg_attribute a
                          ON a.attrelid = c.oid AND a.attnum = i.indkey[0]
                          WHERE i.indrelid = c.oid AND i.indisprimary), '') AS key_type,
                ARRAY(SELECT a.attname::text FROM pg_attribute a
                      WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum) AS columns,
                ARRAY(SELECT p.relname::text FROM pg_constraint f JOIN pg_class p ON p.oid = f.confrelid
                      WHERE f.conrelid = c.oid AND f.contype = 'f' AND p.oid <> c.oid) AS parents
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = $1 AND c.relkind = 'r'
         ORDER BY c.relname",
    )
    .bind(schema.as_str())
    .fetch_all(&mut *conn)
    .await?;
    let referenced: HashSet<String> = rows.iter().flat_map(|row| row.parents.clone()).collect();
    let mut pending: BTreeMap<String, Listed> = rows.into_iter().map(|row| (row.name.clone(), row)).collect();
    let mut ordered = Vec::new();
    while !pending.is_empty() {
        let ready: Vec<String> = pending
            .iter()
            .filter(|(_, row)| row.parents.iter().all(|p| !pending.contains_key(p)))
            .map(|(name, _)| name.clone())
            .collect();
        if ready.is_empty() {
            tracing::error!(schema = schema.as_str(), "the group's tables reference each other in a cycle");
            return Err(AppError::Internal.into());
        }
        for name in ready {
            let Listed { key, key_type, columns, .. } = pending.remove(&name).expect("listed");
            if key.len() != 1 {
                tracing::error!(table = %name, "a table of the group's schema has no one-column primary key");
                return Err(AppError::Internal.into());
            }
            ordered.push(Table { referenced: referenced.contains(&name), name, key, key_type, columns });
        }
    }
    Ok(ordered)
}

/// Triggers off (the log is copied, not made again) for the transaction.
async fn triggers(
    tx: &mut Transaction<'static, Postgres>,
    schema: &SchemaName,
    tables: &[Table],
    on: bool,
) -> Result<(), sqlx::Error> {
    let verb = if on { "ENABLE" } else { "DISABLE" };
    for table in tables {
        (&mut **tx)
            .execute(format!("ALTER TABLE {}.\"{}\" {verb} TRIGGER USER", schema.ident(), table.name).as_str())
            .await?;
    }
    Ok(())
}

/// Copies every table (but `schema_migrations`, made alike) from the
/// source's snapshot into the freshly made target; returns the rows.
async fn load(
    source: &mut PgConnection,
    target: &mut Transaction<'static, Postgres>,
    schema: &SchemaName,
    tables: &[Table],
) -> Result<u64, MoveError> {
    triggers(target, schema, tables, false).await?;
    let mut rows = 0;
    for table in tables.iter().filter(|t| t.name != "schema_migrations") {
        let name = format!("{}.\"{}\"", schema.ident(), table.name);
        // The provisioned single rows (the head, the floor) are replaced.
        (&mut **target).execute(format!("DELETE FROM {name}").as_str()).await?;
        rows += copy(source, target, &format!("SELECT * FROM {name}"), &name).await?;
    }
    triggers(target, schema, tables, true).await?;
    Ok(rows)
}

/// Copies the result of `select` on the source into `into` on the target.
async fn copy(
    source: &mut PgConnection,
    target: &mut PgConnection,
    select: &str,
    into: &str,
) -> Result<u64, sqlx::Error> {
    let mut sink = target.copy_in_raw(&format!("COPY {into} FROM STDIN (FORMAT binary)")).await?;
    let mut out = source.copy_out_raw(&format!("COPY ({select}) TO STDOUT (FORMAT binary)")).await?;
    while let Some(chunk) = out.try_next().await? {
        sink.send(chunk).await?;
    }
    drop(out);
    sink.finish().await
}

/// In the pause: what changed on the source since the snapshot at log
/// position `since`, onto the target. Returns the rows copied or removed.
async fn catch_up(
    source: &mut PgConnection,
    target: &mut Transaction<'static, Postgres>,
    schema: &SchemaName,
    tables: &[Table],
    since: i64,
) -> Result<u64, MoveError> {
    let s = schema.ident();
    // The keys the log names since the snapshot, per table.
    (&mut *source)
        .execute(
            format!(
                "CREATE TEMP TABLE move_keys ON COMMIT DROP AS
                 SELECT DISTINCT relation, key FROM {s}.changes WHERE position > {since}"
            )
            .as_str(),
        )
        .await?;
    let touched: Vec<(String, Vec<String>)> =
        sqlx::query_as("SELECT relation, array_agg(key) FROM move_keys GROUP BY relation")
            .fetch_all(&mut *source)
            .await?;
    let touched: BTreeMap<String, Vec<String>> = touched.into_iter().collect();
    triggers(target, schema, tables, false).await?;
    let mut rows = 0;
    // Each touched table's current rows of those keys, into a scratch copy.
    let synced: Vec<&Table> = tables.iter().filter(|t| touched.contains_key(&t.name)).collect();
    for table in &synced {
        let name = format!("{s}.\"{}\"", table.name);
        let scratch = format!("\"move_{}\"", table.name);
        (&mut **target).execute(format!("CREATE TEMP TABLE {scratch} (LIKE {name}) ON COMMIT DROP").as_str()).await?;
        let select = format!(
            "SELECT t.* FROM {name} t JOIN move_keys k ON k.relation = '{}' AND {}",
            table.name,
            key_is(table, "t", "k.key")
        );
        rows += copy(source, target, &select, &scratch).await?;
    }
    // Gone from the source: removed here, children first (a parent's
    // removal takes its children, as it did there).
    for table in synced.iter().rev() {
        let scratch = format!("\"move_{}\"", table.name);
        let gone = sqlx::query(&format!(
            "DELETE FROM {s}.\"{}\" t WHERE {}
               AND NOT EXISTS (SELECT 1 FROM {scratch} m WHERE {})",
            table.name,
            key_in(table, "t", "$1::text[]"),
            table.key.iter().map(|c| format!("m.\"{c}\" = t.\"{c}\"")).collect::<Vec<_>>().join(" AND ")
        ))
        .bind(&touched[&table.name])
        .execute(&mut **target)
        .await?;
        rows += gone.rows_affected();
        if !table.referenced {
            // Replaced whole below (no transient clash with a constraint
            // across rows, such as the bookings' no-overlap rule).
            (&mut **target)
                .execute(
                    format!(
                        "DELETE FROM {s}.\"{}\" t USING {scratch} m WHERE {}",
                        table.name,
                        table.key.iter().map(|c| format!("m.\"{c}\" = t.\"{c}\"")).collect::<Vec<_>>().join(" AND ")
                    )
                    .as_str(),
                )
                .await?;
        }
    }
    // Current values, parents first; a parent is updated in place (removing
    // it would take its children).
    for table in &synced {
        let scratch = format!("\"move_{}\"", table.name);
        let columns = table.columns.iter().map(|c| format!("\"{c}\"")).collect::<Vec<_>>().join(", ");
        let conflict = if table.referenced {
            let keys = table.key.iter().map(|c| format!("\"{c}\"")).collect::<Vec<_>>().join(", ");
            let excluded = table.columns.iter().map(|c| format!("EXCLUDED.\"{c}\"")).collect::<Vec<_>>().join(", ");
            format!(" ON CONFLICT ({keys}) DO UPDATE SET ({columns}) = ROW({excluded})")
        } else {
            String::new()
        };
        (&mut **target)
            .execute(
                format!("INSERT INTO {s}.\"{}\" ({columns}) SELECT {columns} FROM {scratch}{conflict}", table.name)
                    .as_str(),
            )
            .await?;
    }
    // The files' server-only rows, whole (not logged): the stored blobs
    // (written under the lock this pause holds, `app::backend::files`) and
    // the uploads under way (a chunk taken meanwhile is asked for again).
    for own in ["blobs", "uploads"] {
        if tables.iter().any(|t| t.name == own) {
            (&mut **target).execute(format!("DELETE FROM {s}.{own}").as_str()).await?;
            rows += copy(source, target, &format!("SELECT * FROM {s}.{own}"), &format!("{s}.{own}")).await?;
        }
    }
    if tables.iter().any(|t| t.name == "uploads") {
        // A finish under way there ends with the old copy: here, none is.
        (&mut **target).execute(format!("UPDATE {s}.uploads SET finishing_until = NULL").as_str()).await?;
    }
    // The log past the snapshot, the claims since, the head and the floor.
    rows +=
        copy(source, target, &format!("SELECT * FROM {s}.changes WHERE position > {since}"), &format!("{s}.changes"))
            .await?;
    (&mut **target)
        .execute(format!("CREATE TEMP TABLE move_claims (LIKE {s}.applied_mutations) ON COMMIT DROP").as_str())
        .await?;
    rows += copy(source, target, &format!("SELECT * FROM {s}.applied_mutations WHERE head >= {since}"), "move_claims")
        .await?;
    (&mut **target)
        .execute(
            format!("INSERT INTO {s}.applied_mutations SELECT * FROM move_claims ON CONFLICT (id) DO NOTHING").as_str(),
        )
        .await?;
    for single in ["change_head", "change_floor"] {
        (&mut **target).execute(format!("DELETE FROM {s}.{single}").as_str()).await?;
        copy(source, target, &format!("SELECT * FROM {s}.{single}"), &format!("{s}.{single}")).await?;
    }
    triggers(target, schema, tables, true).await?;
    Ok(rows)
}

/// `<alias>.<key> = <text>::<key type>`: a row's key against the log's
/// text form of it (`changes.key`), compared as the key's own type, so by
/// its index (a text comparison would read the whole table, and miss
/// keys whose text form depends on the session, such as times).
fn key_is(table: &Table, alias: &str, text: &str) -> String {
    format!("{alias}.\"{}\" = ({text})::{}", table.key[0], table.key_type)
}

/// [`key_is`] for any of an array of text forms.
fn key_in(table: &Table, alias: &str, texts: &str) -> String {
    format!("{alias}.\"{}\" = ANY(({texts})::{}[])", table.key[0], table.key_type)
}

/// Drops the copies of groups that are not theirs any more, `grace` after
/// the move that left them: the old copy of a finished move, the partial
/// copy of one that failed. Returns how many. Servers run it now and then;
/// a copy on a database that is away (or not configured here) is tried
/// again next time.
pub async fn drop_old_copies(databases: &Databases, grace: Duration) -> Result<usize, AppError> {
    let due: Vec<(i64, uuid::Uuid, String, String)> = sqlx::query_as(
        "SELECT id, group_id, schema_name,
                CASE WHEN finished_at IS NULL THEN to_database ELSE from_database END
         FROM group_moves
         WHERE dropped_at IS NULL AND coalesce(finished_at, started_at) < now() - make_interval(secs => $1)
         ORDER BY id",
    )
    .bind(grace.as_secs_f64())
    .fetch_all(&databases.registry)
    .await?;
    let mut dropped = 0;
    for (id, group_id, schema, database) in due {
        let Some(schema) = SchemaName::parse(&schema) else { continue };
        let Some(db) = databases.find(&database) else { continue };
        // Not while the group moves (a move back may be making its copy
        // there now): the movers' lock, and the placement read under it.
        let mut tx = databases.registry.begin().await?;
        let free: bool =
            sqlx::query_scalar("SELECT pg_try_advisory_xact_lock(hashtextextended('courtyard.move.' || $1::text, 0))")
                .bind(group_id)
                .fetch_one(&mut *tx)
                .await?;
        if !free {
            continue;
        }
        let placed: Option<String> = sqlx::query_scalar("SELECT database FROM groups WHERE id = $1")
            .bind(group_id)
            .fetch_optional(&mut *tx)
            .await?;
        // A group that lives there (moved back) keeps its copy.
        if placed.as_deref() != Some(database.as_str()) {
            if let Err(error) =
                db.pool.execute(format!("DROP SCHEMA IF EXISTS {} CASCADE", schema.ident()).as_str()).await
            {
                tracing::warn!(%error, schema = schema.as_str(), database, "dropping a moved group's old copy failed");
                continue;
            }
        }
        sqlx::query("UPDATE group_moves SET dropped_at = now() WHERE id = $1").bind(id).execute(&mut *tx).await?;
        tx.commit().await?;
        dropped += 1;
    }
    Ok(dropped)
}
