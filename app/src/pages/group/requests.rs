//! `/g/{slug}/requests`: maintenance requests, by status, and a form to file one.

use super::use_group;
use crate::{
    components::{with_view, ComposeForm, NewBadge, Paging, PendingBadge, ShowMore, Time},
    model::{mutation::RequestCreate, views::RequestList, Mutation, RequestStatus, PAGE},
};
use leptos::prelude::*;
use uuid::Uuid;

#[component]
pub fn RequestsPage() -> impl IntoView {
    view! {
        <NewRequest />
        {RequestStatus::ALL.into_iter().map(|status| {
            let heading = format!("requests-{}", status.as_str());
            let first = use_group().first::<RequestList>(move || (status, PAGE));
            view! {
                <section class="card" aria-labelledby=heading.clone()>
                    <h2 id=heading.clone()>{status.label()}</h2>
                    {with_view(first, move |first| view! { <StatusList status first /> })}
                </section>
            }
        }).collect_view()}
    }
}

/// The requests of one status, newest first, a page at a time.
#[component]
fn StatusList(status: RequestStatus, first: RequestList) -> impl IntoView {
    let group = use_group();
    let paging = Paging::new();
    let list = group.follow(first, move || (status, paging.shown()));
    let news = group.news;
    let rows = move || {
        list.with(|l| {
            l.requests
                .iter()
                .map(|r| {
                    let id = r.id;
                    view! {
                        <li>
                            <a href=group.href(&format!("/requests/{}", r.id))>{r.title.clone()}</a>
                            <NewBadge shown=Signal::derive(move || news.with(|n| n.requests.contains_key(&id))) />
                            <span class="muted">" · " {l.names.of(r.author_id)} " · " <Time at=r.created_at /></span>
                            " " <PendingBadge id=r.id />
                        </li>
                    }
                })
                .collect_view()
        })
    };
    let more = Signal::derive(move || list.with(|l| l.more));
    view! {
        <ul class="list" data-empty="None.">{rows}</ul>
        <ShowMore paging more />
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
