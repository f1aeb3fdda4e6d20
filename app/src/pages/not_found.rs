//! The 404 page (also what a non-member sees of a group).

use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn NotFound() -> impl IntoView {
    crate::components::set_status(404);
    view! {
        <Title text="Not found" />
        <section class="card">
            <h1>"Page not found"</h1>
            <p>"There is nothing here, or it is not yours to see."</p>
            <p><a href="/">"Back to your groups"</a></p>
        </section>
    }
}
