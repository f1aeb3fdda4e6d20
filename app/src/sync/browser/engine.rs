//! The sync engine of one group page session: holds the group's rows (from
//! IndexedDB, then the server) and publishes the pages' view with queued
//! writes laid over it. Its two tasks keep the rows current (`follow`) and
//! send the outbox (`send`).

use super::{events::EventStream, store::Store, tabs::Tabs};
use crate::{
    model::GroupData,
    sync::{
        local::{Key, LocalRows, Overlay, Unreadable},
        outbox::Outbox,
        protocol::ShapeState,
        ui::{Queue, Queued, SyncUi},
        wakes::{Wake, Wakes},
    },
};
use futures::channel::mpsc;
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
pub(super) const REQUEST_TIMEOUT_MS: u32 = 15_000;
pub(super) const WAKE_TIMEOUT_MS: u32 = 40_000;

/// Why the sync stops or pauses.
pub(super) enum Halt {
    Unreachable(Option<Duration>),
    Gone,
    SignedOut,
    Fatal(String),
}

pub struct Engine {
    pub(super) slug: String,
    pub(super) me: Uuid,
    /// What the pages read: the rows typed and indexed, with the queued
    /// writes over them (shown once every shape is a whole copy).
    pub(super) local: RwSignal<Option<GroupData>>,
    pub(super) ui: SyncUi,
    pub(super) store: Store,
    pub(super) rows: RefCell<LocalRows>,
    /// Rows changed since `local` was last brought up to date.
    pub(super) changed: RefCell<BTreeSet<Key>>,
    /// The rows the queued writes changed when `local` was last brought up
    /// to date.
    pub(super) overlaid: RefCell<BTreeSet<Key>>,
    pub(super) unreadable: RefCell<Unreadable>,
    pub(super) shapes: RefCell<BTreeMap<String, ShapeState>>,
    pub(super) outbox: RefCell<Outbox>,
    pub(super) seq: Cell<u32>,
    pub(super) stopped: Cell<bool>,
    /// The wake long-poll in flight (aborted on stop).
    pub(super) waiting: RefCell<Option<AbortController>>,
    /// The group's wake event stream, if this tab holds it, and the log
    /// position it has reached.
    pub(super) stream: RefCell<Option<(EventStream, i64)>>,
    /// Streams are not tried before this time (ms since the epoch): set
    /// for a while when they fail (long-polls meanwhile).
    pub(super) streams_from: Cell<f64>,
    /// Streams that failed to open, or ended at once, in a row.
    pub(super) stream_failures: Cell<u32>,
    /// When another tab last relayed its stream (ms since the epoch).
    pub(super) last_relay: Cell<f64>,
    /// What was heard of the group's log moving (here or from other tabs).
    pub(super) wakes: RefCell<Wakes>,
    /// Wakes the sync task's wait (another tab relayed a move).
    pub(super) nudge_wake: mpsc::UnboundedSender<()>,
    /// Nudges the outbox task (a new write, back online).
    pub(super) kick_outbox: mpsc::UnboundedSender<()>,
    /// Nudges the sync task out of a retry pause (back online).
    pub(super) kick_sync: mpsc::UnboundedSender<()>,
    /// The browser's `online` event listener.
    pub(super) online: RefCell<Option<WindowListenerHandle>>,
    /// The other tabs of this group (one of them sends the outbox).
    pub(super) tabs: RefCell<Option<Tabs>>,
    /// Unreadable rows already written to the console.
    pub(super) reported: RefCell<BTreeSet<Key>>,
}

/// What the sync indicator says of a sync error, with what to do.
pub(super) fn trouble(error: &str) -> String {
    if error.contains("Quota") {
        "This browser's storage is full: free some space (or clear other sites' data); syncing resumes by itself."
            .to_owned()
    } else {
        format!("Syncing paused ({error}); it tries again every minute. If it stays, reload the page.")
    }
}

/// What the tabs of a group tell each other.
#[derive(serde::Serialize, serde::Deserialize)]
pub(super) enum TabMessage {
    /// The stored outbox changed: reread it (and send it, if leader).
    OutboxChanged,
    /// The server refused these writes.
    Refused(Vec<crate::sync::outbox::Rejection>),
    /// The tab holding the group's wake stream heard the log move.
    Woke(Wake),
}

