//! What is new to the viewer: the "new" badge, and marking as seen what a
//! page shows (a `read.mark` write, queued like any other, offline too).

use super::{use_group, use_mutation};
use crate::model::{mutation::MarkRead, views::News, Mutation};
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use std::collections::BTreeSet;
use uuid::Uuid;

/// The "new" badge, while `shown`.
#[component]
pub fn NewBadge(#[prop(into)] shown: Signal<bool>) -> impl IntoView {
    view! {
        <Show when=move || shown.get()>
            " " <span class="badge new">"new"</span>
        </Show>
    }
}

/// Marks as seen what `shows` picks of the viewer's news (each subject
/// with the change to mark) as the page shows it, and returns what was new
/// when it showed: that stays marked "new" for the rest of the visit.
pub fn see(shows: impl Fn(&News) -> Vec<(Uuid, DateTime<Utc>)> + Send + Sync + 'static) -> RwSignal<BTreeSet<Uuid>> {
    let group = use_group();
    let (news, marked) = (group.news, group.marked);
    let mark = use_mutation();
    let fresh = RwSignal::new(BTreeSet::new());
    Effect::new(move |_| {
        for (subject, seen_at) in news.with(&shows) {
            if marked.with_value(|m| m.get(&subject).is_some_and(|at| *at >= seen_at)) {
                continue;
            }
            marked.update_value(|m| {
                m.insert(subject, seen_at);
            });
            fresh.update(|f| {
                f.insert(subject);
            });
            mark.dispatch(Mutation::ReadMark(MarkRead { subject_id: subject, seen_at }));
        }
    });
    fresh
}
