//! What a queued write looks like locally before the server has it: each
//! mutation as the row changes it will make, laid over the synced rows
//! (optimistically) until the stream brings the real ones.

use super::{
    local::pg_timestamp,
    protocol::{pk_column, Change, Operation, Row},
};
use crate::model::Mutation;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use uuid::Uuid;

impl Mutation {
    /// The row changes (table, change) this mutation makes when `me` sends
    /// it at `now`, as the server will make them: from the same normalized
    /// mutation (`Mutation::normalized`), stamping the same times. A
    /// mutation the server will refuse for its input changes nothing here.
    /// (A removed room's bookings go with it: the views read the bookings
    /// of the rooms held.)
    pub fn local_changes(&self, me: Uuid, now: DateTime<Utc>) -> Vec<(String, Change)> {
        let Ok(mutation) = self.normalized() else { return Vec::new() };
        let now = pg_timestamp(now);
        let change = |table: &str, operation, pk: Uuid, value: Value| {
            let mut value: Row = value.as_object().cloned().unwrap_or_default();
            if let Some(pk_column) = pk_column(table) {
                value.insert(pk_column.into(), json!(pk));
            }
            (table.to_owned(), Change { operation, pk: pk.to_string(), value, txids: Vec::new() })
        };
        use Operation::{Delete, Insert, Update};
        let one = |c| vec![c];
        // Acting on a request marks it seen by whoever acts (as the server does).
        let seen = |subject: Uuid| {
            change(
                "read_marks",
                Insert,
                crate::model::ReadMark::key_of(subject, me),
                json!({"member_id": me, "subject_id": subject, "seen_at": now}),
            )
        };
        match &mutation {
            Mutation::AnnouncementCreate(a) => one(change(
                "announcements",
                Insert,
                a.id,
                json!({"author_id": me, "title": a.title, "body": a.body, "pinned": "f", "created_at": now, "updated_at": now}),
            )),
            Mutation::AnnouncementUpdate(a) => {
                let mut value = json!({"updated_at": now});
                if let Some(title) = &a.title {
                    value["title"] = json!(title);
                }
                if let Some(body) = &a.body {
                    value["body"] = json!(body);
                }
                one(change("announcements", Update, a.id, value))
            }
            Mutation::AnnouncementPin(a) => one(change(
                "announcements",
                Update,
                a.id,
                json!({"pinned": if a.pinned { "t" } else { "f" }, "updated_at": now}),
            )),
            Mutation::AnnouncementDelete(a) => vec![
                change("announcements", Delete, a.id, json!({})),
                change("read_marks", Delete, crate::model::ReadMark::key_of(a.id, me), json!({})),
            ],
            Mutation::RequestCreate(r) => vec![
                change(
                    "requests",
                    Insert,
                    r.id,
                    json!({"author_id": me, "title": r.title, "description": r.description, "status": "open",
                           "created_at": now, "updated_at": now}),
                ),
                seen(r.id),
            ],
            Mutation::RequestSetStatus(r) => vec![
                change("requests", Update, r.id, json!({"status": r.status.as_str(), "updated_at": now})),
                seen(r.id),
            ],
            // A comment marks its request as updated.
            Mutation::RequestComment(c) => vec![
                change("requests", Update, c.request_id, json!({"updated_at": now})),
                change(
                    "request_comments",
                    Insert,
                    c.id,
                    json!({"request_id": c.request_id, "author_id": me, "body": c.body, "created_at": now}),
                ),
                seen(c.request_id),
            ],
            Mutation::ResourceCreate(r) => {
                one(change("resources", Insert, r.id, json!({"name": r.name, "created_at": now})))
            }
            Mutation::ResourceDelete(r) => one(change("resources", Delete, r.id, json!({}))),
            Mutation::BookingCreate(b) => one(change(
                "bookings",
                Insert,
                b.id,
                json!({"resource_id": b.resource_id, "member_id": me, "starts_at": pg_timestamp(b.starts_at),
                       "ends_at": pg_timestamp(b.ends_at), "created_at": now}),
            )),
            Mutation::BookingCancel(b) => one(change("bookings", Delete, b.id, json!({}))),
            Mutation::MemberUpdateProfile(p) => {
                one(change("members", Update, me, json!({"display_name": p.display_name, "unit": p.unit})))
            }
            Mutation::PollCreate(p) => {
                let flag = |on: bool| if on { "t" } else { "f" };
                let poll = change(
                    "polls",
                    Insert,
                    p.id,
                    json!({"author_id": me, "question": p.question, "multiple": flag(p.multiple),
                           "anonymous": flag(p.anonymous), "live_results": flag(p.live_results),
                           "closes_at": pg_timestamp(p.closes_at), "created_at": now}),
                );
                let options = p.options.iter().enumerate().map(|(position, o)| {
                    change(
                        "poll_options",
                        Insert,
                        o.id,
                        // Live counts start at zero, hidden ones null (as the server writes them).
                        json!({"poll_id": p.id, "position": position.to_string(), "label": o.label,
                               "votes": p.live_results.then_some("0")}),
                    )
                });
                std::iter::once(poll).chain(options).collect()
            }
            Mutation::PollVote(v) => one(change(
                "ballots",
                Insert,
                crate::model::Ballot::key_of(v.poll_id, me),
                json!({"poll_id": v.poll_id, "member_id": me, "choices": json!(v.option_ids).to_string(), "cast_at": now}),
            )),
            // The server keeps the earlier time if it is already past.
            Mutation::PollClose(p) => one(change("polls", Update, p.id, json!({"closes_at": now}))),
            Mutation::PollDelete(p) => one(change("polls", Delete, p.id, json!({}))),
            // What the server stores (its kind, its size) shows once it
            // answers; until then the page shows the bytes held here.
            Mutation::FileAttach(f) => one(change(
                "files",
                Insert,
                f.id,
                json!({"uploader_id": me, "request_id": f.request_id, "comment_id": f.comment_id, "name": f.name,
                       "content_type": "", "size": "0", "sha256": f.sha256, "thumb": "f", "created_at": now}),
            )),
            Mutation::FileRemove(f) => one(change("files", Delete, f.id, json!({}))),
            Mutation::ReadMark(r) => one(change(
                "read_marks",
                Insert,
                crate::model::ReadMark::key_of(r.subject_id, me),
                json!({"member_id": me, "subject_id": r.subject_id, "seen_at": pg_timestamp(r.seen_at)}),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        model::mutation::*,
        sync::local::{LocalRows, Overlay},
    };

    #[test]
    fn queued_writes_show_in_the_view_and_are_marked() {
        let me = Uuid::new_v4();
        let (notice, room, booking) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let now = Utc::now();
        let queued = [
            Mutation::AnnouncementCreate(AnnouncementCreate { id: notice, title: "Bins".into(), body: "Tue".into() }),
            Mutation::AnnouncementPin(AnnouncementPin { id: notice, pinned: true }),
            Mutation::ResourceCreate(ResourceCreate { id: room, name: "Laundry".into() }),
            Mutation::BookingCreate(BookingCreate {
                id: booking,
                resource_id: room,
                starts_at: now,
                ends_at: now + chrono::Duration::hours(1),
            }),
        ];
        let pending: Vec<_> = queued.iter().flat_map(|m| m.local_changes(me, now)).collect();
        let none = LocalRows::default();
        let overlay = Overlay::new(&none, &pending);
        let data = none.shown(&overlay).data;
        let notices = data.board_view(10).notices;
        assert_eq!(notices.len(), 1);
        assert!(notices[0].pinned);
        assert_eq!(notices[0].author_id, me);
        let week = data.rooms_view(now - chrono::Duration::hours(1), now + chrono::Duration::hours(2));
        assert_eq!(week.bookings[0].member_id, me);
        assert_eq!(week.bookings[0].resource_id, room);
        let touched = overlay.keys();
        assert!(touched.contains(&("announcements".to_owned(), notice.to_string())));
        assert!(touched.contains(&("bookings".to_owned(), booking.to_string())));
    }

    #[test]
    fn deletes_and_profile_edits_apply_to_synced_rows() {
        let me = Uuid::new_v4();
        let mut local = LocalRows::default();
        let notice = Uuid::new_v4();
        for (table, mutation) in [
            (
                "announcements",
                Mutation::AnnouncementCreate(AnnouncementCreate { id: notice, title: "a".into(), body: "b".into() }),
            ),
            ("members", Mutation::MemberUpdateProfile(ProfileUpdate { display_name: "x".into(), unit: None })),
        ] {
            let (_, mut change) = mutation.local_changes(me, Utc::now()).remove(0);
            change.operation = Operation::Insert;
            if table == "members" {
                change.value.insert("role".into(), json!("resident"));
                change.value.insert("joined_at".into(), json!("2026-01-01 00:00:00+00"));
            }
            local.table_mut(table).insert(change.pk.clone(), change.value);
        }
        let pending: Vec<_> = [
            Mutation::AnnouncementDelete(ById { id: notice }),
            Mutation::MemberUpdateProfile(ProfileUpdate { display_name: " Ann ".into(), unit: Some("4B".into()) }),
        ]
        .iter()
        .flat_map(|m| m.local_changes(me, Utc::now()))
        .collect();
        let data = local.shown(&Overlay::new(&local, &pending)).data;
        assert!(data.board_view(10).notices.is_empty());
        assert_eq!(data.member(me).unwrap().display_name, "Ann");
        assert_eq!(data.member(me).unwrap().unit.as_deref(), Some("4B"));
    }
}
