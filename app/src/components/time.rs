//! Times shown in the viewer's time zone, and "now". The server does not
//! know the zone, so pages render in UTC first and switch to local time once
//! the WASM runs (a reactive update after hydration, not a hydration
//! mismatch). Likewise "now" (which day is today, which week is this one)
//! is the instant the server rendered the page, shared into the page with
//! the hydration data, until the page has hydrated, then the browser's
//! clock: a page hydrated a second after midnight (or from the service
//! worker's copy, days later) first renders exactly what the server did, as
//! hydration requires, then moves to the present.

use chrono::{DateTime, Duration, Local, NaiveDate, NaiveDateTime, TimeZone, Utc};
use leptos::prelude::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    Utc,
    Local,
}

impl Zone {
    /// Wall-clock time of `at` in this zone.
    pub fn naive(self, at: DateTime<Utc>) -> NaiveDateTime {
        match self {
            Zone::Utc => at.naive_utc(),
            Zone::Local => at.with_timezone(&Local).naive_local(),
        }
    }

    /// The instant a wall-clock time in this zone names (the earlier one
    /// when a clock change makes it ambiguous).
    pub fn to_utc(self, wall: NaiveDateTime) -> Option<DateTime<Utc>> {
        match self {
            Zone::Utc => Some(wall.and_utc()),
            Zone::Local => Local.from_local_datetime(&wall).earliest().map(|t| t.with_timezone(&Utc)),
        }
    }

    /// The start of `day` in this zone.
    pub fn day_start(self, day: NaiveDate) -> DateTime<Utc> {
        let midnight = day.and_hms_opt(0, 0, 0).unwrap_or_default();
        self.to_utc(midnight)
            .or_else(|| self.to_utc(midnight + Duration::hours(1)))
            .unwrap_or_else(|| midnight.and_utc())
    }

    pub fn suffix(self) -> &'static str {
        match self {
            Zone::Utc => " UTC",
            Zone::Local => "",
        }
    }
}

#[derive(Clone, Copy)]
struct ZoneContext {
    zone: RwSignal<Zone>,
    /// When the server rendered the page; `None` once the page is mounted.
    rendered_at: RwSignal<Option<DateTime<Utc>>>,
}

/// Call once near the root: starts in UTC at the server's render time,
/// switches to local time and the browser's clock after mount.
pub fn provide_zone() {
    let zone = RwSignal::new(Zone::Utc);
    let rendered_at = RwSignal::new(Some(leptos::server::SharedValue::new(Utc::now).into_inner()));
    Effect::new(move |_| {
        zone.set(Zone::Local);
        rendered_at.set(None);
    });
    provide_context(ZoneContext { zone, rendered_at });
}

pub fn use_zone() -> Signal<Zone> {
    let context = use_context::<ZoneContext>();
    Signal::derive(move || context.map_or(Zone::Utc, |c| c.zone.get()))
}

/// "Now", for what a page shows of it: the server's render time until the
/// page is mounted, then the browser's clock, read whenever what depends on
/// it renders again (it is not a ticking clock: a page left open past
/// midnight shows the new day when it next re-renders).
pub fn use_now() -> Signal<DateTime<Utc>> {
    let context = use_context::<ZoneContext>();
    Signal::derive(move || context.and_then(|c| c.rendered_at.get()).unwrap_or_else(Utc::now))
}

/// `Mon 7 Jan, 14:05`, in the viewer's zone.
#[component]
pub fn Time(at: DateTime<Utc>, #[prop(default = "%a %-d %b, %H:%M")] format: &'static str) -> impl IntoView {
    let zone = use_zone();
    let text = move || {
        let zone = zone.get();
        format!("{}{}", zone.naive(at).format(format), zone.suffix())
    };
    view! { <time datetime=at.to_rfc3339()>{text}</time> }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_wall_clock_round_trips() {
        let at = Utc::now();
        let wall = Zone::Utc.naive(at);
        assert_eq!(Zone::Utc.to_utc(wall), Some(at));
    }
}
