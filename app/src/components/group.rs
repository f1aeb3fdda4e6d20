//! The group every page under `/g/{slug}` shows, shared through the
//! context (the group layout provides it; pages and widgets read it), and
//! how a page follows its view of it.

use crate::{
    error::AppError,
    model::{
        views::{
            Board, Directory, GroupHeader, Library, News, PollList, RequestList, RequestThread, RoomsWeek, Summary,
        },
        GroupData, RequestStatus, Role,
    },
    server_fns,
    sync::ui::SyncUi,
};
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use serde::{de::DeserializeOwned, Serialize};
use std::{collections::BTreeMap, future::Future};
use uuid::Uuid;

/// A screen's view of the group: read from the server by key (a server
/// function, one SQL query per table), or from this browser's copy.
pub trait PageView: Clone + PartialEq + Serialize + DeserializeOwned + Send + Sync + 'static {
    /// What picks the rows (a list's length, a week, a request).
    type Key: Clone + PartialEq + Send + Sync + 'static;
    fn fetch(slug: String, key: Self::Key) -> impl Future<Output = Result<Self, AppError>> + Send + 'static;
    fn local(data: &GroupData, key: &Self::Key) -> Self;
}

/// The views picked by how many rows they show (a list's length).
macro_rules! by_length {
    ($($view:ty => $fetch:path, $local:ident;)*) => {$(
        impl PageView for $view {
            type Key = usize;
            fn fetch(slug: String, limit: usize) -> impl Future<Output = Result<Self, AppError>> + Send + 'static {
                $fetch(slug, limit)
            }
            fn local(data: &GroupData, limit: &usize) -> Self {
                data.$local(*limit)
            }
        }
    )*};
}

by_length! {
    Board => server_fns::board_view, board_view;
    PollList => server_fns::polls_view, polls_view;
    Library => server_fns::library_view, library_view;
    Directory => server_fns::directory_view, directory_view;
}

impl PageView for RequestList {
    type Key = (RequestStatus, usize);
    fn fetch(
        slug: String,
        (status, limit): Self::Key,
    ) -> impl Future<Output = Result<Self, AppError>> + Send + 'static {
        server_fns::requests_view(slug, status, limit)
    }
    fn local(data: &GroupData, (status, limit): &Self::Key) -> Self {
        data.requests_view(*status, *limit)
    }
}

/// A request's thread, or none if the group has no such request.
impl PageView for Option<RequestThread> {
    type Key = (Uuid, usize);
    fn fetch(slug: String, (id, limit): Self::Key) -> impl Future<Output = Result<Self, AppError>> + Send + 'static {
        server_fns::thread_view(slug, id, limit)
    }
    fn local(data: &GroupData, (id, limit): &Self::Key) -> Self {
        data.thread_view(*id, *limit)
    }
}

/// The rooms and their bookings over a span (a week).
impl PageView for RoomsWeek {
    type Key = (DateTime<Utc>, DateTime<Utc>);
    fn fetch(slug: String, (from, to): Self::Key) -> impl Future<Output = Result<Self, AppError>> + Send + 'static {
        server_fns::rooms_view(slug, from, to)
    }
    fn local(data: &GroupData, (from, to): &Self::Key) -> Self {
        data.rooms_view(*from, *to)
    }
}

/// The home page, with the bookings of one day.
impl PageView for Summary {
    type Key = (DateTime<Utc>, DateTime<Utc>);
    fn fetch(slug: String, (from, to): Self::Key) -> impl Future<Output = Result<Self, AppError>> + Send + 'static {
        server_fns::summary_view(slug, from, to)
    }
    fn local(data: &GroupData, (from, to): &Self::Key) -> Self {
        data.summary_view(*from, *to)
    }
}

/// The current group, shared by its pages.
#[derive(Clone, Copy)]
pub struct GroupContext {
    pub slug: Memo<String>,
    /// The group, who is looking, and their directory entry, as the page
    /// was rendered.
    pub header: StoredValue<GroupHeader>,
    /// This browser's copy of the group (none on the server, nor before the
    /// sync engine has loaded it).
    pub local: RwSignal<Option<GroupData>>,
    /// The browser's sync of this group (idle on the server).
    pub sync: SyncUi,
    /// Bumped after a write sent straight to the server: pages without a
    /// local copy fetch their view again.
    pub version: RwSignal<u64>,
    /// What is new to the viewer (`GroupData::news`), from this browser's
    /// copy: nothing on the server, nor before the copy is loaded. One for
    /// every page and widget of the group.
    pub news: Memo<News>,
    /// The read marks this visit has sent, by subject (so a mark not yet
    /// laid over the copy is not sent again).
    pub marked: StoredValue<BTreeMap<Uuid, DateTime<Utc>>>,
}

