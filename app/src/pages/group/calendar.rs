//! On the Bookings page: the member's secret calendar feed of the group's
//! bookings, for a phone's calendar (made, made anew, stopped). Needs the
//! network.

use super::use_group;
use crate::{
    components::{last_error, use_hydrated, FormError},
    server_fns::{calendar_feed, RenewCalendarFeed, StopCalendarFeed},
};
use leptos::prelude::*;

#[component]
pub fn CalendarFeed() -> impl IntoView {
    let group = use_group();
    let renew = ServerAction::<RenewCalendarFeed>::new();
    let stop = ServerAction::<StopCalendarFeed>::new();
    let renew_error = last_error(renew.value());
    let stop_error = last_error(stop.value());
    // Before the page runs its script a plain form post would make a link
    // nobody sees (and stop the old one): the buttons wait for it.
    let ready = use_hydrated();
    // A stopped link is no longer shown.
    Effect::new(move || {
        if matches!(stop.value().get(), Some(Ok(()))) {
            renew.value().set(None);
        }
    });
    let made = Resource::new(
        move || (group.slug.get(), renew.version().get(), stop.version().get()),
        |(slug, ..)| calendar_feed(slug),
    );
    // The link, shown once, when just made (only its digest is kept).
    let link = move || match renew.value().get() {
        Some(Ok(path)) => {
            #[cfg(feature = "hydrate")]
            let origin = window().location().origin().unwrap_or_default();
            #[cfg(not(feature = "hydrate"))]
            let origin = String::new();
            let address = format!("{origin}{path}");
            let webcal = address.replacen("https://", "webcal://", 1).replacen("http://", "webcal://", 1);
            Some(view! {
                <p role="status">
                    "Add this address to your calendar app (it is shown only now; keep it to yourself): "
                    <a id="calendar-link" href=path.clone()>{address.clone()}</a>
                    " · " <a href=webcal>"Open in the calendar app"</a>
                    " · " <a href=format!("{path}?mine=true")>"Only my bookings"</a>
                </p>
            })
        }
        _ => None,
    };
    view! {
        <section class="card" aria-labelledby="calendar-heading">
            <h2 id="calendar-heading">"Your calendar"</h2>
            <p class="hint">
                "A private link to this group's bookings (from 30 days ago to a year ahead), in UTC, for your phone's calendar. "
                "Making a new link stops the old one. Needs a connection."
            </p>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    match made.await {
                        Ok(Some(at)) => Some(view! {
                            <p>{format!("You have a link, made {}.", at.format("%Y-%m-%d"))}</p>
                        }.into_any()),
                        Ok(None) => None,
                        Err(error) => Some(view! { <p role="alert">{error.to_string()}</p> }.into_any()),
                    }
                })}
            </Transition>
            {link}
            <div class="actions">
                <ActionForm action=renew>
                    <input type="hidden" name="slug" value=move || group.slug.get() />
                    <button type="submit" disabled=move || !ready.get() || renew.pending().get()>"Make a calendar link"</button>
                </ActionForm>
                <ActionForm action=stop>
                    <input type="hidden" name="slug" value=move || group.slug.get() />
                    <button type="submit" class="secondary" disabled=move || !ready.get() || stop.pending().get()>"Stop my link"</button>
                </ActionForm>
            </div>
            <FormError error=renew_error />
            <FormError error=stop_error />
        </section>
    }
}
