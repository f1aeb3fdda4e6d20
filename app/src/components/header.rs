//! The site header: the brand, and who is signed in (with log out).

use crate::{
    components::{last_error, FormError},
    error::AppError,
    model::Me,
    server_fns::{LogOut, ResendVerification},
};
use leptos::prelude::*;

/// The signed-in user (or `None`), refetched on every navigation.
#[derive(Clone, Copy)]
pub struct MeResource(pub Resource<Result<Option<Me>, AppError>>);

/// Signing out forgets what this browser holds of the person: the rows of
/// their groups, and the pages the service worker kept (their writes not
/// sent yet stay, in their own scope, for their next sign-in here).
fn forget_local_data(user: uuid::Uuid) {
    #[cfg(feature = "hydrate")]
    leptos::task::spawn_local(async move {
        crate::sync::browser::shell::forget_pages().await;
        if let Err(error) = crate::sync::browser::store::wipe_rows_of(user).await {
            leptos::logging::warn!("{error}");
        }
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = user;
}

#[component]
pub fn Header() -> impl IntoView {
    let me = expect_context::<MeResource>().0;
    let log_out = ServerAction::<LogOut>::new();
    // Signed out: the header (and whatever reads who is signed in) learns it
    // even where the server's redirect to `/` goes nowhere (already there).
    Effect::new(move |_| {
        if log_out.version().get() > 0 {
            me.refetch();
        }
    });
    view! {
        <header class="site-header">
            <a class="brand" href="/">"Courtyard"</a>
            <nav aria-label="Account">
                <Transition fallback=|| ()>
                    {move || Suspend::new(async move {
                        match me.await {
                            Ok(Some(me)) => view! {
                                <a class="who" href="/account" title="Your account">{me.user.name}</a>
                                <ActionForm action=log_out on:submit=move |_| forget_local_data(me.user.id)>
                                    <button type="submit" class="link">"Log out"</button>
                                </ActionForm>
                            }.into_any(),
                            _ => view! {
                                <a href="/login">"Log in"</a>
                                <a href="/signup" class="button">"Sign up"</a>
                            }.into_any(),
                        }
                    })}
                </Transition>
            </nav>
        </header>
    }
}

/// Asks a signed-in person whose address is not verified yet to follow the
/// link sent to it, and sends it again on request.
#[component]
pub fn VerifyBanner() -> impl IntoView {
    let me = expect_context::<MeResource>().0;
    let resend = ServerAction::<ResendVerification>::new();
    let error = last_error(resend.value());
    let sent = move || matches!(resend.value().get(), Some(Ok(())));
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                match me.await {
                    Ok(Some(me)) if !me.user.email_verified => Some(view! {
                        <aside class="banner" aria-label="Confirm your email">
                            <p>
                                "Please confirm your email: follow the link we sent to "
                                <strong>{me.user.email}</strong> "."
                            </p>
                            <Show
                                when=sent
                                fallback=move || view! {
                                    <ActionForm action=resend>
                                        <button type="submit" class="link" disabled=move || resend.pending().get()>
                                            "Send the link again"
                                        </button>
                                    </ActionForm>
                                    <FormError error />
                                }
                            >
                                <p role="status">"Sent. It can take a minute to arrive."</p>
                            </Show>
                        </aside>
                    }),
                    _ => None,
                }
            })}
        </Transition>
    }
}
