//! The group as this browser holds it (its synced rows with queued writes
//! laid over them), kept with one index per view so that each screen's
//! view (`model::views`, the same views the server reads by SQL, in the
//! same order) costs the rows it shows, and a change costs its own rows:
//! `put` and `remove` keep the indexes current, nothing is re-sorted.

use super::{
    registry::AnyRow,
    views::{
        Board, Directory, Library, Names, News, PollCard, PollList, RequestItem, RequestList, RequestThread, RoomsWeek,
        Summary, COUNT_CAP, MAX_BOOKINGS, MAX_PHOTOS, MAX_ROOMS, MAX_VIEW_ROWS, MEMBERS_NAMED, RECENT,
    },
    Announcement, Ballot, Booking, FileInfo, MaintenanceRequest, MemberInfo, Poll, PollOption, ReadMark,
    RequestComment, RequestStatus, Resource,
};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::{
    cmp::Reverse,
    collections::{BTreeMap, BTreeSet},
};
use uuid::Uuid;

/// Rows a long list shows at first, and adds per "Show more".
pub const PAGE: usize = 50;

type Newest = Reverse<DateTime<Utc>>;

/// Each synced table's rows by key, and the indexes the views read.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct GroupData {
    members: BTreeMap<Uuid, MemberInfo>,
    announcements: BTreeMap<Uuid, Announcement>,
    requests: BTreeMap<Uuid, MaintenanceRequest>,
    request_comments: BTreeMap<Uuid, RequestComment>,
    resources: BTreeMap<Uuid, Resource>,
    bookings: BTreeMap<Uuid, Booking>,
    polls: BTreeMap<Uuid, Poll>,
    poll_options: BTreeMap<Uuid, PollOption>,
    ballots: BTreeMap<Uuid, Ballot>,
    read_marks: BTreeMap<Uuid, ReadMark>,
    files: BTreeMap<Uuid, FileInfo>,
    #[serde(skip)]
    index: Indexes,
}

/// One ordered set per view, in the order of the server's index for it
/// (tenant migration 0005).
#[derive(Debug, Clone, Default, PartialEq)]
struct Indexes {
    /// Members by `lower(display_name COLLATE "C"), user_id` (ASCII
    /// letters folded, then bytes: the same order whatever the locale).
    members_by_name: BTreeSet<(String, Uuid)>,
    /// Notices by `pinned DESC, created_at DESC, id`.
    board: BTreeSet<(Reverse<bool>, Newest, Uuid)>,
    /// Requests by `status, created_at DESC, id`, and how many of each status.
    requests_by_status: BTreeSet<(RequestStatus, Newest, Uuid)>,
    status_counts: BTreeMap<RequestStatus, u64>,
    /// Comments by `request_id, created_at, id`.
    threads: BTreeSet<(Uuid, DateTime<Utc>, Uuid)>,
    /// Rooms by `lower(name COLLATE "C"), id`.
    rooms_by_name: BTreeSet<(String, Uuid)>,
    /// Bookings by `resource_id, starts_at, id`, and the longest booking
    /// ever held (how far before a span a booking overlapping it can start).
    by_room: BTreeSet<(Uuid, DateTime<Utc>, Uuid)>,
    longest: chrono::TimeDelta,
    /// Polls by `created_at DESC, id`.
    polls_newest: BTreeSet<(Newest, Uuid)>,
    /// Options by `poll_id, position, id`.
    options_by_poll: BTreeSet<(Uuid, i32, Uuid)>,
    /// Ballots (the viewer's own) by `poll_id, id`.
    ballots_by_poll: BTreeSet<(Uuid, Uuid)>,
    /// How far the viewer has seen each subject (their own marks only).
    seen: BTreeMap<Uuid, DateTime<Utc>>,
    /// A request's files by `request_id, created_at, id`; the library's
    /// (no request) by `created_at DESC, id`.
    files_by_request: BTreeSet<(Uuid, DateTime<Utc>, Uuid)>,
    library: BTreeSet<(Newest, Uuid)>,
}

