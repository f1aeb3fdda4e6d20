//! Answers a shape request from the database: the snapshot in chunks, then
//! the log after it, all from one REPEATABLE READ transaction.

use super::{
    batch::{Answer, Batch},
    offset::Offset,
    reader,
    shape::Shape,
};
use app::{backend::SchemaName, error::AppError};
use sqlx::PgPool;

/// Rows or changes read from Postgres per query while filling a batch.
const PAGE: i64 = 1000;
/// Pages of the log one answer reads at most: a shape whose `where` matches
/// none of a long log's changes would otherwise read all of it in one
/// request. Past it the answer ends where it got to (not up to date) and the
/// client asks again from there.
const MAX_LOG_PAGES: usize = 10;

pub enum Fetched {
    Answer(Answer),
    /// The offset lies beyond the log (it is not one this group's log gave),
    /// before its retained window, or is a snapshot too far behind the head
    /// to resume.
    Unknown,
}

/// What one answer may cost: its body's byte cap, and how far behind the
/// head a snapshot may be resumed. Resuming a snapshot reads the log from
/// its position (rows changed since are put back as they were), so an old
/// or forged snapshot offset would read the whole log: past the lag it is
/// refused (409) and the client starts again, at the head.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub cap: usize,
    pub max_snapshot_lag: i64,
}

pub async fn fetch(
    pool: &PgPool,
    schema: &SchemaName,
    shape: &Shape,
    offset: Offset,
    limits: Limits,
) -> Result<Fetched, AppError> {
    let cap = limits.cap;
    let mut tx = reader::begin(pool).await?;
    let (floor, head) = reader::bounds(&mut tx, schema).await?;
    // Past the head: not from this log. Below the floor: the changes after
    // it were removed (retention), so the client must start again.
    if offset.position().is_some_and(|p| p > head || p < floor) {
        return Ok(Fetched::Unknown);
    }
    if matches!(offset, Offset::Snapshot { at, .. } if head - at > limits.max_snapshot_lag) {
        return Ok(Fetched::Unknown);
    }
    let (mut batch, at) = match offset {
        Offset::Now => return Ok(Fetched::Answer(Batch::new(cap, head).finish(Offset::Log(head), true))),
        Offset::Log(position) => (Batch::new(cap, position), position),
        Offset::Start => (Batch::new(cap, head), head),
        Offset::Snapshot { at, .. } => (Batch::new(cap, at), at),
    };
    let mut after = match offset {
        Offset::Start => Some(None),
        Offset::Snapshot { after, .. } => Some(Some(after)),
        _ => None,
    };
    // The snapshot as of `at`, page by page, until done or full.
    while let Some(cursor) = after {
        let rows = reader::snapshot_rows(&mut tx, schema, shape, at, cursor, PAGE).await?;
        for (key, message) in &rows {
            batch.push_raw(message);
            if batch.is_full() {
                return Ok(Fetched::Answer(batch.finish(Offset::Snapshot { at, after: *key }, false)));
            }
        }
        after = match rows.last() {
            Some((key, _)) if rows.len() as i64 == PAGE => Some(Some(*key)),
            _ => None,
        };
    }
    // Then the log from `at` to the head.
    let complete = log_into(&mut batch, &mut tx, schema, shape, head).await?;
    tx.commit().await?;
    let offset = Offset::Log(batch.scanned);
    Ok(Fetched::Answer(batch.finish(offset, complete)))
}

/// Adds the shape's changes after `batch.scanned` up to `head`; false if the
/// batch filled, or `MAX_LOG_PAGES` pages were read, first. Either way it
/// ends at a transaction boundary, unless one transaction alone is larger
/// than the pages (then it goes on in the next answer).
async fn log_into(
    batch: &mut Batch,
    conn: &mut sqlx::PgConnection,
    schema: &SchemaName,
    shape: &Shape,
    head: i64,
) -> Result<bool, AppError> {
    let mut pages = 0;
    while batch.scanned < head {
        if pages >= MAX_LOG_PAGES {
            batch.cut_at_transaction_boundary();
            return Ok(false);
        }
        let table = Some(shape.table().name.as_str());
        let changes = reader::log_after(conn, schema, batch.scanned, table, PAGE).await?;
        pages += 1;
        let page_was_full = changes.len() as i64 == PAGE;
        let changes: Vec<_> = changes.into_iter().take_while(|c| c.position <= head).collect();
        if !batch.push_changes(shape, schema.as_str(), &changes) {
            return Ok(false);
        }
        if !page_was_full {
            // Nothing of this table up to the head is left.
            batch.scanned = head;
        }
    }
    Ok(true)
}
