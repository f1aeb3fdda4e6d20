//! `/login`: sign in.

use crate::{
    components::{field_error, last_error, Field, FormError},
    server_fns::LogIn,
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn LoginPage() -> impl IntoView {
    let action = ServerAction::<LogIn>::new();
    let error = last_error(action.value());
    let query = use_query_map();
    let next = move || query.read().get("next");
    let signup_href = move || match next() {
        Some(next) => format!("/signup?next={}", form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()),
        None => "/signup".to_owned(),
    };
    view! {
        <Title text="Log in" />
        <section class="card narrow">
            <h1>"Log in"</h1>
            <ActionForm action=action>
                <input type="hidden" name="next" value=next />
                <Field label="Email" name="email" kind="email" autocomplete="email" autofocus=true error=field_error(error, "email") />
                <Field label="Password" name="password" kind="password" autocomplete="current-password" error=field_error(error, "password") />
                <FormError error />
                <button type="submit" disabled=move || action.pending().get()>"Log in"</button>
            </ActionForm>
            <p><a href="/forgot">"Forgot your password?"</a></p>
            <p>"New here? " <a href=signup_href>"Create an account"</a></p>
        </section>
    }
}