/// At most `limit` (as the server's views cap it) of `rows`, and whether more follow.
fn first<T>(rows: impl Iterator<Item = T>, limit: usize) -> (Vec<T>, bool) {
    let limit = limit.clamp(1, MAX_VIEW_ROWS);
    let mut rows = rows.peekable();
    let taken: Vec<T> = rows.by_ref().take(limit).collect();
    let more = rows.peek().is_some();
    (taken, more)
}

impl GroupData {
    /// Takes in one row (new, or the new version of a held one).
    pub fn put(&mut self, row: AnyRow) {
        let ix = &mut self.index;
        match row {
            AnyRow::MemberInfo(m) => {
                ix.members_by_name.insert((m.display_name.to_ascii_lowercase(), m.user_id));
                if let Some(old) = self.members.insert(m.user_id, m) {
                    Self::unindex_member(ix, &old, &self.members);
                }
            }
            AnyRow::Announcement(a) => {
                ix.board.insert((Reverse(a.pinned), Reverse(a.created_at), a.id));
                if let Some(old) = self.announcements.insert(a.id, a) {
                    Self::unindex_notice(ix, &old, &self.announcements);
                }
            }
            AnyRow::MaintenanceRequest(r) => {
                if ix.requests_by_status.insert((r.status, Reverse(r.created_at), r.id)) {
                    *ix.status_counts.entry(r.status).or_default() += 1;
                }
                if let Some(old) = self.requests.insert(r.id, r) {
                    Self::unindex_request(ix, &old, &self.requests);
                }
            }
            AnyRow::RequestComment(c) => {
                ix.threads.insert((c.request_id, c.created_at, c.id));
                if let Some(old) = self.request_comments.insert(c.id, c) {
                    Self::unindex_comment(ix, &old, &self.request_comments);
                }
            }
            AnyRow::Resource(r) => {
                ix.rooms_by_name.insert((r.name.to_ascii_lowercase(), r.id));
                if let Some(old) = self.resources.insert(r.id, r) {
                    Self::unindex_room(ix, &old, &self.resources);
                }
            }
            AnyRow::Booking(b) => {
                ix.by_room.insert((b.resource_id, b.starts_at, b.id));
                ix.longest = ix.longest.max(b.ends_at - b.starts_at);
                if let Some(old) = self.bookings.insert(b.id, b) {
                    Self::unindex_booking(ix, &old, &self.bookings);
                }
            }
            AnyRow::Poll(p) => {
                ix.polls_newest.insert((Reverse(p.created_at), p.id));
                if let Some(old) = self.polls.insert(p.id, p) {
                    Self::unindex_poll(ix, &old, &self.polls);
                }
            }
            AnyRow::PollOption(o) => {
                ix.options_by_poll.insert((o.poll_id, o.position, o.id));
                if let Some(old) = self.poll_options.insert(o.id, o) {
                    Self::unindex_option(ix, &old, &self.poll_options);
                }
            }
            AnyRow::Ballot(b) => {
                ix.ballots_by_poll.insert((b.poll_id, b.id));
                if let Some(old) = self.ballots.insert(b.id, b) {
                    Self::unindex_ballot(ix, &old, &self.ballots);
                }
            }
            AnyRow::FileInfo(f) => {
                match f.request_id {
                    Some(request) => ix.files_by_request.insert((request, f.created_at, f.id)),
                    None => ix.library.insert((Reverse(f.created_at), f.id)),
                };
                if let Some(old) = self.files.insert(f.id, f) {
                    Self::unindex_file(ix, &old, &self.files);
                }
            }
            AnyRow::ReadMark(m) => {
                ix.seen.insert(m.subject_id, m.seen_at);
                if let Some(old) = self.read_marks.insert(m.id, m) {
                    Self::unindex_mark(ix, &old, &self.read_marks);
                }
            }
        }
    }

