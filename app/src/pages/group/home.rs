//! `/g/{slug}`: pinned and recent notices, open requests, today's bookings,
//! and who is here.

use super::use_group;
use crate::components::{use_now, use_zone, Time};
use chrono::Duration;
use leptos::prelude::*;

/// How many notices and requests the home page lists.
const RECENT: usize = 5;

#[component]
pub fn GroupHomePage() -> impl IntoView {
    let group = use_group();
    let (zone, now) = (use_zone(), use_now());
    let notices = move || {
        group.data.with(|d| {
            d.board()
                .into_iter()
                .take(RECENT)
                .map(|a| {
                    view! {
                        <li class:pinned=a.pinned>
                            <strong>{a.title.clone()}</strong>
                            {a.pinned.then_some(view! { <span class="badge">"pinned"</span> })}
                            <span class="muted">" · " {d.member_name(a.author_id)} " · " <Time at=a.created_at /></span>
                        </li>
                    }
                })
                .collect_view()
        })
    };
    let requests = move || {
        group.data.with(|d| {
            d.open_requests()
                .into_iter()
                .take(RECENT)
                .map(|r| {
                    view! {
                        <li>
                            <a href=group.href(&format!("/requests/{}", r.id))>{r.title.clone()}</a>
                            <span class="badge">{r.status.label()}</span>
                        </li>
                    }
                })
                .collect_view()
        })
    };
    let today = move || {
        let zone = zone.get();
        let start = zone.day_start(zone.naive(now.get()).date());
        group.data.with(|d| {
            d.bookings_between(None, start, start + Duration::days(1))
                .into_iter()
                .map(|b| {
                    view! {
                        <li>
                            <strong>{d.resource_name(b.resource_id)}</strong>
                            " " <Time at=b.starts_at format="%H:%M" /> "–" <Time at=b.ends_at format="%H:%M" />
                            <span class="muted">" · " {d.member_name(b.member_id)}</span>
                        </li>
                    }
                })
                .collect_view()
        })
    };
    let members = move || {
        group.data.with(|d| {
            d.members.iter().map(|m| view! { <li class="member">{m.display_name.clone()}</li> }).collect_view()
        })
    };
    let count = move || group.data.with(|d| d.members.len());
    view! {
        <section class="card" aria-labelledby="notices-heading">
            <h2 id="notices-heading">"Notices"</h2>
            <ul class="list" data-empty="No notices yet.">{notices}</ul>
            <p><a href=group.href("/announcements")>"All notices"</a></p>
        </section>
        <section class="card" aria-labelledby="requests-heading">
            <h2 id="requests-heading">"Open requests"</h2>
            <ul class="list" data-empty="Nothing needs fixing.">{requests}</ul>
            <p><a href=group.href("/requests")>"All requests"</a></p>
        </section>
        <section class="card" aria-labelledby="today-heading">
            <h2 id="today-heading">"Booked today"</h2>
            <ul class="list" data-empty="Nothing is booked today.">{today}</ul>
            <p><a href=group.href("/bookings")>"Book a room"</a></p>
        </section>
        <section class="card" aria-labelledby="members-heading">
            <h2 id="members-heading">"Members (" {count} ")"</h2>
            <ul class="members inline">{members}</ul>
            <p><a href=group.href("/members")>"Directory"</a></p>
        </section>
    }
}
