//! What each screen of a group shows: one view each, read by one query per
//! table on the server (`backend::views`), never the whole group. A view
//! carries the display names of the people it mentions.

use super::{
    Announcement, Ballot, Booking, FileInfo, GroupSummary, MaintenanceRequest, MemberInfo, Poll, PollOption,
    RequestComment, RequestStatus, Resource,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use uuid::Uuid;

/// Most rows one view reads (a "Show more" asks for more, up to this).
pub const MAX_VIEW_ROWS: usize = 1000;
/// Most photos a request's page shows (of the request and its comments).
pub const MAX_PHOTOS: usize = 100;
/// Most rooms the bookings page shows.
pub const MAX_ROOMS: usize = 100;
/// Most bookings one span reads (a week of a hundred rooms booked by the
/// hour is 16 800).
pub const MAX_BOOKINGS: usize = 20_000;
/// The most a summary counts (more shows as "1000+").
pub const COUNT_CAP: u64 = 1000;
/// How many of each the home page lists.
pub const RECENT: usize = 5;
/// How many members the home page names.
pub const MEMBERS_NAMED: usize = 24;

/// Display names of the members a view mentions (authors, bookers).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Names(pub BTreeMap<Uuid, String>);

impl Names {
    /// A member's name; people who left keep their posts.
    pub fn of(&self, id: Uuid) -> String {
        self.0.get(&id).cloned().unwrap_or_else(|| "a former member".to_owned())
    }
}

/// What every page of a group shows: the group, who is looking, and their
/// own directory entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupHeader {
    pub group: GroupSummary,
    pub me: Uuid,
    pub profile: Option<MemberInfo>,
}

/// The notice board's first rows: pinned first, then newest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Board {
    pub notices: Vec<Announcement>,
    /// More notices follow.
    pub more: bool,
    pub names: Names,
}

/// A request as lists show it (no description: a list page carries what
/// it shows).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct RequestItem {
    pub id: Uuid,
    pub author_id: Uuid,
    pub title: String,
    pub status: RequestStatus,
    pub created_at: DateTime<Utc>,
}

impl From<&MaintenanceRequest> for RequestItem {
    fn from(r: &MaintenanceRequest) -> Self {
        Self { id: r.id, author_id: r.author_id, title: r.title.clone(), status: r.status, created_at: r.created_at }
    }
}

/// The requests of one status, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestList {
    pub requests: Vec<RequestItem>,
    pub more: bool,
    pub names: Names,
}

/// One request and its first comments, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestThread {
    pub request: MaintenanceRequest,
    pub comments: Vec<RequestComment>,
    pub more: bool,
    /// The photos of the request and of its comments, oldest first (at
    /// most `MAX_PHOTOS`).
    pub files: Vec<FileInfo>,
    pub names: Names,
}

/// The documents library, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Library {
    pub documents: Vec<FileInfo>,
    pub more: bool,
    pub names: Names,
}

/// The rooms by name, and their bookings that overlap a time span (a week)
/// in time order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomsWeek {
    pub rooms: Vec<Resource>,
    pub bookings: Vec<Booking>,
    pub names: Names,
}

/// The directory's first rows, by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Directory {
    pub members: Vec<MemberInfo>,
    pub more: bool,
}

/// The group's home: the latest few of each, and counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// The board's first `RECENT` notices.
    pub notices: Vec<Announcement>,
    /// The newest `RECENT` requests not yet resolved, and how many there are
    /// (counted up to `COUNT_CAP`: a count costs the rows it counts).
    pub open_requests: Vec<RequestItem>,
    pub open_count: u64,
    /// Bookings of any room overlapping the day asked for, in time order.
    pub today: Vec<Booking>,
    /// Room names (of the bookings above).
    pub rooms: Names,
    /// The first `MEMBERS_NAMED` members by name, and how many there are.
    pub members: Vec<MemberInfo>,
    pub member_count: u64,
    pub names: Names,
}

/// The group's polls, newest first, each with its options and the viewer's
/// own ballot (the only ballot a member sees).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PollList {
    pub polls: Vec<PollCard>,
    /// More polls follow.
    pub more: bool,
    pub names: Names,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PollCard {
    pub poll: Poll,
    /// In the order the poll offers them.
    pub options: Vec<PollOption>,
    pub ballot: Option<Ballot>,
}

/// Who chose each option of a named poll (by option id), once its results show.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PollVoters(pub BTreeMap<Uuid, Vec<String>>);

/// What is new to the viewer since they last looked, from this browser's
/// copy (`GroupData::news`): notices by others, and requests they follow
/// (opened or commented on), changed after their read mark (or, without
/// one, after they joined). Each with the change to mark as seen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct News {
    pub notices: BTreeMap<Uuid, DateTime<Utc>>,
    pub requests: BTreeMap<Uuid, DateTime<Utc>>,
}

impl News {
    pub fn count(&self) -> usize {
        self.notices.len() + self.requests.len()
    }
}
