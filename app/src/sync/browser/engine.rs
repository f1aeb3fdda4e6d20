//! The sync engine of one group page session: holds the group's rows (from
//! IndexedDB, then the server), keeps them current (catch-up shape requests,
//! then the group's wake long-poll), sends the outbox, and publishes the
//! pages' view with queued writes laid over it.

use super::{net, store::Store, tabs::Tabs};
use crate::{
    model::{GroupData, GroupSummary, MutateRequest, MutateResponse},
    sync::{
        local::{LocalRows, TABLES},
        outbox::{Entry, Outbox},
        protocol::{apply, backoff, Outcome, ShapeState},
        ui::{Queue, Queued, SyncUi},
    },
};
use chrono::Utc;
use futures::{channel::mpsc, StreamExt};
use leptos::prelude::*;
use std::{
    cell::{Cell, RefCell},
    collections::{BTreeMap, BTreeSet},
    rc::Rc,
    time::Duration,
};
use uuid::Uuid;
use web_sys::AbortController;

/// A catch-up request's timeout; the wake long-poll's is the server's hold
/// (20 s) plus this.
const REQUEST_TIMEOUT_MS: u32 = 15_000;
const WAKE_TIMEOUT_MS: u32 = 40_000;

/// Why the sync stops or pauses.
enum Halt {
    Unreachable(Option<Duration>),
    Gone,
    SignedOut,
    Fatal(String),
}

pub struct Engine {
    slug: String,
    me: Uuid,
    group: GroupSummary,
    data: RwSignal<GroupData>,
    ui: SyncUi,
    store: Store,
    rows: RefCell<LocalRows>,
    shapes: RefCell<BTreeMap<String, ShapeState>>,
    outbox: RefCell<Outbox>,
    seq: Cell<u32>,
    stopped: Cell<bool>,
    /// The wake long-poll in flight (aborted on stop).
    waiting: RefCell<Option<AbortController>>,
    /// Nudges the outbox task (a new write, back online).
    kick_outbox: mpsc::UnboundedSender<()>,
    /// Nudges the sync task out of a retry pause (back online).
    kick_sync: mpsc::UnboundedSender<()>,
    /// The browser's `online` event listener.
    online: RefCell<Option<WindowListenerHandle>>,
    /// The other tabs of this group (one of them sends the outbox).
    tabs: RefCell<Option<Tabs>>,
}

/// What the tabs of a group tell each other.
#[derive(serde::Serialize, serde::Deserialize)]
enum TabMessage {
    /// The stored outbox changed: reread it (and send it, if leader).
    OutboxChanged,
    /// The server refused these writes.
    Refused(Vec<crate::sync::outbox::Rejection>),
}

/// Starts the engine for the group shown in `data`; returns the queue the
/// pages write through and a stop function.
pub fn start(data: RwSignal<GroupData>, ui: SyncUi) -> impl FnOnce() {
    let (queue, queued) = mpsc::unbounded::<Queued>();
    ui.queue.set_value(Some(Queue(queue)));
    let engine: Rc<RefCell<Option<Rc<Engine>>>> = Rc::default();
    let running = engine.clone();
    leptos::task::spawn_local(async move {
        let (group, me) = data.with_untracked(|d| (d.group.clone(), d.me));
        let store = match Store::open(format!("{me}/{}", group.slug)).await {
            Ok(store) => store,
            Err(error) => {
                leptos::logging::warn!("{error}: this page works online only");
                ui.queue.set_value(None);
                return;
            }
        };
        let (kick_outbox, outbox_kicks) = mpsc::unbounded();
        let (kick_sync, sync_kicks) = mpsc::unbounded();
        let started = Rc::new(Engine {
            slug: group.slug.clone(),
            me,
            group,
            data,
            ui,
            store,
            rows: RefCell::default(),
            shapes: RefCell::default(),
            outbox: RefCell::default(),
            seq: Cell::new(0),
            stopped: Cell::new(false),
            waiting: RefCell::default(),
            kick_outbox,
            kick_sync,
            online: RefCell::default(),
            tabs: RefCell::default(),
        });
        let (leads, hears) = (Rc::downgrade(&started), Rc::downgrade(&started));
        let tabs = Tabs::join(
            &format!("{me}/{}", started.slug),
            move || {
                if let Some(engine) = leads.upgrade() {
                    engine.kick();
                }
            },
            move |message| {
                if let Some(engine) = hears.upgrade() {
                    engine.heard(&message);
                }
            },
        );
        *started.tabs.borrow_mut() = Some(tabs);
        let kicked = Rc::downgrade(&started);
        let listener = window_event_listener(leptos::ev::online, move |_| {
            if let Some(engine) = kicked.upgrade() {
                engine.kick();
            }
        });
        *started.online.borrow_mut() = Some(listener);
        *running.borrow_mut() = Some(started.clone());
        started.load().await;
        leptos::task::spawn_local(started.clone().accept(queued));
        leptos::task::spawn_local(started.clone().send_outbox(outbox_kicks));
        started.follow(sync_kicks).await;
    });
    move || {
        if let Some(engine) = engine.borrow_mut().take() {
            engine.stop();
        }
    }
}

