//! `/g/{slug}`: pinned and recent notices, open requests, today's bookings,
//! and who is here (the group's `Summary`).

use super::use_group;
use crate::{
    components::{use_now, use_zone, with_view, NewBadge, Time},
    model::views::{Summary, COUNT_CAP},
};
use chrono::{DateTime, Duration, Utc};
use leptos::prelude::*;

#[component]
pub fn GroupHomePage() -> impl IntoView {
    let (zone, now) = (use_zone(), use_now());
    // Today, in the viewer's zone.
    let today = move || -> (DateTime<Utc>, DateTime<Utc>) {
        let zone = zone.get();
        let start = zone.day_start(zone.naive(now.get()).date());
        (start, start + Duration::days(1))
    };
    let first = use_group().first::<Summary>(today);
    with_view(first, move |first| home(first, today))
}

fn home(first: Summary, today: impl Fn() -> (DateTime<Utc>, DateTime<Utc>) + Send + Sync + 'static) -> impl IntoView {
    let group = use_group();
    let summary = group.follow(first, today);
    let news = group.news;
    let is_new = move |id: uuid::Uuid| {
        Signal::derive(move || news.with(|n| n.notices.contains_key(&id) || n.requests.contains_key(&id)))
    };
    let notices = move || {
        summary.with(|s| {
            s.notices
                .iter()
                .map(|a| {
                    view! {
                        <li class:pinned=a.pinned>
                            <strong>{a.title.clone()}</strong>
                            {a.pinned.then_some(view! { <span class="badge">"pinned"</span> })}
                            <NewBadge shown=is_new(a.id) />
                            <span class="muted">" · " {s.names.of(a.author_id)} " · " <Time at=a.created_at /></span>
                        </li>
                    }
                })
                .collect_view()
        })
    };
    let requests = move || {
        summary.with(|s| {
            s.open_requests
                .iter()
                .map(|r| {
                    view! {
                        <li>
                            <a href=group.href(&format!("/requests/{}", r.id))>{r.title.clone()}</a>
                            <span class="badge">{r.status.label()}</span>
                            <NewBadge shown=is_new(r.id) />
                        </li>
                    }
                })
                .collect_view()
        })
    };
    let open_count = move || {
        summary.with(|s| if s.open_count >= COUNT_CAP { format!("{COUNT_CAP}+") } else { s.open_count.to_string() })
    };
    let today = move || {
        summary.with(|s| {
            s.today
                .iter()
                .map(|b| {
                    view! {
                        <li>
                            <strong>{s.rooms.of(b.resource_id)}</strong>
                            " " <Time at=b.starts_at format="%H:%M" /> "–" <Time at=b.ends_at format="%H:%M" />
                            <span class="muted">" · " {s.names.of(b.member_id)}</span>
                        </li>
                    }
                })
                .collect_view()
        })
    };
    let members = move || {
        summary.with(|s| {
            s.members.iter().map(|m| view! { <li class="member">{m.display_name.clone()}</li> }).collect_view()
        })
    };
    let count = move || summary.with(|s| s.member_count);
    let unnamed = move || summary.with(|s| s.member_count.saturating_sub(s.members.len() as u64));
    // Each count links to where its news is (the home shows only the newest).
    let whats_new = move || {
        news.with(|n| {
            let count = |n: usize, one: &'static str, many: &'static str, path: &str| {
                (n > 0).then(|| {
                    let text = if n == 1 { format!("1 {one}") } else { format!("{n} {many}") };
                    view! { <a href=group.href(path)>{text}</a> }
                })
            };
            let notices = count(n.notices.len(), "new notice", "new notices", "/announcements");
            let requests = count(n.requests.len(), "request with news", "requests with news", "/requests");
            let both = notices.is_some() && requests.is_some();
            (n.count() > 0).then(|| {
                view! {
                    <p class="card news" data-count=n.count()>
                        "Since you last looked: " {notices} {both.then_some(", ")} {requests} "."
                    </p>
                }
            })
        })
    };
    view! {
        {whats_new}
        <section class="card" aria-labelledby="notices-heading">
            <h2 id="notices-heading">"Notices"</h2>
            <ul class="list" data-empty="No notices yet.">{notices}</ul>
            <p><a href=group.href("/announcements")>"All notices"</a></p>
        </section>
        <section class="card" aria-labelledby="requests-heading">
            <h2 id="requests-heading">"Open requests (" {open_count} ")"</h2>
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
            {move || (unnamed() > 0).then(|| view! { <p class="muted">{format!("and {} more", unnamed())}</p> })}
            <p><a href=group.href("/members")>"Directory"</a></p>
        </section>
    }
}
