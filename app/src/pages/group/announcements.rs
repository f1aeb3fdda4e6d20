//! `/g/{slug}/announcements`: the notice board.

use super::use_group;
use crate::{
    components::{
        action_error, see, use_mutation, with_view, ComposeForm, FormError, NewBadge, Paging, PendingBadge, ShowMore,
        Time,
    },
    model::{
        mutation::{AnnouncementCreate, AnnouncementPin, AnnouncementUpdate, ById},
        views::Board,
        Announcement, Mutation, PAGE,
    },
};
use leptos::{html, prelude::*};
use std::collections::BTreeSet;
use uuid::Uuid;

#[component]
pub fn AnnouncementsPage() -> impl IntoView {
    let first = use_group().first::<Board>(|| PAGE);
    view! {
        <PostNotice />
        <section class="card" aria-labelledby="board-heading">
            <h2 id="board-heading">"Notice board"</h2>
            {with_view(first, |first| view! { <NoticeList first /> })}
        </section>
    }
}

/// The board's notices, a page at a time.
#[component]
fn NoticeList(first: Board) -> impl IntoView {
    let group = use_group();
    let controls = use_mutation();
    let paging = Paging::new();
    let board = group.follow(first, move || paging.shown());
    // Keyed by content: a notice that did not change keeps its DOM (and an
    // open edit form) while others come and go.
    let notices =
        move || board.with(|b| b.notices.iter().map(|a| (a.clone(), b.names.of(a.author_id))).collect::<Vec<_>>());
    let more = Signal::derive(move || board.with(|b| b.more));
    // Shown is seen: what was new stays marked so for this visit.
    let fresh = see(|news| news.notices.iter().map(|(id, at)| (*id, *at)).collect());
    view! {
        <FormError error=action_error(controls) />
        <ul class="list" data-empty="No notices yet.">
            <For
                each=notices
                key=|entry| entry.clone()
                children=move |(notice, author)| view! { <Notice notice author controls fresh /> }
            />
        </ul>
        <ShowMore paging more />
    }
}

#[component]
fn PostNotice() -> impl IntoView {
    let make = Callback::new(|(title, body): (String, String)| {
        Mutation::AnnouncementCreate(AnnouncementCreate { id: Uuid::new_v4(), title, body })
    });
    view! {
        <ComposeForm id="notice" heading="Post a notice" title_label="Title" text_label="Text" submit_label="Post" make />
    }
}

#[component]
fn Notice(
    notice: Announcement,
    author: String,
    controls: Action<Mutation, Result<(), crate::error::AppError>>,
    fresh: RwSignal<BTreeSet<Uuid>>,
) -> impl IntoView {
    let group = use_group();
    let (is_admin, me) = (group.is_admin(), group.me());
    let may_edit = is_admin || notice.author_id == me;
    let editing = RwSignal::new(false);
    let id = notice.id;
    let pinned = notice.pinned;
    let toggle_pin = move |_| {
        controls.dispatch(Mutation::AnnouncementPin(AnnouncementPin { id, pinned: !pinned }));
    };
    let delete = move |_| {
        controls.dispatch(Mutation::AnnouncementDelete(ById { id }));
    };
    let (title, body) = (notice.title.clone(), notice.body.clone());
    let created_at = notice.created_at;
    view! {
        <li class="notice" class:pinned=pinned>
            <Show
                when=move || editing.get()
                fallback=move || {
                    view! {
                        <h3>{title.clone()} {pinned.then_some(view! { <span class="badge">"pinned"</span> })}</h3>
                        <p class="body">{body.clone()}</p>
                    }
                }
            >
                <EditNotice notice=notice.clone() editing />
            </Show>
            <p class="muted">
                {author} " · " <Time at=created_at /> " " <PendingBadge id />
                <NewBadge shown=Signal::derive(move || fresh.with(|f| f.contains(&id))) />
            </p>
            <div class="row-actions">
                {is_admin.then(|| view! {
                    <button type="button" class="link" on:click=toggle_pin>{if pinned { "Unpin" } else { "Pin" }}</button>
                })}
                {may_edit.then(|| view! {
                    <button type="button" class="link" on:click=move |_| editing.update(|e| *e = !*e)>"Edit"</button>
                    <button type="button" class="link danger" on:click=delete>"Delete"</button>
                })}
            </div>
        </li>
    }
}

#[component]
fn EditNotice(notice: Announcement, editing: RwSignal<bool>) -> impl IntoView {
    let save = use_mutation();
    let title = NodeRef::<html::Input>::new();
    let body = NodeRef::<html::Textarea>::new();
    let id = notice.id;
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let (Some(title), Some(body)) = (title.get(), body.get()) else {
            return;
        };
        save.dispatch(Mutation::AnnouncementUpdate(AnnouncementUpdate {
            id,
            title: Some(title.value()),
            body: Some(body.value()),
        }));
    };
    Effect::new(move |_| {
        if matches!(save.value().get(), Some(Ok(()))) {
            editing.set(false);
        }
    });
    let title_id = format!("edit-title-{id}");
    let body_id = format!("edit-body-{id}");
    view! {
        <form on:submit=submit class="edit">
            <div class="field">
                <label for=title_id.clone()>"Title"</label>
                <input id=title_id node_ref=title value=notice.title required maxlength="200" />
            </div>
            <div class="field">
                <label for=body_id.clone()>"Text"</label>
                <textarea id=body_id node_ref=body rows="4" maxlength="10000">{notice.body}</textarea>
            </div>
            <FormError error=action_error(save) />
            <button type="submit" disabled=move || save.pending().get()>"Save"</button>
            <button type="button" class="link" on:click=move |_| editing.set(false)>"Cancel"</button>
        </form>
    }
}
