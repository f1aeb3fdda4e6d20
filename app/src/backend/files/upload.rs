//! Resumable uploads, keyed by their member and the SHA-256 of the bytes
//! (so nobody can spoil another's upload). Each chunk is a temporary
//! object; `uploads.received` says how far the server has them and only
//! moves forward from where it was (a conditional update), so a chunk sent
//! twice, or by two tabs at once, is taken once. Once all have come, one
//! request at a time (a claim) puts them together, checks them against
//! their checksum and their kind (`check`), and stores them as a blob.
//! Any server may take any chunk: all state is in Postgres and the store.
//!
//! Stored content answers "complete" at once to whoever may name it: any
//! member while a file names it, else only those who sent it (content
//! removed from the group, or never attached, is not handed to someone who
//! only knows its checksum: they send the bytes, and become one of them).

use super::{blob_path, check, chunk_path, chunks_folder, delete_under, store_error, thumb_path};
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

/// Uploads one member may have moving in a group at once (one untouched
/// for an hour no longer counts; a day, and it is swept).
const MOVING_MAX: i64 = 8;

/// How far the member's upload of `sha256` is (404 if nothing of it is
/// here). One whose bytes have all come but which was not finished (the
/// store or the database away meanwhile) is finished now.
pub async fn state(state: &AppState, member: &Member, sha256: &str) -> Result<UploadState, AppError> {
    let sha256 = validate::sha256(sha256).map_err(|_| AppError::NotFound)?;
    if let Some(size) = stored(&member.group.db.pool, member, &sha256).await? {
        return Ok(complete(size));
    }
    let under_way: Option<(i32, i32)> = sqlx::query_as(&format!(
        "SELECT received, total FROM {}.uploads WHERE uploader_id = $1 AND sha256 = $2",
        member.group.schema.ident()
    ))
    .bind(member.user_id)
    .bind(&sha256)
    .fetch_optional(&member.group.db.pool)
    .await?;
    match under_way.ok_or(AppError::NotFound)? {
        (received, total) if received == total => {
            member.group.require_open()?;
            finish(state, member, &sha256, total.into()).await
        }
        (received, total) => Ok(UploadState { received: received.into(), total: total.into(), complete: false }),
    }
}

fn complete(size: i64) -> UploadState {
    UploadState { received: size, total: size, complete: true }
}

/// The stored size of `sha256` if the member may name it; its retention
/// starts again if no file names it (so it outlives the attach to come).
/// Content a file names is only read (asked before every send of a write
/// naming it: no row rewritten each time).
async fn stored(conn: impl sqlx::PgExecutor<'_>, member: &Member, sha256: &str) -> Result<Option<i64>, AppError> {
    let s = member.group.schema.ident();
    let size: Option<i32> = sqlx::query_scalar(&format!(
        "WITH renewed AS (
             UPDATE {s}.blobs SET released_at = now()
              WHERE sha256 = $1 AND released_at IS NOT NULL AND $2 = ANY (uploaders) RETURNING size)
         SELECT size FROM renewed
         UNION ALL SELECT size FROM {s}.blobs WHERE sha256 = $1 AND released_at IS NULL"
    ))
    .bind(sha256)
    .bind(member.user_id)
    .fetch_optional(conn)
    .await?;
    Ok(size.map(i64::from))
}

/// Takes the chunk `first..=last` of `total` bytes. A chunk that does not
/// start where the server's copy ends is 409: ask `state` and go on.
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
    let (group, me) = (member.group.id, member.user_id);
    let path = chunk_path(group, me, &sha256, first as i32);
    state.files.store.put(&path, PutPayload::from(chunk)).await.map_err(store_error)?;
    let moved: Option<i32> = sqlx::query_scalar(&format!(
        "UPDATE {}.uploads SET received = $4, updated_at = now()
          WHERE uploader_id = $1 AND sha256 = $2 AND received = $3 RETURNING received",
        member.group.schema.ident()
    ))
    .bind(me)
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

pub(super) fn mb(bytes: i64) -> String {
    format!("{:.1} MB", bytes as f64 / 1_000_000.0)
}

