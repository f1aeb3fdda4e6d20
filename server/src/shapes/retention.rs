//! Keeps every group's change log bounded (docs/sync.md, "Retention and
//! compaction"). A background job goes over the groups every
//! `sync.log_sweep_interval` and, per group:
//!
//! - **trims**: removes the entries older than `sync.log_retention`, except
//!   the latest `sync.log_keep_min` positions, from the oldest on, and moves
//!   the log's floor up to them (a client below the floor gets 409 and
//!   refetches);
//! - **compacts** (`sync.log_compaction`): merges each run of updates to one
//!   row (no insert or delete of it in between) into its last update, whose
//!   `old_value` becomes the first one's and `merged_from` the first one's
//!   position. The latest `max_snapshot_lag` positions are left alone, so a
//!   snapshot being resumed never meets a merged change (it would put a row
//!   back to an older state than the snapshot's). A pass compacts at most
//!   `COMPACT_SPAN` positions past the last one, so it stays short however
//!   busy the log (compaction is the one that falls behind, not trimming).
//!
//! Both work in small transactions (a batch of entries or of runs each), on
//! old entries writers no longer touch, and never take the lock writers
//! queue on (`change_head`): writes go on meanwhile. Each batch holds the
//! group's advisory lock for the job, so where several servers run the job
//! only one works on a group at a time; the others skip it.

use super::{hub::Hub, reader};
use app::{
    backend::{Databases, SchemaName},
    error::AppError,
};
use parking_lot::Mutex;
use sqlx::{PgPool, Postgres, Transaction};
use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
    time::Duration,
};

/// Entries looked at per trimming transaction.
const TRIM_BATCH: i64 = 5_000;
/// Runs of updates merged per compacting transaction.
const COMPACT_BATCH: i64 = 1_000;
/// Log positions one pass compacts at most. A pass's cost grows with the
/// positions it reads (it sorts their entries by row); unbounded, a pass
/// behind a busy log reads more each time, takes longer, and the trimming
/// waits for it. Bounded, compaction may fall behind a very busy log (its
/// entries are trimmed uncompacted), trimming never does.
pub const COMPACT_SPAN: i64 = 20_000;
/// The longest `sync.log_retention` (and `sync.log_sweep_interval`) the
/// configuration allows: 10 years as humantime counts them ("10y", 365.25
/// days each). A longer retention given to [`Retention::new`] is taken as
/// this, so the cutoff Postgres computes (`now()` minus it) always stays
/// within its timestamps' range.
pub const MAX_RETENTION: Duration = Duration::from_secs(10 * 31_557_600);

#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub retention: Duration,
    pub keep_min: i64,
    pub compaction: bool,
    /// Positions behind the head left uncompacted (`sync.max_snapshot_lag`).
    pub compaction_lag: i64,
    pub interval: Duration,
}

/// What one pass over a group did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    /// Entries removed as too old.
    pub trimmed: u64,
    /// Updates removed by merging them into a later one.
    pub merged: u64,
    /// Another server held the group.
    pub skipped: bool,
}

/// The job. It remembers per group up to where it last compacted, so a log
/// with nothing new is not read again, and which groups' logs are longer
/// than the latest `keep_min` positions (the only ones in which entries can
/// age out); a pass looks at those and at the groups written since the last
/// one (the hub hears of every write), so thousands of quiet groups cost
/// nothing.
pub struct Retention {
    databases: Arc<Databases>,
    settings: Settings,
    hub: Option<Arc<Hub>>,
    /// Per group, the last complete compaction pass: the positions it
    /// looked at, `(from, to]`.
    compacted: Mutex<HashMap<String, (i64, i64)>>,
    long_logs: Mutex<HashSet<String>>,
}

impl Retention {
    /// The job over the groups of `databases`; with `hub`, passes skip the
    /// groups that were neither written nor hold a long log.
    pub fn new(databases: Arc<Databases>, settings: Settings, hub: Option<Arc<Hub>>) -> Arc<Self> {
        Arc::new(Self { databases, settings, hub, compacted: Mutex::default(), long_logs: Mutex::default() })
    }

