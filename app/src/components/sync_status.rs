//! The sync indicator every group page shows (online or offline, writes
//! waiting, last caught up) and the notices of writes the server refused.

use super::Time;
use crate::sync::ui::SyncUi;
use leptos::prelude::*;

#[component]
pub fn SyncStatus(sync: SyncUi) -> impl IntoView {
    let state = move || if sync.online.get() { "Online" } else { "Offline" };
    let waiting = move || match sync.waiting.get() {
        0 => None,
        1 => Some("1 change waiting".to_owned()),
        n => Some(format!("{n} changes waiting")),
    };
    let synced = move || sync.last_synced.get().map(|at| view! { " · synced " <Time at /> });
    let unreadable = move || match sync.unreadable.get() {
        0 => None,
        n => Some(format!("{n} {} could not be read", if n == 1 { "row" } else { "rows" })),
    };
    view! {
        <p
            class="sync-status"
            role="status"
            aria-label="Sync"
            data-online=move || sync.online.get().to_string()
            data-waiting=move || sync.waiting.get().to_string()
            data-local=move || sync.local.get().to_string()
        >
            <span class="sync-dot" />
            {state}
            {synced}
            {move || waiting().map(|w| view! { <span class="badge pending">{w}</span> })}
            {move || sync.trouble.get().map(|t| view! { <span class="badge danger" data-trouble>{t}</span> })}
            {move || unreadable().map(|u| view! {
                <span class="badge danger" data-unreadable title="This browser's copy has rows its version of the app cannot read; they are not shown. Reload the page to update the app; if it stays, tell your group's admin.">
                    {u} " (reload to update the app)"
                </span>
            })}
        </p>
    }
}

/// Writes the server refused (e.g. a slot booked by someone else first),
/// with its reason, until the resident dismisses them.
#[component]
pub fn SyncNotices(sync: SyncUi) -> impl IntoView {
    let notices = move || {
        sync.rejections
            .get()
            .into_iter()
            .enumerate()
            .map(|(index, rejection)| {
                let dismiss = move |_| {
                    sync.rejections.update(|list| {
                        if index < list.len() {
                            list.remove(index);
                        }
                    })
                };
                view! {
                    <li class="form-error" role="alert">
                        "Your " {rejection.mutation.what()} " was refused: " {rejection.reason}
                        " " <button type="button" class="link" on:click=dismiss>"Dismiss"</button>
                    </li>
                }
            })
            .collect_view()
    };
    view! { <ul class="sync-notices">{notices}</ul> }
}

/// "pending" beside a row that shows a write the server has not confirmed.
#[component]
pub fn PendingBadge(id: uuid::Uuid) -> impl IntoView {
    let sync = super::use_group().sync;
    move || {
        sync.is_pending(id)
            .then(|| view! { <span class="badge pending" title="Not confirmed by the server yet">"pending"</span> })
    }
}