/// The upload's row, made at its first chunk (within the group's room and
/// the member's uploads moving); 409 if `first` is not where it is.
async fn start_or_resume(
    state: &AppState,
    member: &Member,
    sha256: &str,
    first: i64,
    total: i64,
) -> Result<UploadState, AppError> {
    let (s, me) = (member.group.schema.ident(), member.user_id);
    let mut tx = member.group.db.pool.begin().await?;
    // One start at a time per group: the room is counted once.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('courtyard.uploads.' || $1, 0))")
        .bind(member.group.schema.as_str())
        .execute(&mut *tx)
        .await?;
    if let Some(size) = stored(&mut *tx, member, sha256).await? {
        tx.commit().await?;
        return Ok(complete(size));
    }
    let under_way: Option<(i32, i32)> = sqlx::query_as(&format!(
        "SELECT received, total FROM {s}.uploads WHERE uploader_id = $1 AND sha256 = $2 FOR UPDATE"
    ))
    .bind(me)
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
            let (used, moving): (i64, i64) = sqlx::query_as(&format!(
                // Uploads moving hold their room (one left for an hour no
                // longer does: nobody can fill the group with uploads they
                // never send; the room is checked again when one finishes).
                "SELECT (SELECT coalesce(sum(size), 0) FROM {s}.blobs)::bigint
                      + (SELECT coalesce(sum(total), 0) FROM {s}.uploads
                          WHERE updated_at > now() - interval '1 hour')::bigint,
                        (SELECT count(*) FROM {s}.uploads
                          WHERE uploader_id = $1 AND updated_at > now() - interval '1 hour')"
            ))
            .bind(me)
            .fetch_one(&mut *tx)
            .await?;
            room(state, used, total)?;
            if moving >= MOVING_MAX {
                // Not the file's fault: the browser tries again later.
                return Err(AppError::RateLimited { retry_after_secs: 60 });
            }
            sqlx::query(&format!("INSERT INTO {s}.uploads (sha256, uploader_id, total) VALUES ($1, $2, $3)"))
                .bind(sha256)
                .bind(me)
                .bind(total as i32)
                .execute(&mut *tx)
                .await?;
        }
    }
    tx.commit().await?;
    Ok(UploadState { received: first, total, complete: false })
}

/// 413 unless `adding` more bytes fit beside the `used` ones.
fn room(state: &AppState, used: i64, adding: i64) -> Result<(), AppError> {
    let room = state.files.settings.max_group_bytes as i64;
    if used + adding > room {
        return Err(AppError::TooLarge(format!(
            "the group's files take {} of its {}: remove some first",
            mb(used),
            mb(room)
        )));
    }
    Ok(())
}

/// Puts the chunks together, checks them, stores what `check` makes of
/// them and records the blob; then the upload and its chunks go, whatever
/// the verdict (a refused file is refused again however often it is sent).
/// One request at a time: another finding it claimed answers how far it is.
async fn finish(state: &AppState, member: &Member, sha256: &str, total: i64) -> Result<UploadState, AppError> {
    let (store, group, me) = (&state.files.store, member.group.id, member.user_id);
    let s = member.group.schema.ident();
    let claim: Option<chrono::DateTime<chrono::Utc>> = sqlx::query_scalar(&format!(
        "UPDATE {s}.uploads SET finishing_until = clock_timestamp() + interval '10 minutes'
          WHERE uploader_id = $1 AND sha256 = $2 AND received = total
            AND (finishing_until IS NULL OR finishing_until < now()) RETURNING finishing_until"
    ))
    .bind(me)
    .bind(sha256)
    .fetch_optional(&member.group.db.pool)
    .await?;
    let Some(claim) = claim else {
        return match stored(&member.group.db.pool, member, sha256).await? {
            Some(size) => Ok(complete(size)),
            None => Ok(UploadState { received: total, total, complete: false }),
        };
    };
    let outcome = assemble_and_store(state, member, sha256, total).await;
    // Ours still (a claim that lapsed may be another request's now): the
    // upload ends, whatever the verdict (a refused file is refused again
    // however often it is sent), unless the store or the database failed:
    // then it is released, to be finished by the next request.
    let transient = matches!(&outcome, Err(AppError::Unavailable | AppError::Internal));
    let query = if transient {
        format!("UPDATE {s}.uploads SET finishing_until = NULL WHERE uploader_id = $1 AND sha256 = $2 AND finishing_until = $3")
    } else {
        format!("DELETE FROM {s}.uploads WHERE uploader_id = $1 AND sha256 = $2 AND finishing_until = $3")
    };
    let ended = sqlx::query(&query).bind(me).bind(sha256).bind(claim).execute(&member.group.db.pool).await?;
    if !transient && ended.rows_affected() == 1 {
        delete_under(&**store, &chunks_folder(group, me, sha256)).await?;
    }
    Ok(complete(outcome?))
}

