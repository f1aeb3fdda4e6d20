//! Administering a group, on its Members page: a member's role and removal
//! (admins), invites by link or email and the list of open ones (admins),
//! the group's name, export and closing (admins), and leaving (everyone).
//! These change who belongs to the group, so they need the network (the
//! forms say so when a change fails offline); nothing is queued.

use super::use_group;
use crate::{
    components::{field_error, last_error, Field, FormError},
    error::AppError,
    model::{MemberInfo, OpenInvite, Role},
    server_fns::{
        group_invites, CloseGroup, CreateInvite, InviteByEmail, LeaveGroup, RemoveMember, RenameGroup, RevokeInvite,
        SetMemberRole, SetPollRule,
    },
};
use leptos::prelude::*;

const NEEDS_NETWORK: &str = "Changes here need a connection to the server.";

/// An admin's buttons beside another member: change their role, remove
/// them (asked twice).
#[component]
pub fn MemberActions(member: MemberInfo) -> impl IntoView {
    let group = use_group();
    let role = ServerAction::<SetMemberRole>::new();
    let remove = ServerAction::<RemoveMember>::new();
    let confirming = RwSignal::new(false);
    let role_error = last_error(role.value());
    let remove_error = last_error(remove.value());
    let (new_role, role_label) = match member.role {
        Role::Admin => (Role::Resident, "Make resident"),
        Role::Resident => (Role::Admin, "Make admin"),
    };
    let name = StoredValue::new(member.display_name.clone());
    let id = StoredValue::new(member.user_id.to_string());
    let removed = move || matches!(remove.value().get(), Some(Ok(())));
    view! {
        <div class="member-actions">
            <Show when=move || !removed() fallback=|| view! { <span role="status">"Removed."</span> }>
                <ActionForm action=role>
                    <input type="hidden" name="slug" value=move || group.slug.get() />
                    <input type="hidden" name="user_id" value=id.get_value() />
                    <input type="hidden" name="role" value=new_role.as_str() />
                    <button
                        type="submit"
                        class="link"
                        aria-label=format!("{role_label}: {}", name.get_value())
                        disabled=move || role.pending().get()
                    >
                        {role_label}
                    </button>
                </ActionForm>
                <Show
                    when=move || confirming.get()
                    fallback=move || view! {
                        <button
                            type="button"
                            class="link danger"
                            aria-label=format!("Remove {}", name.get_value())
                            on:click=move |_| confirming.set(true)
                        >
                            "Remove"
                        </button>
                    }
                >
                    <ActionForm action=remove>
                        <input type="hidden" name="slug" value=move || group.slug.get() />
                        <input type="hidden" name="user_id" value=id.get_value() />
                        <span>{format!("Remove {}?", name.get_value())}</span>
                        <button type="submit" class="link danger" disabled=move || remove.pending().get()>"Yes, remove"</button>
                        <button type="button" class="link" on:click=move |_| confirming.set(false)>"Cancel"</button>
                    </ActionForm>
                </Show>
            </Show>
            <FormError error=role_error />
            <FormError error=remove_error />
        </div>
    }
}

