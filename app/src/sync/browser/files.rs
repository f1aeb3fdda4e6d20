//! Files in the browser: a chosen file's bytes kept in IndexedDB with its
//! queued `file.attach` (so a photo taken offline survives a reload and is
//! shown at once), uploaded in chunks when the outbox sends that write
//! (`send.rs`; resumed where the server's copy ends, keyed by the bytes'
//! SHA-256, so never stored twice), and files' bytes fetched once and kept
//! for offline use. Keys start with the scope (`<user id>/<group slug>/`),
//! like the rows, and go with them.

use super::{
    net::Unreachable,
    store::{self, FILES, UPLOADS},
};
use crate::model::{
    files::{UploadState, CHUNK_BYTES},
    EXPECTED_USER_HEADER,
};
use gloo_net::http::Request;
use sha2::{Digest, Sha256};
use uuid::Uuid;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Blob, RequestCache};

/// How long a chunk may take to be answered.
const CHUNK_TIMEOUT_MS: u32 = 60_000;
/// Seconds to wait for the server to finish an upload (checking a large
/// photo takes a while) before trying again later.
const FINISH_WAITS: u32 = 30;

fn key(me: Uuid, slug: &str, sha256: &str, thumb: bool) -> String {
    format!("{me}/{slug}/{sha256}{}", if thumb { ".thumb" } else { "" })
}

/// The SHA-256 of a chosen file's bytes, hex (the upload's key).
pub async fn digest(blob: &Blob) -> Result<String, String> {
    let buffer = JsFuture::from(blob.array_buffer()).await.map_err(|_| "the file cannot be read".to_owned())?;
    let bytes = js_sys::Uint8Array::new(&buffer).to_vec();
    Ok(hex::encode(Sha256::digest(&bytes)))
}

/// Keeps a chosen file's bytes until its upload is done.
pub async fn keep_for_upload(me: Uuid, slug: &str, sha256: &str, blob: &Blob) -> Result<(), String> {
    store::put_value(UPLOADS, &key(me, slug, sha256, false), blob).await
}

/// Forgets the bytes kept for an upload that was refused.
pub async fn forget_upload(me: Uuid, slug: &str, sha256: &str) {
    let _ = store::delete_value(UPLOADS, &key(me, slug, sha256, false)).await;
}

/// This browser's copy of a file's bytes (its thumbnail if `thumb` and one
/// was fetched; else the file, fetched or sent from here), if it has one.
pub async fn held(me: Uuid, slug: &str, sha256: &str, thumb: bool) -> Option<Blob> {
    let tries = [(FILES, thumb), (FILES, false), (UPLOADS, false)];
    for (store, thumb) in tries.into_iter().filter(|(_, t)| thumb || !t) {
        if let Ok(Some(value)) = store::get_value(store, &key(me, slug, sha256, thumb)).await {
            if let Ok(blob) = value.dyn_into::<Blob>() {
                return Some(blob);
            }
        }
    }
    None
}

/// Fetches a file's bytes (or thumbnail) from the server and keeps them.
pub async fn fetch(me: Uuid, slug: &str, id: Uuid, sha256: &str, thumb: bool) -> Result<Blob, Unreachable> {
    let url = format!("/api/groups/{slug}/files/{id}{}", if thumb { "?thumb=true" } else { "" });
    let response = Request::get(&url)
        .header(EXPECTED_USER_HEADER, &me.to_string())
        .cache(RequestCache::NoCache)
        .send()
        .await
        .map_err(|_| Unreachable)?;
    if !response.ok() {
        return Err(Unreachable);
    }
    let raw: web_sys::Response = response.into();
    let blob: Blob = JsFuture::from(raw.blob().map_err(|_| Unreachable)?)
        .await
        .ok()
        .and_then(|b| b.dyn_into().ok())
        .ok_or(Unreachable)?;
    if let Err(error) = store::put_value(FILES, &key(me, slug, sha256, thumb), &blob).await {
        leptos::logging::warn!("{error}");
    }
    Ok(blob)
}

/// Why an upload did not finish.
#[derive(Debug)]
pub enum Halt {
    /// Offline, or the server is busy: try again later.
    Unreachable,
    SignedOut,
    /// The server refuses the file (its kind, its size, the group's room),
    /// or its bytes are no longer here: its write is refused with this.
    Refused(String),
}