/// Puts the chunks together, checks them and stores what `check` makes of
/// them; the size stored.
async fn assemble_and_store(state: &AppState, member: &Member, sha256: &str, total: i64) -> Result<i64, AppError> {
    let (store, group, me) = (&state.files.store, member.group.id, member.user_id);
    let mut whole = BytesMut::with_capacity(total as usize);
    while (whole.len() as i64) < total {
        let got = match store.get(&chunk_path(group, me, sha256, whole.len() as i32)).await {
            Ok(got) => got.bytes().await.map_err(store_error)?,
            Err(object_store::Error::NotFound { .. }) => break,
            Err(error) => return Err(store_error(error)),
        };
        if got.is_empty() {
            break;
        }
        whole.extend_from_slice(&got);
    }
    if whole.len() as i64 != total || hex::encode(Sha256::digest(&whole)) != sha256 {
        return Err(AppError::validation(
            "sha256",
            "the bytes received do not match their checksum: send the file again",
        ));
    }
    let checked = checked(state, whole.freeze()).await?;
    store_blob(state, member, sha256, checked).await
}

/// `check::check` off the async threads, two at a time.
async fn checked(state: &AppState, bytes: Bytes) -> Result<check::Checked, AppError> {
    let _turn = state.files.checking.acquire().await.map_err(|_| AppError::Unavailable)?;
    let limit = state.files.settings.max_file_bytes as usize;
    tokio::task::spawn_blocking(move || check::check(bytes, limit)).await.map_err(|error| {
        // A decoder's panic: this file, not the server (refused, not retried).
        tracing::error!(%error, "checking a file panicked");
        AppError::validation("file", "this file cannot be read")
    })?
}

/// Stores the checked content and records its blob, under the group's
/// writers' lock (a group being moved copies its blobs as it pauses
/// writes) and the blob row's (so the sweep, which deletes under it, never
/// deletes objects this stores). Content stored before stays, its
/// retention started again, with this member among those who sent it.
/// Returns the size stored.
async fn store_blob(state: &AppState, member: &Member, sha256: &str, checked: check::Checked) -> Result<i64, AppError> {
    let (store, group, s) = (&state.files.store, member.group.id, member.group.schema.ident());
    let size = checked.bytes.len() as i64;
    let mut tx = member.group.db.pool.begin().await?;
    let moved: Option<String> =
        sqlx::query_scalar(&format!("SELECT moved_to FROM {s}.change_head FOR UPDATE")).fetch_one(&mut *tx).await?;
    if moved.is_some() {
        return Err(AppError::Unavailable);
    }
    // (Finishes of the group queue on the writers' lock: one counts at a time.)
    sqlx::query(&format!("SELECT 1 FROM {s}.blobs WHERE sha256 = $1 FOR UPDATE"))
        .bind(sha256)
        .execute(&mut *tx)
        .await?;
    let used: i64 =
        sqlx::query_scalar(&format!("SELECT coalesce(sum(size), 0)::bigint FROM {s}.blobs WHERE sha256 <> $1"))
            .bind(sha256)
            .fetch_one(&mut *tx)
            .await?;
    room(state, used, size)?;
    store.put(&blob_path(group, sha256), PutPayload::from(checked.bytes)).await.map_err(store_error)?;
    if let Some(thumb) = &checked.thumb {
        store.put(&thumb_path(group, sha256), PutPayload::from(thumb.clone())).await.map_err(store_error)?;
    }
    sqlx::query(&format!(
        "INSERT INTO {s}.blobs AS b (sha256, content_type, size, thumb, uploaders) VALUES ($1, $2, $3, $4, ARRAY[$5::uuid])
         ON CONFLICT (sha256) DO UPDATE SET
             content_type = EXCLUDED.content_type, size = EXCLUDED.size, thumb = EXCLUDED.thumb,
             uploaders = CASE WHEN $5 = ANY (b.uploaders) THEN b.uploaders ELSE b.uploaders || $5 END,
             released_at = CASE WHEN b.released_at IS NULL THEN NULL ELSE now() END"
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