    /// Lets go of one row of `table` (if held).
    pub fn remove(&mut self, table: &str, key: Uuid) {
        let ix = &mut self.index;
        match table {
            "members" => {
                if let Some(old) = self.members.remove(&key) {
                    Self::unindex_member(ix, &old, &self.members);
                }
            }
            "announcements" => {
                if let Some(old) = self.announcements.remove(&key) {
                    Self::unindex_notice(ix, &old, &self.announcements);
                }
            }
            "requests" => {
                if let Some(old) = self.requests.remove(&key) {
                    Self::unindex_request(ix, &old, &self.requests);
                }
            }
            "request_comments" => {
                if let Some(old) = self.request_comments.remove(&key) {
                    Self::unindex_comment(ix, &old, &self.request_comments);
                }
            }
            "resources" => {
                if let Some(old) = self.resources.remove(&key) {
                    Self::unindex_room(ix, &old, &self.resources);
                }
            }
            "bookings" => {
                if let Some(old) = self.bookings.remove(&key) {
                    Self::unindex_booking(ix, &old, &self.bookings);
                }
            }
            "polls" => {
                if let Some(old) = self.polls.remove(&key) {
                    Self::unindex_poll(ix, &old, &self.polls);
                }
            }
            "poll_options" => {
                if let Some(old) = self.poll_options.remove(&key) {
                    Self::unindex_option(ix, &old, &self.poll_options);
                }
            }
            "ballots" => {
                if let Some(old) = self.ballots.remove(&key) {
                    Self::unindex_ballot(ix, &old, &self.ballots);
                }
            }
            "read_marks" => {
                if let Some(old) = self.read_marks.remove(&key) {
                    Self::unindex_mark(ix, &old, &self.read_marks);
                }
            }
            "files" => {
                if let Some(old) = self.files.remove(&key) {
                    Self::unindex_file(ix, &old, &self.files);
                }
            }
            _ => {}
        }
    }

    // Each `unindex_*` drops an old version's index entry unless the row
    // now held (its new version) has the same entry.

    fn unindex_member(ix: &mut Indexes, old: &MemberInfo, held: &BTreeMap<Uuid, MemberInfo>) {
        let entry = (old.display_name.to_ascii_lowercase(), old.user_id);
        if held.get(&old.user_id).is_none_or(|m| m.display_name.to_ascii_lowercase() != entry.0) {
            ix.members_by_name.remove(&entry);
        }
    }

    fn unindex_notice(ix: &mut Indexes, old: &Announcement, held: &BTreeMap<Uuid, Announcement>) {
        if held.get(&old.id).is_none_or(|a| (a.pinned, a.created_at) != (old.pinned, old.created_at)) {
            ix.board.remove(&(Reverse(old.pinned), Reverse(old.created_at), old.id));
        }
    }

    fn unindex_request(ix: &mut Indexes, old: &MaintenanceRequest, held: &BTreeMap<Uuid, MaintenanceRequest>) {
        if held.get(&old.id).is_none_or(|r| (r.status, r.created_at) != (old.status, old.created_at))
            && ix.requests_by_status.remove(&(old.status, Reverse(old.created_at), old.id))
        {
            if let Some(count) = ix.status_counts.get_mut(&old.status) {
                *count -= 1;
            }
        }
    }

    fn unindex_comment(ix: &mut Indexes, old: &RequestComment, held: &BTreeMap<Uuid, RequestComment>) {
        if held.get(&old.id).is_none_or(|c| (c.request_id, c.created_at) != (old.request_id, old.created_at)) {
            ix.threads.remove(&(old.request_id, old.created_at, old.id));
        }
    }

    fn unindex_room(ix: &mut Indexes, old: &Resource, held: &BTreeMap<Uuid, Resource>) {
        let entry = (old.name.to_ascii_lowercase(), old.id);
        if held.get(&old.id).is_none_or(|r| r.name.to_ascii_lowercase() != entry.0) {
            ix.rooms_by_name.remove(&entry);
        }
    }

    fn unindex_booking(ix: &mut Indexes, old: &Booking, held: &BTreeMap<Uuid, Booking>) {
        if held.get(&old.id).is_none_or(|b| (b.resource_id, b.starts_at) != (old.resource_id, old.starts_at)) {
            ix.by_room.remove(&(old.resource_id, old.starts_at, old.id));
        }
    }

