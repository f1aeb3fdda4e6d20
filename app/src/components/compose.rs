//! A card with a form of a title and a text (a notice, a request), sent as
//! one mutation and cleared when it is applied.

use super::{action_error, reset_on_success, use_hydrated, use_mutation, FormError};
use crate::model::Mutation;
use leptos::{html, prelude::*};

#[component]
pub fn ComposeForm(
    /// Prefix of the element ids (`{id}-title`, `{id}-text`).
    id: &'static str,
    heading: &'static str,
    title_label: &'static str,
    text_label: &'static str,
    submit_label: &'static str,
    /// Builds the mutation from the title and the text.
    make: Callback<(String, String), Mutation>,
) -> impl IntoView {
    let send = use_mutation();
    let ready = use_hydrated();
    let form = NodeRef::<html::Form>::new();
    let title = NodeRef::<html::Input>::new();
    let text = NodeRef::<html::Textarea>::new();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if let (Some(title), Some(text)) = (title.get(), text.get()) {
            send.dispatch(make.run((title.value(), text.value())));
        }
    };
    reset_on_success(send, form);
    let (heading_id, labelled_by) = (format!("{id}-heading"), format!("{id}-heading"));
    let (title_id, title_for) = (format!("{id}-title"), format!("{id}-title"));
    let (text_id, text_for) = (format!("{id}-text"), format!("{id}-text"));
    view! {
        <section class="card" aria-labelledby=labelled_by>
            <h2 id=heading_id>{heading}</h2>
            <form node_ref=form on:submit=submit>
                <div class="field">
                    <label for=title_for>{title_label}</label>
                    <input id=title_id node_ref=title required maxlength="200" />
                </div>
                <div class="field">
                    <label for=text_for>{text_label}</label>
                    <textarea id=text_id node_ref=text rows="4" maxlength="10000"></textarea>
                </div>
                <FormError error=action_error(send) />
                <button type="submit" disabled=move || !ready.get() || send.pending().get()>{submit_label}</button>
            </form>
        </section>
    }
}
