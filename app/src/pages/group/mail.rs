//! On the Members page: which emails the member gets from this group
//! (`backend::notify`). Needs the network.

use super::use_group;
use crate::{
    components::{last_error, use_hydrated, FormError},
    model::{MailChoices, MailKind},
    server_fns::{get_mail_choices, SetMailChoices},
};
use leptos::prelude::*;

#[component]
pub fn MailChoicesCard() -> impl IntoView {
    let group = use_group();
    let save = ServerAction::<SetMailChoices>::new();
    let error = last_error(save.value());
    let ready = use_hydrated();
    let current = Resource::new(move || (group.slug.get(), save.version().get()), |(slug, _)| get_mail_choices(slug));
    let saved = move || matches!(save.value().get(), Some(Ok(()))).then(|| view! { <p role="status">"Saved."</p> });
    let boxes = move |choices: MailChoices| {
        MailKind::ALL
            .into_iter()
            .map(|kind| {
                let id = format!("mail-{}", kind.as_str());
                view! {
                    <div class="field checkbox">
                        <input type="checkbox" id=id.clone() name=kind.as_str() value="on" checked=choices.wants(kind) />
                        <label for=id>{format!("Email me about {}", kind.describe())}</label>
                    </div>
                }
            })
            .collect_view()
    };
    view! {
        <section class="card" id="mail" aria-labelledby="mail-heading">
            <h2 id="mail-heading">"Email from this group"</h2>
            <p class="hint">
                "Sent to your account's address once it is confirmed, never about what you did yourself. "
                "Each email has a link that stops its kind. Needs a connection."
            </p>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    match current.await {
                        Ok(choices) => view! {
                            <ActionForm action=save>
                                <input type="hidden" name="slug" value=move || group.slug.get() />
                                {boxes(choices)}
                                <FormError error />
                                <button type="submit" disabled=move || !ready.get() || save.pending().get()>"Save email choices"</button>
                            </ActionForm>
                        }.into_any(),
                        Err(error) => view! { <p role="alert">{error.to_string()}</p> }.into_any(),
                    }
                })}
            </Transition>
            {saved}
        </section>
    }
}
