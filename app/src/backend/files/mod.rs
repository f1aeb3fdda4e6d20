//! Files: photos on maintenance requests and the documents library. The
//! bytes live in an object store (`object_store`: a directory by default,
//! any S3-compatible store by configuration), under the group's id; what
//! names them is in the group's schema (tenant migration 0012): `blobs`
//! (each stored content, server only), `uploads` (chunked uploads under
//! way) and `files` (synced: what members see).
//!
//! A browser uploads the bytes first (`upload`, resumable, keyed by their
//! SHA-256, so a retry never stores twice), then sends `file.attach`
//! (`backend::mutate`), which names the stored content in the group. The
//! bytes are read back by members only (`open`).

mod check;
pub mod sweep;
pub mod upload;

use crate::{
    backend::{groups::Member, AppState},
    error::AppError,
};
use object_store::{local::LocalFileSystem, path::Path, ObjectStore};
use std::sync::Arc;
use tokio::sync::Semaphore;
use uuid::Uuid;

pub use check::{Checked, MAX_PIXELS, THUMB_SIZE};

/// The files' settings (`[files]` in Leptos.toml).
#[derive(Debug, Clone)]
pub struct FileSettings {
    /// A directory, or `s3://bucket/prefix` (credentials and region from
    /// the usual `AWS_*` environment variables).
    pub store: String,
    /// Largest file taken, in bytes.
    pub max_file_bytes: u32,
    /// Most bytes one group's files may take in all.
    pub max_group_bytes: u64,
    /// How long a file's bytes stay after the last file naming them went
    /// (the group log's retention: a browser that was away that long has
    /// lost its place in the log anyway).
    pub keep_released: chrono::Duration,
}

impl Default for FileSettings {
    fn default() -> Self {
        Self {
            store: std::env::temp_dir().join("courtyard-files").to_string_lossy().into_owned(),
            max_file_bytes: 10 * 1024 * 1024,
            max_group_bytes: 1024 * 1024 * 1024,
            keep_released: chrono::Duration::days(7),
        }
    }
}

/// The object store and the bound on image work.
pub struct Files {
    pub store: Arc<dyn ObjectStore>,
    pub settings: FileSettings,
    /// Images decoded at once (each may take up to `MAX_PIXELS` × 4 bytes).
    checking: Semaphore,
}

impl std::fmt::Debug for Files {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Files").field("store", &self.settings.store).finish()
    }
}

impl Files {
    /// The store `settings.store` names: `s3://…`, or a directory (made if
    /// missing).
    pub fn open(settings: &FileSettings) -> Result<Self, String> {
        let store: Arc<dyn ObjectStore> = if let Some(place) = settings.store.strip_prefix("s3://") {
            let bucket = object_store::aws::AmazonS3Builder::from_env()
                .with_url(&settings.store)
                .build()
                .map_err(|e| format!("files.store {:?}: {e}", settings.store))?;
            // The builder takes the bucket from the URL; the path after it
            // is where in the bucket Courtyard's objects go.
            match place.split_once('/').map(|(_, prefix)| prefix.trim_matches('/')) {
                Some(prefix) if !prefix.is_empty() => Arc::new(object_store::prefix::PrefixStore::new(bucket, prefix)),
                _ => Arc::new(bucket),
            }
        } else {
            std::fs::create_dir_all(&settings.store)
                .map_err(|e| format!("files.store {:?} cannot be made: {e}", settings.store))?;
            Arc::new(
                LocalFileSystem::new_with_prefix(&settings.store)
                    .map_err(|e| format!("files.store {:?}: {e}", settings.store))?
                    .with_automatic_cleanup(true),
            )
        };
        Ok(Self { store, settings: settings.clone(), checking: Semaphore::new(2) })
    }
}

/// Where a group's objects are: `groups/<group id>/…`.
pub(crate) fn blob_path(group: Uuid, sha256: &str) -> Path {
    Path::from(format!("groups/{group}/blobs/{sha256}"))
}

pub(crate) fn thumb_path(group: Uuid, sha256: &str) -> Path {
    Path::from(format!("groups/{group}/thumbs/{sha256}"))
}