    fn unindex_poll(ix: &mut Indexes, old: &Poll, held: &BTreeMap<Uuid, Poll>) {
        if held.get(&old.id).is_none_or(|p| p.created_at != old.created_at) {
            ix.polls_newest.remove(&(Reverse(old.created_at), old.id));
        }
    }

    fn unindex_option(ix: &mut Indexes, old: &PollOption, held: &BTreeMap<Uuid, PollOption>) {
        if held.get(&old.id).is_none_or(|o| (o.poll_id, o.position) != (old.poll_id, old.position)) {
            ix.options_by_poll.remove(&(old.poll_id, old.position, old.id));
        }
    }

    fn unindex_ballot(ix: &mut Indexes, old: &Ballot, held: &BTreeMap<Uuid, Ballot>) {
        if held.get(&old.id).is_none_or(|b| b.poll_id != old.poll_id) {
            ix.ballots_by_poll.remove(&(old.poll_id, old.id));
        }
    }

    fn unindex_mark(ix: &mut Indexes, old: &ReadMark, held: &BTreeMap<Uuid, ReadMark>) {
        if held.get(&old.id).is_none_or(|m| m.subject_id != old.subject_id) {
            ix.seen.remove(&old.subject_id);
        }
    }

    fn unindex_file(ix: &mut Indexes, old: &FileInfo, held: &BTreeMap<Uuid, FileInfo>) {
        if held.get(&old.id).is_none_or(|f| (f.request_id, f.created_at) != (old.request_id, old.created_at)) {
            match old.request_id {
                Some(request) => ix.files_by_request.remove(&(request, old.created_at, old.id)),
                None => ix.library.remove(&(Reverse(old.created_at), old.id)),
            };
        }
    }

    /// How many rows are held, over all tables.
    pub fn len(&self) -> usize {
        self.members.len()
            + self.announcements.len()
            + self.requests.len()
            + self.request_comments.len()
            + self.resources.len()
            + self.bookings.len()
            + self.polls.len()
            + self.poll_options.len()
            + self.ballots.len()
            + self.read_marks.len()
            + self.files.len()
    }

