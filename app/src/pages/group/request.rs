//! `/g/{slug}/requests/{id}`: one maintenance request, its status and comments.

use super::use_group;
use crate::{
    components::{
        action_error, reset_on_success, see, use_hydrated, use_mutation, with_view, AttachFiles, FormError, NewBadge,
        Paging, PendingBadge, Photo, ShowMore, Time, PHOTO_TYPES,
    },
    model::{
        mutation::{CommentCreate, RequestSetStatus},
        views::RequestThread,
        Mutation, RequestStatus, PAGE,
    },
    pages::NotFound,
};
use leptos::{html, prelude::*};
use leptos_router::hooks::use_params_map;
use uuid::Uuid;

#[component]
pub fn RequestPage() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.read().get("id").and_then(|id| Uuid::parse_str(&id).ok()));
    move || match id.get() {
        Some(id) => {
            let first = use_group().first::<Option<RequestThread>>(move || (id, PAGE));
            with_view(first, move |first| view! { <Thread id first /> }).into_any()
        }
        None => view! { <NotFound /> }.into_any(),
    }
}

/// The request and its comments; "not found" once it is gone.
#[component]
fn Thread(id: Uuid, first: Option<RequestThread>) -> impl IntoView {
    let group = use_group();
    let paging = Paging::new();
    let thread = group.follow(first, move || (id, paging.shown()));
    let exists = Memo::new(move |_| thread.with(Option::is_some));
    move || {
        if exists.get() {
            view! { <RequestDetail id thread paging /> }.into_any()
        } else {
            view! { <NotFound /> }.into_any()
        }
    }
}

#[component]
fn RequestDetail(id: Uuid, thread: Memo<Option<RequestThread>>, paging: Paging) -> impl IntoView {
    let group = use_group();
    let read = move |f: fn(&RequestThread) -> String| move || thread.with(|t| t.as_ref().map(f).unwrap_or_default());
    let status = Memo::new(move |_| thread.with(|t| t.as_ref().map(|t| t.request.status)));
    let created_at = Memo::new(move |_| thread.with(|t| t.as_ref().map(|t| t.request.created_at)));
    let mine = Memo::new(move |_| thread.with(|t| t.as_ref().is_some_and(|t| t.request.author_id == group.me())));
    let comments = move || {
        thread.with(|t| {
            t.iter()
                .flat_map(|t| {
                    t.comments.iter().map(|c| {
                        let photos: Vec<_> = t.files.iter().filter(|f| f.comment_id == Some(c.id)).cloned().collect();
                        view! {
                            <li>
                                <p class="body">{c.body.clone()}</p>
                                {(!photos.is_empty()).then(|| view! {
                                    <ul class="photos">{photos.into_iter().map(|file| view! { <li><Photo file /></li> }).collect_view()}</ul>
                                })}
                                <p class="muted">{t.names.of(c.author_id)} " · " <Time at=c.created_at /> " " <PendingBadge id=c.id /></p>
                            </li>
                        }
                    })
                })
                .collect_view()
        })
    };
    // The request's own (a comment's show with it), keyed by id and size:
    // a queued photo is shown again once stored.
    let photos = move || {
        thread.with(|t| {
            t.iter().flat_map(|t| t.files.iter().filter(|f| f.comment_id.is_none()).cloned()).collect::<Vec<_>>()
        })
    };
    let more = Signal::derive(move || thread.with(|t| t.as_ref().is_some_and(|t| t.more)));
    // Opened is seen, and so is what comes while it is open.
    let fresh = see(move |news| news.requests.get(&id).map(|at| vec![(id, *at)]).unwrap_or_default());
    view! {
        <section class="card" aria-labelledby="request-heading">
            <p><a href=group.href("/requests")>"← All requests"</a></p>
            <h1 id="request-heading">{read(|t| t.request.title.clone())}</h1>
            <p>
                <span class="badge status">{move || status.get().map(RequestStatus::label)}</span>
                <NewBadge shown=Signal::derive(move || fresh.with(|f| f.contains(&id))) />
                <span class="muted">
                    " " {read(|t| t.names.of(t.request.author_id))} " · "
                    {move || created_at.get().map(|at| view! { <Time at /> })}
                </span>
            </p>
            <p class="body">{read(|t| t.request.description.clone())}</p>
            {move || status.get().map(|status| view! { <StatusControl id status is_admin=group.is_admin() mine=mine.get() /> })}
        </section>
        <section class="card" aria-labelledby="photos-heading">
            <h2 id="photos-heading">"Photos"</h2>
            <ul class="photos" data-empty="No photos yet.">
                <For each=photos key=|f| (f.id, f.size) children=|file| view! { <li><Photo file /></li> } />
            </ul>
            <AttachFiles id="request-photos" label="Photos to add (JPEG, PNG or WebP)" button="Add photos"
                accept=PHOTO_TYPES request_id=Some(id) />
        </section>
        <section class="card" aria-labelledby="comments-heading">
            <h2 id="comments-heading">"Comments"</h2>
            <ul class="list" data-empty="No comments yet.">{comments}</ul>
            <ShowMore paging more />
            <NewComment request_id=id />
        </section>
    }
}

