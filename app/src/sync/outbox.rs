//! Queued writes: every mutation waits here (and in IndexedDB) until the
//! server has answered it. Sent in order; `applied`/`duplicate` leave the
//! queue, but their optimistic rows stay until the stream brings the
//! writing transaction (no flicker); `rejected` ones are dropped and
//! reported. Plain Rust: the browser's outbox task drives it.

use super::protocol::{Change, Verdict};
use crate::model::{MutateResponse, Mutation, MutationEnvelope, MutationStatus};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Most mutations sent in one request.
pub const BATCH: usize = 50;
/// How long an answered write stays laid over the rows when its
/// transaction never shows in the stream (it changed nothing visible).
const ACKED_GRACE_SECS: i64 = 10;

/// A queued write, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub id: Uuid,
    pub mutation: Mutation,
    pub queued_at: DateTime<Utc>,
    /// Orders entries queued in the same millisecond.
    pub seq: u32,
}

impl Entry {
    /// Its storage key: sorts in queue order.
    pub fn key(&self) -> String {
        format!("{:015}-{:06}-{}", self.queued_at.timestamp_millis(), self.seq, self.id)
    }

    pub fn envelope(&self) -> MutationEnvelope {
        MutationEnvelope::new(self.id, &self.mutation)
    }
}

/// What an answer to a batch of queued writes (`POST /api/mutate`) means
/// for the queue. Only the server's own error answers (`{"error": …}`) can
/// drop writes or the group; a proxy's page with the same status cannot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answered {
    /// 200: each write has its outcome.
    Outcomes(MutateResponse),
    /// 401: signed out (or someone else is signed in now): stop, keep them.
    SignedOut,
    /// The server's 404: no longer a member of the group.
    Gone,
    /// The server's 400, 413 or 422: the batch holds bad input (too large,
    /// malformed); it will never pass: the write at fault leaves the queue,
    /// refused, with this reason.
    BadInput(String),
    /// Anything else (a busy server, a proxy, a captive portal, a refusal of
    /// the request itself): not the writes' fault; the same writes, later.
    Later(Option<std::time::Duration>),
}

impl Answered {
    pub fn from_answer(status: u16, header: impl Fn(&str) -> Option<String>, body: &str) -> Self {
        match Verdict::of(status, header, body) {
            Verdict::Ok => serde_json::from_str(body).map_or(Self::Later(None), Self::Outcomes),
            Verdict::SignedOut => Self::SignedOut,
            Verdict::Gone => Self::Gone,
            Verdict::BadRequest(reason) => Self::BadInput(reason),
            Verdict::MustRefetch => Self::Later(None),
            Verdict::Later(after) => Self::Later(after),
        }
    }
}

/// A write the server refused, with its reason, for the resident to see.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rejection {
    pub mutation: Mutation,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq)]
struct Held {
    entry: Entry,
    /// Answered: the writing transaction (unknown for a duplicate) and when.
    answered: Option<(Option<u64>, DateTime<Utc>)>,
}

/// How many recent transaction ids the outbox remembers.
const SEEN_MEMORY: usize = 1_000;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outbox {
    held: Vec<Held>,
    /// Transactions the stream brought lately: an answer can arrive after
    /// the stream already delivered its transaction.
    seen: std::collections::VecDeque<u64>,
}

impl Outbox {
    /// Adopts stored entries (also ones other tabs queued), keeping order
    /// and what this tab already knows about them.
    pub fn adopt(&mut self, mut stored: Vec<Entry>) {
        stored.sort_by_key(Entry::key);
        for entry in stored {
            if !self.held.iter().any(|h| h.entry.id == entry.id) {
                self.held.push(Held { entry, answered: None });
            }
        }
        self.held.sort_by_key(|h| h.entry.key());
    }

    /// Matches the stored outbox (shared by the group's tabs): adopts new
    /// entries and drops unanswered ones another tab has sent meanwhile.
    pub fn sync_with_store(&mut self, stored: Vec<Entry>) {
        self.held.retain(|h| h.answered.is_some() || stored.iter().any(|e| e.id == h.entry.id));
        self.adopt(stored);
    }

    pub fn push(&mut self, entry: Entry) {
        self.adopt(vec![entry]);
    }

    /// The next writes to send (at most `limit`), oldest first.
    pub fn to_send(&self, limit: usize) -> Vec<Entry> {
        self.held.iter().filter(|h| h.answered.is_none()).take(limit).map(|h| h.entry.clone()).collect()
    }

