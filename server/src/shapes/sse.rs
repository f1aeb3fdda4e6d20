//! The live phase as one held event stream (Electric's `live_sse=true`):
//! `text/event-stream`, each message a `data:` event, each batch of changes
//! ending with an `up-to-date` control message whose `global_last_seen_lsn`
//! is the position the client resumes from (`<lsn>_0`), a `: keep-alive`
//! comment after `KEEP_ALIVE` without one, and the stream closed after
//! `sync.sse_timeout_secs` so proxies and CDNs see requests end.
//!
//! Each stream has one task that waits on the group's in-memory tail
//! exactly as a long-poll does (`live::Wait`) and hands the answers it gets
//! to the response body through a channel of `BUFFERED` answers; when
//! nothing changed for its shape but the log moved on, it sends an
//! `up-to-date` at the new position instead of a keep-alive, so a quiet
//! shape in a busy group never falls behind its group's log. An answer
//! is encoded as events once, however many streams it is sent to
//! (`Answer::events`, shared through the hub's answer cache). A subscriber
//! whose socket does not drain fills the channel; after `SLOW` of that its
//! task stops, releasing its place in the tail, so it holds at most the
//! buffered answers. Nothing but these answers is held per stream.
//!
//! What cannot be said inside a stream ends it instead, and the client's
//! next request gets the usual answer: an offset this log did not give or
//! no longer holds (409, checked before the stream opens, so that case is
//! a plain 409), a migrated schema (409 with the new handle), a membership
//! or session that ended (404, 401).

use super::{
    access::Access,
    live::{deadline, Outcome, Wait},
    reader, response,
    shape::Shape,
    subscribers::Kind,
    Shapes,
};
use crate::ops::metrics;
use app::error::AppError;
use axum::{
    body::{Body, Bytes},
    response::Response,
};
use parking_lot::Mutex;
use std::{collections::HashMap, convert::Infallible, sync::Arc, time::Duration};
use tokio::{sync::mpsc, time::Instant};
use uuid::Uuid;

/// Longest silence on a stream before a keep-alive comment (a third of the
/// stream's time if that is shorter).
pub(super) const KEEP_ALIVE: Duration = Duration::from_secs(15);
pub(super) const KEEP_ALIVE_COMMENT: &[u8] = b": keep-alive\n\n";
/// Answers a stream may have waiting to be written (each at most
/// `sync.chunk_bytes`; live answers from the tail are usually far smaller).
pub(super) const BUFFERED: usize = 4;
/// How long a full buffer may stay full before the stream is dropped.
pub(super) const SLOW: Duration = Duration::from_secs(10);
/// Event streams (shapes and wake together) one person may hold at once:
/// a browser holds one per open group, Electric's client one per shape;
/// past this, 429, so no one holds unbounded tasks and buffers.
pub(super) const MAX_PER_USER: usize = 64;

/// The event streams held, per user.
#[derive(Default)]
pub struct Held(Mutex<HashMap<Uuid, usize>>);

/// One held stream: its place is given back when it is dropped.
pub(super) struct Slot {
    held: Arc<Held>,
    user: Uuid,
}

impl Held {
    /// A place for one more stream of `user`, or 429.
    pub(super) fn take(self: &Arc<Self>, user: Uuid) -> Result<Slot, AppError> {
        let mut held = self.0.lock();
        let count = held.entry(user).or_default();
        if *count >= MAX_PER_USER {
            return Err(AppError::RateLimited { retry_after_secs: 10 });
        }
        *count += 1;
        Ok(Slot { held: self.clone(), user })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut held = self.held.0.lock();
        if let Some(count) = held.get_mut(&self.user) {
            *count -= 1;
            if *count == 0 {
                held.remove(&self.user);
            }
        }
    }
}

