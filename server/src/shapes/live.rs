//! The live long-poll: answers at once when the shape has changes after the
//! offset, otherwise waits on the group's in-memory tail until it has some
//! or the timeout passes, then answers `[up-to-date]`.

use super::{
    batch::{Answer, Batch},
    change::LogChange,
    fetch::{self, Fetched, Limits},
    hub::{Hub, Tail},
    offset::Offset,
    reader,
    shape::Shape,
};
use app::{backend::groups::Group, error::AppError};
use std::{sync::Arc, time::Duration};
use tokio::time::Instant;

pub enum Outcome {
    Answer(Answer),
    /// Nothing new by the deadline: the client is up to date at this
    /// position.
    Idle(i64),
    /// The asker's access may have ended (a membership or session ended
    /// somewhere): answer as idle, and check it again before going on.
    AccessEnded(i64),
    /// The offset is not one this group's log gave.
    Unknown,
    /// The group's schema changed while waiting: the shape must be rebuilt.
    SchemaChanged,
}

pub struct Wait<'a> {
    pub hub: &'a Arc<Hub>,
    /// The asker's token and group: when access ends somewhere, a waiter
    /// whose own access is no longer known answers at once.
    pub who: (Option<&'a str>, &'a str),
    /// The group (its schema, on its database).
    pub group: &'a Group,
    pub shape: &'a Shape,
    pub limits: Limits,
}

impl Wait<'_> {
    /// Waits until the shape has changes after `from` or `deadline` passes
    /// (see [`deadline`]).
    pub async fn run(&self, from: i64, deadline: Instant) -> Result<Outcome, AppError> {
        let (tail, mut updates) = self.hub.follow(self.group);
        let mut access_ended = self.hub.access.subscribe();
        let mut position = from;
        let mut epoch = None;
        let mut checked_ahead = false;
        loop {
            match self.step(&tail, &mut position, &mut epoch, &mut checked_ahead).await? {
                Step::Done(outcome) => return Ok(outcome),
                Step::Again => continue,
                Step::Wait => {}
            }
            tokio::select! {
                changed = updates.changed() => if changed.is_err() { return Err(AppError::Internal) },
                _ = access_ended.changed() => {
                    if let (Some(token), slug) = self.who {
                        if !self.hub.access.holds(token, slug) {
                            return Ok(Outcome::AccessEnded(position));
                        }
                    }
                }
                () = tokio::time::sleep_until(deadline) => return Ok(Outcome::Idle(position)),
            }
        }
    }

    /// One look at the tail: an answer, or wait for its next update.
    async fn step(
        &self,
        tail: &Tail,
        position: &mut i64,
        epoch: &mut Option<u64>,
        checked_ahead: &mut bool,
    ) -> Result<Step, AppError> {
        // Decided with the lock held, acted on after (no guard across an await).
        let seen = {
            let state = tail.state();
            if !state.loaded {
                return Ok(Step::Wait);
            }
            if epoch.is_some_and(|e| e != state.schema_epoch) {
                return Ok(Step::Done(Outcome::SchemaChanged));
            }
            *epoch = Some(state.schema_epoch);
            if *position > state.head {
                Seen::Ahead
            } else if *position < state.start {
                Seen::Behind
            } else if let Some(shared) = tail.shared_answer(self.shape.handle(), *position, state.head) {
                return Ok(Step::Done(Outcome::Answer(shared)));
            } else {
                let skip = (*position - state.start) as usize;
                Seen::Changes(state.changes.iter().skip(skip).cloned().collect(), state.head)
            }
        };
        let (changes, head) = match seen {
            Seen::Changes(changes, head) => (Some(changes), head),
            Seen::Behind => (None, 0),
            Seen::Ahead => {
                // The tail may lag the log (a notification on its way), or
                // the offset is not from this log.
                if !*checked_ahead {
                    let mut conn = self.group.db.pool.acquire().await?;
                    if *position > reader::head(&mut conn, &self.group.schema).await? {
                        return Ok(Step::Done(Outcome::Unknown));
                    }
                    *checked_ahead = true;
                    tail.want_refresh();
                }
                return Ok(Step::Wait);
            }
        };
        let Some(changes) = changes else {
            // Too far behind for the tail: read the log itself.
            return match fetch::fetch(
                &self.group.db.pool,
                &self.group.schema,
                self.shape,
                Offset::Log(*position),
                self.limits,
            )
            .await?
            {
                Fetched::Unknown => Ok(Step::Done(Outcome::Unknown)),
                // Changes, or as far as one answer reads: the client asks again.
                Fetched::Answer(answer) if answer.messages > usize::from(answer.up_to_date) || !answer.up_to_date => {
                    Ok(Step::Done(Outcome::Answer(answer)))
                }
                Fetched::Answer(answer) => {
                    *position = answer.offset.position().unwrap_or(*position);
                    Ok(Step::Again)
                }
            };
        };
        let mut batch = Batch::new(self.limits.cap, *position);
        let complete = batch.push_changes(self.shape, self.group.schema.as_str(), changes.iter().map(Arc::as_ref));
        if batch.has_changes() {
            let offset = Offset::Log(if complete { head } else { batch.scanned });
            let answer = batch.finish(offset, complete);
            self.hub.share_answer(tail, self.shape.handle(), *position, head, &answer);
            return Ok(Step::Done(Outcome::Answer(answer)));
        }
        *position = head;
        Ok(Step::Wait)
    }
}

impl Outcome {
    /// A waiting answer's `[up-to-date]` at `position`.
    pub fn idle_answer(position: i64) -> Answer {
        Batch::new(0, position).finish(Offset::Log(position), true)
    }
}

/// A wait's end: after `timeout`, or when the session ends if sooner.
pub fn deadline(timeout: Duration, session_ends: chrono::DateTime<chrono::Utc>) -> Instant {
    let left = (session_ends - chrono::Utc::now()).to_std().unwrap_or_default();
    Instant::now() + timeout.min(left)
}

enum Seen {
    Ahead,
    Behind,
    Changes(Vec<Arc<LogChange>>, i64),
}

enum Step {
    Done(Outcome),
    /// Look again at once (the position moved).
    Again,
    Wait,
}