/// Uploads the bytes kept for `sha256`, from where the server's copy ends;
/// done when the server has them (sent from here or not). The bytes then
/// move to the files kept here.
pub async fn upload(me: Uuid, slug: &str, sha256: &str) -> Result<(), Halt> {
    let url = format!("/api/groups/{slug}/uploads/{sha256}");
    let mut state = ask(me, &url).await?;
    let kept = key(me, slug, sha256, false);
    // Kept for the upload; or, sent before (its write not answered since,
    // the server's copy swept meanwhile), kept among the files.
    let mut blob = None;
    for store in [UPLOADS, FILES] {
        if let Ok(Some(value)) = store::get_value(store, &kept).await {
            blob = value.dyn_into::<Blob>().ok();
            break;
        }
    }
    let Some(blob) = blob else {
        return match state {
            Some(state) if state.complete => Ok(()),
            _ => Err(Halt::Refused("the file's bytes are no longer in this browser".into())),
        };
    };
    let total = blob.size() as i64;
    let (mut waited, mut restarted) = (0, false);
    while !state.is_some_and(|s| s.complete) {
        let first = state.map_or(0, |s| s.received);
        if first >= total {
            // All sent; the server is putting it together: ask again soon.
            waited += 1;
            if waited > FINISH_WAITS {
                return Err(Halt::Unreachable);
            }
            gloo_timers::future::TimeoutFuture::new(1_000).await;
            state = ask(me, &url).await?;
            continue;
        }
        let last = (first + CHUNK_BYTES as i64).min(total) - 1;
        let chunk = blob.slice_with_f64_and_f64(first as f64, (last + 1) as f64).map_err(|_| Halt::Unreachable)?;
        let sent = Request::put(&url)
            .header(EXPECTED_USER_HEADER, &me.to_string())
            .header("Content-Range", &format!("bytes {first}-{last}/{total}"))
            .body(chunk)
            .map_err(|_| Halt::Unreachable)?;
        let response = within(sent.send()).await?;
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        state = match status {
            200 => Some(serde_json::from_str(&body).map_err(|_| Halt::Unreachable)?),
            // Taken meanwhile (another tab), dropped (a day without a
            // chunk), or refused for good (a closed group).
            409 => match ask(me, &url).await? {
                None if first > 0 => None,
                Some(now) if now.complete || now.received != first => Some(now),
                _ => return Err(Halt::Refused(reason(&body))),
            },
            // These bytes hashed to the checksum here: what the server put
            // together was not them (chunks lost there). Once more, whole.
            422 if body.contains("checksum") && !restarted => {
                restarted = true;
                None
            }
            _ => return Err(verdict(status, &body)),
        };
    }
    if let Err(error) = store::put_value(FILES, &kept, &blob).await {
        leptos::logging::warn!("{error}");
    }
    let _ = store::delete_value(UPLOADS, &kept).await;
    Ok(())
}

/// The server's state of the upload (none yet: `None`).
async fn ask(me: Uuid, url: &str) -> Result<Option<UploadState>, Halt> {
    let request = Request::get(url).header(EXPECTED_USER_HEADER, &me.to_string()).cache(RequestCache::NoStore);
    let response = within(request.send()).await?;
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    match status {
        200 => serde_json::from_str(&body).map(Some).map_err(|_| Halt::Unreachable),
        404 if body.contains("\"error\"") => Ok(None),
        _ => Err(verdict(status, &body)),
    }
}

/// What an answer other than 200 means for the upload.
fn verdict(status: u16, body: &str) -> Halt {
    match status {
        401 => Halt::SignedOut,
        400 | 403 | 413 | 415 | 422 if body.contains("\"error\"") => Halt::Refused(reason(body)),
        _ => Halt::Unreachable,
    }
}

fn reason(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("error")?.as_str().map(str::to_owned))
        .unwrap_or_else(|| "the file was refused".into())
}

async fn within(
    request: impl std::future::Future<Output = Result<gloo_net::http::Response, gloo_net::Error>>,
) -> Result<gloo_net::http::Response, Halt> {
    let timer = gloo_timers::future::TimeoutFuture::new(CHUNK_TIMEOUT_MS);
    futures::pin_mut!(request);
    match futures::future::select(request, timer).await {
        futures::future::Either::Left((Ok(response), _)) => Ok(response),
        _ => Err(Halt::Unreachable),
    }
}

/// A page's URL for a Blob (revoked by the caller when it goes).
pub fn object_url(blob: &Blob) -> Option<String> {
    web_sys::Url::create_object_url_with_blob(blob).ok()
}

pub fn revoke(url: &str) {
    let _ = web_sys::Url::revoke_object_url(url);
}
