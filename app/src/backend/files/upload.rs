//! Resumable uploads, keyed by the SHA-256 of the bytes. Each chunk is a
//! temporary object; `uploads.received` says how far the server has them
//! and only moves forward from where it was (a conditional update), so a
//! chunk sent twice, or by two tabs at once, is taken once. With the last
//! chunk the bytes are put together, checked against their checksum and
//! their kind (`check`), stored, and the upload becomes a blob. Any server
//! may take any chunk: all state is in Postgres and the object store.

use super::{blob_path, check, chunk_path, delete, store_error, thumb_path};
use crate::{
    backend::{groups::Member, AppState},
    error::AppError,
    model::{
        files::{UploadState, CHUNK_BYTES},
        validate,
    },
};
use bytes::{Bytes, BytesMut};
use object_store::{ObjectStoreExt, PutPayload};
use sha2::{Digest, Sha256};

/// Uploads one member may have under way in a group at once.
const UNDER_WAY_MAX: i64 = 8;

/// How far the upload `sha256` is (404 if nothing of it is here). An
/// upload whose bytes all came but whose finishing failed (the store or
/// the database away) is finished now.
pub async fn state(state: &AppState, member: &Member, sha256: &str) -> Result<UploadState, AppError> {
    let sha256 = validate::sha256(sha256).map_err(|_| AppError::NotFound)?;
    let s = member.group.schema.ident();
    if let Some(size) = stored_size(&member.group.db.pool, member, &sha256).await? {
        return Ok(UploadState { received: size, total: size, complete: true });
    }
    let under_way: Option<(i32, i32)> =
        sqlx::query_as(&format!("SELECT received, total FROM {s}.uploads WHERE sha256 = $1"))
            .bind(&sha256)
            .fetch_optional(&member.group.db.pool)
            .await?;
    match under_way.ok_or(AppError::NotFound)? {
        (received, total) if received == total => finish(state, member, &sha256, total.into()).await,
        (received, total) => Ok(UploadState { received: received.into(), total: total.into(), complete: false }),
    }
}

/// The size stored for `sha256`, if its blob is there.
async fn stored_size(conn: impl sqlx::PgExecutor<'_>, member: &Member, sha256: &str) -> Result<Option<i64>, AppError> {
    let size: Option<i32> =
        sqlx::query_scalar(&format!("SELECT size FROM {}.blobs WHERE sha256 = $1", member.group.schema.ident()))
            .bind(sha256)
            .fetch_optional(conn)
            .await?;
    Ok(size.map(i64::from))
}

/// Takes the chunk `first..=last` of `total` bytes. A chunk that does not
/// start where the server's copy ends gets 409 (`Conflict`), with the
/// state to go on from in its message's place: the caller sends
/// `state()`.
pub async fn receive(
    state: &AppState,
    member: &Member,
    sha256: &str,
    (first, last, total): (i64, i64, i64),
    chunk: Bytes,
) -> Result<UploadState, AppError> {
    member.group.require_open()?;
    let sha256 = validate::sha256(sha256)?;
    let max = i64::from(state.files.settings.max_file_bytes);
    if total > max {
        return Err(AppError::TooLarge(format!("the file is {}: at most {} are taken", mb(total), mb(max))));
    }
    if chunk.len() > CHUNK_BYTES {
        return Err(AppError::TooLarge(format!("send at most {CHUNK_BYTES} bytes per chunk")));
    }
    if chunk.len() as i64 != last - first + 1 {
        return Err(AppError::BadRequest("the body's length differs from its Content-Range".into()));
    }
    let now = start_or_resume(state, member, &sha256, first, total).await?;
    if now.complete {
        return Ok(now);
    }
    let store = &state.files.store;
    store
        .put(&chunk_path(member.group.id, &sha256, first as i32), PutPayload::from(chunk))
        .await
        .map_err(store_error)?;
    let moved: Option<i32> = sqlx::query_scalar(&format!(
        "UPDATE {}.uploads SET received = $3, updated_at = now() WHERE sha256 = $1 AND received = $2 RETURNING received",
        member.group.schema.ident()
    ))
    .bind(&sha256)
    .bind(first as i32)
    .bind((last + 1) as i32)
    .fetch_optional(&member.group.db.pool)
    .await?;
    match moved {
        Some(received) if i64::from(received) == total => finish(state, member, &sha256, total).await,
        Some(received) => Ok(UploadState { received: received.into(), total, complete: false }),
        // Another request took this chunk meanwhile.
        None => Err(out_of_step()),
    }
}

fn out_of_step() -> AppError {
    AppError::Conflict("the upload is elsewhere: ask where it is and go on from there".into())
}

fn mb(bytes: i64) -> String {
    format!("{:.1} MB", bytes as f64 / 1_000_000.0)
}

