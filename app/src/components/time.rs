//! Times shown in the viewer's time zone. The server does not know it, so
//! pages render in UTC first and switch to local time once the WASM runs
//! (a reactive update after hydration, not a hydration mismatch).

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
struct ZoneContext(RwSignal<Zone>);

/// Call once near the root: starts in UTC, switches to local after mount.
pub fn provide_zone() {
    let zone = RwSignal::new(Zone::Utc);
    Effect::new(move |_| zone.set(Zone::Local));
    provide_context(ZoneContext(zone));
}

pub fn use_zone() -> Signal<Zone> {
    let zone = use_context::<ZoneContext>().map(|z| z.0);
    Signal::derive(move || zone.map_or(Zone::Utc, |z| z.get()))
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