/// Admins pick any status; the author may close their own request.
#[component]
fn StatusControl(id: Uuid, status: RequestStatus, is_admin: bool, mine: bool) -> impl IntoView {
    let change = use_mutation();
    let set = move |status: RequestStatus| {
        change.dispatch(Mutation::RequestSetStatus(RequestSetStatus { id, status }));
    };
    let choices: Vec<RequestStatus> = if is_admin {
        RequestStatus::ALL.into_iter().filter(|s| *s != status).collect()
    } else if mine && status != RequestStatus::Resolved {
        vec![RequestStatus::Resolved]
    } else {
        vec![]
    };
    view! {
        <div class="row-actions" role="group" aria-label="Change status">
            {choices.into_iter().map(|choice| view! {
                <button type="button" on:click=move |_| set(choice)>{format!("Mark {}", choice.label().to_lowercase())}</button>
            }).collect_view()}
        </div>
        <FormError error=action_error(change) />
    }
}

#[component]
fn NewComment(request_id: Uuid) -> impl IntoView {
    let group = use_group();
    let comment = use_mutation();
    let ready = use_hydrated();
    let form = NodeRef::<html::Form>::new();
    let body = NodeRef::<html::Textarea>::new();
    let photos = NodeRef::<html::Input>::new();
    // The way with photos: their bytes kept, the comment queued, then the
    // photos named (in that order); the form busy meanwhile.
    let with_photos = RwSignal::new(false);
    let photo_error = RwSignal::new(None::<crate::error::AppError>);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Some(body) = body.get() else { return };
        let id = Uuid::new_v4();
        let write = Mutation::RequestComment(CommentCreate { id, request_id, body: body.value() });
        #[cfg(feature = "hydrate")]
        if let Some(input) = photos.get().filter(|i| i.files().is_some_and(|f| f.length() > 0)) {
            with_photos.set(true);
            photo_error.set(None);
            leptos::task::spawn_local(async move {
                use crate::components::{keep_chosen, name_kept, send};
                let outcome = async {
                    let kept = keep_chosen(group, &input).await?;
                    send(group, write).await?;
                    // Queued: the form is done with, whatever the photos do.
                    if let Some(form) = form.get_untracked() {
                        form.reset();
                    }
                    name_kept(group, kept, Some(request_id), Some(id)).await
                };
                let outcome = outcome.await;
                let _ = photo_error.try_set(outcome.err());
                let _ = with_photos.try_set(false);
            });
            return;
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (group, photos);
        comment.dispatch(write);
    };
    reset_on_success(comment, form);
    let busy = move || !ready.get() || comment.pending().get() || with_photos.get();
    view! {
        <form node_ref=form on:submit=submit>
            <div class="field">
                <label for="comment-body">"Add a comment"</label>
                <textarea id="comment-body" node_ref=body rows="3" required maxlength="10000"></textarea>
            </div>
            <div class="field">
                <label for="comment-photos">"With photos (optional)"</label>
                <input id="comment-photos" type="file" accept=PHOTO_TYPES multiple node_ref=photos />
            </div>
            <FormError error=action_error(comment) />
            <FormError error=photo_error.into() />
            <button type="submit" disabled=busy>"Comment"</button>
        </form>
    }
}