/// Opens the stream for `shape` from log position `from`, or answers 409
/// if the log cannot go on from there.
pub async fn open(
    shapes: Shapes,
    access: Access,
    token: Option<String>,
    shape: Shape,
    from: i64,
    cursor: Option<&str>,
) -> Result<Response, AppError> {
    if !resumable(&shapes, &access, from).await? {
        return Ok(response::must_refetch(shape.handle()));
    }
    let timeout = shapes.sse_timeout;
    let cursor = response::live_cursor(chrono::Utc::now(), timeout.as_secs(), cursor);
    let handle = shape.handle().to_owned();
    let slot = shapes.held.take(access.member.user_id)?;
    let (sender, receiver) = mpsc::channel::<Bytes>(BUFFERED);
    tokio::spawn(async move {
        let _slot = slot;
        let _held = shapes.subscribers.hold(Kind::ShapeStream);
        let end = deadline(timeout, access.session_ends);
        if let Err(error) = follow(&shapes, &access, token.as_deref(), &shape, from, end, &sender).await {
            tracing::warn!(?error, "an event stream stopped on an error");
        }
    });
    let events = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|chunk| (Ok::<_, Infallible>(chunk), receiver))
    });
    Ok(response::event_stream(&handle, from, &cursor, timeout, Body::from_stream(events)))
}

/// Whether the log goes on from `from`: the group's tail holds it, or the
/// database's log does (`floor <= from <= head`).
async fn resumable(shapes: &Shapes, access: &Access, from: i64) -> Result<bool, AppError> {
    let schema = &access.member.group.schema;
    let (tail, _updates) = shapes.hub.follow(&access.member.group);
    {
        let state = tail.state();
        if state.loaded && state.start <= from && from <= state.head {
            return Ok(true);
        }
    }
    let mut conn = access.member.group.db.pool.acquire().await?;
    let (floor, head) = reader::bounds(&mut conn, schema).await?;
    Ok(floor <= from && from <= head)
}

/// Writes the shape's changes after `from` to `sender` until `end`.
async fn follow(
    shapes: &Shapes,
    access: &Access,
    token: Option<&str>,
    shape: &Shape,
    from: i64,
    end: Instant,
    sender: &mpsc::Sender<Bytes>,
) -> Result<(), AppError> {
    let slug = access.member.group.slug.as_str();
    let wait = Wait { hub: &shapes.hub, who: (token, slug), group: &access.member.group, shape, limits: shapes.limits };
    let keep_alive = KEEP_ALIVE.min(shapes.sse_timeout / 3);
    let mut position = from;
    loop {
        let now = Instant::now();
        if now >= end {
            return Ok(());
        }
        let outcome = tokio::select! {
            // Looked at first: once the server is shutting down, not even
            // an answer already there is sent.
            biased;
            // The server is shutting down: end the stream (the client
            // resumes from its last up-to-date).
            () = shapes.closing() => return Ok(()),
            outcome = wait.run(position, end.min(now + keep_alive)) => outcome?,
            // The client went away: stop waiting for it now.
            () = sender.closed() => return Ok(()),
        };
        let chunk = match outcome {
            Outcome::Answer(answer) => {
                position = answer.offset.position().unwrap_or(position);
                metrics::delivered(Kind::ShapeStream.label());
                answer.events()
            }
            // Other tables moved the log on: say so, so the client resumes
            // from there (and the next wait starts there).
            Outcome::Idle(reached) if reached > position && Instant::now() < end => {
                position = reached;
                Outcome::idle_answer(reached).events()
            }
            Outcome::Idle(_) if Instant::now() < end => Bytes::from_static(KEEP_ALIVE_COMMENT),
            // The stream's time is up; or what the client follows changed:
            // its next request learns how.
            Outcome::Idle(_) | Outcome::AccessEnded(_) | Outcome::Unknown | Outcome::SchemaChanged => return Ok(()),
        };
        if sender.send_timeout(chunk, SLOW).await.is_err() {
            // Gone, or not reading: either way this stream is over.
            return Ok(());
        }
        if token.is_some_and(|token| !shapes.hub.access.holds(token, slug)) {
            return Ok(());
        }
    }
}
