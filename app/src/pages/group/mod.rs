//! The group app under `/g/{slug}`: a layout that loads the group once,
//! provides it to the pages below, and shows the group's navigation.

mod announcements;
mod bookings;
mod home;
mod members;
mod request;
mod requests;

pub use announcements::AnnouncementsPage;
pub use bookings::BookingsPage;
pub use home::GroupHomePage;
pub use members::MembersPage;
pub use request::RequestPage;
pub use requests::RequestsPage;

use super::NotFound;
pub use crate::components::{use_group, GroupContext};
use crate::{
    components::{LoadError, SyncNotices, SyncStatus},
    error::AppError,
    model::GroupData,
    server_fns::get_group_data,
    sync::ui::SyncUi,
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{
    components::{Outlet, Redirect, A},
    hooks::use_params_map,
};

#[component]
pub fn GroupLayout() -> impl IntoView {
    let params = use_params_map();
    let slug = Memo::new(move |_| params.read().get("slug").unwrap_or_default());
    let loaded = Resource::new(move || slug.get(), |slug| get_group_data(slug, false));
    view! {
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match loaded.await {
                    Ok(data) => view! { <GroupShell slug data /> }.into_any(),
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
fn GroupShell(slug: Memo<String>, data: GroupData) -> impl IntoView {
    let title = data.group.name.clone();
    let group = GroupContext { slug, data: RwSignal::new(data), sync: SyncUi::new() };
    provide_context(group);
    // In the browser the group's rows come from IndexedDB and the shape
    // stream from here on (docs/offline.md).
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        let stop = send_wrapper::SendWrapper::new(crate::sync::browser::start(group.data, group.sync));
        on_cleanup(move || stop.take()());
    });
    let name = move || group.data.with(|d| d.group.name.clone());
    let base = group.href("");
    view! {
        <Title text=title />
        <nav class="group-nav" aria-label="Group">
            <strong class="group-name">{name}</strong>
            <A href=base.clone() exact=true>"Home"</A>
            <A href=format!("{base}/announcements")>"Notices"</A>
            <A href=format!("{base}/requests")>"Requests"</A>
            <A href=format!("{base}/bookings")>"Bookings"</A>
            <A href=format!("{base}/members")>"Members"</A>
            <SyncStatus sync=group.sync />
        </nav>
        <SyncNotices sync=group.sync />
        <Show
            when=move || !group.sync.gone.get()
            fallback=|| view! { <p class="card" role="alert">"You are no longer a member of this group; its data was removed from this browser."</p> }
        >
            <Outlet />
        </Show>
    }
}