    /// Runs the job every interval on the current runtime, for as long as
    /// the process lives.
    pub fn start(self: &Arc<Self>) {
        let job = self.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(job.settings.interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                if let Err(error) = job.sweep_all().await {
                    tracing::warn!(?error, "the change-log retention job failed; it runs again next interval");
                }
            }
        });
    }

    /// One pass over every group that may have something to remove.
    pub async fn sweep_all(&self) -> Result<Swept, AppError> {
        let registry = &self.databases.registry;
        // Each group with the database it lives on.
        let groups: Vec<(String, String)> = match self.hub.as_ref().and_then(|hub| hub.take_written()) {
            Some(written) => {
                let names: Vec<String> = written.into_iter().chain(self.long_logs.lock().iter().cloned()).collect();
                sqlx::query_as("SELECT schema_name, database FROM groups WHERE schema_name = ANY($1) ORDER BY 1")
                    .bind(names)
                    .fetch_all(registry)
                    .await?
            }
            None => sqlx::query_as("SELECT schema_name, database FROM groups").fetch_all(registry).await?,
        };
        let mut total = Swept::default();
        for (name, database) in groups {
            let Some(schema) = SchemaName::parse(&name) else { continue };
            let Some(db) = self.databases.find(&database) else { continue };
            match self.sweep_on(&db.pool, &schema).await {
                Ok(swept) if swept.skipped => {
                    // Held by another server: look again next pass, in case
                    // that one stops.
                    self.long_logs.lock().insert(name);
                }
                Ok(swept) => {
                    crate::ops::metrics::log_removed(swept.trimmed, swept.merged);
                    total.trimmed += swept.trimmed;
                    total.merged += swept.merged;
                    if swept.trimmed + swept.merged > 0 {
                        tracing::debug!(schema = %name, ?swept, "change log swept");
                    }
                }
                // One group's failure (a schema being dropped, say) does
                // not stop the others.
                Err(error) => tracing::warn!(?error, schema = %name, "sweeping a change log failed"),
            }
        }
        Ok(total)
    }

    /// One pass over one group's log: trim, then compact.
    pub async fn sweep(&self, schema: &SchemaName) -> Result<Swept, AppError> {
        let database: String = sqlx::query_scalar("SELECT database FROM groups WHERE schema_name = $1")
            .bind(schema.as_str())
            .fetch_optional(&self.databases.registry)
            .await?
            .ok_or(AppError::NotFound)?;
        let pool = self.databases.get(&database)?.pool.clone();
        self.sweep_on(&pool, schema).await
    }

    /// [`Self::sweep`] on the group's database's `pool`.
    async fn sweep_on(&self, pool: &PgPool, schema: &SchemaName) -> Result<Swept, AppError> {
        let mut swept = Swept::default();
        loop {
            match self.trim_batch(pool, schema).await? {
                None => return Ok(Swept { skipped: true, ..swept }),
                Some((removed, more)) => {
                    swept.trimmed += removed;
                    if !more {
                        break;
                    }
                }
            }
        }
        if !self.settings.compaction {
            return Ok(swept);
        }
        // One pass compacts up to where the log was when it began: with
        // writers going on, a bound read again per batch would keep finding
        // new runs, and the pass (and the trimming after it) never end.
        let mut upto = None;
        loop {
            match self.compact_batch(pool, schema, &mut upto).await? {
                None => return Ok(Swept { skipped: true, ..swept }),
                Some((removed, more)) => {
                    swept.merged += removed;
                    if !more {
                        break;
                    }
                }
            }
        }
        Ok(swept)
    }

    /// Removes up to `TRIM_BATCH` of the oldest entries if old enough; the
    /// number removed and whether more may be due, or `None` if another
    /// server holds the group.
    async fn trim_batch(&self, pool: &PgPool, schema: &SchemaName) -> Result<Option<(u64, bool)>, AppError> {
        let s = schema.ident();
        let Some((mut tx, floor, head)) = self.begin_held(pool, schema).await? else { return Ok(None) };
        let limit = head - self.settings.keep_min;
        if limit <= floor {
            self.long_logs.lock().remove(schema.as_str());
            // Ended now, not when the connection is next used: until then
            // it would hold the group's lock.
            tx.commit().await?;
            return Ok(Some((0, false)));
        }
        self.long_logs.lock().insert(schema.as_str().to_owned());
        // The oldest entries, each with whether it is past the retention.
        let entries: Vec<(i64, bool)> = sqlx::query_as(&format!(
            "SELECT position, at < now() - make_interval(secs => $3) FROM {s}.changes
             WHERE position > $1 AND position <= $2 ORDER BY position LIMIT $4"
        ))
        .bind(floor)
        .bind(limit)
        .bind(self.settings.retention.min(MAX_RETENTION).as_secs_f64())
        .bind(TRIM_BATCH)
        .fetch_all(&mut *tx)
        .await?;
        // The floor moves past the old entries, no further: the positions
        // between the last old entry and the first kept one may be updates
        // compaction merged into a later entry, and a client there resumes
        // from the log as it is (it gets the merged entry), not with a 409.
        let old = entries.iter().take_while(|(_, old)| *old).count();
        let to = if old == 0 { floor } else { entries[old - 1].0 };
        let more = old as i64 == TRIM_BATCH;
        if entries.is_empty() {
            // Only positions compaction merged away lie below the limit:
            // nothing can age out until the log grows (a write brings the
            // group back to the job).
            self.long_logs.lock().remove(schema.as_str());
        }
        if to <= floor {
            // Ended now, not when the connection is next used: until then
            // it would hold the group's lock.
            tx.commit().await?;
            return Ok(Some((0, false)));
        }
        let removed = sqlx::query(&format!("DELETE FROM {s}.changes WHERE position > $1 AND position <= $2"))
            .bind(floor)
            .bind(to)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query(&format!("UPDATE {s}.change_floor SET position = $1")).bind(to).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(Some((removed, more)))
    }

    /// Merges up to `COMPACT_BATCH` runs of updates in the kept log, up to
    /// `upto` (set by the pass's first batch: `compaction_lag` behind the
    /// head, at most `COMPACT_SPAN` past the last pass); the updates removed
    /// and whether more runs may be left, or `None` if another server holds
    /// the group.
    async fn compact_batch(
        &self,
        pool: &PgPool,
        schema: &SchemaName,
        upto: &mut Option<i64>,
    ) -> Result<Option<(u64, bool)>, AppError> {
        let s = schema.ident();
        let Some((mut tx, floor, head)) = self.begin_held(pool, schema).await? else { return Ok(None) };
        let last = self.compacted.lock().get(schema.as_str()).copied();
        let done = last.map(|(_, to)| to);
        let since = done.unwrap_or(floor).max(floor);
        let upto = *upto.get_or_insert((head - self.settings.compaction_lag).min(since + COMPACT_SPAN));
        if upto <= floor || done.is_some_and(|done| done >= upto) {
            // Ended now, not when the connection is next used: until then
            // it would hold the group's lock.
            tx.commit().await?;
            return Ok(Some((0, false)));
        }
        // Only rows updated since the last complete pass can have a run of
        // two or more (earlier runs are merged already). Each of their
        // entries gets its run: the row's count of inserts and deletes so
        // far, so the updates between two of them share one. A run of two
        // or more updates keeps its last, with the first one's `old_value`.
        // Their entries are read from where the last pass started, so an
        // update merged then is merged again into a later one, but no
        // further back: a pass reads what was written over two intervals,
        // not the whole log (a row quiet for a whole pass keeps one more
        // entry). Sent unprepared: a cached generic plan of this statement
        // guesses one run and rescans the log per run. Its sorts (the
        // span's entries by row) fit in memory at 32 MB.
        let from = last.map_or(floor, |(from, _)| from).max(floor);
        sqlx::query("SET LOCAL work_mem = '32MB'").execute(&mut *tx).await?;
        let (runs, removed): (i64, i64) = sqlx::query_as(&format!(
            "WITH fresh AS (
                 SELECT DISTINCT relation, key FROM {s}.changes
                 WHERE position > $2 AND position <= $3 AND op = 'update'
             ), w AS (
                 SELECT c.position, c.relation, c.key, c.op, c.old_value, c.merged_from,
                        sum((c.op <> 'update')::int) OVER (PARTITION BY c.relation, c.key ORDER BY c.position) AS run
                 FROM {s}.changes c JOIN fresh USING (relation, key)
                 WHERE c.position > $1 AND c.position <= $3
             ), u AS (
                 SELECT position, old_value, merged_from,
                        min(position) OVER r AS first, max(position) OVER r AS last, count(*) OVER r AS n
                 FROM w WHERE op = 'update'
                 WINDOW r AS (PARTITION BY relation, key, run)
             ), chosen AS (
                 SELECT DISTINCT first FROM u WHERE n > 1 ORDER BY first LIMIT $4
             ), m AS (
                 SELECT u.* FROM u JOIN chosen USING (first)
             ), merged AS (
                 UPDATE {s}.changes c SET old_value = m.old_value, merged_from = coalesce(m.merged_from, m.position)
                 FROM m WHERE m.position = m.first AND c.position = m.last
                 RETURNING 1
             ), removed AS (
                 DELETE FROM {s}.changes c USING m WHERE c.position = m.position AND m.position <> m.last
                 RETURNING 1
             )
             SELECT (SELECT count(*) FROM merged), (SELECT count(*) FROM removed)"
        ))
        .persistent(false)
        .bind(from)
        .bind(since)
        .bind(upto)
        .bind(COMPACT_BATCH)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        let more = runs == COMPACT_BATCH;
        if !more {
            self.compacted.lock().insert(schema.as_str().to_owned(), (since, upto));
        }
        Ok(Some((removed as u64, more)))
    }
}

impl Retention {
    /// A transaction holding the group's job lock, and the log's floor and
    /// head in it; `None` if another server holds the lock.
    async fn begin_held(
        &self,
        pool: &PgPool,
        schema: &SchemaName,
    ) -> Result<Option<(Transaction<'static, Postgres>, i64, i64)>, AppError> {
        let mut tx = pool.begin().await?;
        let held: bool =
            sqlx::query_scalar("SELECT pg_try_advisory_xact_lock(hashtextextended('courtyard.log.' || $1, 0))")
                .bind(schema.as_str())
                .fetch_one(&mut *tx)
                .await?;
        if !held {
            tx.commit().await?;
            return Ok(None);
        }
        let (floor, head) = reader::bounds(&mut tx, schema).await?;
        Ok(Some((tx, floor, head)))
    }
}
