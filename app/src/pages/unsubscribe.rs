//! `/unsubscribe/{token}`: stop one kind of mail from a group with the link
//! at the foot of a notification (a button, not the visit itself: mail
//! scanners open links too; mail providers post to `/api/unsubscribe/…`).

use crate::{
    components::{last_error, FormError},
    error::AppError,
    model::Unsubscribe,
    server_fns::{unsubscribe_info, StopMail},
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

#[component]
pub fn UnsubscribePage() -> impl IntoView {
    let params = use_params_map();
    let token = move || params.read().get("token").unwrap_or_default();
    let link = Resource::new(token, unsubscribe_info);
    let action = ServerAction::<StopMail>::new();
    let error = last_error(action.value());
    view! {
        <Title text="Stop emails" />
        <section class="card narrow">
            <h1>"Stop emails"</h1>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let done = action.value().get().and_then(Result::ok);
                    match (done, link.await) {
                        (Some(stopped), _) | (None, Ok(stopped @ Unsubscribe { on: false, .. })) => view! {
                            <p role="status">
                                {format!("You will no longer get emails about {} from {}.", stopped.kind.describe(), stopped.group_name)}
                            </p>
                            <p>
                                "To have them again, or to stop others, see "
                                <a href=format!("/g/{}/members#mail", stopped.group_slug)>"Email from this group"</a>
                                " on the group's Members page."
                            </p>
                        }.into_any(),
                        (None, Ok(on)) => view! {
                            <p>{format!("Stop emails about {} from {}?", on.kind.describe(), on.group_name)}</p>
                            <ActionForm action=action>
                                <input type="hidden" name="token" value=token />
                                <FormError error />
                                <button type="submit" disabled=move || action.pending().get()>"Stop these emails"</button>
                            </ActionForm>
                        }.into_any(),
                        (None, Err(AppError::NotFound)) => view! {
                            <p role="alert">"This link is not known: it is mistyped, or was for a group you have left."</p>
                            <p>"Signed in, you can choose which emails you get on each group's Members page."</p>
                        }.into_any(),
                        (None, Err(error)) => view! { <p role="alert">{error.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}