/// Where a member's upload's chunks are.
pub(crate) fn chunks_folder(group: Uuid, uploader: Uuid, sha256: &str) -> Path {
    Path::from(format!("groups/{group}/uploads/{uploader}/{sha256}"))
}

pub(crate) fn chunk_path(group: Uuid, uploader: Uuid, sha256: &str, offset: i32) -> Path {
    chunks_folder(group, uploader, sha256).join(format!("{offset:010}"))
}

pub(crate) fn group_prefix(group: Uuid) -> Path {
    Path::from(format!("groups/{group}"))
}

/// An object store failure: logged, and a 503 (the store may be back soon).
pub(crate) fn store_error(error: object_store::Error) -> AppError {
    tracing::error!(%error, "object store");
    AppError::Unavailable
}

/// Deletes an object; one already gone is fine.
pub(crate) async fn delete(store: &dyn ObjectStore, path: &Path) -> Result<(), AppError> {
    match object_store::ObjectStoreExt::delete(store, path).await {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
        Err(error) => Err(store_error(error)),
    }
}

/// What `GET /api/groups/{slug}/files/{id}` answers: the bytes, or that
/// the copy the browser has (its ETag) is current.
pub enum Answer {
    Bytes(Box<Opened>),
    NotModified { tag: String },
}

/// A file's bytes as `GET /api/groups/{slug}/files/{id}` sends them.
pub struct Opened {
    pub name: String,
    pub content_type: String,
    /// The ETag: the upload's checksum (and which variant).
    pub tag: String,
    pub size: u64,
    pub body: object_store::GetResult,
}

#[derive(sqlx::FromRow)]
struct Named {
    name: String,
    content_type: String,
    sha256: String,
    thumb: bool,
}

/// The bytes of the file `id` of the member's group (its thumbnail if
/// `thumb` and it has one; otherwise the file). 404 for an id the group
/// does not have; an `if_none_match` naming the tag (weakly too, or `*`):
/// not modified.
pub async fn open(
    state: &AppState,
    member: &Member,
    id: Uuid,
    thumb: bool,
    if_none_match: Option<&str>,
) -> Result<Answer, AppError> {
    let named: Named = sqlx::query_as(&format!(
        "SELECT name, content_type, sha256, thumb FROM {}.files WHERE id = $1",
        member.group.schema.ident()
    ))
    .bind(id)
    .fetch_optional(&member.group.db.pool)
    .await?
    .ok_or(AppError::NotFound)?;
    let (path, content_type, tag) = if thumb && named.thumb {
        (
            thumb_path(member.group.id, &named.sha256),
            check::THUMB_TYPE.to_owned(),
            format!("\"{}-thumb\"", named.sha256),
        )
    } else {
        (blob_path(member.group.id, &named.sha256), named.content_type, format!("\"{}\"", named.sha256))
    };
    let names = |t: &str| {
        let t = t.trim();
        t == "*" || t.strip_prefix("W/").unwrap_or(t) == tag
    };
    if if_none_match.is_some_and(|tags| tags.split(',').any(names)) {
        return Ok(Answer::NotModified { tag });
    }
    let body = match object_store::ObjectStoreExt::get(&*state.files.store, &path).await {
        Ok(body) => body,
        Err(object_store::Error::NotFound { .. }) => {
            tracing::error!(%path, "a file's bytes are missing from the store");
            return Err(AppError::NotFound);
        }
        Err(error) => return Err(store_error(error)),
    };
    Ok(Answer::Bytes(Box::new(Opened { name: named.name, content_type, tag, size: body.meta.size, body })))
}

/// Deletes every object of a group (its schema is gone: closed and deleted).
pub async fn delete_group(state: &AppState, group: Uuid) -> Result<(), AppError> {
    delete_under(&*state.files.store, &group_prefix(group)).await
}

/// Deletes every object under `folder`.
pub(crate) async fn delete_under(store: &dyn ObjectStore, folder: &Path) -> Result<(), AppError> {
    use futures::TryStreamExt;
    let objects: Vec<Path> =
        store.list(Some(folder)).map_ok(|meta| meta.location).try_collect().await.map_err(store_error)?;
    for object in &objects {
        delete(store, object).await?;
    }
    Ok(())
}
