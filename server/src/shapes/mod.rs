//! The shape stream: Electric's HTTP Shape API (v1) over each group's change
//! log, at `GET /g/{slug}/v1/shape` (docs/sync.md).
//!
//! `request` checks the query (with `offset` and `where_clause`: these
//! three are the `shape_query` crate, pure parsing, re-exported here),
//! `shape` checks it against the group's `catalog` and names it (the
//! handle), `fetch` answers from the database (snapshot chunks, then the
//! log) through `reader`, `live` answers long-polls from the `hub`'s
//! in-memory tails, `batch` builds the body and `response` the headers.
//! `wake` is one long-poll for a whole group, for browsers following all its
//! tables.

mod access;
mod batch;
mod catalog;
mod change;
mod endpoint;
mod fetch;
pub mod hub;
mod live;
mod reader;
mod response;
mod shape;
mod wake;

pub use shape_query::{offset, request, where_clause};

use crate::config::SyncConfig;
use app::backend::AppState;
use axum::{routing::get, Router};
use std::{sync::Arc, time::Duration};

/// What the shape endpoint needs: the app's state, the process's hub and
/// the sync settings.
#[derive(Clone)]
pub struct Shapes {
    app: AppState,
    hub: Arc<hub::Hub>,
    limits: fetch::Limits,
    long_poll_timeout: Duration,
}

impl Shapes {
    /// Starts the hub's LISTEN task on the current runtime.
    pub fn start(app: AppState, config: &SyncConfig) -> Self {
        let hub = hub::Hub::start(app.pool.clone(), config.tail_budget_bytes);
        Self {
            app,
            hub,
            limits: fetch::Limits { cap: config.chunk_bytes, max_snapshot_lag: config.max_snapshot_lag },
            long_poll_timeout: Duration::from_secs(config.long_poll_timeout_secs),
        }
    }

    /// The process's hub (tests and benchmarks look at its memory).
    pub fn hub(&self) -> &Arc<hub::Hub> {
        &self.hub
    }

    pub fn routes<S>(self) -> Router<S> {
        Router::new()
            .route("/g/{slug}/v1/shape", get(endpoint::shape).options(endpoint::preflight))
            .route("/g/{slug}/v1/wake", get(wake::wake))
            .with_state(self)
    }
}
