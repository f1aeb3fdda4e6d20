//! The shape stream: Electric's HTTP Shape API (v1) over each group's change
//! log, at `GET /g/{slug}/v1/shape` (docs/sync.md).
//!
//! `request` checks the query (with `offset` and `where_clause`: these
//! three are the `shape_query` crate, pure parsing, re-exported here),
//! `shape` checks it against the group's `catalog` and names it (the
//! handle), `fetch` answers from the database (snapshot chunks, then the
//! log) through `reader`, `live` answers long-polls from the `hub`'s
//! in-memory tails (and `sse` holds event streams on them), `batch` builds the body and `response` the headers.
//! `wake` is one long-poll for a whole group, for browsers following all its
//! tables. `retention` keeps each group's log bounded. `subscribers`
//! counts the held requests (for `/metrics`).

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
pub mod retention;
mod shape;
mod sse;
pub mod subscribers;
mod wake;

pub use shape_query::{offset, request, where_clause};

use crate::config::SyncConfig;
use app::backend::AppState;
use axum::{routing::get, Router};
use std::{future::Future, sync::Arc, time::Duration};
use tokio_util::sync::CancellationToken;

/// What the shape endpoint needs: the app's state, the process's hub and
/// the sync settings.
#[derive(Clone)]
pub struct Shapes {
    app: AppState,
    hub: Arc<hub::Hub>,
    retention: Arc<retention::Retention>,
    limits: fetch::Limits,
    long_poll_timeout: Duration,
    sse_timeout: Duration,
    /// The event streams each user holds (at most `sse::MAX_PER_USER`).
    held: Arc<sse::Held>,
    /// The held requests of each kind, counted.
    subscribers: Arc<subscribers::Subscribers>,
    /// Cancelled when the server begins shutting down (see `closing`).
    closing: CancellationToken,
}

impl Shapes {
    /// Starts the hub's LISTEN task and the log's retention job on the
    /// current runtime.
    pub fn start(app: AppState, config: &SyncConfig) -> Self {
        let hub = hub::Hub::start(&app.databases, config.tail_budget_bytes);
        let retention = retention::Retention::new(
            app.databases.clone(),
            retention::Settings {
                retention: config.log_retention,
                keep_min: config.log_keep_min,
                compaction: config.log_compaction,
                compaction_lag: config.max_snapshot_lag,
                interval: config.log_sweep_interval,
            },
            Some(hub.clone()),
        );
        retention.start();
        Self {
            app,
            hub,
            retention,
            limits: fetch::Limits { cap: config.chunk_bytes, max_snapshot_lag: config.max_snapshot_lag },
            long_poll_timeout: Duration::from_secs(config.long_poll_timeout_secs),
            sse_timeout: Duration::from_secs(config.sse_timeout_secs),
            held: Arc::default(),
            subscribers: Arc::default(),
            closing: CancellationToken::new(),
        }
    }

    /// Resolves once the server begins shutting down (at once if it has):
    /// held requests (event streams, long-polls) end on it, so a graceful
    /// shutdown need not wait out their timeouts.
    pub fn closing(&self) -> impl Future<Output = ()> + Send + 'static {
        self.closing.clone().cancelled_owned()
    }

    /// Whether the server has begun shutting down.
    pub fn is_closing(&self) -> bool {
        self.closing.is_cancelled()
    }

    /// Begins shutting down: every `closing()` resolves (`serve` calls it
    /// when its shutdown signal comes).
    pub fn close(&self) {
        self.closing.cancel();
    }

    /// The process's hub (tests and benchmarks look at its memory).
    pub fn hub(&self) -> &Arc<hub::Hub> {
        &self.hub
    }

    /// The held requests, counted by kind.
    pub fn subscribers(&self) -> &subscribers::Subscribers {
        &self.subscribers
    }

    /// The log's retention job (tests run a pass at will).
    pub fn retention(&self) -> &Arc<retention::Retention> {
        &self.retention
    }

    pub fn routes<S>(self) -> Router<S> {
        Router::new()
            .route("/g/{slug}/v1/shape", get(endpoint::shape).options(endpoint::preflight))
            .route("/g/{slug}/v1/wake", get(wake::wake))
            .with_state(self)
    }
}
