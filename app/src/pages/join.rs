//! `/join/{code}`: accept an invite to a group.

use super::NotFound;
use crate::{
    components::{last_error, FormError, LoadError, MeResource},
    error::AppError,
    server_fns::{get_invite, AcceptInvite},
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

#[component]
pub fn JoinPage() -> impl IntoView {
    let me = expect_context::<MeResource>().0;
    let params = use_params_map();
    let code = move || params.read().get("code").unwrap_or_default();
    let invite = Resource::new(code, get_invite);
    let action = ServerAction::<AcceptInvite>::new();
    let error = last_error(action.value());
    view! {
        <Title text="Join a group" />
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                let signed_in = matches!(me.await, Ok(Some(_)));
                let invite = match invite.await {
                    Ok(invite) => invite,
                    Err(AppError::NotFound) => return view! { <NotFound /> }.into_any(),
                    Err(error) => return view! { <LoadError error /> }.into_any(),
                };
                let here = format!("/join/{}", invite.code);
                let join_label = format!("Join {}", invite.group_name);
                let body = if signed_in {
                    view! {
                        <ActionForm action=action>
                            <input type="hidden" name="code" value=invite.code.clone() />
                            <FormError error />
                            <button type="submit" disabled=move || action.pending().get()>
                                {join_label}
                            </button>
                        </ActionForm>
                    }.into_any()
                } else {
                    view! {
                        <p>"Sign up or log in to join."</p>
                        <p class="actions">
                            <a class="button" href=format!("/signup?next={here}")>"Sign up"</a>
                            <a href=super::login_then(&here)>"Log in"</a>
                        </p>
                    }.into_any()
                };
                view! {
                    <section class="card narrow">
                        <h1>"You are invited to " {invite.group_name.clone()}</h1>
                        {body}
                    </section>
                }.into_any()
            })}
        </Suspense>
    }
}
