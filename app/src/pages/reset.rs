//! `/reset/{token}`: choose a new password with the link from the email.

use crate::{
    components::{field_error, last_error, Field, FormError},
    error::AppError,
    server_fns::ResetPassword,
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

#[component]
pub fn ResetPage() -> impl IntoView {
    let params = use_params_map();
    let token = move || params.read().get("token").unwrap_or_default();
    let action = ServerAction::<ResetPassword>::new();
    let error = last_error(action.value());
    let dead_link = move || matches!(error.get(), Some(AppError::NotFound));
    view! {
        <Title text="Choose a new password" />
        <section class="card narrow">
            <h1>"Choose a new password"</h1>
            <Show
                when=dead_link
                fallback=move || view! {
                    <p>"Every device signed in to your account is signed out, and this one signed in."</p>
                    <ActionForm action=action>
                        <input type="hidden" name="token" value=token />
                        <Field
                            label="New password"
                            name="password"
                            kind="password"
                            autocomplete="new-password"
                            autofocus=true
                            hint="At least 8 characters."
                            error=field_error(error, "password")
                        />
                        <FormError error />
                        <button type="submit" disabled=move || action.pending().get()>"Set the password"</button>
                    </ActionForm>
                }
            >
                <p role="alert">"This link has expired or was already used."</p>
                <p><a class="button" href="/forgot">"Ask for a new link"</a></p>
            </Show>
        </section>
    }
}
