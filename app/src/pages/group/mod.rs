//! The group app under `/g/{slug}`: a layout that loads the group's header
//! (the group, who is looking), provides it to the pages below, and shows
//! the group's navigation. Each page reads its own view of the group
//! (`model::views`), then follows it in this browser's copy.

mod admin;
mod announcements;
mod bookings;
mod calendar;
mod documents;
mod home;
mod mail;
mod members;
mod polls;
mod request;
mod requests;

pub use announcements::AnnouncementsPage;
pub use bookings::BookingsPage;
pub use documents::DocumentsPage;
pub use home::GroupHomePage;
pub use members::MembersPage;
pub use polls::PollsPage;
pub use request::RequestPage;
pub use requests::RequestsPage;

use super::NotFound;
pub use crate::components::{use_group, GroupContext};
use crate::{
    components::{LoadError, SyncNotices, SyncStatus},
    error::AppError,
    model::views::GroupHeader,
    server_fns::get_group_header,
};
use leptos::prelude::*;

/// The group's sections, as its navigation lists them (paths under
/// `/g/{slug}`): the pages the service worker keeps for offline use.
pub const SECTIONS: [(&str, &str); 7] = [
    ("", "Home"),
    ("/announcements", "Notices"),
    ("/requests", "Requests"),
    ("/bookings", "Bookings"),
    ("/polls", "Polls"),
    ("/documents", "Documents"),
    ("/members", "Members"),
];
use leptos_meta::Title;
use leptos_router::{
    components::{Outlet, Redirect, A},
    hooks::use_params_map,
};

#[component]
pub fn GroupLayout() -> impl IntoView {
    let params = use_params_map();
    let slug = Memo::new(move |_| params.read().get("slug").unwrap_or_default());
    let loaded = Resource::new(move || slug.get(), get_group_header);
    view! {
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match loaded.await {
                    Ok(header) => view! { <GroupShell slug header /> }.into_any(),
                    Err(AppError::Unauthorized) => {
                        view! { <Redirect path=super::login_then(&format!("/g/{}", slug.get_untracked())) /> }
                            .into_any()
                    }
                    Err(AppError::NotFound) => view! { <NotFound /> }.into_any(),
                    Err(error) => view! { <LoadError error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn GroupShell(slug: Memo<String>, header: GroupHeader) -> impl IntoView {
    let name = header.group.name.clone();
    let closed_at = header.group.closed_at;
    let group = GroupContext::new(slug, header);
    provide_context(group);
    // In the browser the group's rows come from IndexedDB and the shape
    // stream from here on (docs/offline.md).
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        let (slug, me) = (group.slug.get_untracked(), group.me());
        let stop = send_wrapper::SendWrapper::new(crate::sync::browser::start(slug, me, group.local, group.sync));
        on_cleanup(move || stop.take()());
    });
    let base = group.href("");
    view! {
        <Title text=name.clone() />
        <nav class="group-nav" aria-label="Group">
            <strong class="group-name">{name}</strong>
            {SECTIONS.iter().map(|&(path, label)| view! { <A href=format!("{base}{path}") exact=path.is_empty()>{label}</A> }).collect_view()}
            <SyncStatus sync=group.sync />
        </nav>
        <SyncNotices sync=group.sync />
        {closed_at.map(|closed| view! {
            <p class="card notice" role="status">
                {format!(
                    "This group was closed on {}. It is read-only, and will be deleted with all its data; its admins can download the data from the Members page until then.",
                    closed.format("%Y-%m-%d")
                )}
            </p>
        })}
        <Show
            when=move || !group.sync.gone.get()
            fallback=|| view! { <p class="card" role="alert">"You are no longer a member of this group; its data was removed from this browser."</p> }
        >
            <Outlet />
        </Show>
    }
}