    /// The server refused this write as a whole request (a 4xx): it leaves
    /// the queue, to be shown with `reason`, and the writes behind it go on.
    pub fn refused(&mut self, id: Uuid, reason: String) -> Option<Rejection> {
        let at = self.held.iter().position(|h| h.entry.id == id)?;
        Some(Rejection { mutation: self.held.remove(at).entry.mutation, reason })
    }

    /// The resident's writes not yet answered by the server (read marks,
    /// made by looking rather than by writing, are sent all the same but
    /// not counted).
    pub fn waiting(&self) -> usize {
        self.held.iter().filter(|h| h.answered.is_none() && !matches!(h.entry.mutation, Mutation::ReadMark(_))).count()
    }

    /// Records the server's answer; returns the entries to delete from
    /// storage (all answered ones) and the rejections to show.
    pub fn answered(&mut self, response: &MutateResponse, now: DateTime<Utc>) -> (Vec<Entry>, Vec<Rejection>) {
        let txid = response.txid.parse::<u64>().ok();
        let (mut done, mut rejected) = (Vec::new(), Vec::new());
        for outcome in &response.results {
            let Some(at) = self.held.iter().position(|h| h.entry.id == outcome.id) else { continue };
            done.push(self.held[at].entry.clone());
            match outcome.status {
                MutationStatus::Applied if txid.is_some_and(|t| self.seen.contains(&t)) => {
                    self.held.remove(at);
                }
                MutationStatus::Applied => self.held[at].answered = Some((txid, now)),
                MutationStatus::Duplicate => self.held[at].answered = Some((None, now)),
                MutationStatus::Rejected => {
                    let held = self.held.remove(at);
                    let reason = outcome.error.clone().unwrap_or_else(|| "the server refused it".into());
                    rejected.push(Rejection { mutation: held.entry.mutation, reason });
                }
            }
        }
        (done, rejected)
    }

    /// The stream brought these transactions: their writes are real now.
    pub fn seen(&mut self, txids: &[u64]) {
        self.held.retain(|h| !matches!(h.answered, Some((Some(txid), _)) if txids.contains(&txid)));
        self.seen.extend(txids);
        while self.seen.len() > SEEN_MEMORY {
            self.seen.pop_front();
        }
    }

    /// Whether answered writes are still laid over the rows (they expire).
    pub fn has_answered(&self) -> bool {
        self.held.iter().any(|h| h.answered.is_some())
    }

    /// Drops answered writes whose transaction did not show in time.
    pub fn expire(&mut self, now: DateTime<Utc>) {
        self.held.retain(|h| h.answered.is_none_or(|(_, at)| now - at < Duration::seconds(ACKED_GRACE_SECS)));
    }

    /// Forgets everything (the group is gone).
    pub fn clear(&mut self) {
        self.held.clear();
    }

