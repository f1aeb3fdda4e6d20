//! `/g/{slug}/bookings`: a week per room, booking a slot, and (admins) the rooms.

use super::use_group;
use crate::{
    components::{
        action_error, reset_on_success, use_hydrated, use_mutation, use_now, use_zone, with_view, FormError,
        PendingBadge, Time, Zone,
    },
    error::AppError,
    model::{
        mutation::{BookingCreate, ById, ResourceCreate},
        views::RoomsWeek,
        Booking, Mutation, Resource,
    },
};
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, Utc};
use leptos::{html, prelude::*};
use leptos_router::hooks::use_query_map;
use uuid::Uuid;

/// What the booking form holds; a day's "Book" button fills it in.
#[derive(Clone, Copy)]
struct Draft {
    resource: RwSignal<String>,
    starts: RwSignal<String>,
    ends: RwSignal<String>,
}

const INPUT_FORMAT: &str = "%Y-%m-%dT%H:%M";

#[component]
pub fn BookingsPage() -> impl IntoView {
    let group = use_group();
    let (zone, now) = (use_zone(), use_now());
    let query = use_query_map();
    let monday = Memo::new(move |_| {
        let today = zone.get().naive(now.get()).date();
        let day =
            query.read().get("week").and_then(|w| NaiveDate::parse_from_str(&w, "%Y-%m-%d").ok()).unwrap_or(today);
        day - Duration::days(day.weekday().num_days_from_monday().into())
    });
    let week_href = move |weeks: i64| group.href(&format!("/bookings?week={}", monday.get() + Duration::weeks(weeks)));
    let draft = Draft {
        resource: RwSignal::new(String::new()),
        starts: RwSignal::new(String::new()),
        ends: RwSignal::new(String::new()),
    };
    let cancel = use_mutation();
    // The week's span, in the viewer's zone.
    let week = move || -> (DateTime<Utc>, DateTime<Utc>) {
        let zone = zone.get();
        (zone.day_start(monday.get()), zone.day_start(monday.get() + Duration::weeks(1)))
    };
    let first = group.first::<RoomsWeek>(week);
    view! {
        <section class="card">
            <h1>"Bookings"</h1>
            <nav class="week-nav" aria-label="Week">
                <a href=move || week_href(-1)>"← Previous week"</a>
                <strong>"Week of " {move || monday.get().format("%-d %B %Y").to_string()}</strong>
                <a href=move || week_href(1)>"Next week →"</a>
            </nav>
            <FormError error=action_error(cancel) />
        </section>
        {with_view(first, move |first| view! { <Rooms first week=Callback::new(move |()| week()) monday draft cancel /> })}
        <Show when=move || group.is_admin()>
            <AddRoom />
        </Show>
        <super::calendar::CalendarFeed />
    }
}

/// Each room's week, and the booking form.
#[component]
fn Rooms(
    first: RoomsWeek,
    week: Callback<(), (DateTime<Utc>, DateTime<Utc>)>,
    monday: Memo<NaiveDate>,
    draft: Draft,
    cancel: Action<Mutation, Result<(), AppError>>,
) -> impl IntoView {
    let group = use_group();
    let shown = group.follow(first, move || week.run(()));
    let rooms = Memo::new(move |_| shown.with(|w| w.rooms.clone()));
    let list = move || {
        rooms.get().into_iter().map(|room| view! { <RoomWeek room shown monday draft cancel /> }).collect_view()
    };
    view! {
        <div data-empty="No rooms to book yet." class="rooms">{list}</div>
        <BookingForm draft rooms />
    }
}

#[component]
fn RoomWeek(
    room: Resource,
    shown: Memo<RoomsWeek>,
    monday: Memo<NaiveDate>,
    draft: Draft,
    cancel: Action<Mutation, Result<(), AppError>>,
) -> impl IntoView {
    let group = use_group();
    let zone = use_zone();
    let room_id = room.id;
    let room_name = room.name.clone();
    let remove = use_mutation();
    let (heading, labelled_by) = (format!("room-{room_id}"), format!("room-{room_id}"));
    let days = move || {
        let zone = zone.get();
        (0..7)
            .map(|offset| {
                let day = monday.get() + Duration::days(offset);
                let (from, to) = (zone.day_start(day), zone.day_start(day + Duration::days(1)));
                let booked = shown.with(|w| {
                    w.bookings
                        .iter()
                        .filter(|b| b.resource_id == room_id && b.starts_at < to && b.ends_at > from)
                        .map(|b| (b.clone(), w.names.of(b.member_id), group.is_admin() || b.member_id == group.me()))
                        .collect::<Vec<_>>()
                });
                view! { <Day day room_id room_name=room_name.clone() booked draft cancel /> }
            })
            .collect_view()
    };
    view! {
        <section class="card room" aria-labelledby=labelled_by>
            <h2 id=heading>{room.name.clone()}</h2>
            <ol class="week">{days}</ol>
            <Show when=move || group.is_admin()>
                <button type="button" class="link danger"
                    on:click=move |_| { remove.dispatch(Mutation::ResourceDelete(ById { id: room_id })); }>
                    {format!("Remove {} and its bookings", room.name)}
                </button>
                <FormError error=action_error(remove) />
            </Show>
        </section>
    }
}