impl GroupContext {
    pub fn new(slug: Memo<String>, header: GroupHeader) -> Self {
        let me = header.me;
        let local = RwSignal::new(None::<GroupData>);
        Self {
            slug,
            header: StoredValue::new(header),
            local,
            sync: SyncUi::new(),
            version: RwSignal::new(0),
            news: Memo::new(move |_| local.with(|d| d.as_ref().map(|d| d.news(me)).unwrap_or_default())),
            marked: StoredValue::new(BTreeMap::new()),
        }
    }

    /// `/g/{slug}{rest}`.
    pub fn href(&self, rest: &str) -> String {
        format!("/g/{}{rest}", self.slug.get_untracked())
    }

    /// The viewer's user id.
    pub fn me(&self) -> Uuid {
        self.header.with_value(|h| h.me)
    }

    pub fn is_admin(&self) -> bool {
        self.header.with_value(|h| h.group.role == Role::Admin)
    }

    /// Closed by an admin: read-only until it is deleted.
    pub fn is_closed(&self) -> bool {
        self.header.with_value(|h| h.group.closed_at.is_some())
    }

    /// Whether the viewer may open polls here.
    pub fn may_open_polls(&self) -> bool {
        self.header.with_value(|h| h.group.role == Role::Admin || h.group.residents_open_polls)
    }

    /// Whether the pages show this browser's copy of the group.
    fn shows_local(&self) -> bool {
        self.sync.local.get_untracked() && self.local.with_untracked(Option::is_some)
    }

    /// A page's view as it opens, for `key` as it is then: rendered by the
    /// server with the page; in the browser read from its copy of the group
    /// when the pages show it (so pages open offline), else fetched. Later
    /// changes of `key` are `follow`'s.
    pub fn first<V: PageView>(self, key: impl Fn() -> V::Key + Send + Sync + 'static) -> Resource<Result<V, AppError>> {
        Resource::new(
            move || self.slug.get(),
            move |slug| {
                let key = untrack(&key);
                let held =
                    self.shows_local().then(|| self.local.with_untracked(|d| d.as_ref().map(|d| V::local(d, &key))));
                async move {
                    match held.flatten() {
                        Some(view) => Ok(view),
                        None => V::fetch(slug, key).await,
                    }
                }
            },
        )
    }

    /// What a page shows from then on: `first` until this browser holds a
    /// whole copy of the group, then the same view read from that copy,
    /// following every change. While there is no local copy, a change of
    /// `key` (a longer list) or a write fetches the view again.
    pub fn follow<V: PageView>(self, first: V, key: impl Fn() -> V::Key + Send + Sync + 'static) -> Memo<V> {
        let fetched = RwSignal::new(first);
        let key = Memo::new(move |_| key());
        // The latest answer wins.
        let asked = StoredValue::new(0u64);
        Effect::new(move |seen: Option<(V::Key, u64)>| {
            let now = (key.get(), self.version.get());
            if seen.is_some_and(|seen| seen != now) && !self.shows_local() {
                let n = asked.get_value() + 1;
                asked.set_value(n);
                let answer = V::fetch(self.slug.get_untracked(), now.0.clone());
                leptos::task::spawn_local(async move {
                    // The page may be gone by now: then nothing is shown.
                    match answer.await {
                        Ok(view) if asked.try_get_value() == Some(n) => {
                            fetched.try_set(view);
                        }
                        Ok(_) => {}
                        Err(error) => leptos::logging::warn!("reading the page's view failed: {error}"),
                    }
                });
            }
            now
        });
        Memo::new(move |_| {
            let key = key.get();
            if self.sync.local.get() {
                if let Some(view) = self.local.with(|data| data.as_ref().map(|data| V::local(data, &key))) {
                    return view;
                }
            }
            fetched.get()
        })
    }
}

pub fn use_group() -> GroupContext {
    expect_context::<GroupContext>()
}

/// Shows `show` with a page's first view once it is at hand (else what went
/// wrong). A new key keeps the old view up until the new one is read.
pub fn with_view<V: PageView, IV: IntoView + 'static>(
    first: Resource<Result<V, AppError>>,
    show: impl Fn(V) -> IV + Clone + Send + Sync + 'static,
) -> impl IntoView {
    view! {
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || {
                let show = show.clone();
                Suspend::new(async move {
                    match first.await {
                        Ok(view) => show(view).into_any(),
                        Err(error) => view! { <super::LoadError error /> }.into_any(),
                    }
                })
            }}
        </Transition>
    }
}
