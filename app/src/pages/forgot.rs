//! `/forgot`: ask for a password-reset link by email.

use crate::{
    components::{field_error, last_error, Field, FormError},
    server_fns::RequestReset,
};
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn ForgotPage() -> impl IntoView {
    let action = ServerAction::<RequestReset>::new();
    let error = last_error(action.value());
    let sent = move || matches!(action.value().get(), Some(Ok(())));
    view! {
        <Title text="Forgot your password" />
        <section class="card narrow">
            <h1>"Forgot your password?"</h1>
            <Show
                when=sent
                fallback=move || view! {
                    <p>"Enter your account's email: we send it a link to choose a new password."</p>
                    <ActionForm action=action>
                        <Field label="Email" name="email" kind="email" autocomplete="email" autofocus=true error=field_error(error, "email") />
                        <FormError error />
                        <button type="submit" disabled=move || action.pending().get()>"Send me a link"</button>
                    </ActionForm>
                }
            >
                <p role="status">
                    "If an account has that address, a link to choose a new password is on its way to it. "
                    "It works once, for a limited time. Check your spam folder if it does not arrive."
                </p>
            </Show>
            <p><a href="/login">"Back to log in"</a></p>
        </section>
    }
}