#[component]
fn Day(
    day: NaiveDate,
    room_id: Uuid,
    room_name: String,
    booked: Vec<(Booking, String, bool)>,
    draft: Draft,
    cancel: Action<Mutation, Result<(), AppError>>,
) -> impl IntoView {
    let pick = move |_| {
        let nine = day.and_hms_opt(9, 0, 0).unwrap_or_default();
        draft.resource.set(room_id.to_string());
        draft.starts.set(nine.format(INPUT_FORMAT).to_string());
        draft.ends.set((nine + Duration::hours(1)).format(INPUT_FORMAT).to_string());
        if let Some(field) = leptos::prelude::document().get_element_by_id("booking-starts") {
            use leptos::wasm_bindgen::JsCast;
            if let Ok(field) = field.dyn_into::<leptos::web_sys::HtmlElement>() {
                let _ = field.focus();
            }
        }
    };
    view! {
        <li class="day">
            <h3>{day.format("%a %-d").to_string()}</h3>
            <ul class="slots">
                {booked.into_iter().map(|(booking, who, may_cancel)| {
                    let id = booking.id;
                    view! {
                        <li class="slot">
                            <Time at=booking.starts_at format="%H:%M" /> "–" <Time at=booking.ends_at format="%H:%M" />
                            <span class="who">" " {who}</span>
                            " " <PendingBadge id />
                            {may_cancel.then(|| view! {
                                <button type="button" class="link danger"
                                    on:click=move |_| { cancel.dispatch(Mutation::BookingCancel(ById { id })); }>
                                    "Cancel"
                                </button>
                            })}
                        </li>
                    }
                }).collect_view()}
            </ul>
            <button type="button" class="link" on:click=pick
                aria-label=format!("Book {room_name} on {}", day.format("%A %-d %B"))>"Book"</button>
        </li>
    }
}

#[component]
fn BookingForm(draft: Draft, rooms: Memo<Vec<Resource>>) -> impl IntoView {
    let zone = use_zone();
    let book = use_mutation();
    let ready = use_hydrated();
    let form = NodeRef::<html::Form>::new();
    let invalid = RwSignal::new(None::<AppError>);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        match draft_to_booking(draft, zone.get_untracked()) {
            Ok(booking) => {
                invalid.set(None);
                book.dispatch(Mutation::BookingCreate(booking));
            }
            Err(error) => invalid.set(Some(error)),
        }
    };
    reset_on_success(book, form);
    let server_error = action_error(book);
    let error = Signal::derive(move || invalid.get().or_else(|| server_error.get()));
    let rooms = move || {
        rooms.with(|rooms| {
            rooms.iter().map(|r| view! { <option value=r.id.to_string()>{r.name.clone()}</option> }).collect_view()
        })
    };
    view! {
        <section class="card" aria-labelledby="book-heading">
            <h2 id="book-heading">"Book a room"</h2>
            <form node_ref=form on:submit=submit>
                <div class="field">
                    <label for="booking-room">"Room"</label>
                    <select id="booking-room" required prop:value=move || draft.resource.get()
                        on:change=move |ev| draft.resource.set(event_target_value(&ev))>
                        <option value="">"Choose a room"</option>
                        {rooms}
                    </select>
                </div>
                <div class="field">
                    <label for="booking-starts">"From"</label>
                    <input id="booking-starts" type="datetime-local" required bind:value=draft.starts />
                </div>
                <div class="field">
                    <label for="booking-ends">"Until"</label>
                    <input id="booking-ends" type="datetime-local" required bind:value=draft.ends />
                </div>
                <FormError error />
                <button type="submit" disabled=move || !ready.get() || book.pending().get()>"Book"</button>
            </form>
        </section>
    }
}

fn draft_to_booking(draft: Draft, zone: Zone) -> Result<BookingCreate, AppError> {
    let resource_id = Uuid::parse_str(&draft.resource.get_untracked())
        .map_err(|_| AppError::validation("resource_id", "choose a room"))?;
    let time = |field: &str, value: String| {
        NaiveDateTime::parse_from_str(&value, INPUT_FORMAT)
            .ok()
            .and_then(|wall| zone.to_utc(wall))
            .ok_or_else(|| AppError::validation(field, "enter a date and time"))
    };
    Ok(BookingCreate {
        id: Uuid::new_v4(),
        resource_id,
        starts_at: time("starts_at", draft.starts.get_untracked())?,
        ends_at: time("ends_at", draft.ends.get_untracked())?,
    })
}

#[component]
fn AddRoom() -> impl IntoView {
    let add = use_mutation();
    let form = NodeRef::<html::Form>::new();
    let name = NodeRef::<html::Input>::new();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Some(name) = name.get() else { return };
        add.dispatch(Mutation::ResourceCreate(ResourceCreate { id: Uuid::new_v4(), name: name.value() }));
    };
    reset_on_success(add, form);
    view! {
        <section class="card" aria-labelledby="add-room-heading">
            <h2 id="add-room-heading">"Add a room"</h2>
            <form node_ref=form on:submit=submit>
                <div class="field">
                    <label for="room-name">"Name"</label>
                    <input id="room-name" node_ref=name required maxlength="100" placeholder="Laundry, guest room, garden…" />
                </div>
                <FormError error=action_error(add) />
                <button type="submit" disabled=move || add.pending().get()>"Add room"</button>
            </form>
        </section>
    }
}
