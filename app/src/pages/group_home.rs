//! `/g/{slug}`: a group's home with its members.

use super::NotFound;
use crate::{
    components::{last_error, FormError},
    error::AppError,
    model::{GroupHome, MemberInfo, Role},
    server_fns::{get_group_home, CreateInvite},
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{components::Redirect, hooks::use_params_map};

#[component]
pub fn GroupHomePage() -> impl IntoView {
    let params = use_params_map();
    let slug = move || params.read().get("slug").unwrap_or_default();
    let home = Resource::new(slug, get_group_home);
    view! {
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match home.await {
                    Ok(home) => view! { <Group home /> }.into_any(),
                    Err(AppError::Unauthorized) => {
                        view! { <Redirect path=super::login_then(&format!("/g/{}", slug())) /> }.into_any()
                    }
                    Err(AppError::NotFound) => view! { <NotFound /> }.into_any(),
                    Err(error) => view! { <p class="form-error" role="alert">{error.to_string()}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Group(home: GroupHome) -> impl IntoView {
    let GroupHome { group, members } = home;
    let is_admin = group.role == Role::Admin;
    let count = members.len();
    view! {
        <Title text=group.name.clone() />
        <section class="card">
            <h1>{group.name.clone()}</h1>
            <p class="muted">{format!("You are {} here.", if is_admin { "an admin" } else { "a resident" })}</p>
        </section>
        <section class="card" aria-labelledby="members-heading">
            <h2 id="members-heading">{format!("Members ({count})")}</h2>
            <ul class="members">
                {members.into_iter().map(|member| view! { <Member member /> }).collect_view()}
            </ul>
        </section>
        {is_admin.then(|| view! { <Invite slug=group.slug.clone() /> })}
    }
}

#[component]
fn Member(member: MemberInfo) -> impl IntoView {
    view! {
        <li class="member">
            <span class="name">{member.display_name}</span>
            {member.unit.map(|unit| view! { <span class="unit">{unit}</span> })}
            {(member.role == Role::Admin).then(|| view! { <span class="badge">"admin"</span> })}
        </li>
    }
}

/// Admins make invite links here.
#[component]
fn Invite(slug: String) -> impl IntoView {
    let action = ServerAction::<CreateInvite>::new();
    let error = last_error(action.value());
    let link = move || {
        action.value().with(|value| match value {
            Some(Ok(invite)) => Some((
                format!("/join/{}", invite.code),
                invite.expires_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            )),
            _ => None,
        })
    };
    view! {
        <section class="card" aria-labelledby="invite-heading">
            <h2 id="invite-heading">"Invite a resident"</h2>
            <ActionForm action=action>
                <input type="hidden" name="slug" value=slug />
                <FormError error />
                <button type="submit" disabled=move || action.pending().get()>"Create an invite link"</button>
            </ActionForm>
            {move || link().map(|(href, until)| view! {
                <p class="invite-link">
                    "Send this link to your neighbour: "
                    <a href=href.clone() id="invite-link">{href.clone()}</a>
                    {format!(" (valid until {until})")}
                </p>
            })}
        </section>
    }
}
