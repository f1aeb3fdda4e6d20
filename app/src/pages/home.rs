//! `/`: the landing page, or the signed-in user's groups.

use crate::{
    components::{LoadError, MeResource},
    model::Me,
};
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn HomePage() -> impl IntoView {
    let me = expect_context::<MeResource>().0;
    view! {
        <Title text="" />
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match me.await {
                    Ok(Some(me)) => view! { <MyGroups me /> }.into_any(),
                    Ok(None) => view! { <Landing /> }.into_any(),
                    Err(error) => view! { <LoadError error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Landing() -> impl IntoView {
    view! {
        <section class="hero">
            <h1>"Your building, your street, your co-op: in one place."</h1>
            <p>
                "Courtyard keeps a residential group's announcements, maintenance requests, "
                "room bookings and directory, and works even when the connection does not."
            </p>
            <p class="actions">
                <a class="button" href="/signup">"Create an account"</a>
                <a href="/login">"Log in"</a>
            </p>
        </section>
    }
}

#[component]
fn MyGroups(me: Me) -> impl IntoView {
    let empty = me.groups.is_empty();
    view! {
        <section class="card">
            <h1>"Your groups"</h1>
            {empty.then(|| view! {
                <p>"You are not in a group yet. Create one, or open an invite link from a neighbour."</p>
            })}
            <ul class="group-list">
                {me.groups.into_iter().map(|group| view! {
                    <li>
                        <a href=format!("/g/{}", group.slug)>{group.name}</a>
                        <span class="badge">{group.role.as_str()}</span>
                    </li>
                }).collect_view()}
            </ul>
            <p><a class="button" href="/groups/new">"Create a group"</a></p>
        </section>
    }
}