/// Starts the engine for `me`'s copy of group `slug`, kept in `local`;
/// gives the pages a queue to write through (`ui.queue`); returns a stop
/// function.
pub fn start(slug: String, me: Uuid, local: RwSignal<Option<GroupData>>, ui: SyncUi) -> impl FnOnce() {
    let (queue, queued) = mpsc::unbounded::<Queued>();
    ui.queue.set_value(Some(Queue(queue)));
    let engine: Rc<RefCell<Option<Rc<Engine>>>> = Rc::default();
    let running = engine.clone();
    leptos::task::spawn_local(async move {
        let store = match Store::open(format!("{me}/{slug}")).await {
            Ok(store) => store,
            Err(error) => {
                leptos::logging::warn!("{error}: this page works online only");
                ui.trouble.set(Some(
                    "This browser keeps no copy of the group (private browsing, or site storage blocked): \
                     pages work online only, and changes are sent at once."
                        .to_owned(),
                ));
                ui.queue.set_value(None);
                return;
            }
        };
        let (kick_outbox, outbox_kicks) = mpsc::unbounded();
        let (kick_sync, sync_kicks) = mpsc::unbounded();
        let (nudge_wake, wake_nudges) = mpsc::unbounded();
        let started = Rc::new(Engine {
            slug,
            me,
            local,
            ui,
            store,
            rows: RefCell::default(),
            changed: RefCell::default(),
            overlaid: RefCell::default(),
            unreadable: RefCell::default(),
            shapes: RefCell::default(),
            outbox: RefCell::default(),
            seq: Cell::new(0),
            stopped: Cell::new(false),
            waiting: RefCell::default(),
            stream: RefCell::default(),
            streams_from: Cell::new(0.0),
            stream_failures: Cell::new(0),
            last_relay: Cell::new(js_sys::Date::now()),
            wakes: RefCell::default(),
            nudge_wake,
            kick_outbox,
            kick_sync,
            online: RefCell::default(),
            tabs: RefCell::default(),
            reported: RefCell::default(),
        });
        let (leads, hears) = (Rc::downgrade(&started), Rc::downgrade(&started));
        let tabs = Tabs::join(
            &format!("{me}/{}", started.slug),
            move || {
                if let Some(engine) = leads.upgrade() {
                    // This tab sends the outbox and holds the stream now.
                    engine.kick();
                    let _ = engine.nudge_wake.unbounded_send(());
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
        started.follow(sync_kicks, wake_nudges).await;
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
        self.stream.borrow_mut().take();
        self.kick_outbox.close_channel();
        self.kick_sync.close_channel();
        self.nudge_wake.close_channel();
    }

    /// Back online (the browser says so): retry now rather than after the pause.
    pub(super) fn kick(&self) {
        let _ = self.kick_outbox.unbounded_send(());
        let _ = self.kick_sync.unbounded_send(());
    }

    pub(super) fn tell_tabs(&self, message: &TabMessage) {
        if let (Some(tabs), Ok(text)) = (self.tabs.borrow().as_ref(), serde_json::to_string(message)) {
            tabs.post(&text);
        }
    }

    pub(super) fn is_leader(&self) -> bool {
        self.tabs.borrow().as_ref().is_some_and(Tabs::is_leader)
    }

    /// Another tab spoke.
    fn heard(&self, message: &str) {
        match serde_json::from_str(message) {
            Ok(TabMessage::OutboxChanged) => {
                let _ = self.kick_outbox.unbounded_send(());
            }
            Ok(TabMessage::Refused(rejected)) => self.ui.rejections.update(|list| list.extend(rejected)),
            Ok(TabMessage::Woke(wake)) => {
                self.last_relay.set(js_sys::Date::now());
                self.wakes.borrow_mut().hear(wake);
                let _ = self.nudge_wake.unbounded_send(());
            }
            Err(_) => {}
        }
    }

    async fn load(&self) {
        match self.store.load().await {
            Ok(held) => {
                *self.rows.borrow_mut() = held.rows;
                let mut shapes = self.shapes.borrow_mut();
                for state in held.shapes {
                    self.learn_schema(&state);
                    shapes.insert(state.table.clone(), state);
                }
                self.outbox.borrow_mut().adopt(held.outbox);
            }
            Err(error) => {
                leptos::logging::warn!("{error}");
                self.ui.trouble.set(Some(trouble(&error)));
            }
        }
        for table in crate::model::registry::table_names() {
            self.shapes.borrow_mut().entry(table.to_owned()).or_insert_with(|| ShapeState::new(table));
        }
        // The one whole build; from here on each change retypes its own rows.
        self.changed.borrow_mut().clear();
        let rows = self.rows.borrow();
        let overlay = Overlay::new(&rows, &self.outbox.borrow().overlay(self.me));
        let shown = rows.shown(&overlay);
        *self.overlaid.borrow_mut() = overlay.keys();
        *self.unreadable.borrow_mut() = shown.unreadable;
        let _ = self.local.try_set(Some(shown.data));
        drop(rows);
        self.publish();
    }

    /// Notes rows of `table` the stream changed (shown at the next `publish`).
    pub(super) fn touch(&self, table: &str, keys: impl IntoIterator<Item = String>) {
        self.changed.borrow_mut().extend(keys.into_iter().map(|pk| (table.to_owned(), pk)));
    }

    /// Types the shape's rows by the schema the server last sent for it.
    pub(super) fn learn_schema(&self, state: &ShapeState) {
        let Some(schema) = &state.schema else { return };
        let mut rows = self.rows.borrow_mut();
        if rows.schemas.get(&state.table) == Some(schema) {
            return;
        }
        rows.schemas.insert(state.table.clone(), schema.clone());
        // A new schema may read the table's rows differently: all of them
        // are typed again at the next publish.
        let held: Vec<String> = rows.tables.get(&state.table).map(|t| t.keys().cloned().collect()).unwrap_or_default();
        drop(rows);
        self.touch(&state.table, held);
    }

    /// Whether the local rows are a whole copy of every table (else the
    /// server-rendered data stays on the page).
    fn ready(&self) -> bool {
        self.shapes.borrow().values().all(|s| s.complete)
    }

    /// Brings the pages' copy up to date: the rows changed since, and those
    /// the queued writes change (or changed until now), retyped; no other
    /// row is read. The pages switch to it once every shape is whole.
    pub(super) fn publish(&self) {
        let outbox = self.outbox.borrow();
        self.ui.waiting.set(outbox.waiting());
        if self.stopped.get() {
            return;
        }
        // While a table is read again from scratch (a must-refetch), the
        // pages keep what they show; the changes wait for the table.
        if self.ui.local.get_untracked() && !self.ready() {
            return;
        }
        let pending = outbox.overlay(self.me);
        let rows = self.rows.borrow();
        let overlay = Overlay::new(&rows, &pending);
        let now_overlaid = overlay.keys();
        let mut keys = std::mem::take(&mut *self.changed.borrow_mut());
        keys.extend(std::mem::replace(&mut *self.overlaid.borrow_mut(), now_overlaid.clone()));
        keys.extend(now_overlaid);
        if !keys.is_empty() {
            let mut unreadable = self.unreadable.borrow_mut();
            let _ = self.local.try_update(|local| {
                rows.refresh(local.get_or_insert_with(GroupData::default), &mut unreadable, &overlay, keys)
            });
        }
        drop(rows);
        self.report();
        if self.ready() && !self.ui.local.get_untracked() {
            self.ui.local.set(true);
        }
        let touched: BTreeSet<String> = pending.into_iter().map(|(_, change)| change.pk).collect();
        if self.ui.pending_ids.with_untracked(|p| *p != touched) {
            self.ui.pending_ids.set(touched);
        }
    }

    /// Rows that do not read as their table's type: counted in the sync
    /// indicator, each written to the console once.
    fn report(&self) {
        let unreadable = self.unreadable.borrow();
        let mut reported = self.reported.borrow_mut();
        for (key, why) in unreadable.iter() {
            if reported.insert(key.clone()) {
                leptos::logging::warn!("a synced row could not be read and is not shown: {} {}: {why}", key.0, key.1);
            }
        }
        if self.ui.unreadable.get_untracked() != unreadable.len() {
            self.ui.unreadable.set(unreadable.len());
        }
    }

    pub(super) async fn halt(&self, halt: Halt) {
        match halt {
            Halt::Gone => {
                // Not a member any more: nothing of the group stays here
                // (and another tab of it takes the lock, and learns so).
                self.stopped.set(true);
                self.stream.borrow_mut().take();
                if let Some(tabs) = self.tabs.borrow_mut().take() {
                    tabs.leave();
                }
                if let Err(error) = self.store.wipe().await {
                    leptos::logging::warn!("{error}");
                }
                super::shell::forget_group(&self.slug).await;
                self.outbox.borrow_mut().clear();
                *self.rows.borrow_mut() = LocalRows::default();
                let _ = self.local.try_set(None);
                self.ui.gone.set(true);
            }
            Halt::SignedOut => {
                // The session ended (or is someone else's now): stop showing
                // this person's group and ask for a sign-in.
                self.stop();
                let window = leptos::prelude::window();
                let here = window.location().pathname().unwrap_or_default();
                let _ = window.location().assign(&crate::model::login_then(&here));
            }
            Halt::Fatal(_) | Halt::Unreachable(_) => {}
        }
    }
}
