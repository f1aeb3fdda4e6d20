//! Files on a page: choosing files to attach (their bytes kept in this
//! browser and uploaded with the write that names them, offline too), a
//! photo shown from this browser's copy (else fetched once and kept), and
//! a document opened from it.

use super::{use_group, use_hydrated, FormError, PendingBadge};
use crate::{
    error::AppError,
    model::{mutation::ById, FileInfo, Mutation},
};
use leptos::{html, prelude::*};
use uuid::Uuid;

/// The kinds the file pickers offer (the server checks the content).
pub const PHOTO_TYPES: &str = "image/jpeg,image/png,image/webp";
pub const DOCUMENT_TYPES: &str = "application/pdf,image/jpeg,image/png,image/webp,.docx,.xlsx,.pptx,.odt,.ods,.odp";

/// Where the server serves a file's bytes (its thumbnail: `thumb`).
pub fn file_url(slug: &str, id: Uuid, thumb: bool) -> String {
    format!("/api/groups/{slug}/files/{id}{}", if thumb { "?thumb=true" } else { "" })
}

/// A file input and a button: each chosen file is kept here and named in
/// the group (on `request_id`, or in the library), one write each.
#[component]
pub fn AttachFiles(
    /// The input's id (its label's `for`).
    id: &'static str,
    label: &'static str,
    button: &'static str,
    accept: &'static str,
    request_id: Option<Uuid>,
) -> impl IntoView {
    let group = use_group();
    let ready = use_hydrated();
    let input = NodeRef::<html::Input>::new();
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<AppError>);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        #[cfg(feature = "hydrate")]
        {
            let Some(input) = input.get() else { return };
            busy.set(true);
            error.set(None);
            leptos::task::spawn_local(async move {
                let outcome = attach_chosen(group, &input, request_id, None).await;
                if outcome.is_ok() {
                    input.set_value("");
                }
                let _ = error.try_set(outcome.err());
                let _ = busy.try_set(false);
            });
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (group, request_id);
    };
    view! {
        <form class="attach" on:submit=submit>
            <div class="field">
                <label for=id>{label}</label>
                <input id=id type="file" accept=accept multiple node_ref=input required />
            </div>
            <FormError error=error.into() />
            <button type="submit" disabled=move || !ready.get() || busy.get()>{button}</button>
        </form>
    }
}

/// Keeps each file chosen in `input` and queues the write naming it (on
/// the request, its comment, or in the library).
#[cfg(feature = "hydrate")]
pub async fn attach_chosen(
    group: super::GroupContext,
    input: &web_sys::HtmlInputElement,
    request_id: Option<Uuid>,
    comment_id: Option<Uuid>,
) -> Result<(), AppError> {
    let kept = keep_chosen(group, input).await?;
    name_kept(group, kept, request_id, comment_id).await
}

/// A chosen file whose bytes this browser keeps: its checksum and name.
#[cfg(feature = "hydrate")]
pub struct Kept {
    sha256: String,
    name: String,
}

/// Keeps the bytes of every file chosen in `input` (all or none of them
/// named after: an empty one, or a browser that cannot keep files, is said
/// before anything is queued).
#[cfg(feature = "hydrate")]
pub async fn keep_chosen(group: super::GroupContext, input: &web_sys::HtmlInputElement) -> Result<Vec<Kept>, AppError> {
    use crate::sync::browser::files;
    let chosen = input.files().map(|list| (0..list.length()).filter_map(|i| list.get(i)).collect::<Vec<_>>());
    let chosen = chosen.unwrap_or_default();
    if let Some(empty) = chosen.iter().find(|file| file.size() == 0.0) {
        return Err(AppError::BadRequest(format!("{} is empty", empty.name())));
    }
    let (me, slug) = (group.me(), group.slug.get_untracked());
    let mut kept = Vec::with_capacity(chosen.len());
    for file in chosen {
        let sha256 = files::digest(&file).await.map_err(AppError::BadRequest)?;
        files::keep_for_upload(me, &slug, &sha256, &file)
            .await
            .map_err(|_| AppError::BadRequest("this browser cannot keep files (is it in private mode?)".into()))?;
        kept.push(Kept { sha256, name: file.name() });
    }
    Ok(kept)
}

/// Queues the write naming each kept file (its bytes go first: by the
/// outbox, or now if nothing sends for this page yet).
#[cfg(feature = "hydrate")]
pub async fn name_kept(
    group: super::GroupContext,
    kept: Vec<Kept>,
    request_id: Option<Uuid>,
    comment_id: Option<Uuid>,
) -> Result<(), AppError> {
    use crate::sync::browser::files;
    let (me, slug) = (group.me(), group.slug.get_untracked());
    for Kept { sha256, name } in kept {
        if group.sync.queue.get_value().is_none() {
            // The form says what went wrong; the bytes are not kept.
            if let Err(halt) = files::upload(me, &slug, &sha256).await {
                files::forget_upload(me, &slug, &sha256).await;
                return Err(match halt {
                    files::Halt::Refused(reason) => AppError::BadRequest(reason),
                    files::Halt::SignedOut => AppError::Unauthorized,
                    files::Halt::Unreachable => AppError::Unavailable,
                });
            }
        }
        let attach = crate::model::mutation::FileAttach { id: Uuid::new_v4(), sha256, name, request_id, comment_id };
        super::mutation::send(group, crate::model::Mutation::FileAttach(attach)).await?;
    }
    Ok(())
}

