//! `/verify/{token}`: confirm an email address with the link from the
//! email (a button, not the visit itself: mail scanners open links too).

use crate::{
    components::{last_error, FormError, MeResource},
    error::AppError,
    server_fns::VerifyEmail,
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

#[component]
pub fn VerifyPage() -> impl IntoView {
    let me = expect_context::<MeResource>().0;
    let params = use_params_map();
    let token = move || params.read().get("token").unwrap_or_default();
    let action = ServerAction::<VerifyEmail>::new();
    let error = last_error(action.value());
    let confirmed = move || match action.value().get() {
        Some(Ok(email)) => Some(email),
        _ => None,
    };
    // The banner asking to verify goes once this one is done.
    Effect::new(move || {
        if confirmed().is_some() {
            me.refetch();
        }
    });
    let dead_link = move || matches!(error.get(), Some(AppError::NotFound));
    view! {
        <Title text="Confirm your email" />
        <section class="card narrow">
            <h1>"Confirm your email"</h1>
            {move || match (confirmed(), dead_link()) {
                (Some(email), _) => view! {
                    <p role="status">{format!("Thank you: {email} is confirmed.")}</p>
                    <p><a class="button" href="/">"Go to Courtyard"</a></p>
                }.into_any(),
                (None, true) => view! {
                    <p role="alert">"This link has expired, was already used, or is for an address the account no longer has."</p>
                    <p>"Signed in, you can ask for a new one: from the banner at the top of the page, or by changing your email again on your account page."</p>
                }.into_any(),
                (None, false) => view! {
                    <ActionForm action=action>
                        <input type="hidden" name="token" value=token />
                        <FormError error />
                        <button type="submit" disabled=move || action.pending().get()>"Confirm my email"</button>
                    </ActionForm>
                }.into_any(),
            }}
        </section>
    }
}