/// The upload's row, made at its first chunk (within the group's room and
/// the member's uploads under way); 409 if `first` is not where it is.
async fn start_or_resume(
    state: &AppState,
    member: &Member,
    sha256: &str,
    first: i64,
    total: i64,
) -> Result<UploadState, AppError> {
    let s = member.group.schema.ident();
    let mut tx = member.group.db.pool.begin().await?;
    // One start at a time per group: the room is counted once.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('courtyard.uploads.' || $1, 0))")
        .bind(member.group.schema.as_str())
        .execute(&mut *tx)
        .await?;
    if let Some(size) = stored_size(&mut *tx, member, sha256).await? {
        return Ok(UploadState { received: size, total: size, complete: true });
    }
    let under_way: Option<(i32, i32)> =
        sqlx::query_as(&format!("SELECT received, total FROM {s}.uploads WHERE sha256 = $1 FOR UPDATE"))
            .bind(sha256)
            .fetch_optional(&mut *tx)
            .await?;
    match under_way {
        Some((_, known)) if i64::from(known) != total => {
            return Err(AppError::Conflict("an upload of this checksum is under way with another length".into()))
        }
        Some((received, _)) if i64::from(received) != first => return Err(out_of_step()),
        Some(_) => {}
        None if first != 0 => return Err(out_of_step()),
        None => {
            let (used, mine): (i64, i64) = sqlx::query_as(&format!(
                "SELECT (SELECT coalesce(sum(size), 0) FROM {s}.blobs)::bigint
                      + (SELECT coalesce(sum(total), 0) FROM {s}.uploads)::bigint,
                        (SELECT count(*) FROM {s}.uploads WHERE uploader_id = $1)"
            ))
            .bind(member.user_id)
            .fetch_one(&mut *tx)
            .await?;
            let room = state.files.settings.max_group_bytes as i64;
            if used + total > room {
                return Err(AppError::TooLarge(format!(
                    "the group's files take {} of its {}: remove some first",
                    mb(used),
                    mb(room)
                )));
            }
            if mine >= UNDER_WAY_MAX {
                return Err(AppError::Conflict(format!(
                    "finish your other uploads first (at most {UNDER_WAY_MAX} at once)"
                )));
            }
            sqlx::query(&format!("INSERT INTO {s}.uploads (sha256, uploader_id, total) VALUES ($1, $2, $3)"))
                .bind(sha256)
                .bind(member.user_id)
                .bind(total as i32)
                .execute(&mut *tx)
                .await?;
        }
    }
    tx.commit().await?;
    Ok(UploadState { received: first, total, complete: false })
}

/// Puts the chunks together, checks them, stores what `check` makes of
/// them and records the blob; the upload and its chunks go, whatever the
/// verdict (a refused file is refused again however often it is sent).
async fn finish(state: &AppState, member: &Member, sha256: &str, total: i64) -> Result<UploadState, AppError> {
    let (store, group) = (&state.files.store, member.group.id);
    let mut whole = BytesMut::with_capacity(total as usize);
    let mut chunks = Vec::new();
    while (whole.len() as i64) < total {
        let path = chunk_path(group, sha256, whole.len() as i32);
        let got = match store.get(&path).await {
            Ok(got) => got.bytes().await.map_err(store_error)?,
            Err(object_store::Error::NotFound { .. }) => Bytes::new(),
            Err(error) => return Err(store_error(error)),
        };
        chunks.push(path);
        if got.is_empty() {
            break;
        }
        whole.extend_from_slice(&got);
    }
    if whole.len() as i64 != total {
        // Another request finished it meanwhile (and took the chunks)?
        if let Some(size) = stored_size(&member.group.db.pool, member, sha256).await? {
            return Ok(UploadState { received: size, total: size, complete: true });
        }
    }
    let verdict = if whole.len() as i64 != total || hex::encode(Sha256::digest(&whole)) != sha256 {
        Err(AppError::validation("sha256", "the bytes received do not match their checksum: send the file again"))
    } else {
        checked(state, whole.freeze()).await
    };
    let stored = match verdict {
        Ok(checked) => store_blob(state, member, sha256, checked).await,
        Err(refused) => Err(refused),
    };
    if !matches!(&stored, Err(AppError::Unavailable | AppError::Internal)) {
        sqlx::query(&format!("DELETE FROM {}.uploads WHERE sha256 = $1", member.group.schema.ident()))
            .bind(sha256)
            .execute(&member.group.db.pool)
            .await?;
        for path in &chunks {
            delete(&**store, path).await?;
        }
    }
    let size = stored?;
    Ok(UploadState { received: size, total: size, complete: true })
}

/// `check::check` off the async threads, two at a time.
async fn checked(state: &AppState, bytes: Bytes) -> Result<check::Checked, AppError> {
    let _turn = state.files.checking.acquire().await.map_err(|_| AppError::Unavailable)?;
    tokio::task::spawn_blocking(move || check::check(bytes)).await.map_err(|error| {
        tracing::error!(%error, "checking a file panicked");
        AppError::Internal
    })?
}

/// Stores the checked content and records its blob (under the group's
/// writers' lock: a group being moved copies its blobs as it pauses
/// writes). Returns the size stored.
async fn store_blob(state: &AppState, member: &Member, sha256: &str, checked: check::Checked) -> Result<i64, AppError> {
    let (store, group) = (&state.files.store, member.group.id);
    let size = checked.bytes.len() as i64;
    store.put(&blob_path(group, sha256), PutPayload::from(checked.bytes)).await.map_err(store_error)?;
    if let Some(thumb) = &checked.thumb {
        store.put(&thumb_path(group, sha256), PutPayload::from(thumb.clone())).await.map_err(store_error)?;
    }
    let s = member.group.schema.ident();
    let mut tx = member.group.db.pool.begin().await?;
    let moved: Option<String> =
        sqlx::query_scalar(&format!("SELECT moved_to FROM {s}.change_head FOR UPDATE")).fetch_one(&mut *tx).await?;
    if moved.is_some() {
        return Err(AppError::Unavailable);
    }
    sqlx::query(&format!(
        "INSERT INTO {s}.blobs (sha256, content_type, size, thumb, uploader_id) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (sha256) DO NOTHING"
    ))
    .bind(sha256)
    .bind(checked.content_type)
    .bind(size as i32)
    .bind(checked.thumb.is_some())
    .bind(member.user_id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(size)
}