    /// The held writes as row changes to lay over the synced rows.
    pub fn overlay(&self, me: Uuid) -> Vec<(String, Change)> {
        self.held.iter().flat_map(|h| h.entry.mutation.local_changes(me, h.entry.queued_at)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{mutation::ById, MutationOutcome};

    fn entry(n: u32) -> Entry {
        Entry {
            id: Uuid::new_v4(),
            mutation: Mutation::BookingCancel(ById { id: Uuid::new_v4() }),
            queued_at: DateTime::from_timestamp_millis(1_000_000).unwrap(),
            seq: n,
        }
    }

    fn response(outcomes: &[(&Entry, MutationStatus)], txid: &str) -> MutateResponse {
        MutateResponse {
            results: outcomes
                .iter()
                .map(|(e, status)| MutationOutcome {
                    id: e.id,
                    status: *status,
                    error: (*status == MutationStatus::Rejected).then(|| "that slot is already booked".into()),
                })
                .collect(),
            txid: txid.into(),
        }
    }

    #[test]
    fn entries_go_in_queue_order_and_leave_when_answered() {
        let (a, b, c) = (entry(0), entry(1), entry(2));
        let mut outbox = Outbox::default();
        outbox.adopt(vec![c.clone(), a.clone()]);
        outbox.push(b.clone());
        outbox.adopt(vec![a.clone()]);
        assert_eq!(outbox.to_send(BATCH), [a.clone(), b.clone(), c.clone()]);
        assert_eq!(outbox.to_send(1), std::slice::from_ref(&a));

        let now = Utc::now();
        let answer = response(
            &[(&a, MutationStatus::Applied), (&b, MutationStatus::Rejected), (&c, MutationStatus::Duplicate)],
            "77",
        );
        let (done, rejected) = outbox.answered(&answer, now);
        assert_eq!(done, [a.clone(), b.clone(), c.clone()]);
        assert_eq!(
            rejected,
            [Rejection { mutation: b.mutation.clone(), reason: "that slot is already booked".into() }]
        );
        assert_eq!(outbox.waiting(), 0);
        assert!(outbox.to_send(BATCH).is_empty());
        // Answered writes stay laid over the rows until their transaction shows.
        assert_eq!(outbox.overlay(Uuid::nil()).len(), 2);
        outbox.seen(&[77]);
        assert_eq!(outbox.overlay(Uuid::nil()).len(), 1, "the duplicate has no known transaction");
        outbox.expire(now + Duration::seconds(ACKED_GRACE_SECS + 1));
        assert!(outbox.overlay(Uuid::nil()).is_empty());
    }

    #[test]
    fn read_marks_are_sent_but_not_counted_as_waiting() {
        let mut outbox = Outbox::default();
        outbox.push(entry(0));
        let mark =
            Mutation::ReadMark(crate::model::mutation::MarkRead { subject_id: Uuid::new_v4(), seen_at: Utc::now() });
        outbox.push(Entry { mutation: mark, ..entry(1) });
        assert_eq!(outbox.waiting(), 1);
        assert_eq!(outbox.to_send(BATCH).len(), 2);
    }

    #[test]
    fn an_answer_after_its_transaction_streamed_leaves_nothing_laid_over() {
        let a = entry(0);
        let mut outbox = Outbox::default();
        outbox.push(a.clone());
        outbox.seen(&[5]);
        outbox.answered(&response(&[(&a, MutationStatus::Applied)], "5"), Utc::now());
        assert!(outbox.overlay(Uuid::nil()).is_empty());
        assert!(!outbox.has_answered());
    }

    #[test]
    fn entries_another_tab_sent_leave_this_tabs_view() {
        let (a, b) = (entry(0), entry(1));
        let mut outbox = Outbox::default();
        outbox.push(a.clone());
        outbox.sync_with_store(vec![b.clone()]);
        assert_eq!(outbox.to_send(BATCH), [b]);
    }

    #[test]
    fn a_refused_write_leaves_the_queue_and_the_next_one_goes() {
        let (a, b) = (entry(0), entry(1));
        let mut outbox = Outbox::default();
        outbox.adopt(vec![a.clone(), b.clone()]);
        let rejection = outbox.refused(a.id, "the request body is too large".into()).unwrap();
        assert_eq!(rejection.mutation, a.mutation);
        assert_eq!(outbox.to_send(BATCH), [b]);
        assert!(outbox.refused(a.id, "again".into()).is_none());
    }

    #[test]
    fn only_the_servers_own_bad_input_answers_drop_writes() {
        let error = r#"{"error": "the request body is too large"}"#;
        let outcomes = r#"{"results": [], "txid": "7"}"#;
        assert!(matches!(Answered::from_answer(200, |_| None, outcomes), Answered::Outcomes(_)));
        for status in [400, 413, 422] {
            let refused = Answered::from_answer(status, |_| None, error);
            assert_eq!(refused, Answered::BadInput("the request body is too large".into()), "{status}");
            // A proxy's page with that status is not the server speaking.
            assert_eq!(
                Answered::from_answer(status, |_| None, "<html>400 Bad Request</html>"),
                Answered::Later(None),
                "{status}"
            );
        }
        // A refusal of the request, not of its writes: they wait.
        for status in [403, 408, 409, 425, 429, 431, 500, 502, 503, 302] {
            assert_eq!(Answered::from_answer(status, |_| None, error), Answered::Later(None), "{status}");
        }
        assert_eq!(Answered::from_answer(401, |_| None, ""), Answered::SignedOut);
        assert_eq!(Answered::from_answer(404, |_| None, r#"{"error": "not found"}"#), Answered::Gone);
        assert_eq!(Answered::from_answer(404, |_| None, "<h1>Not Found</h1>"), Answered::Later(None), "a proxy's 404");
        assert_eq!(Answered::from_answer(200, |_| None, "<html>captive portal</html>"), Answered::Later(None));
    }

    #[test]
    fn keys_sort_in_queue_order() {
        let (early, late) = (entry(9), Entry { queued_at: Utc::now(), ..entry(0) });
        assert!(early.key() < late.key());
        assert!(entry(1).key() < entry(2).key());
    }
}
