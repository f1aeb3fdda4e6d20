//! Shape offsets: where a client is in a shape's stream, in Electric's
//! `<number>_<number>` form.
//!
//! - `-1`: from the start (a snapshot comes first).
//! - `now`: skip the snapshot, start at the log's head.
//! - `P_0`: everything up to log position `P` has been delivered.
//! - `S_K` (K ≥ 1): mid-snapshot. The snapshot shows the tables as of log
//!   position `S`, and rows up to primary key `K - 1` (a uuid as a 128-bit
//!   number) have been delivered.

use std::fmt;
use uuid::Uuid;

/// 2^128: the key part after the largest uuid (one past `u128::MAX`).
const PAST_LAST_KEY: &str = "340282366920938463463374607431768211456";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offset {
    Start,
    Now,
    Snapshot { at: i64, after: Uuid },
    Log(i64),
}

impl Offset {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "-1" => return Some(Self::Start),
            "now" => return Some(Self::Now),
            _ => {}
        }
        let (position, key) = text.split_once('_')?;
        let position = digits(position)?.parse::<i64>().ok()?;
        let key = digits(key)?;
        if key == PAST_LAST_KEY {
            return Some(Self::Snapshot { at: position, after: Uuid::max() });
        }
        match key.parse::<u128>().ok()? {
            0 => Some(Self::Log(position)),
            k => Some(Self::Snapshot { at: position, after: Uuid::from_u128(k - 1) }),
        }
    }

    /// The log position this offset has reached (for a snapshot, its own).
    pub fn position(self) -> Option<i64> {
        match self {
            Self::Start | Self::Now => None,
            Self::Snapshot { at, .. } => Some(at),
            Self::Log(position) => Some(position),
        }
    }
}

/// `text` if it is a plain decimal number (no sign, no leading zeros).
fn digits(text: &str) -> Option<&str> {
    let plain = !text.is_empty() && text.len() <= 39 && text.bytes().all(|b| b.is_ascii_digit());
    (plain && (text == "0" || !text.starts_with('0'))).then_some(text)
}

impl fmt::Display for Offset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Start => f.write_str("-1"),
            Self::Now => f.write_str("now"),
            Self::Snapshot { at, after } => match after.as_u128().checked_add(1) {
                Some(key) => write!(f, "{at}_{key}"),
                None => write!(f, "{at}_{PAST_LAST_KEY}"),
            },
            Self::Log(position) => write!(f, "{position}_0"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_round_trip_through_their_text() {
        let cases = [
            Offset::Start,
            Offset::Now,
            Offset::Log(0),
            Offset::Log(i64::MAX),
            Offset::Snapshot { at: 7, after: Uuid::nil() },
            Offset::Snapshot { at: 7, after: Uuid::max() },
            Offset::Snapshot { at: 0, after: Uuid::new_v4() },
        ];
        for offset in cases {
            assert_eq!(Offset::parse(&offset.to_string()), Some(offset), "{offset}");
        }
    }

    #[test]
    fn malformed_offsets_are_refused() {
        for text in
            ["", "0", "-2", "_", "1_", "_1", "01_0", "1_00", "+1_0", "1_0_0", "a_0", "1_-1", "9223372036854775808_0"]
        {
            assert_eq!(Offset::parse(text), None, "{text:?}");
        }
        // One past the largest uuid.
        assert_eq!(
            Offset::parse(&format!("1_{}", u128::MAX)),
            Offset::Snapshot { at: 1, after: Uuid::from_u128(u128::MAX - 1) }.into()
        );
        assert_eq!(Offset::parse("1_340282366920938463463374607431768211457"), None);
    }

    #[test]
    fn server_sent_event_resume_points_are_log_offsets() {
        assert_eq!(Offset::parse("42_0"), Some(Offset::Log(42)));
    }
}