impl Engine {
    fn stop(&self) {
        self.stopped.set(true);
        if let Some(tabs) = self.tabs.borrow_mut().take() {
            tabs.leave();
        }
        if let Some(listener) = self.online.borrow_mut().take() {
            listener.remove();
        }
        if let Some(request) = self.waiting.borrow_mut().take() {
            request.abort();
        }
        self.kick_outbox.close_channel();
        self.kick_sync.close_channel();
    }

    /// Back online (the browser says so): retry now rather than after the pause.
    fn kick(&self) {
        let _ = self.kick_outbox.unbounded_send(());
        let _ = self.kick_sync.unbounded_send(());
    }

    fn tell_tabs(&self, message: &TabMessage) {
        if let (Some(tabs), Ok(text)) = (self.tabs.borrow().as_ref(), serde_json::to_string(message)) {
            tabs.post(&text);
        }
    }

    fn is_leader(&self) -> bool {
        self.tabs.borrow().as_ref().is_some_and(Tabs::is_leader)
    }

    /// Another tab spoke.
    fn heard(&self, message: &str) {
        match serde_json::from_str(message) {
            Ok(TabMessage::OutboxChanged) => {
                let _ = self.kick_outbox.unbounded_send(());
            }
            Ok(TabMessage::Refused(rejected)) => self.ui.rejections.update(|list| list.extend(rejected)),
            Err(_) => {}
        }
    }

    async fn load(&self) {
        match self.store.load().await {
            Ok(held) => {
                *self.rows.borrow_mut() = held.rows;
                let mut shapes = self.shapes.borrow_mut();
                for state in held.shapes {
                    shapes.insert(state.table.clone(), state);
                }
                self.outbox.borrow_mut().adopt(held.outbox);
            }
            Err(error) => leptos::logging::warn!("{error}"),
        }
        for table in TABLES {
            self.shapes.borrow_mut().entry(table.to_owned()).or_insert_with(|| ShapeState::new(table));
        }
        self.publish();
    }

    /// Whether the local rows are a whole copy of every table (else the
    /// server-rendered data stays on the page).
    fn ready(&self) -> bool {
        self.shapes.borrow().values().all(|s| s.complete)
    }

    /// Shows the local rows with the queued writes over them.
    fn publish(&self) {
        let outbox = self.outbox.borrow();
        self.ui.waiting.set(outbox.waiting());
        if !self.ready() || self.stopped.get() {
            return;
        }
        let overlay = outbox.overlay(self.me);
        let (view, touched) = self.rows.borrow().view(self.group.clone(), self.me, &overlay);
        if self.data.with_untracked(|d| *d != view) {
            self.data.set(view);
        }
        if self.ui.pending_ids.with_untracked(|p| *p != touched) {
            self.ui.pending_ids.set(touched);
        }
    }

    /// Stores each queued write, then answers the page.
    async fn accept(self: Rc<Self>, mut queued: mpsc::UnboundedReceiver<Queued>) {
        while let Some((mutation, done)) = queued.next().await {
            let seq = self.seq.get();
            self.seq.set(seq.wrapping_add(1));
            let entry = Entry { id: Uuid::new_v4(), mutation, queued_at: Utc::now(), seq };
            let stored = self.store.put_entry(&entry).await;
            if stored.is_ok() {
                self.outbox.borrow_mut().push(entry);
                self.publish();
                let _ = self.kick_outbox.unbounded_send(());
                self.tell_tabs(&TabMessage::OutboxChanged);
            }
            let _ = done.send(stored);
        }
    }

