//! What the pages see of the sync: signals the browser's engine keeps
//! current (on the server they keep their first values), and the handle
//! the pages queue writes through.

use super::outbox::Rejection;
use crate::model::Mutation;
use chrono::{DateTime, Utc};
use futures::channel::{mpsc, oneshot};
use leptos::prelude::*;
use std::collections::BTreeSet;

#[derive(Clone, Copy)]
pub struct SyncUi {
    /// The server answered the last request.
    pub online: RwSignal<bool>,
    /// Writes queued and not yet answered by the server.
    pub waiting: RwSignal<usize>,
    /// When the group was last caught up with the server.
    pub last_synced: RwSignal<Option<DateTime<Utc>>>,
    /// Writes the server refused, with its reasons, newest last.
    pub rejections: RwSignal<Vec<Rejection>>,
    /// Ids of rows that show queued writes.
    pub pending_ids: RwSignal<BTreeSet<String>>,
    /// The pages show this browser's copy of the group (not the server's
    /// rendering any more).
    pub local: RwSignal<bool>,
    /// The membership ended: the group's local data was wiped.
    pub gone: RwSignal<bool>,
    /// Synced rows that do not read as their table's type (not shown).
    pub unreadable: RwSignal<usize>,
    /// What keeps the sync from working, and what the resident can do
    /// (storage blocked or full, a sync error); cleared once it works.
    pub trouble: RwSignal<Option<String>>,
    /// Set once the engine runs (browser only).
    pub queue: StoredValue<Option<Queue>>,
}

impl SyncUi {
    pub fn new() -> Self {
        Self {
            online: RwSignal::new(true),
            waiting: RwSignal::new(0),
            last_synced: RwSignal::new(None),
            rejections: RwSignal::new(Vec::new()),
            pending_ids: RwSignal::new(BTreeSet::new()),
            local: RwSignal::new(false),
            gone: RwSignal::new(false),
            unreadable: RwSignal::new(0),
            trouble: RwSignal::new(None),
            queue: StoredValue::new(None),
        }
    }

    pub fn is_pending(&self, id: impl ToString) -> bool {
        self.pending_ids.with(|ids| ids.contains(&id.to_string()))
    }
}

impl Default for SyncUi {
    fn default() -> Self {
        Self::new()
    }
}

/// A write and where to say it is safely queued (or why not).
pub type Queued = (Mutation, oneshot::Sender<Result<(), String>>);

/// Queues writes into the engine's outbox.
#[derive(Clone)]
pub struct Queue(pub mpsc::UnboundedSender<Queued>);

impl Queue {
    /// Resolves once the write is stored in the outbox.
    pub async fn send(&self, mutation: Mutation) -> Result<(), String> {
        let (done, stored) = oneshot::channel();
        self.0.unbounded_send((mutation, done)).map_err(|_| "the sync engine stopped".to_owned())?;
        stored.await.map_err(|_| "the sync engine stopped".to_owned())?
    }
}