    /// How far the viewer has seen `subject` (a notice, a request), if at all.
    pub fn seen(&self, subject: Uuid) -> Option<DateTime<Utc>> {
        self.index.seen.get(&subject).copied()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A member's directory entry.
    pub fn member(&self, id: Uuid) -> Option<&MemberInfo> {
        self.members.get(&id)
    }

    /// The names of `ids`.
    fn names(&self, ids: impl IntoIterator<Item = Uuid>) -> Names {
        Names(ids.into_iter().filter_map(|id| self.members.get(&id).map(|m| (id, m.display_name.clone()))).collect())
    }

    /// Notices in the board's order: pinned first, then newest.
    fn board(&self) -> impl Iterator<Item = &Announcement> {
        self.index.board.iter().filter_map(|(_, _, id)| self.announcements.get(id))
    }

    /// Requests of `status`, newest first.
    fn newest(&self, status: RequestStatus) -> impl Iterator<Item = &MaintenanceRequest> {
        let from = (status, Reverse(DateTime::<Utc>::MAX_UTC), Uuid::nil());
        let to = (status, Reverse(DateTime::<Utc>::MIN_UTC), Uuid::max());
        self.index.requests_by_status.range(from..=to).filter_map(|(_, _, id)| self.requests.get(id))
    }

    /// The rooms by name (at most `MAX_ROOMS`).
    fn rooms(&self) -> Vec<Resource> {
        self.index.rooms_by_name.iter().filter_map(|(_, id)| self.resources.get(id)).take(MAX_ROOMS).cloned().collect()
    }

    /// Bookings of `rooms` that overlap `[from, to)`, in time order.
    fn bookings_between(&self, rooms: &[Resource], from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Booking> {
        if to <= from {
            return Vec::new();
        }
        let earliest = from.checked_sub_signed(self.index.longest).unwrap_or(DateTime::<Utc>::MIN_UTC);
        let mut bookings: Vec<Booking> = rooms
            .iter()
            .flat_map(|room| {
                self.index
                    .by_room
                    .range((room.id, earliest, Uuid::nil())..(room.id, to, Uuid::nil()))
                    .filter_map(|(_, _, id)| self.bookings.get(id))
                    .filter(move |b| b.ends_at > from)
            })
            .cloned()
            .collect();
        bookings.sort_by(|a, b| a.starts_at.cmp(&b.starts_at).then(a.id.cmp(&b.id)));
        bookings.truncate(MAX_BOOKINGS);
        bookings
    }

    fn members_by_name(&self) -> impl Iterator<Item = &MemberInfo> {
        self.index.members_by_name.iter().filter_map(|(_, id)| self.members.get(id))
    }

    pub fn board_view(&self, limit: usize) -> Board {
        let (notices, more) = first(self.board().cloned(), limit);
        let names = self.names(notices.iter().map(|n| n.author_id));
        Board { notices, more, names }
    }

    pub fn requests_view(&self, status: RequestStatus, limit: usize) -> RequestList {
        let (requests, more) = first(self.newest(status).map(RequestItem::from), limit);
        let names = self.names(requests.iter().map(|r| r.author_id));
        RequestList { requests, more, names }
    }

    /// One request's thread; `None` if this copy has no such request.
    pub fn thread_view(&self, id: Uuid, limit: usize) -> Option<RequestThread> {
        let request = self.requests.get(&id)?.clone();
        let thread = self
            .index
            .threads
            .range((id, DateTime::<Utc>::MIN_UTC, Uuid::nil())..=(id, DateTime::<Utc>::MAX_UTC, Uuid::max()));
        let (comments, more) = first(thread.filter_map(|(_, _, c)| self.request_comments.get(c)).cloned(), limit);
        let files: Vec<FileInfo> = self
            .index
            .files_by_request
            .range((id, DateTime::<Utc>::MIN_UTC, Uuid::nil())..=(id, DateTime::<Utc>::MAX_UTC, Uuid::max()))
            .filter_map(|(_, _, f)| self.files.get(f))
            .take(MAX_PHOTOS)
            .cloned()
            .collect();
        let people = comments.iter().map(|c| c.author_id).chain(files.iter().map(|f| f.uploader_id));
        let names = self.names(people.chain([request.author_id]));
        Some(RequestThread { request, comments, more, files, names })
    }

    pub fn rooms_view(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> RoomsWeek {
        let rooms = self.rooms();
        let bookings = self.bookings_between(&rooms, from, to);
        let names = self.names(bookings.iter().map(|b| b.member_id));
        RoomsWeek { rooms, bookings, names }
    }

    pub fn polls_view(&self, limit: usize) -> PollList {
        let newest = self.index.polls_newest.iter().filter_map(|(_, id)| self.polls.get(id));
        let (polls, more) = first(newest.cloned(), limit);
        let names = self.names(polls.iter().map(|p| p.author_id));
        let polls = polls
            .into_iter()
            .map(|poll| {
                let id = poll.id;
                let options = self
                    .index
                    .options_by_poll
                    .range((id, i32::MIN, Uuid::nil())..=(id, i32::MAX, Uuid::max()))
                    .filter_map(|(_, _, o)| self.poll_options.get(o))
                    .cloned()
                    .collect();
                let ballot = self
                    .index
                    .ballots_by_poll
                    .range((id, Uuid::nil())..=(id, Uuid::max()))
                    .find_map(|(_, b)| self.ballots.get(b))
                    .cloned();
                PollCard { poll, options, ballot }
            })
            .collect();
        PollList { polls, more, names }
    }

    pub fn library_view(&self, limit: usize) -> Library {
        let (documents, more) =
            first(self.index.library.iter().filter_map(|(_, id)| self.files.get(id)).cloned(), limit);
        let names = self.names(documents.iter().map(|d| d.uploader_id));
        Library { documents, more, names }
    }

    pub fn directory_view(&self, limit: usize) -> Directory {
        let (members, more) = first(self.members_by_name().cloned(), limit);
        Directory { members, more }
    }

    /// What is new to `me` (see `News`), among the board's first `PAGE`
    /// notices and the newest `PAGE` requests of each status: a change
    /// further back is not looked for, so the cost stays a page's.
    pub fn news(&self, me: Uuid) -> News {
        let Some(joined) = self.members.get(&me).map(|m| m.joined_at) else { return News::default() };
        let unseen = |subject: Uuid, changed: DateTime<Utc>| changed > self.seen(subject).unwrap_or(joined);
        let notices = self
            .board()
            .take(PAGE)
            .filter(|n| n.author_id != me && unseen(n.id, n.updated_at))
            .map(|n| (n.id, n.updated_at))
            .collect();
        let follows = |r: &MaintenanceRequest| {
            r.author_id == me
                || self
                    .index
                    .threads
                    .range(
                        (r.id, DateTime::<Utc>::MIN_UTC, Uuid::nil())..=(r.id, DateTime::<Utc>::MAX_UTC, Uuid::max()),
                    )
                    .any(|(_, _, c)| self.request_comments.get(c).is_some_and(|c| c.author_id == me))
        };
        let requests = RequestStatus::ALL
            .into_iter()
            .flat_map(|status| self.newest(status).take(PAGE))
            .filter(|r| unseen(r.id, r.updated_at) && follows(r))
            .map(|r| (r.id, r.updated_at))
            .collect();
        News { notices, requests }
    }

    pub fn summary_view(&self, day_from: DateTime<Utc>, day_to: DateTime<Utc>) -> Summary {
        let notices: Vec<Announcement> = self.board().take(RECENT).cloned().collect();
        let mut open_requests: Vec<RequestItem> = [RequestStatus::Open, RequestStatus::InProgress]
            .into_iter()
            .flat_map(|status| self.newest(status).take(RECENT).map(RequestItem::from))
            .collect();
        open_requests.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.id.cmp(&b.id)));
        open_requests.truncate(RECENT);
        let count = |status| self.index.status_counts.get(&status).copied().unwrap_or(0);
        let rooms = self.rooms();
        let today = self.bookings_between(&rooms, day_from, day_to);
        let names = self.names(notices.iter().map(|n| n.author_id).chain(today.iter().map(|b| b.member_id)));
        Summary {
            notices,
            open_requests,
            open_count: (count(RequestStatus::Open) + count(RequestStatus::InProgress)).min(COUNT_CAP),
            today,
            rooms: Names(rooms.into_iter().map(|r| (r.id, r.name)).collect()),
            members: self.members_by_name().take(MEMBERS_NAMED).cloned().collect(),
            member_count: self.members.len() as u64,
            names,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    fn at(hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2030, 1, 7, hour, 0, 0).unwrap()
    }

    fn announcement(title: &str, pinned: bool, hour: u32) -> Announcement {
        Announcement {
            id: Uuid::new_v4(),
            author_id: Uuid::new_v4(),
            title: title.into(),
            body: String::new(),
            pinned,
            created_at: at(hour),
            updated_at: at(hour),
        }
    }

    fn holding(rows: impl IntoIterator<Item = AnyRow>) -> GroupData {
        let mut data = GroupData::default();
        for row in rows {
            data.put(row);
        }
        data
    }

    #[test]
    fn the_board_puts_pinned_first_then_newest_a_page_at_a_time() {
        let data = holding(
            [announcement("old", false, 1), announcement("pinned", true, 0), announcement("new", false, 5)]
                .map(AnyRow::Announcement),
        );
        let board = data.board_view(2);
        let titles: Vec<_> = board.notices.iter().map(|a| a.title.as_str()).collect();
        assert_eq!(titles, ["pinned", "new"]);
        assert!(board.more);
        assert!(!data.board_view(3).more);
        assert_eq!(board.names.of(Uuid::new_v4()), "a former member", "a departed author is named as such");
    }

    #[test]
    fn news_is_what_others_changed_after_the_viewers_mark_or_joining() {
        let me = Uuid::new_v4();
        let member = MemberInfo {
            user_id: me,
            display_name: "Me".into(),
            unit: None,
            role: crate::model::Role::Resident,
            joined_at: at(2),
        };
        let (before, after, mine) = (announcement("before", false, 1), announcement("after", false, 3), {
            let mut mine = announcement("mine", false, 4);
            mine.author_id = me;
            mine
        });
        let request = |author_id: Uuid, hour: u32| MaintenanceRequest {
            id: Uuid::new_v4(),
            author_id,
            title: "Tap".into(),
            description: String::new(),
            status: RequestStatus::Open,
            created_at: at(0),
            updated_at: at(hour),
        };
        let (opened, others, commented) = (request(me, 5), request(Uuid::new_v4(), 5), request(Uuid::new_v4(), 6));
        let comment = RequestComment {
            id: Uuid::new_v4(),
            request_id: commented.id,
            author_id: me,
            body: "Same here".into(),
            created_at: at(3),
        };
        let mut data = holding([
            AnyRow::MemberInfo(member),
            AnyRow::Announcement(before),
            AnyRow::Announcement(after.clone()),
            AnyRow::Announcement(mine),
            AnyRow::MaintenanceRequest(opened.clone()),
            AnyRow::MaintenanceRequest(others),
            AnyRow::MaintenanceRequest(commented.clone()),
            AnyRow::RequestComment(comment),
        ]);
        let news = data.news(me);
        assert_eq!(news.notices, BTreeMap::from([(after.id, at(3))]), "not before joining, not one's own");
        assert_eq!(news.requests, BTreeMap::from([(opened.id, at(5)), (commented.id, at(6))]), "the followed ones");
        let mark = |subject: Uuid, hour: u32| {
            AnyRow::ReadMark(ReadMark {
                id: ReadMark::key_of(subject, me),
                member_id: me,
                subject_id: subject,
                seen_at: at(hour),
            })
        };
        data.put(mark(after.id, 3));
        data.put(mark(opened.id, 4));
        let news = data.news(me);
        assert!(news.notices.is_empty());
        assert!(news.requests.contains_key(&opened.id), "changed after the mark");
        data.put(mark(opened.id, 5));
        assert!(!data.news(me).requests.contains_key(&opened.id), "seen up to its change");
        data.remove("read_marks", ReadMark::key_of(after.id, me));
        assert_eq!(data.news(me).notices.len(), 1, "a mark let go of: new again");
        assert_eq!(data.news(Uuid::new_v4()), News::default(), "no news for someone not in the directory");
    }

    #[test]
    fn a_week_keeps_the_overlapping_bookings_of_each_room() {
        let me = Uuid::new_v4();
        let room = |name: &str| Resource { id: Uuid::new_v4(), name: name.into(), created_at: at(0) };
        let (garden, laundry) = (room("garden"), room("Laundry"));
        let booking = |resource_id, from: u32, to: u32| {
            AnyRow::Booking(Booking {
                id: Uuid::new_v4(),
                resource_id,
                member_id: me,
                starts_at: at(from),
                ends_at: at(to),
                created_at: at(0),
            })
        };
        let data = holding([
            booking(laundry.id, 10, 12),
            booking(laundry.id, 8, 10),
            booking(garden.id, 9, 11),
            booking(laundry.id, 1, 2),
            booking(laundry.id, 0, 20),
            booking(Uuid::new_v4(), 9, 10),
            AnyRow::Resource(laundry.clone()),
            AnyRow::Resource(garden.clone()),
        ]);
        let week = data.rooms_view(at(9), at(11));
        assert_eq!(week.rooms, [garden, laundry], "by name, whatever the case");
        assert_eq!(week.bookings.len(), 4, "overlaps of known rooms only, long ones too");
        assert!(week.bookings.windows(2).all(|w| w[0].starts_at <= w[1].starts_at));
        assert_eq!(data.rooms_view(at(9), at(9) + Duration::minutes(1)).bookings.len(), 3);
        assert!(data.rooms_view(at(9), at(9)).bookings.is_empty(), "an empty span overlaps nothing");
    }

    /// A small deterministic random source.
    struct Lcg(u64);

    impl Lcg {
        fn below(&mut self, n: usize) -> usize {
            self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((self.0 >> 33) as usize) % n
        }
    }

    /// Random puts and removes: every view read through the indexes equals
    /// the same view computed by sorting every row.
    #[test]
    fn the_indexes_follow_every_change() {
        let mut rng = Lcg(7);
        let ids: Vec<Uuid> = (0..12).map(|_| Uuid::new_v4()).collect();
        let rooms: Vec<Uuid> = ids[..3].to_vec();
        let mut data = GroupData::default();
        for step in 0..3000 {
            let id = ids[rng.below(ids.len())];
            let hour = rng.below(6) as u32;
            let names = ["ann", "Bob", "ann", "cy"];
            let row = match rng.below(6) {
                0 => AnyRow::Announcement(Announcement {
                    id,
                    pinned: rng.below(2) == 1,
                    ..announcement("n", false, hour)
                }),
                1 => AnyRow::MaintenanceRequest(MaintenanceRequest {
                    id,
                    author_id: id,
                    title: "r".into(),
                    description: String::new(),
                    status: RequestStatus::ALL[rng.below(3)],
                    created_at: at(hour),
                    updated_at: at(hour),
                }),
                2 => AnyRow::RequestComment(RequestComment {
                    id,
                    request_id: ids[rng.below(2)],
                    author_id: id,
                    body: String::new(),
                    created_at: at(hour),
                }),
                3 => AnyRow::MemberInfo(MemberInfo {
                    user_id: id,
                    display_name: names[rng.below(names.len())].into(),
                    unit: None,
                    role: crate::model::Role::Resident,
                    joined_at: at(0),
                }),
                4 => AnyRow::Resource(Resource { id, name: names[rng.below(names.len())].into(), created_at: at(0) }),
                _ => AnyRow::Booking(Booking {
                    id,
                    resource_id: rooms[rng.below(rooms.len())],
                    member_id: id,
                    starts_at: at(hour),
                    ends_at: at(hour + (1 + rng.below(4 - 1) as u32)),
                    created_at: at(0),
                }),
            };
            if rng.below(4) == 0 {
                let table = ["members", "announcements", "requests", "request_comments", "resources", "bookings"];
                data.remove(table[rng.below(table.len())], id);
            } else {
                data.put(row);
            }
            if step % 100 == 0 {
                let rebuilt = holding(
                    data.members
                        .values()
                        .cloned()
                        .map(AnyRow::MemberInfo)
                        .chain(data.announcements.values().cloned().map(AnyRow::Announcement))
                        .chain(data.requests.values().cloned().map(AnyRow::MaintenanceRequest))
                        .chain(data.request_comments.values().cloned().map(AnyRow::RequestComment))
                        .chain(data.resources.values().cloned().map(AnyRow::Resource))
                        .chain(data.bookings.values().cloned().map(AnyRow::Booking)),
                );
                assert_eq!(data.index.board, rebuilt.index.board);
                assert_eq!(data.index.requests_by_status, rebuilt.index.requests_by_status);
                let counts = |d: &GroupData| d.index.status_counts.values().filter(|n| **n > 0).count();
                assert_eq!(counts(&data), counts(&rebuilt));
                for status in RequestStatus::ALL {
                    let held = data.requests.values().filter(|r| r.status == status).count() as u64;
                    assert_eq!(data.index.status_counts.get(&status).copied().unwrap_or(0), held);
                }
                assert_eq!(data.index.threads, rebuilt.index.threads);
                assert_eq!(data.index.members_by_name, rebuilt.index.members_by_name);
                assert_eq!(data.index.rooms_by_name, rebuilt.index.rooms_by_name);
                assert_eq!(data.index.by_room, rebuilt.index.by_room);
                let mut sorted: Vec<_> = data.announcements.values().cloned().collect();
                sorted.sort_by(|a, b| {
                    b.pinned.cmp(&a.pinned).then(b.created_at.cmp(&a.created_at)).then(a.id.cmp(&b.id))
                });
                assert_eq!(data.board_view(1000).notices, sorted);
                let overlapping = data.bookings.values().filter(|b| {
                    data.resources.contains_key(&b.resource_id) && b.starts_at < at(3) && b.ends_at > at(2)
                });
                assert_eq!(data.rooms_view(at(2), at(3)).bookings.len(), overlapping.count());
            }
        }
    }
}
