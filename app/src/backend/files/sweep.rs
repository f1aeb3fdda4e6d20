//! The files' housekeeping, every `files.sweep_interval` on every server:
//! deletes the bytes no file has named for longer than the log's retention
//! (a removed photo, a removed request's, an upload never attached), and
//! uploads left unfinished for a day with their chunks. Each blob is
//! deleted once, under its row's lock (`file.attach` takes it too, so
//! nothing named is ever deleted).

use super::{blob_path, chunks_folder, delete, delete_under, thumb_path};
use crate::{
    backend::{
        groups::{GroupRow, GROUP_COLUMNS},
        migrations, AppState,
    },
    error::AppError,
};

/// Blobs deleted per group and pass (their rows are locked meanwhile: an
/// attach of one waits).
const BATCH: i64 = 50;
/// The tenant version that made the files' tables (0012).
const FILES_VERSION: i64 = 12;

/// What one pass deleted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    pub blobs: u64,
    pub uploads: u64,
}

/// One pass over every group; a group that fails is logged and left for
/// the next pass.
pub async fn run(state: &AppState) -> Result<Swept, AppError> {
    let rows: Vec<GroupRow> = sqlx::query_as(&format!(
        "SELECT {GROUP_COLUMNS} FROM groups g WHERE g.tenant_version >= $1 AND g.tenant_version <= $2 ORDER BY g.id"
    ))
    .bind(FILES_VERSION)
    .bind(migrations::latest_tenant_version())
    .fetch_all(state.registry())
    .await?;
    let mut swept = Swept::default();
    for row in rows {
        let slug = row.slug().to_owned();
        match sweep_group(state, row).await {
            Ok(done) => {
                swept.blobs += done.blobs;
                swept.uploads += done.uploads;
            }
            Err(error) => tracing::warn!(?error, group.slug = %slug, "sweeping a group's files failed"),
        }
    }
    Ok(swept)
}

async fn sweep_group(state: &AppState, row: GroupRow) -> Result<Swept, AppError> {
    let (group, _) = row.resolve(state)?;
    let (s, store) = (group.schema.ident(), &*state.files.store);
    let keep = state.files.settings.keep_released;
    let mut tx = group.db.pool.begin().await?;
    let gone: Vec<(String, bool)> = sqlx::query_as(&format!(
        "SELECT b.sha256, b.thumb FROM {s}.blobs b
          WHERE b.released_at < now() - $1::interval
            AND NOT EXISTS (SELECT 1 FROM {s}.files f WHERE f.sha256 = b.sha256)
          ORDER BY b.released_at LIMIT $2 FOR UPDATE SKIP LOCKED"
    ))
    .bind(keep)
    .bind(BATCH)
    .fetch_all(&mut *tx)
    .await?;
    for (sha256, thumb) in &gone {
        delete(store, &blob_path(group.id, sha256)).await?;
        if *thumb {
            delete(store, &thumb_path(group.id, sha256)).await?;
        }
    }
    let shas: Vec<&str> = gone.iter().map(|(sha, _)| sha.as_str()).collect();
    sqlx::query(&format!("DELETE FROM {s}.blobs WHERE sha256 = ANY($1)")).bind(&shas).execute(&mut *tx).await?;
    tx.commit().await?;
    let stale: Vec<(uuid::Uuid, String)> = sqlx::query_as(&format!(
        "SELECT uploader_id, sha256 FROM {s}.uploads WHERE updated_at < now() - interval '1 day' LIMIT $1"
    ))
    .bind(BATCH)
    .fetch_all(&group.db.pool)
    .await?;
    for (uploader, sha256) in &stale {
        delete_under(store, &chunks_folder(group.id, *uploader, sha256)).await?;
        sqlx::query(&format!(
            "DELETE FROM {s}.uploads WHERE uploader_id = $1 AND sha256 = $2 AND updated_at < now() - interval '1 day'"
        ))
        .bind(uploader)
        .bind(sha256)
        .execute(&group.db.pool)
        .await?;
    }
    Ok(Swept { blobs: gone.len() as u64, uploads: stale.len() as u64 })
}
