//! `/signup`: create an account.

use crate::{
    components::{field_error, last_error, Field, FormError},
    server_fns::SignUp,
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn SignupPage() -> impl IntoView {
    let action = ServerAction::<SignUp>::new();
    let error = last_error(action.value());
    let query = use_query_map();
    let next = move || query.read().get("next");
    let login_href = move || match next() {
        Some(next) => super::login_then(&next),
        None => "/login".to_owned(),
    };
    view! {
        <Title text="Sign up" />
        <section class="card narrow">
            <h1>"Create your account"</h1>
            <ActionForm action=action>
                <input type="hidden" name="next" value=next />
                <Field label="Your name" name="name" autocomplete="name" autofocus=true error=field_error(error, "name") />
                <Field label="Email" name="email" kind="email" autocomplete="email" error=field_error(error, "email") />
                <Field
                    label="Password"
                    name="password"
                    kind="password"
                    autocomplete="new-password"
                    hint="At least 8 characters."
                    error=field_error(error, "password")
                />
                <FormError error />
                <button type="submit" disabled=move || action.pending().get()>"Sign up"</button>
            </ActionForm>
            <p>"Already have an account? " <a href=login_href>"Log in"</a></p>
        </section>
    }
}