    /// Sends queued writes in order whenever there are some, until stopped.
    async fn send_outbox(self: Rc<Self>, mut kicks: mpsc::UnboundedReceiver<()>) {
        let mut attempt = 0;
        while !self.stopped.get() {
            match self.flush().await {
                Ok(()) => {
                    attempt = 0;
                    // Wait for a new write, or every 30 s for other tabs'
                    // writes; sooner while answered writes wait to expire.
                    let pause = if self.outbox.borrow().has_answered() { 2_000 } else { 30_000 };
                    let tick = gloo_timers::future::TimeoutFuture::new(pause);
                    futures::future::select(kicks.next(), tick).await;
                }
                Err(Halt::Unreachable(after)) => {
                    self.ui.online.set(false);
                    let pause = backoff(attempt, after, js_sys::Math::random());
                    attempt += 1;
                    let tick = gloo_timers::future::TimeoutFuture::new(pause.as_millis() as u32);
                    futures::future::select(kicks.next(), tick).await;
                }
                Err(halt) => return self.halt(halt).await,
            }
        }
    }

    async fn flush(&self) -> Result<(), Halt> {
        if let Ok(stored) = self.store.outbox().await {
            self.outbox.borrow_mut().sync_with_store(stored);
        }
        if !self.is_leader() {
            // Another tab sends; this one shows what is still queued.
            self.outbox.borrow_mut().expire(Utc::now());
            self.publish();
            return Ok(());
        }
        loop {
            self.outbox.borrow_mut().expire(Utc::now());
            let batch = self.outbox.borrow().to_send();
            if batch.is_empty() {
                self.publish();
                return Ok(());
            }
            let request =
                MutateRequest { group: self.slug.clone(), mutations: batch.iter().map(Entry::envelope).collect() };
            let answer = net::post_json("/api/mutate", &request, REQUEST_TIMEOUT_MS)
                .await
                .map_err(|_| Halt::Unreachable(None))?;
            let response: MutateResponse = match answer.status {
                200 => serde_json::from_str(&answer.body).map_err(|e| Halt::Fatal(e.to_string()))?,
                401 => return Err(Halt::SignedOut),
                404 => return Err(Halt::Gone),
                429 | 500..=599 => return Err(Halt::Unreachable(retry_after(&answer))),
                other => {
                    return Err(Halt::Fatal(format!("the server refused the queued writes ({other}): {}", answer.body)))
                }
            };
            self.ui.online.set(true);
            let (done, rejected) = self.outbox.borrow_mut().answered(&response, Utc::now());
            for entry in &done {
                if let Err(error) = self.store.delete_entry(entry).await {
                    leptos::logging::warn!("{error}");
                }
            }
            if !rejected.is_empty() {
                self.tell_tabs(&TabMessage::Refused(rejected.clone()));
                self.ui.rejections.update(|list| list.extend(rejected));
            }
            self.tell_tabs(&TabMessage::OutboxChanged);
            self.publish();
        }
    }

    /// Catches every shape up, then waits for the group to change, until stopped.
    async fn follow(self: Rc<Self>, mut kicks: mpsc::UnboundedReceiver<()>) {
        let mut tables: BTreeSet<String> = TABLES.iter().map(|t| t.to_string()).collect();
        let mut attempt = 0;
        let mut kept = false;
        let mut after: Option<i64> = None;
        while !self.stopped.get() {
            let round = async {
                self.catch_up(&tables).await?;
                self.ui.online.set(true);
                self.ui.last_synced.set(Some(Utc::now()));
                self.publish();
                if !kept {
                    // Synced once: the group's pages can open offline from now on.
                    kept = true;
                    let slug = self.slug.clone();
                    leptos::task::spawn_local(async move { super::shell::keep_group_pages(&slug).await });
                }
                // Every shape is caught up to at least its own position; the
                // group up to the last wake's head.
                let shapes = self.shapes.borrow().values().map(ShapeState::position).min().unwrap_or(0);
                self.wake(after.map_or(shapes, |a| a.max(shapes))).await
            };
            match round.await {
                Ok((head, changed)) => {
                    attempt = 0;
                    // The other tables had nothing up to `head`: wait from there.
                    after = Some(head);
                    tables = changed;
                }
                Err(Halt::Unreachable(retry)) => {
                    self.ui.online.set(false);
                    self.publish();
                    let pause = backoff(attempt, retry, js_sys::Math::random());
                    attempt += 1;
                    let tick = gloo_timers::future::TimeoutFuture::new(pause.as_millis() as u32);
                    futures::future::select(kicks.next(), tick).await;
                    tables = TABLES.iter().map(|t| t.to_string()).collect();
                    after = None;
                }
                Err(halt) => return self.halt(halt).await,
            }
        }
    }

