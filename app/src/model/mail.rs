//! Email from a group: the kinds a member may turn on or off, their
//! choices, and what an unsubscribe link stops.

use serde::{Deserialize, Serialize};

/// A kind of mail a group sends its members.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MailKind {
    /// Pinned notices at once, the others in a daily digest.
    Notices,
    /// Status changes and comments on requests one opened or commented on.
    Requests,
    /// A reminder before each of one's bookings.
    Bookings,
}

impl MailKind {
    pub const ALL: [MailKind; 3] = [MailKind::Notices, MailKind::Requests, MailKind::Bookings];

    /// As stored (`unsubscribe_links.kind`, the `mail_preferences` column).
    pub fn as_str(self) -> &'static str {
        match self {
            MailKind::Notices => "notices",
            MailKind::Requests => "requests",
            MailKind::Bookings => "bookings",
        }
    }

    pub fn parse(text: &str) -> Option<MailKind> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }

    /// What the mail is, for a sentence ("email about …").
    pub fn describe(self) -> &'static str {
        match self {
            MailKind::Notices => "new notices (pinned ones at once, the others in a digest)",
            MailKind::Requests => "news on requests you opened or commented on",
            MailKind::Bookings => "reminders of your bookings",
        }
    }
}

/// A member's choices of mail from one group (all on until they change them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct MailChoices {
    pub notices: bool,
    pub requests: bool,
    pub bookings: bool,
}

impl Default for MailChoices {
    fn default() -> Self {
        Self { notices: true, requests: true, bookings: true }
    }
}

impl MailChoices {
    pub fn wants(self, kind: MailKind) -> bool {
        match kind {
            MailKind::Notices => self.notices,
            MailKind::Requests => self.requests,
            MailKind::Bookings => self.bookings,
        }
    }
}

/// What an unsubscribe link stops, as its page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unsubscribe {
    pub group_name: String,
    pub group_slug: String,
    pub kind: MailKind,
    /// Whether that mail is still on.
    pub on: bool,
}
