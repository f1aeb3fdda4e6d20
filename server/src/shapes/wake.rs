//! `GET /g/{slug}/v1/wake?after=P`: one long-poll per browser tab for the
//! whole group. It answers when the group's log passes position `P` (or
//! after the long-poll timeout) with the head and the tables that changed;
//! the client then catches those shapes up with ordinary (non-live) shape
//! requests. Browsers allow six connections per host over HTTP/1.1: one
//! waiting request per group leaves room for everything else, where a live
//! request per table would not.
//!
//! With `live_sse=true` the same answers come as events of one held
//! `text/event-stream` (`data: {"head","tables"}`), each from the last
//! one's head, with a `: keep-alive` comment on silence (the first one at
//! once, so a client can tell a proxy that buffers), until
//! `sync.sse_timeout_secs`; a membership or session that may have ended
//! ends the stream after a catch-up-everything event.

use super::{access::Access, endpoint::member, live::deadline, reader, response, sse, subscribers::Kind, Shapes};
use crate::ops::metrics;
use app::{error::AppError, model::registry};
use axum::{
    body::{Body, Bytes},
    extract::{Path, Query, State},
    http::HeaderMap,
    response::{IntoResponse, Response},
    Json,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use tokio::{sync::mpsc, time::Instant};

/// Longest a wake long-poll is held, whatever `sync.long_poll_timeout_secs`
/// says: the app's client gives up on one after 40 s.
const MAX_HOLD: std::time::Duration = std::time::Duration::from_secs(30);

#[derive(Deserialize)]
pub struct WakeQuery {
    after: Option<String>,
    live_sse: Option<String>,
}

#[derive(Serialize)]
struct Woken {
    head: i64,
    /// The tables with changes in `(after, head]`; `null` when not known
    /// (the client was too far behind): catch up every table.
    tables: Option<BTreeSet<String>>,
}

pub async fn wake(
    State(shapes): State<Shapes>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    Query(query): Query<WakeQuery>,
) -> Response {
    let token = app::backend::auth::session::token_from_headers(&headers);
    let access = match member(&shapes, &headers, token.as_deref(), &slug, true).await {
        Ok(access) => access,
        Err(error) => return response::error(error),
    };
    let after = match query.after.as_deref().map(str::parse::<i64>) {
        Some(Ok(after)) if after >= 0 => after,
        _ => {
            let errors = [("after".to_owned(), vec!["must be a log position (a whole number ≥ 0)".to_owned()])];
            return response::invalid(errors.into_iter().collect());
        }
    };
    if query.live_sse.is_some_and(|v| v != "false") {
        return match shapes.held.take(access.member.user_id) {
            Ok(slot) => stream(shapes, access, token, slug, after, slot),
            Err(error) => response::error(error),
        };
    }
    let end = deadline(shapes.long_poll_timeout.min(MAX_HOLD), access.session_ends);
    let held = shapes.subscribers.hold(Kind::WakeLongPoll);
    let woken = wait(&shapes, &access, after, (token.as_deref(), &slug), end).await;
    drop(held);
    match woken {
        Ok(woken) => {
            if woken.tables.as_ref().is_none_or(|tables| !tables.is_empty()) {
                metrics::delivered(Kind::WakeLongPoll.label());
            }
            let mut response = Json(woken).into_response();
            response.headers_mut().insert("cache-control", "no-store".parse().expect("a valid header"));
            response
        }
        Err(error) => response::error(error),
    }
}

/// The wake answers as one event stream (see the module's note).
fn stream(
    shapes: Shapes,
    access: Access,
    token: Option<String>,
    slug: String,
    after: i64,
    slot: sse::Slot,
) -> Response {
    let (sender, receiver) = mpsc::channel::<Bytes>(sse::BUFFERED);
    tokio::spawn(async move {
        let _slot = slot;
        let _held = shapes.subscribers.hold(Kind::WakeStream);
        let end = deadline(shapes.sse_timeout, access.session_ends);
        let who = (token.as_deref(), slug.as_str());
        if let Err(error) = wake_events(&shapes, &access, after, who, end, &sender).await {
            tracing::warn!(?error, "a wake stream stopped on an error");
        }
    });
    let events = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|chunk| (Ok::<_, std::convert::Infallible>(chunk), receiver))
    });
    response::wake_stream(Body::from_stream(events))
}

