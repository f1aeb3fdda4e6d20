//! Everything of one group the pages show, and the views over it (which
//! announcements lead the board, which requests are open, what is booked when).

use super::{
    Announcement, Booking, GroupSummary, MaintenanceRequest, MemberInfo, RequestComment, RequestStatus, Resource, Role,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Rows a long list shows at first, and adds per "Show more"; also how much
/// of the notice board the server sends with a page.
pub const PAGE: usize = 50;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupData {
    pub group: GroupSummary,
    /// The viewer's user id.
    pub me: Uuid,
    pub members: Vec<MemberInfo>,
    pub announcements: Vec<Announcement>,
    pub requests: Vec<MaintenanceRequest>,
    pub comments: Vec<RequestComment>,
    pub resources: Vec<Resource>,
    pub bookings: Vec<Booking>,
    /// Notices this copy leaves out: the server sends the board's first
    /// page with a page render (the board is the list that grows without
    /// bound); the browser's local copy, or a whole reload, has them all.
    pub notices_left_out: usize,
}

impl GroupData {
    pub fn is_admin(&self) -> bool {
        self.group.role == Role::Admin
    }

    /// A member's display name; people who left keep their posts.
    pub fn member_name(&self, user_id: Uuid) -> String {
        self.members
            .iter()
            .find(|m| m.user_id == user_id)
            .map_or_else(|| "a former member".to_owned(), |m| m.display_name.clone())
    }

    pub fn my_profile(&self) -> Option<&MemberInfo> {
        self.members.iter().find(|m| m.user_id == self.me)
    }

    /// The notice board: pinned first, then newest first.
    pub fn board(&self) -> Vec<&Announcement> {
        let mut board: Vec<_> = self.announcements.iter().collect();
        board.sort_by(|a, b| b.pinned.cmp(&a.pinned).then(b.created_at.cmp(&a.created_at)));
        board
    }

    /// How many notices the group has, including any left out of this copy.
    pub fn notice_count(&self) -> usize {
        self.announcements.len() + self.notices_left_out
    }

    /// Requests not yet resolved, newest first.
    pub fn open_requests(&self) -> Vec<&MaintenanceRequest> {
        self.requests_by_status(&[RequestStatus::Open, RequestStatus::InProgress])
    }

    pub fn requests_by_status(&self, statuses: &[RequestStatus]) -> Vec<&MaintenanceRequest> {
        let mut requests: Vec<_> = self.requests.iter().filter(|r| statuses.contains(&r.status)).collect();
        requests.sort_by_key(|r| std::cmp::Reverse(r.created_at));
        requests
    }

    pub fn request(&self, id: Uuid) -> Option<&MaintenanceRequest> {
        self.requests.iter().find(|r| r.id == id)
    }

    /// A request's comments, oldest first.
    pub fn comments_of(&self, request_id: Uuid) -> Vec<&RequestComment> {
        let mut comments: Vec<_> = self.comments.iter().filter(|c| c.request_id == request_id).collect();
        comments.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        comments
    }

    pub fn resource_name(&self, id: Uuid) -> String {
        self.resources.iter().find(|r| r.id == id).map_or_else(|| "a removed room".to_owned(), |r| r.name.clone())
    }

    /// Resources by name.
    pub fn resources_by_name(&self) -> Vec<&Resource> {
        let mut resources: Vec<_> = self.resources.iter().collect();
        resources.sort_by_key(|r| r.name.to_lowercase());
        resources
    }

    /// Bookings (of one resource, or all with `None`) that overlap
    /// `[from, to)`, in time order.
    pub fn bookings_between(&self, resource: Option<Uuid>, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<&Booking> {
        let mut bookings: Vec<_> = self
            .bookings
            .iter()
            .filter(|b| resource.is_none_or(|r| b.resource_id == r) && b.starts_at < to && b.ends_at > from)
            .collect();
        bookings.sort_by_key(|b| b.starts_at);
        bookings
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    fn at(hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2030, 1, 7, hour, 0, 0).unwrap()
    }

    fn data() -> GroupData {
        let me = Uuid::new_v4();
        GroupData {
            group: GroupSummary { id: Uuid::new_v4(), slug: "elm".into(), name: "Elm".into(), role: Role::Resident },
            me,
            members: vec![],
            announcements: vec![],
            requests: vec![],
            comments: vec![],
            resources: vec![],
            bookings: vec![],
            notices_left_out: 0,
        }
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

    #[test]
    fn the_board_puts_pinned_first_then_newest() {
        let mut data = data();
        data.announcements =
            vec![announcement("old", false, 1), announcement("pinned", true, 0), announcement("new", false, 5)];
        let titles: Vec<_> = data.board().iter().map(|a| a.title.as_str()).collect();
        assert_eq!(titles, ["pinned", "new", "old"]);
    }

    #[test]
    fn bookings_between_keeps_overlaps_of_the_resource_only() {
        let mut data = data();
        let room = Uuid::new_v4();
        let other = Uuid::new_v4();
        let booking = |resource_id, from: u32, to: u32| Booking {
            id: Uuid::new_v4(),
            resource_id,
            member_id: data.me,
            starts_at: at(from),
            ends_at: at(to),
            created_at: at(0),
        };
        data.bookings = vec![booking(room, 8, 10), booking(room, 10, 12), booking(other, 9, 11), booking(room, 1, 2)];
        let found = data.bookings_between(Some(room), at(9), at(11));
        assert_eq!(found.len(), 2);
        assert!(found[0].starts_at < found[1].starts_at);
        assert_eq!(data.bookings_between(None, at(9), at(9) + Duration::minutes(1)).len(), 2);
    }

    #[test]
    fn a_departed_author_is_named_as_such() {
        assert_eq!(data().member_name(Uuid::new_v4()), "a former member");
    }
}
