//! `/account`: the signed-in person's account: their name, email and
//! password, the devices signed in to it, and deleting it. Every change here
//! needs the network (the page says so); nothing is queued.

use super::NotFound;
use crate::{
    components::{field_error, last_error, Field, FormError, LoadError, MeResource},
    error::AppError,
    model::{AccountInfo, SessionInfo},
    server_fns::{get_account, ChangeEmail, ChangePassword, DeleteAccount, EndSession, RenameAccount},
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Redirect;

#[component]
pub fn AccountPage() -> impl IntoView {
    let account = Resource::new(|| (), |_| get_account());
    view! {
        <Title text="Your account" />
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match account.await {
                    Ok(info) => view! { <Account info /> }.into_any(),
                    Err(AppError::Unauthorized) => view! { <Redirect path=super::login_then("/account") /> }.into_any(),
                    Err(AppError::NotFound) => view! { <NotFound /> }.into_any(),
                    Err(error) => view! { <LoadError error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// The page, rendered once: each section keeps its own confirmations (and
/// focus) after its change; the list of sessions is read again on its own.
#[component]
fn Account(info: AccountInfo) -> impl IntoView {
    let AccountInfo { user, sessions } = info;
    // Bumped when the sessions change (one ended, a new password ended others).
    let sessions_changed = RwSignal::new(0u32);
    view! {
        <h1>"Your account"</h1>
        <p class="hint">"Changes here need a connection to the server."</p>
        <Name name=user.name.clone() />
        <Email email=user.email.clone() verified=user.email_verified />
        <Password sessions_changed />
        <Sessions first=sessions sessions_changed user=user.id />
        <Delete user=user.id />
    }
}

/// The account's password, asked before a change that needs it.
#[component]
fn YourPassword(error: Signal<Option<AppError>>, id: &'static str) -> impl IntoView {
    view! {
        <Field
            label="Your password"
            name="password"
            id
            kind="password"
            autocomplete="current-password"
            error=field_error(error, "current_password")
        />
    }
}

#[component]
fn Name(name: String) -> impl IntoView {
    let action = ServerAction::<RenameAccount>::new();
    let error = last_error(action.value());
    // The header shows the new name.
    let me = expect_context::<MeResource>().0;
    Effect::new(move || {
        if matches!(action.value().get(), Some(Ok(()))) {
            me.refetch();
        }
    });
    let saved = move || matches!(action.value().get(), Some(Ok(()))).then_some(view! { <p role="status">"Saved."</p> });
    view! {
        <section class="card" aria-labelledby="name-heading">
            <h2 id="name-heading">"Name"</h2>
            <p class="hint">"Each group's directory shows the name you give on its Members page."</p>
            <ActionForm action=action>
                <Field label="Your name" name="name" autocomplete="name" value=name error=field_error(error, "name") />
                <FormError error />
                {saved}
                <button type="submit" disabled=move || action.pending().get()>"Save the name"</button>
            </ActionForm>
        </section>
    }
}

#[component]
fn Email(email: String, verified: bool) -> impl IntoView {
    let action = ServerAction::<ChangeEmail>::new();
    let error = last_error(action.value());
    let sent = move || {
        matches!(action.value().get(), Some(Ok(()))).then_some(view! {
            <p role="status">"We sent a link to the new address: your email changes when you follow it."</p>
        })
    };
    view! {
        <section class="card" aria-labelledby="email-heading">
            <h2 id="email-heading">"Email"</h2>
            <p>
                <strong>{email}</strong>
                {if verified { " (confirmed)" } else { " (not confirmed yet: follow the link we sent it)" }}
            </p>
            <ActionForm action=action>
                <Field label="New email" name="email" kind="email" autocomplete="email" error=field_error(error, "email") />
                <YourPassword error id="email-password" />
                <FormError error />
                {sent}
                <button type="submit" disabled=move || action.pending().get()>"Change the email"</button>
            </ActionForm>
        </section>
    }
}

#[component]
fn Password(sessions_changed: RwSignal<u32>) -> impl IntoView {
    let action = ServerAction::<ChangePassword>::new();
    let error = last_error(action.value());
    Effect::new(move || {
        if matches!(action.value().get(), Some(Ok(_))) {
            sessions_changed.update(|n| *n += 1);
        }
    });
    let done = move || match action.value().get() {
        Some(Ok(ended)) => Some(view! {
            <p role="status">{format!("Password changed. {ended} other device(s) signed out.")}</p>
        }),
        _ => None,
    };
    view! {
        <section class="card" aria-labelledby="password-heading">
            <h2 id="password-heading">"Password"</h2>
            <ActionForm action=action>
                <Field
                    label="Current password"
                    name="current_password"
                    kind="password"
                    autocomplete="current-password"
                    error=field_error(error, "current_password")
                />
                <Field
                    label="New password"
                    name="new_password"
                    kind="password"
                    autocomplete="new-password"
                    hint="At least 8 characters. Every other device signed in is signed out."
                    error=field_error(error, "password")
                />
                <FormError error />
                {done}
                <button type="submit" disabled=move || action.pending().get()>"Change the password"</button>
            </ActionForm>
        </section>
    }
}

#[component]
fn Sessions(first: Vec<SessionInfo>, sessions_changed: RwSignal<u32>, user: uuid::Uuid) -> impl IntoView {
    let action = ServerAction::<EndSession>::new();
    let error = last_error(action.value());
    Effect::new(move || match action.value().get() {
        Some(Ok(true)) => forget_and_leave(user, false),
        Some(Ok(false)) => sessions_changed.update(|n| *n += 1),
        _ => {}
    });
    // As the page came, then read again after each change.
    let first = StoredValue::new(first);
    let listed = Resource::new(
        move || sessions_changed.get(),
        move |changed| async move {
            if changed == 0 {
                Ok(first.get_value())
            } else {
                get_account().await.map(|account| account.sessions)
            }
        },
    );
    let row = move |session: SessionInfo| {
        let label = if session.current { "Sign out here" } else { "Sign out" };
        let device = if session.user_agent.is_empty() { "An unnamed device".to_owned() } else { session.user_agent };
        let named = format!("{label}: {device}");
        view! {
            <li class="session">
                <span>
                    {device}
                    {session.current.then_some(view! { <strong>" (this device)"</strong> })}
                    <br />
                    <span class="hint">
                        {format!("Signed in {}", session.created_at.format("%Y-%m-%d %H:%M UTC"))}
                    </span>
                </span>
                <ActionForm action=action>
                    <input type="hidden" name="id" value=session.id />
                    <button type="submit" class="link" aria-label=named disabled=move || action.pending().get()>
                        {label}
                    </button>
                </ActionForm>
            </li>
        }
    };
    view! {
        <section class="card" aria-labelledby="sessions-heading">
            <h2 id="sessions-heading">"Signed-in devices"</h2>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match listed.await {
                        Ok(sessions) => view! { <ul class="sessions">{sessions.into_iter().map(row).collect_view()}</ul> }.into_any(),
                        Err(error) => view! { <p role="alert">{error.to_string()}</p> }.into_any(),
                    }
                })}
            </Transition>
            <FormError error />
        </section>
    }
}

/// After the account is deleted, or this device's session ended: nothing of
/// the person stays in this browser (with `everything`, not even their
/// unsent writes: the account is gone), then the site opens afresh.
fn forget_and_leave(user: uuid::Uuid, everything: bool) {
    #[cfg(feature = "hydrate")]
    leptos::task::spawn_local(async move {
        use crate::sync::browser::{shell, store};
        shell::forget_pages().await;
        let wiped = if everything { store::wipe_user(user).await } else { store::wipe_rows_of(user).await };
        if let Err(error) = wiped {
            leptos::logging::warn!("{error}");
        }
        let _ = window().location().assign("/");
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = (user, everything);
}

#[component]
fn Delete(user: uuid::Uuid) -> impl IntoView {
    let action = ServerAction::<DeleteAccount>::new();
    let error = last_error(action.value());
    Effect::new(move || {
        if matches!(action.value().get(), Some(Ok(()))) {
            forget_and_leave(user, true);
        }
    });
    view! {
        <section class="card danger-zone" aria-labelledby="delete-heading">
            <h2 id="delete-heading">"Delete your account"</h2>
            <p>
                "You leave every group. What you wrote stays in them under \"former member\", "
                "unless you tick the box. The only admin of a group makes someone else admin, or closes it, first."
            </p>
            <ActionForm action=action>
                <YourPassword error id="delete-password" />
                <div class="field checkbox">
                    <input type="checkbox" id="remove-content" name="remove_content" value="on" />
                    <label for="remove-content">"Also remove what I wrote: notices, requests (with everyone's comments on them), comments, bookings"</label>
                </div>
                <FormError error />
                <button type="submit" class="danger" disabled=move || action.pending().get()>"Delete my account"</button>
            </ActionForm>
        </section>
    }
}