async fn wake_events(
    shapes: &Shapes,
    access: &Access,
    mut after: i64,
    (token, slug): (Option<&str>, &str),
    end: Instant,
    sender: &mpsc::Sender<Bytes>,
) -> Result<(), AppError> {
    let keep_alive = sse::KEEP_ALIVE.min(shapes.sse_timeout / 3);
    let mut chunk = Bytes::from_static(sse::KEEP_ALIVE_COMMENT);
    loop {
        if sender.send_timeout(chunk, sse::SLOW).await.is_err() {
            return Ok(());
        }
        let now = Instant::now();
        if now >= end || token.is_some_and(|token| !shapes.hub.access.holds(token, slug)) {
            return Ok(());
        }
        let woken = tokio::select! {
            woken = wait(shapes, access, after, (token, slug), end.min(now + keep_alive)) => woken?,
            () = sender.closed() => return Ok(()),
            () = shapes.closing() => return Ok(()),
        };
        chunk = match &woken.tables {
            Some(tables) if tables.is_empty() => Bytes::from_static(sse::KEEP_ALIVE_COMMENT),
            _ => {
                after = woken.head;
                metrics::delivered(Kind::WakeStream.label());
                let json = serde_json::to_string(&woken).map_err(|_| AppError::Internal)?;
                Bytes::from(format!("data: {json}\n\n"))
            }
        };
    }
}

async fn wait(
    shapes: &Shapes,
    access: &Access,
    after: i64,
    (token, slug): (Option<&str>, &str),
    until: Instant,
) -> Result<Woken, AppError> {
    let schema = &access.member.group.schema;
    let (tail, mut updates) = shapes.hub.follow(&access.member.group);
    let mut access_ended = shapes.hub.access.subscribe();
    let mut checked_ahead = false;
    loop {
        // Decided with the lock held, acted on after (no guard across an await).
        let ahead = {
            let state = tail.state();
            if !state.loaded {
                false
            } else if after < state.start {
                return Ok(Woken { head: state.head, tables: None });
            } else if after < state.head {
                let skip = (after - state.start) as usize;
                // A scoped table's row is named only to its member (the
                // others' shapes of it could not hold the row anyway).
                let me = access.member.user_id.to_string();
                let tables = state
                    .changes
                    .iter()
                    .skip(skip)
                    .filter(|c| {
                        registry::table(&c.relation)
                            .and_then(|t| t.scope)
                            .is_none_or(|scope| c.value.get(scope).and_then(|v| v.as_str()) == Some(me.as_str()))
                    })
                    .map(|c| c.relation.clone())
                    .collect();
                return Ok(Woken { head: state.head, tables: Some(tables) });
            } else if after > state.head && checked_ahead {
                return Ok(Woken { head: state.head, tables: None });
            } else {
                after > state.head
            }
        };
        if ahead {
            // Past the tail: a lagging tail, or a position from another log.
            let mut conn = access.member.group.db.pool.acquire().await?;
            let head = reader::head(&mut conn, schema).await?;
            if after > head {
                return Ok(Woken { head, tables: None });
            }
            checked_ahead = true;
            tail.want_refresh();
        }
        tokio::select! {
            changed = updates.changed() => if changed.is_err() { return Err(AppError::Internal) },
            // Access ended somewhere; if it may be ours, have everything
            // fetched again (each fetch checks membership).
            _ = access_ended.changed() => {
                if token.is_none_or(|token| !shapes.hub.access.holds(token, slug)) {
                    return Ok(Woken { head: after, tables: None });
                }
            }
            // Its time is up, or the server is shutting down: nothing yet.
            () = tokio::time::sleep_until(until) => return Ok(Woken { head: after, tables: Some(BTreeSet::new()) }),
            () = shapes.closing() => return Ok(Woken { head: after, tables: Some(BTreeSet::new()) }),
        }
    }
}
