//! `/groups/new`: create a group (its creator becomes admin).

use crate::{
    components::{field_error, last_error, Field, FormError, MeResource},
    server_fns::CreateGroup,
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Redirect;

#[component]
pub fn NewGroupPage() -> impl IntoView {
    let me = expect_context::<MeResource>().0;
    let action = ServerAction::<CreateGroup>::new();
    let error = last_error(action.value());
    view! {
        <Title text="New group" />
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match me.await {
                    Ok(Some(_)) => view! {
                        <section class="card narrow">
                            <h1>"Create a group"</h1>
                            <ActionForm action=action>
                                <Field label="Name" name="name" autofocus=true error=field_error(error, "name") />
                                <Field
                                    label="Address"
                                    name="slug"
                                    hint="Part of the group's link: 3 to 40 lowercase letters, digits or dashes."
                                    error=field_error(error, "slug")
                                />
                                <FormError error />
                                <button type="submit" disabled=move || action.pending().get()>"Create group"</button>
                            </ActionForm>
                        </section>
                    }.into_any(),
                    _ => view! { <Redirect path=super::login_then("/groups/new") /> }.into_any(),
                }
            })}
        </Suspense>
    }
}
