//! `/g/{slug}/requests/{id}`: one maintenance request, its status and comments.

use super::use_group;
use crate::{
    components::{action_error, reset_on_success, use_hydrated, use_mutation, FormError, PendingBadge, Time},
    model::{
        mutation::{CommentCreate, RequestSetStatus},
        MaintenanceRequest, Mutation, RequestStatus, Role,
    },
    pages::NotFound,
};
use leptos::{html, prelude::*};
use leptos_router::hooks::use_params_map;
use uuid::Uuid;

#[component]
pub fn RequestPage() -> impl IntoView {
    let group = use_group();
    let params = use_params_map();
    let id = move || params.read().get("id").and_then(|id| Uuid::parse_str(&id).ok());
    let request = move || id().and_then(|id| group.data.with(|d| d.request(id).cloned()));
    move || match request() {
        Some(request) => view! { <RequestDetail request /> }.into_any(),
        None => view! { <NotFound /> }.into_any(),
    }
}

#[component]
fn RequestDetail(request: MaintenanceRequest) -> impl IntoView {
    let group = use_group();
    let (author, is_admin, mine) = group
        .data
        .with_untracked(|d| (d.member_name(request.author_id), d.group.role == Role::Admin, d.me == request.author_id));
    let id = request.id;
    let comments = move || {
        group.data.with(|d| {
            d.comments_of(id)
                .into_iter()
                .map(|c| {
                    view! {
                        <li>
                            <p class="body">{c.body.clone()}</p>
                            <p class="muted">{d.member_name(c.author_id)} " · " <Time at=c.created_at /> " " <PendingBadge id=c.id /></p>
                        </li>
                    }
                })
                .collect_view()
        })
    };
    view! {
        <section class="card" aria-labelledby="request-heading">
            <p><a href=group.href("/requests")>"← All requests"</a></p>
            <h1 id="request-heading">{request.title.clone()}</h1>
            <p>
                <span class="badge status">{request.status.label()}</span>
                <span class="muted">" " {author} " · " <Time at=request.created_at /></span>
            </p>
            <p class="body">{request.description.clone()}</p>
            <StatusControl id status=request.status is_admin mine />
        </section>
        <section class="card" aria-labelledby="comments-heading">
            <h2 id="comments-heading">"Comments"</h2>
            <ul class="list" data-empty="No comments yet.">{comments}</ul>
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
    let comment = use_mutation();
    let ready = use_hydrated();
    let form = NodeRef::<html::Form>::new();
    let body = NodeRef::<html::Textarea>::new();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Some(body) = body.get() else { return };
        comment.dispatch(Mutation::RequestComment(CommentCreate {
            id: Uuid::new_v4(),
            request_id,
            body: body.value(),
        }));
    };
    reset_on_success(comment, form);
    view! {
        <form node_ref=form on:submit=submit>
            <div class="field">
                <label for="comment-body">"Add a comment"</label>
                <textarea id="comment-body" node_ref=body rows="3" required maxlength="10000"></textarea>
            </div>
            <FormError error=action_error(comment) />
            <button type="submit" disabled=move || !ready.get() || comment.pending().get()>"Comment"</button>
        </form>
    }
}
