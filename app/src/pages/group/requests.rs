//! `/g/{slug}/requests`: maintenance requests, by status, and a form to file one.

use super::use_group;
use crate::{
    components::{action_error, reset_on_success, use_hydrated, use_mutation, FormError, Time},
    model::{mutation::RequestCreate, Mutation, RequestStatus},
};
use leptos::{html, prelude::*};
use uuid::Uuid;

#[component]
pub fn RequestsPage() -> impl IntoView {
    let group = use_group();
    let list = move |status: RequestStatus| {
        move || {
            group.data.with(|d| {
                d.requests_by_status(&[status])
                    .into_iter()
                    .map(|r| {
                        view! {
                            <li>
                                <a href=group.href(&format!("/requests/{}", r.id))>{r.title.clone()}</a>
                                <span class="muted">" · " {d.member_name(r.author_id)} " · " <Time at=r.created_at /></span>
                            </li>
                        }
                    })
                    .collect_view()
            })
        }
    };
    view! {
        <NewRequest />
        {RequestStatus::ALL.into_iter().map(|status| {
            let (heading, labelled_by) = (format!("requests-{}", status.as_str()), format!("requests-{}", status.as_str()));
            view! {
                <section class="card" aria-labelledby=labelled_by>
                    <h2 id=heading>{status.label()}</h2>
                    <ul class="list" data-empty="None.">{list(status)}</ul>
                </section>
            }
        }).collect_view()}
    }
}

#[component]
fn NewRequest() -> impl IntoView {
    let file = use_mutation();
    let ready = use_hydrated();
    let form = NodeRef::<html::Form>::new();
    let title = NodeRef::<html::Input>::new();
    let description = NodeRef::<html::Textarea>::new();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let (Some(title), Some(description)) = (title.get(), description.get()) else {
            return;
        };
        file.dispatch(Mutation::RequestCreate(RequestCreate {
            id: Uuid::new_v4(),
            title: title.value(),
            description: description.value(),
        }));
    };
    reset_on_success(file, form);
    view! {
        <section class="card" aria-labelledby="new-request-heading">
            <h2 id="new-request-heading">"Report a problem"</h2>
            <form node_ref=form on:submit=submit>
                <div class="field">
                    <label for="request-title">"What is wrong?"</label>
                    <input id="request-title" node_ref=title required maxlength="200" />
                </div>
                <div class="field">
                    <label for="request-description">"Details"</label>
                    <textarea id="request-description" node_ref=description rows="3" maxlength="10000"></textarea>
                </div>
                <FormError error=action_error(file) />
                <button type="submit" disabled=move || !ready.get() || file.pending().get()>"Send request"</button>
            </form>
        </section>
    }
}
