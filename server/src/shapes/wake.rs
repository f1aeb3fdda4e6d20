//! `GET /g/{slug}/v1/wake?after=P`: one long-poll per browser tab for the
//! whole group. It answers when the group's log passes position `P` (or
//! after the long-poll timeout) with the head and the tables that changed;
//! the client then catches those shapes up with ordinary (non-live) shape
//! requests. Browsers allow six connections per host over HTTP/1.1: one
//! waiting request per group leaves room for everything else, where a live
//! request per table would not.

use super::{access::Access, endpoint::member, reader, response, Shapes};
use app::error::AppError;
use axum::{
    extract::{Path, Query, State},
    http::HeaderMap,
    response::{IntoResponse, Response},
    Json,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

#[derive(Deserialize)]
pub struct WakeQuery {
    after: Option<String>,
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
    match wait(&shapes, &access, after, (token.as_deref(), &slug)).await {
        Ok(woken) => {
            let mut response = Json(woken).into_response();
            response.headers_mut().insert("cache-control", "no-store".parse().expect("a valid header"));
            response
        }
        Err(error) => response::error(error),
    }
}

async fn wait(
    shapes: &Shapes,
    access: &Access,
    after: i64,
    (token, slug): (Option<&str>, &str),
) -> Result<Woken, AppError> {
    let schema = &access.member.group.schema;
    let (tail, mut updates) = shapes.hub.follow(schema);
    let mut access_ended = shapes.hub.access.subscribe();
    let deadline = super::live::deadline(shapes.long_poll_timeout, access.session_ends);
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
                let tables = state.changes.iter().skip(skip).map(|c| c.relation.clone()).collect();
                return Ok(Woken { head: state.head, tables: Some(tables) });
            } else if after > state.head && checked_ahead {
                return Ok(Woken { head: state.head, tables: None });
            } else {
                after > state.head
            }
        };
        if ahead {
            // Past the tail: a lagging tail, or a position from another log.
            let mut conn = shapes.app.pool.acquire().await?;
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
            () = tokio::time::sleep_until(deadline) => return Ok(Woken { head: after, tables: Some(BTreeSet::new()) }),
        }
    }
}