/// Admins invite by link or by email, and see and revoke the open invites.
#[component]
pub fn Invites() -> impl IntoView {
    let group = use_group();
    let by_link = ServerAction::<CreateInvite>::new();
    let by_email = ServerAction::<InviteByEmail>::new();
    let revoke = ServerAction::<RevokeInvite>::new();
    let link_error = last_error(by_link.value());
    let email_error = last_error(by_email.value());
    let revoke_error = last_error(revoke.value());
    let open = Resource::new(
        move || (group.slug.get(), by_link.version().get(), by_email.version().get(), revoke.version().get()),
        |(slug, ..)| group_invites(slug),
    );
    let link = move || {
        by_link.value().with(|value| match value {
            Some(Ok(invite)) => {
                // The whole address, to paste into a message.
                #[cfg(feature = "hydrate")]
                let origin = window().location().origin().unwrap_or_default();
                #[cfg(not(feature = "hydrate"))]
                let origin = String::new();
                let until = invite.expires_at.format("%Y-%m-%d %H:%M UTC").to_string();
                let path = format!("/join/{}", invite.code);
                Some((format!("{origin}{path}"), path, until))
            }
            _ => None,
        })
    };
    let emailed = move || match by_email.value().get() {
        Some(Ok(invite)) => {
            Some(view! { <p role="status">{format!("Invitation sent to {}.", invite.email.unwrap_or_default())}</p> })
        }
        _ => None,
    };
    view! {
        <section class="card" aria-labelledby="invite-heading">
            <h2 id="invite-heading">"Invite a resident"</h2>
            <p class="hint">{NEEDS_NETWORK}</p>
            <ActionForm action=by_email>
                <input type="hidden" name="slug" value=move || group.slug.get() />
                <Field label="Their email" name="email" kind="email" autocomplete="off" error=field_error(email_error, "email") />
                <FormError error=email_error />
                {emailed}
                <button type="submit" disabled=move || by_email.pending().get()>"Send an invitation"</button>
            </ActionForm>
            <ActionForm action=by_link>
                <input type="hidden" name="slug" value=move || group.slug.get() />
                <FormError error=link_error />
                <button type="submit" class="secondary" disabled=move || by_link.pending().get()>"Create an invite link"</button>
            </ActionForm>
            {move || link().map(|(address, path, until)| view! {
                <p class="invite-link">
                    "Send this link to your neighbour: "
                    <a href=path id="invite-link">{address}</a>
                    {format!(" (valid until {until})")}
                </p>
            })}
            <h3>"Open invites"</h3>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match open.await {
                        Ok(invites) if invites.is_empty() => view! { <p>"None."</p> }.into_any(),
                        Ok(invites) => view! { <OpenInvites invites revoke /> }.into_any(),
                        Err(error) => view! { <p role="alert">{error.to_string()}</p> }.into_any(),
                    }
                })}
            </Transition>
            <FormError error=revoke_error />
        </section>
    }
}

#[component]
fn OpenInvites(invites: Vec<OpenInvite>, revoke: ServerAction<RevokeInvite>) -> impl IntoView {
    let group = use_group();
    let rows = invites
        .into_iter()
        .map(|invite| {
            let what = match &invite.email {
                Some(email) => format!("To {email}"),
                None => "A shareable link".to_owned(),
            };
            let by = invite.created_by.clone().unwrap_or_else(|| "a former member".to_owned());
            let when = format!(
                "by {by}, {}; valid until {}",
                invite.created_at.format("%Y-%m-%d"),
                invite.expires_at.format("%Y-%m-%d %H:%M UTC")
            );
            view! {
                <li class="open-invite">
                    <span>{what.clone()} <br /> <span class="hint">{when}</span></span>
                    <ActionForm action=revoke>
                        <input type="hidden" name="slug" value=move || group.slug.get() />
                        <input type="hidden" name="code" value=invite.code />
                        <button
                            type="submit"
                            class="link danger"
                            aria-label=format!("Revoke: {what}")
                            disabled=move || revoke.pending().get()
                        >
                            "Revoke"
                        </button>
                    </ActionForm>
                </li>
            }
        })
        .collect_view();
    view! { <ul class="open-invites">{rows}</ul> }
}