/// A photo: its thumbnail from this browser's copy (a queued one from the
/// bytes chosen), else from the server (and kept for offline use); a link
/// to the whole file.
#[component]
pub fn Photo(file: FileInfo) -> impl IntoView {
    let group = use_group();
    let slug = group.slug.get_untracked();
    let from_server = file_url(&slug, file.id, file.thumb);
    let shown = RwSignal::new(from_server);
    #[cfg(feature = "hydrate")]
    {
        let (me, id, sha256, thumb) = (group.me(), file.id, file.sha256.clone(), file.thumb);
        let queued = file.content_type.is_empty();
        let made = StoredValue::new(None::<String>);
        leptos::task::spawn_local(async move {
            use crate::sync::browser::files;
            let blob = match files::held(me, &slug, &sha256, thumb).await {
                Some(blob) => Some(blob),
                None if !queued => files::fetch(me, &slug, id, &sha256, thumb).await.ok(),
                None => None,
            };
            if let Some(url) = blob.as_ref().and_then(files::object_url) {
                if made.try_set_value(Some(url.clone())).is_some() {
                    files::revoke(&url);
                } else {
                    let _ = shown.try_set(url);
                }
            }
        });
        on_cleanup(move || {
            if let Some(Some(url)) = made.try_get_value() {
                crate::sync::browser::files::revoke(&url);
            }
        });
    }
    let whole = file_url(&group.slug.get_untracked(), file.id, false);
    let (id, label) = (file.id, format!("Remove {}", file.name));
    let may_remove = (file.uploader_id == group.me() || group.is_admin()) && !group.is_closed();
    let remove = super::use_mutation();
    view! {
        <figure class="photo">
            <a href=whole target="_blank" rel="noopener">
                <img src=move || shown.get() alt=file.name.clone() loading="lazy" />
            </a>
            <figcaption class="muted">
                <PendingBadge id />
                {may_remove.then(|| view! {
                    <button type="button" class="link" aria-label=label
                        on:click=move |_| { remove.dispatch(Mutation::FileRemove(ById { id })); }>"Remove"</button>
                })}
                <FormError error=super::action_error(remove) />
            </figcaption>
        </figure>
    }
}

/// Opens a document: from this browser's copy if it has one, else fetched
/// (and kept, so it opens offline next time); saved under its name.
#[component]
pub fn OpenDocument(file: FileInfo) -> impl IntoView {
    let group = use_group();
    let href = file_url(&group.slug.get_untracked(), file.id, false);
    let error = RwSignal::new(None::<String>);
    let name = file.name.clone();
    let open = move |ev: leptos::ev::MouseEvent| {
        #[cfg(feature = "hydrate")]
        {
            ev.prevent_default();
            let (me, slug, id, sha256, name) =
                (group.me(), group.slug.get_untracked(), file.id, file.sha256.clone(), file.name.clone());
            leptos::task::spawn_local(async move {
                use crate::sync::browser::files;
                let blob = match files::held(me, &slug, &sha256, false).await {
                    Some(blob) => Some(blob),
                    None => files::fetch(me, &slug, id, &sha256, false).await.ok(),
                };
                let saved = blob.as_ref().and_then(|blob| save(blob, &name));
                let _ = error.try_set(
                    saved.is_none().then(|| "It cannot be opened offline: open it once online first.".to_owned()),
                );
            });
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = ev;
    };
    view! {
        <a href=href download=name.clone() on:click=open>{name.clone()}</a>
        {move || error.get().map(|e| view! { <span class="form-error" role="alert">" " {e}</span> })}
    }
}

/// Hands a Blob to the browser as a download named `name`.
#[cfg(feature = "hydrate")]
fn save(blob: &web_sys::Blob, name: &str) -> Option<()> {
    use wasm_bindgen::JsCast;
    let url = crate::sync::browser::files::object_url(blob)?;
    let document = web_sys::window()?.document()?;
    let link: web_sys::HtmlAnchorElement = document.create_element("a").ok()?.dyn_into().ok()?;
    link.set_href(&url);
    link.set_download(name);
    link.click();
    // The download has its bytes once it starts; the URL goes a while later.
    leptos::task::spawn_local(async move {
        gloo_timers::future::TimeoutFuture::new(60_000).await;
        crate::sync::browser::files::revoke(&url);
    });
    Some(())
}

/// A file's size as people read it.
pub fn human_size(bytes: i32) -> String {
    match bytes {
        ..=0 => "waiting to upload".to_owned(),
        1..=999 => format!("{bytes} bytes"),
        1000..=999_999 => format!("{:.0} kB", f64::from(bytes) / 1000.0),
        _ => format!("{:.1} MB", f64::from(bytes) / 1_000_000.0),
    }
}
