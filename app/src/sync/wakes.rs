//! What a browser heard of its group's log moving: the wake answers (from
//! its own event stream or long-poll, or relayed by the tab holding the
//! stream), each saying the log went from `from` to `head` changing
//! `tables`. A keep-alive is the move `(at, at]` with no table: it tells
//! a tab where the stream is, so a tab behind it catches up at once.
//! `past(after)` says how far the log went past a position and which
//! tables to catch up for that; a gap in what was heard means all of them.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, VecDeque};

/// The log moved from `from` to `head`, changing `tables` (`None`: not
/// known, catch all up).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Wake {
    pub from: i64,
    pub head: i64,
    pub tables: Option<BTreeSet<String>>,
}

/// How many moves are remembered (a keep-alive every 15 s: minutes of them).
const KEPT: usize = 64;

#[derive(Default)]
pub struct Wakes {
    heard: VecDeque<Wake>,
    /// A move with tables not known was heard (the member's access may have
    /// ended, or the tab was past the log): every table is caught up once,
    /// wherever the tab is.
    everything: Option<i64>,
}

impl Wakes {
    pub fn hear(&mut self, wake: Wake) {
        if wake.tables.is_none() {
            self.everything = Some(wake.head);
        }
        if self.heard.len() == KEPT {
            self.heard.pop_front();
        }
        self.heard.push_back(wake);
    }

    /// How far the log went past `after` and the tables changed in between
    /// (`None`: not known); `None` if nothing heard went past `after`. A
    /// move with tables not known is answered once (with its head) even
    /// if it is not past `after`.
    pub fn past(&mut self, after: i64) -> Option<(i64, Option<BTreeSet<String>>)> {
        if let Some(head) = self.everything.take() {
            return Some((head, None));
        }
        let mut moved: Vec<&Wake> = self.heard.iter().filter(|w| w.head > after).collect();
        if moved.is_empty() {
            return None;
        }
        moved.sort_by_key(|w| w.from);
        let mut reach = after;
        let mut tables = Some(BTreeSet::new());
        for wake in moved {
            match (&mut tables, &wake.tables) {
                (Some(all), Some(these)) if wake.from <= reach => all.extend(these.iter().cloned()),
                _ => tables = None,
            }
            reach = reach.max(wake.head);
        }
        Some((reach, tables))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wake(from: i64, head: i64, tables: Option<&[&str]>) -> Wake {
        Wake { from, head, tables: tables.map(|t| t.iter().map(|s| (*s).to_owned()).collect()) }
    }

    fn names(tables: &[&str]) -> Option<BTreeSet<String>> {
        Some(tables.iter().map(|s| (*s).to_owned()).collect())
    }

    #[test]
    fn moves_past_a_position_add_up_their_tables() {
        let mut wakes = Wakes::default();
        assert_eq!(wakes.past(5), None);
        wakes.hear(wake(5, 5, Some(&[])));
        assert_eq!(wakes.past(5), None, "a keep-alive where the tab is says nothing new");
        wakes.hear(wake(5, 7, Some(&["announcements"])));
        wakes.hear(wake(7, 9, Some(&["bookings"])));
        assert_eq!(wakes.past(5), Some((9, names(&["announcements", "bookings"]))));
        assert_eq!(wakes.past(6), Some((9, names(&["announcements", "bookings"]))), "a move covering the position");
        assert_eq!(wakes.past(7), Some((9, names(&["bookings"]))));
        assert_eq!(wakes.past(9), None);
    }

    #[test]
    fn a_gap_or_an_unknown_move_means_every_table() {
        let mut wakes = Wakes::default();
        wakes.hear(wake(8, 9, Some(&["bookings"])));
        assert_eq!(wakes.past(5), Some((9, None)), "(5, 8] was not heard");
        wakes.hear(wake(9, 12, None));
        assert_eq!(wakes.past(8), Some((12, None)));
        let mut wakes = Wakes::default();
        wakes.hear(wake(12, 12, Some(&[])));
        assert_eq!(wakes.past(10), Some((12, None)), "a stream ahead of the tab");
    }

    #[test]
    fn an_unknown_move_means_every_table_once_wherever_the_tab_is() {
        let mut wakes = Wakes::default();
        wakes.hear(wake(42, 42, None));
        assert_eq!(wakes.past(999_999), Some((42, None)), "a tab past the log goes back to its head");
        assert_eq!(wakes.past(42), None, "once");
        wakes.hear(wake(42, 42, None));
        assert_eq!(wakes.past(42), Some((42, None)), "access may have ended: check every table");
        assert_eq!(wakes.past(42), None);
    }

    #[test]
    fn only_the_latest_moves_are_kept() {
        let mut wakes = Wakes::default();
        for at in 0..200 {
            wakes.hear(wake(at, at + 1, Some(&["members"])));
        }
        assert_eq!(wakes.heard.len(), KEPT);
        assert_eq!(wakes.past(199), Some((200, names(&["members"]))));
        assert_eq!(wakes.past(0), Some((200, None)), "the start was forgotten");
    }
}