    /// Brings the named shapes up to date, all at once.
    async fn catch_up(&self, tables: &BTreeSet<String>) -> Result<(), Halt> {
        let results = futures::future::join_all(tables.iter().map(|t| self.catch_up_table(t))).await;
        results.into_iter().collect()
    }

    async fn catch_up_table(&self, table: &str) -> Result<(), Halt> {
        let url = format!("/g/{}/v1/shape", self.slug);
        loop {
            if self.stopped.get() {
                return Ok(());
            }
            let mut state = self.shapes.borrow()[table].clone();
            let abort = AbortController::new().map_err(|_| Halt::Unreachable(None))?;
            let answer = net::get(&url, &state.query(false), REQUEST_TIMEOUT_MS, &abort)
                .await
                .map_err(|_| Halt::Unreachable(None))?;
            let outcome = state.on_answer(answer.status, |h| answer.header(h), &answer.body);
            match outcome.map_err(|e| Halt::Fatal(e.to_string()))? {
                Outcome::Apply { changes, up_to_date } => {
                    let mut rows = self.rows.borrow().tables.get(table).cloned().unwrap_or_default();
                    apply(&mut rows, &changes);
                    self.store.commit(&state, &changes, &rows).await.map_err(Halt::Fatal)?;
                    *self.rows.borrow_mut().table_mut(table) = rows;
                    self.shapes.borrow_mut().insert(table.to_owned(), state);
                    let txids: Vec<u64> = changes.iter().flat_map(|c| c.txids.iter().copied()).collect();
                    self.outbox.borrow_mut().seen(&txids);
                    if up_to_date {
                        return Ok(());
                    }
                }
                Outcome::Refetch => {
                    self.store.reset(&state).await.map_err(Halt::Fatal)?;
                    self.rows.borrow_mut().table_mut(table).clear();
                    self.shapes.borrow_mut().insert(table.to_owned(), state);
                }
                Outcome::Gone => return Err(Halt::Gone),
                Outcome::SignedOut => return Err(Halt::SignedOut),
                Outcome::Retry { after } => return Err(Halt::Unreachable(after)),
                Outcome::Fatal(message) => return Err(Halt::Fatal(message)),
            }
        }
    }

    /// Waits until the group's log passes `after`; the head it reached and
    /// the tables to catch up.
    async fn wake(&self, after: i64) -> Result<(i64, BTreeSet<String>), Halt> {
        let abort = AbortController::new().map_err(|_| Halt::Unreachable(None))?;
        *self.waiting.borrow_mut() = Some(abort.clone());
        let url = format!("/g/{}/v1/wake", self.slug);
        let answer = net::get(&url, &[("after", after.to_string())], WAKE_TIMEOUT_MS, &abort).await;
        self.waiting.borrow_mut().take();
        let answer = answer.map_err(|_| Halt::Unreachable(None))?;
        match answer.status {
            200 => {}
            401 => return Err(Halt::SignedOut),
            404 => return Err(Halt::Gone),
            429 | 500..=599 => return Err(Halt::Unreachable(retry_after(&answer))),
            other => return Err(Halt::Fatal(format!("wake answered {other}"))),
        }
        #[derive(serde::Deserialize)]
        struct Woken {
            head: i64,
            tables: Option<BTreeSet<String>>,
        }
        let woken: Woken = serde_json::from_str(&answer.body).map_err(|e| Halt::Fatal(e.to_string()))?;
        let tables = woken.tables.unwrap_or_else(|| TABLES.iter().map(|t| t.to_string()).collect());
        Ok((woken.head, tables))
    }

    async fn halt(&self, halt: Halt) {
        match halt {
            Halt::Gone => {
                // Not a member any more: nothing of the group stays here.
                self.stopped.set(true);
                if let Err(error) = self.store.wipe().await {
                    leptos::logging::warn!("{error}");
                }
                self.outbox.borrow_mut().clear();
                *self.rows.borrow_mut() = LocalRows::default();
                self.ui.gone.set(true);
            }
            Halt::SignedOut => self.stopped.set(true),
            Halt::Fatal(message) => leptos::logging::warn!("sync stopped: {message}"),
            Halt::Unreachable(_) => {}
        }
    }
}

fn retry_after(answer: &net::Answer) -> Option<Duration> {
    answer.header("retry-after").and_then(|s| s.trim().parse().ok()).map(Duration::from_secs)
}
