//! `/g/{slug}/requests`: maintenance requests, by status, and a form to file one.

use super::use_group;
use crate::{
    components::{ComposeForm, Paging, PendingBadge, ShowMore, Time},
    model::{mutation::RequestCreate, Mutation, RequestStatus},
};
use leptos::prelude::*;
use uuid::Uuid;

#[component]
pub fn RequestsPage() -> impl IntoView {
    let group = use_group();
    let list = move |status: RequestStatus, paging: Paging| {
        move || {
            group.data.with(|d| {
                paging
                    .take(d.requests_by_status(&[status]))
                    .map(|r| {
                        view! {
                            <li>
                                <a href=group.href(&format!("/requests/{}", r.id))>{r.title.clone()}</a>
                                <span class="muted">" · " {d.member_name(r.author_id)} " · " <Time at=r.created_at /></span>
                                " " <PendingBadge id=r.id />
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
            let paging = Paging::new();
            let total = Signal::derive(move || group.data.with(|d| d.requests.iter().filter(|r| r.status == status).count()));
            view! {
                <section class="card" aria-labelledby=labelled_by>
                    <h2 id=heading>{status.label()}</h2>
                    <ul class="list" data-empty="None.">{list(status, paging)}</ul>
                    <ShowMore paging total />
                </section>
            }
        }).collect_view()}
    }
}

#[component]
fn NewRequest() -> impl IntoView {
    let make = Callback::new(|(title, description): (String, String)| {
        Mutation::RequestCreate(RequestCreate { id: Uuid::new_v4(), title, description })
    });
    view! {
        <ComposeForm
            id="request"
            heading="Report a problem"
            title_label="What is wrong?"
            text_label="Details"
            submit_label="Send request"
            make
        />
    }
}
