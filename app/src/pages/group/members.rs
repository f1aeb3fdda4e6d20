//! `/g/{slug}/members`: the directory, your own entry, leaving, and (admins)
//! members' roles, invites and the group's settings (`admin.rs`).

use super::{
    admin::{GroupSettings, Invites, Leave, MemberActions},
    mail::MailChoicesCard,
    use_group,
};
use crate::{
    components::{action_error, use_hydrated, use_mutation, with_view, FormError, Paging, ShowMore},
    model::{mutation::ProfileUpdate, views::Directory, Mutation, PAGE},
};
use leptos::{html, prelude::*};

#[component]
pub fn MembersPage() -> impl IntoView {
    let group = use_group();
    let first = group.first::<Directory>(|| PAGE);
    view! {
        <section class="card" aria-labelledby="directory-heading">
            <h1 id="directory-heading">"Members"</h1>
            {with_view(first, |first| view! { <DirectoryTable first /> })}
        </section>
        <MyProfile />
        <MailChoicesCard />
        <Show when=move || group.is_admin() && !group.is_closed()>
            <Invites />
        </Show>
        <Show when=move || group.is_admin()>
            <GroupSettings />
        </Show>
        <Leave />
    }
}

/// The members by name, a page at a time.
#[component]
fn DirectoryTable(first: Directory) -> impl IntoView {
    let group = use_group();
    let paging = Paging::new();
    let directory = group.follow(first, move || paging.shown());
    let me = group.me();
    // Roles and removals are an admin's, while the group is open.
    let admin = group.is_admin() && !group.is_closed();
    // Keyed by the whole entry: a row is made again only when its member
    // changed (an open "Remove?" elsewhere stays open).
    let rows = view! {
        <For
            each=move || directory.with(|d| d.members.clone())
            key=|m| (m.user_id, m.role, m.display_name.clone(), m.unit.clone())
            children=move |m| {
                let mine = m.user_id == me;
                view! {
                    <tr class="member">
                        <td class="name">{m.display_name.clone()} {mine.then_some(" (you)")}</td>
                        <td>{m.unit.clone().unwrap_or_default()}</td>
                        <td>{m.role.as_str()}</td>
                        {admin.then(|| view! { <td>{(!mine).then(|| view! { <MemberActions member=m.clone() /> })}</td> })}
                    </tr>
                }
            }
        />
    };
    let more = Signal::derive(move || directory.with(|d| d.more));
    view! {
        <table class="directory">
            <thead>
                <tr>
                    <th scope="col">"Name"</th>
                    <th scope="col">"Unit"</th>
                    <th scope="col">"Role"</th>
                    {admin.then(|| view! { <th scope="col">"Actions"</th> })}
                </tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
        <ShowMore paging more />
    }
}

#[component]
fn MyProfile() -> impl IntoView {
    let group = use_group();
    let save = use_mutation();
    let ready = use_hydrated();
    let name = NodeRef::<html::Input>::new();
    let unit = NodeRef::<html::Input>::new();
    // This browser's copy if it has one (it may hold an edit not yet sent),
    // else the entry as the page was rendered.
    let me = group.me();
    let held = group.local.with_untracked(|d| d.as_ref().and_then(|d| d.member(me).cloned()));
    let (current_name, current_unit) = held
        .or_else(|| group.header.with_value(|h| h.profile.clone()))
        .map(|m| (m.display_name, m.unit.unwrap_or_default()))
        .unwrap_or_default();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let (Some(name), Some(unit)) = (name.get(), unit.get()) else {
            return;
        };
        save.dispatch(Mutation::MemberUpdateProfile(ProfileUpdate {
            display_name: name.value(),
            unit: Some(unit.value()),
        }));
    };
    let saved = move || matches!(save.value().get(), Some(Ok(()))).then_some(view! { <p role="status">"Saved."</p> });
    view! {
        <section class="card" aria-labelledby="profile-heading">
            <h2 id="profile-heading">"Your entry"</h2>
            <form on:submit=submit>
                <div class="field">
                    <label for="profile-name">"Name shown to neighbours"</label>
                    <input id="profile-name" node_ref=name value=current_name required maxlength="100" />
                </div>
                <div class="field">
                    <label for="profile-unit">"Flat or house"</label>
                    <input id="profile-unit" node_ref=unit value=current_unit maxlength="50" />
                </div>
                <FormError error=action_error(save) />
                {saved}
                <button type="submit" disabled=move || !ready.get() || save.pending().get()>"Save"</button>
            </form>
        </section>
    }
}