/// Admins rename the group, download its data, and close it.
#[component]
pub fn GroupSettings() -> impl IntoView {
    let group = use_group();
    let rename = ServerAction::<RenameGroup>::new();
    let close = ServerAction::<CloseGroup>::new();
    let poll_rule = ServerAction::<SetPollRule>::new();
    let poll_rule_error = last_error(poll_rule.value());
    let residents_open_polls = group.header.with_value(|h| h.group.residents_open_polls);
    let rename_error = last_error(rename.value());
    let close_error = last_error(close.value());
    let name = StoredValue::new(group.header.with_value(|h| h.group.name.clone()));
    let closed = group.header.with_value(|h| h.group.closed_at.is_some());
    // A renamed or closed group (or a new poll rule) shows as such
    // everywhere: the page loads afresh.
    Effect::new(move || {
        let done = |value: Option<Result<(), AppError>>| matches!(value, Some(Ok(())));
        if done(rename.value().get()) || done(close.value().get()) || done(poll_rule.value().get()) {
            #[cfg(feature = "hydrate")]
            let _ = window().location().reload();
        }
    });
    let export = move || format!("/api/groups/{}/export", group.slug.get());
    view! {
        <section class="card" aria-labelledby="settings-heading">
            <h2 id="settings-heading">"Group settings"</h2>
            <p class="hint">{NEEDS_NETWORK}</p>
            <h3>"All of the group's data"</h3>
            <p>
                <a class="button secondary" href=export download="">"Download the group's data (JSON)"</a>
            </p>
            <Show when=move || !closed>
                <ActionForm action=rename>
                    <input type="hidden" name="slug" value=move || group.slug.get() />
                    <Field label="Group name" name="name" value=name.get_value() error=field_error(rename_error, "name") />
                    <FormError error=rename_error />
                    <button type="submit" disabled=move || rename.pending().get()>"Rename"</button>
                </ActionForm>
                <ActionForm action=poll_rule>
                    <input type="hidden" name="slug" value=move || group.slug.get() />
                    <div class="field">
                        <label for="poll-rule">"Who may open polls"</label>
                        <select id="poll-rule" name="residents_open_polls">
                            <option value="false" selected=!residents_open_polls>"Admins only"</option>
                            <option value="true" selected=residents_open_polls>"Every member"</option>
                        </select>
                    </div>
                    <FormError error=poll_rule_error />
                    <button type="submit" disabled=move || poll_rule.pending().get()>"Save"</button>
                </ActionForm>
                <div class="danger-zone">
                    <h3>"Close the group"</h3>
                    <p>
                        "The group becomes read-only for everyone, and is deleted with all its data after a grace period. "
                        "Until then its data can be downloaded here."
                    </p>
                    <ActionForm action=close>
                        <input type="hidden" name="slug" value=move || group.slug.get() />
                        <Field
                            label="Type the group's name to confirm"
                            name="name"
                            id="close-confirm"
                            autocomplete="off"
                            error=field_error(close_error, "name")
                        />
                        <FormError error=close_error />
                        <button type="submit" class="danger" disabled=move || close.pending().get()>"Close the group"</button>
                    </ActionForm>
                </div>
            </Show>
        </section>
    }
}

/// Anyone leaves the group; this browser forgets it then.
#[component]
pub fn Leave() -> impl IntoView {
    let group = use_group();
    let leave = ServerAction::<LeaveGroup>::new();
    let error = last_error(leave.value());
    let confirming = RwSignal::new(false);
    Effect::new(move || {
        if matches!(leave.value().get(), Some(Ok(()))) {
            #[cfg(feature = "hydrate")]
            {
                let (me, slug) = (group.me(), group.slug.get_untracked());
                leptos::task::spawn_local(async move {
                    if let Err(error) = crate::sync::browser::store::wipe_group(me, &slug).await {
                        leptos::logging::warn!("{error}");
                    }
                    crate::sync::browser::shell::forget_group(&slug).await;
                    let _ = window().location().assign("/");
                });
            }
        }
    });
    let offline_note = move || {
        matches!(leave.value().get(), Some(Err(AppError::BadRequest(_))))
            .then_some(view! { <p class="hint">{NEEDS_NETWORK}</p> })
    };
    view! {
        <section class="card" aria-labelledby="leave-heading">
            <h2 id="leave-heading">"Leave the group"</h2>
            <p>
                "You stop seeing it, and this browser forgets it (writes not sent yet are dropped). "
                "What you wrote stays."
            </p>
            <Show
                when=move || confirming.get()
                fallback=move || view! {
                    <button type="button" class="danger" on:click=move |_| confirming.set(true)>"Leave the group"</button>
                }
            >
                <ActionForm action=leave>
                    <input type="hidden" name="slug" value=move || group.slug.get() />
                    <p>"Leave it? To come back you need an invite."</p>
                    <button type="submit" class="danger" disabled=move || leave.pending().get()>"Yes, leave"</button>
                    <button type="button" class="link" on:click=move |_| confirming.set(false)>"Cancel"</button>
                </ActionForm>
            </Show>
            <FormError error />
            {offline_note}
        </section>
    }
}
