//! The rows of a group's synced tables: each table declared once, here
//! (see `registry`). Field names are the column names; the field order is
//! the table's column order.

use super::{
    registry::{synced_tables, ColumnKind, ColumnType},
    Role,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestStatus {
    Open,
    InProgress,
    Resolved,
}

impl RequestStatus {
    pub const ALL: [RequestStatus; 3] = [Self::Open, Self::InProgress, Self::Resolved];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::InProgress => "in_progress",
            Self::Resolved => "resolved",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Open => "Open",
            Self::InProgress => "In progress",
            Self::Resolved => "Resolved",
        }
    }
}

impl ColumnKind for RequestStatus {
    const TYPE: ColumnType = ColumnType::Text;
}

impl ColumnKind for Role {
    const TYPE: ColumnType = ColumnType::Text;
}

synced_tables! {
    /// A member of the group, as its directory shows them (table `members`).
    pub struct MemberInfo in "members" key user_id owner user_id {
        pub user_id: Uuid,
        pub display_name: String,
        pub unit: Option<String>,
        pub role: Role,
        pub joined_at: DateTime<Utc>,
    }

    /// A notice on the board.
    pub struct Announcement in "announcements" key id owner author_id {
        pub id: Uuid,
        pub author_id: Uuid,
        pub title: String,
        pub body: String,
        pub pinned: bool,
        pub created_at: DateTime<Utc>,
        pub updated_at: DateTime<Utc>,
    }

    /// A maintenance request.
    pub struct MaintenanceRequest in "requests" key id owner author_id {
        pub id: Uuid,
        pub author_id: Uuid,
        pub title: String,
        pub description: String,
        pub status: RequestStatus,
        pub created_at: DateTime<Utc>,
        pub updated_at: DateTime<Utc>,
    }

    /// A comment on a maintenance request.
    pub struct RequestComment in "request_comments" key id owner author_id {
        pub id: Uuid,
        pub request_id: Uuid,
        pub author_id: Uuid,
        pub body: String,
        pub created_at: DateTime<Utc>,
    }

    /// A shared room or thing residents book (laundry, guest room, garden).
    pub struct Resource in "resources" key id {
        pub id: Uuid,
        pub name: String,
        pub created_at: DateTime<Utc>,
    }

    /// A booking of a resource.
    pub struct Booking in "bookings" key id owner member_id {
        pub id: Uuid,
        pub resource_id: Uuid,
        pub member_id: Uuid,
        pub starts_at: DateTime<Utc>,
        pub ends_at: DateTime<Utc>,
        pub created_at: DateTime<Utc>,
    }

    /// A question put to the group.
    pub struct Poll in "polls" key id owner author_id {
        pub id: Uuid,
        pub author_id: Uuid,
        pub question: String,
        /// Several options may be chosen (else exactly one).
        pub multiple: bool,
        /// Who voted for what is never shown (else it is, with the results).
        pub anonymous: bool,
        /// The counts show while the poll is open (else once it closes).
        pub live_results: bool,
        pub closes_at: DateTime<Utc>,
        pub created_at: DateTime<Utc>,
    }

    /// One answer a poll offers.
    pub struct PollOption in "poll_options" key id {
        pub id: Uuid,
        pub poll_id: Uuid,
        pub position: i32,
        pub label: String,
        /// Ballots choosing it, once the results show (null before).
        pub votes: Option<i32>,
    }

    /// A member's vote in a poll: one per member and poll (a unique
    /// constraint), seen only by that member (`scope`). Its key is
    /// `Ballot::key_of(poll, member)`, so every device names it alike.
    pub struct Ballot in "ballots" key id owner member_id scope member_id {
        pub id: Uuid,
        pub poll_id: Uuid,
        pub member_id: Uuid,
        /// The chosen options' ids, as a JSON array.
        pub choices: String,
        pub cast_at: DateTime<Utc>,
    }

    /// A file: a photo on a request (and perhaps one of its comments), or a
    /// document in the group's library (no request). The bytes are fetched
    /// apart (`GET /api/groups/{slug}/files/{id}`); `sha256` is that of the
    /// bytes its uploader sent, `content_type` and `size` what the server
    /// stored (images re-encoded without their metadata).
    pub struct FileInfo in "files" key id owner uploader_id {
        pub id: Uuid,
        pub uploader_id: Uuid,
        pub request_id: Option<Uuid>,
        pub comment_id: Option<Uuid>,
        pub name: String,
        pub content_type: String,
        pub size: i32,
        pub sha256: String,
        /// A thumbnail is stored (`?thumb=true`).
        pub thumb: bool,
        pub created_at: DateTime<Utc>,
    }

    /// How far a member has seen a notice or a request (the subject's last
    /// change they saw), seen only by that member (`scope`). Its key is
    /// `ReadMark::key_of(subject, member)`, so every device names it alike.
    pub struct ReadMark in "read_marks" key id owner member_id scope member_id {
        pub id: Uuid,
        pub member_id: Uuid,
        pub subject_id: Uuid,
        pub seen_at: DateTime<Utc>,
    }
}

/// The key of a member's own row about `subject` (their ballot in a poll,
/// their read mark on a notice): the same on every device.
fn member_key(subject: Uuid, member: Uuid) -> Uuid {
    Uuid::new_v5(&subject, member.as_bytes())
}

impl ReadMark {
    /// The key of `member`'s mark on `subject`.
    pub fn key_of(subject: Uuid, member: Uuid) -> Uuid {
        member_key(subject, member)
    }
}

impl Ballot {
    /// The key of `member`'s ballot in `poll`.
    pub fn key_of(poll: Uuid, member: Uuid) -> Uuid {
        member_key(poll, member)
    }

    /// The chosen options (none if `choices` does not read).
    pub fn chosen(&self) -> Vec<Uuid> {
        serde_json::from_str(&self.choices).unwrap_or_default()
    }
}

impl FileInfo {
    /// Shown as a picture (else offered as a download).
    pub fn is_image(&self) -> bool {
        self.content_type.starts_with("image/")
    }
}

impl Poll {
    pub fn is_open(&self, now: DateTime<Utc>) -> bool {
        now < self.closes_at
    }
}
