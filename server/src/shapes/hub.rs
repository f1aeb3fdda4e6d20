//! The in-memory fan-out: one LISTEN connection per group database (and
//! one on the registry, for ended access, when it holds no groups) per
//! server process, and per group a tail of its latest logged changes that every waiting live request
//! of that group reads. A change costs one log query per group, however
//! many clients wait; a waiting client holds no database connection.
//!
//! Tails are bounded in entries each and in bytes all together, their
//! shared answers included (the `budget`, `sync.tail_budget_bytes`): past
//! it, the tails of the groups followed least recently are emptied (their
//! clients catch up from the database, as a client behind the tail always
//! does), then, if one group alone is over, its oldest changes go; an answer
//! that would not fit is not kept for sharing.

use super::{access::AccessCache, batch::Answer, catalog::Catalog, change::LogChange, reader};
use app::{
    backend::{groups::Group, Databases, SchemaName},
    error::AppError,
};
use parking_lot::{Mutex, RwLock, RwLockReadGuard};
use sqlx::{postgres::PgListener, PgPool};
use std::{
    collections::{HashMap, HashSet, VecDeque},
    sync::{
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};
use tokio::sync::{watch, Notify};

/// Channel the change-log triggers notify (payload: the group's schema).
pub const CHANGES_CHANNEL: &str = "courtyard_changes";
/// Channel migrations notify when a group schema changed version.
pub const SCHEMA_CHANNEL: &str = "courtyard_schema";
/// Channel notified when memberships or sessions end.
pub const ACCESS_CHANNEL: &str = "courtyard_access";
/// Most changes a tail keeps; a client further behind reads the database.
const TAIL_CAPACITY: usize = 2_000;
/// How often an unchanging tail checks whether anyone still follows it.
const TAIL_IDLE: Duration = Duration::from_secs(300);
/// Changes read per query when a tail catches up.
const TAIL_PAGE: i64 = 5_000;

pub struct Hub {
    /// Who may follow which group, for the hot paths.
    pub access: AccessCache,
    /// Log reads made by tails (for tests and metrics).
    reads: AtomicU64,
    /// The LISTEN connections, each with whether it is up.
    listeners: Vec<Arc<Listener>>,
    /// Bytes all tails may hold together, and what they hold.
    budget: usize,
    held: AtomicUsize,
    tails: Mutex<HashMap<String, Arc<Tail>>>,
    catalogs: Mutex<HashMap<String, Arc<Catalog>>>,
    /// The groups written since the retention job last asked; `None` when
    /// not known (at start, and after the LISTEN connection was lost).
    written: Mutex<Option<HashSet<String>>>,
}

/// A group's latest changes: positions `start + 1 ..= head`, in order.
#[derive(Default)]
pub struct TailState {
    pub loaded: bool,
    pub start: i64,
    pub head: i64,
    pub changes: VecDeque<Arc<LogChange>>,
    /// The weight (`LogChange::weight`) of `changes`.
    pub bytes: usize,
    /// Bumped when the group's schema is migrated.
    pub schema_epoch: u64,
}

impl TailState {
    /// Drops the oldest change; returns its weight.
    fn pop_oldest(&mut self) -> usize {
        let weight = self.changes.pop_front().map_or(0, |change| change.weight());
        self.bytes -= weight;
        self.start = self.head - self.changes.len() as i64;
        weight
    }
}

/// Answers built at one head, by (shape handle, offset), and their bytes.
#[derive(Default)]
struct SharedAnswers {
    head: i64,
    by_shape: HashMap<(String, i64), Answer>,
    bytes: usize,
}

/// One LISTEN connection: on a group database (changes and schema
/// versions of the groups there) and/or the registry (ended access).
struct Listener {
    /// The group database's name, or `registry`.
    name: String,
    pool: PgPool,
    channels: Vec<&'static str>,
    up: AtomicBool,
}

pub struct Tail {
    schema: SchemaName,
    /// The group database (its name and pool) the tail reads from.
    database: Arc<str>,
    pool: PgPool,
    /// Answers built from this tail, shared by every waiter asking the same
    /// (shape handle, offset) at the same head: one serialisation per change
    /// and shape, however many clients follow it.
    answers: Mutex<SharedAnswers>,
    state: RwLock<TailState>,
    /// Ticks on every update of `state`.
    updated: watch::Sender<u64>,
    refresh_wanted: Notify,
    /// When someone last started to follow it (eviction order).
    followed_at: Mutex<Instant>,
}

impl Hub {
    /// Creates the hub and starts its LISTEN task on the current runtime;
    /// its tails hold at most `budget` bytes together.
    pub fn start(databases: &Databases, budget: usize) -> Arc<Self> {
        let listener = |name: &str, pool: &PgPool, channels: Vec<&'static str>| {
            Arc::new(Listener { name: name.to_owned(), pool: pool.clone(), channels, up: AtomicBool::new(false) })
        };
        let mut listeners: Vec<Arc<Listener>> = databases
            .all()
            .iter()
            .map(|db| {
                let mut channels = vec![CHANGES_CHANNEL, SCHEMA_CHANNEL];
                if db.is_registry() {
                    channels.push(ACCESS_CHANNEL);
                }
                listener(db.name(), &db.pool, channels)
            })
            .collect();
        if !databases.all().iter().any(|db| db.is_registry()) {
            listeners.push(listener("registry", &databases.registry, vec![ACCESS_CHANNEL]));
        }
        let hub = Arc::new(Self {
            access: AccessCache::default(),
            reads: AtomicU64::new(0),
            listeners,
            budget,
            held: AtomicUsize::new(0),
            tails: Mutex::default(),
            catalogs: Mutex::default(),
            written: Mutex::default(),
        });
        for listener in &hub.listeners {
            tokio::spawn(listen(hub.clone(), listener.clone()));
        }
        hub
    }

    /// The group's catalogue, loaded once and kept until its schema changes.
    pub async fn catalog(&self, group: &Group) -> Result<Arc<Catalog>, AppError> {
        let schema = &group.schema;
        if let Some(catalog) = self.catalogs.lock().get(schema.as_str()) {
            return Ok(catalog.clone());
        }
        let catalog = Arc::new(Catalog::load(&group.db.pool, schema).await?);
        self.catalogs.lock().insert(schema.as_str().to_owned(), catalog.clone());
        Ok(catalog)
    }

    /// The group's tail, created (and its refresher started) on first use,
    /// and a subscription to its updates (taken under the map's lock, so an
    /// idle tail is never dropped while someone starts to follow it).
    pub fn follow(self: &Arc<Self>, group: &Group) -> (Arc<Tail>, watch::Receiver<u64>) {
        let schema = &group.schema;
        let mut tails = self.tails.lock();
        // A tail on the database the group lives on: one read from where
        // it lived before it moved is replaced (its waiters were woken by
        // the move's notice, and come back to the new one).
        if let Some(tail) = tails.get(schema.as_str()).filter(|tail| *tail.database == *group.db.name()) {
            *tail.followed_at.lock() = Instant::now();
            return (tail.clone(), tail.updated.subscribe());
        }
        let tail = Arc::new(Tail {
            schema: schema.clone(),
            database: group.db.name().into(),
            pool: group.db.pool.clone(),
            answers: Mutex::default(),
            state: RwLock::default(),
            updated: watch::Sender::new(0),
            refresh_wanted: Notify::new(),
            followed_at: Mutex::new(Instant::now()),
        });
        tails.insert(schema.as_str().to_owned(), tail.clone());
        tokio::spawn(refresh_loop(self.clone(), tail.clone()));
        tail.refresh_wanted.notify_one();
        let updates = tail.updated.subscribe();
        (tail, updates)
    }

    /// Whether every LISTEN connection is up (live subscribers hear of
    /// changes only through them).
    pub fn is_listening(&self) -> bool {
        self.listeners.iter().all(|listener| listener.up.load(Ordering::Relaxed))
    }

    /// Each LISTEN connection (by group database, or `registry`) and
    /// whether it is up.
    pub fn listening(&self) -> Vec<(String, bool)> {
        self.listeners.iter().map(|listener| (listener.name.clone(), listener.up.load(Ordering::Relaxed))).collect()
    }

    /// How many times tails have read the change log.
    pub fn log_reads(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
    }

    /// The bytes all tails hold now, counted afresh from their changes and
    /// kept answers (not from the running count the budget is kept by), and
    /// how many tails there are: for tests and operators.
    pub fn tail_memory(&self) -> (usize, usize) {
        let tails: Vec<Arc<Tail>> = self.tails.lock().values().cloned().collect();
        let bytes = tails
            .iter()
            .map(|tail| {
                let changes: usize = tail.state().changes.iter().map(|change| change.weight()).sum();
                let answers: usize = tail.answers.lock().by_shape.values().map(Answer::weight).sum();
                changes + answers
            })
            .sum();
        (bytes, tails.len())
    }

    /// Drops the tail if nobody follows it; true if dropped.
    fn drop_if_idle(&self, tail: &Tail) -> bool {
        let mut tails = self.tails.lock();
        let idle = tail.updated.receiver_count() == 0;
        if idle {
            // (Unless a tail on the group's new database replaced it.)
            if tails.get(tail.schema.as_str()).is_some_and(|current| std::ptr::eq(current.as_ref(), tail)) {
                tails.remove(tail.schema.as_str());
            }
            self.forget_answers(tail);
            let mut state = tail.state.write();
            self.held.fetch_sub(std::mem::take(&mut state.bytes), Ordering::Relaxed);
            state.changes.clear();
            state.start = state.head;
        }
        idle
    }

    /// Keeps `answer` for whoever asks the same shape from the same offset
    /// at the same head, unless it would take the tails over their budget.
    pub fn share_answer(&self, tail: &Tail, handle: &str, position: i64, head: i64, answer: &Answer) {
        let mut answers = tail.answers.lock();
        if head < answers.head {
            return; // built from an older head than others already shared
        }
        if head > answers.head {
            self.held.fetch_sub(std::mem::take(&mut answers.bytes), Ordering::Relaxed);
            *answers = SharedAnswers { head, ..SharedAnswers::default() };
        }
        let size = answer.weight();
        if self.held.load(Ordering::Relaxed) + size > self.budget {
            return;
        }
        if let Some(replaced) = answers.by_shape.insert((handle.to_owned(), position), answer.clone()) {
            answers.bytes -= replaced.weight();
            self.held.fetch_sub(replaced.weight(), Ordering::Relaxed);
        }
        answers.bytes += size;
        self.held.fetch_add(size, Ordering::Relaxed);
    }

    fn forget_answers(&self, tail: &Tail) {
        let mut answers = tail.answers.lock();
        self.held.fetch_sub(std::mem::take(&mut answers.bytes), Ordering::Relaxed);
        answers.by_shape.clear();
    }

    /// Back under the budget: empties the tails followed least recently
    /// (not `keep`, the one just refreshed), then trims `keep` itself,
    /// down to three quarters of it, so answers have room to be shared.
    fn enforce_budget(&self, keep: &Tail) {
        let target = self.budget - self.budget / 4;
        if self.held.load(Ordering::Relaxed) <= self.budget {
            return;
        }
        let mut others: Vec<(Instant, Arc<Tail>)> = self
            .tails
            .lock()
            .values()
            .filter(|t| !std::ptr::eq(t.as_ref(), keep))
            .map(|t| (*t.followed_at.lock(), t.clone()))
            .collect();
        others.sort_by_key(|(at, _)| *at);
        let tails = others.iter().map(|(_, t)| t.as_ref()).chain([keep]);
        for tail in tails {
            self.forget_answers(tail);
            let mut state = tail.state.write();
            while !state.changes.is_empty() && self.held.load(Ordering::Relaxed) > target {
                let freed = state.pop_oldest();
                self.held.fetch_sub(freed, Ordering::Relaxed);
            }
            drop(state);
            if self.held.load(Ordering::Relaxed) <= target {
                break;
            }
        }
    }

    /// The groups written since the last call, or `None` if that is not
    /// known (then every group may have been).
    pub fn take_written(&self) -> Option<HashSet<String>> {
        self.written.lock().replace(HashSet::new())
    }

    fn changed(&self, schema: &str) {
        if let Some(written) = self.written.lock().as_mut() {
            written.insert(schema.to_owned());
        }
        let tail = self.tails.lock().get(schema).cloned();
        if let Some(tail) = tail {
            tail.refresh_wanted.notify_one();
        }
    }

    fn schema_changed(&self, schema: &str) {
        self.catalogs.lock().remove(schema);
        let tail = self.tails.lock().get(schema).cloned();
        if let Some(tail) = tail {
            tail.state.write().schema_epoch += 1;
            tail.updated.send_modify(|tick| *tick += 1);
        }
    }

    /// After a (re)connect nothing said while disconnected is known: reread all.
    fn resync_all(&self) {
        self.access.ended(None);
        *self.written.lock() = None;
        self.catalogs.lock().clear();
        for tail in self.tails.lock().values() {
            tail.state.write().schema_epoch += 1;
            tail.refresh_wanted.notify_one();
        }
    }
}

impl Tail {
    pub fn state(&self) -> RwLockReadGuard<'_, TailState> {
        self.state.read()
    }

    /// The answer already built for `handle` from `position` at `head`.
    pub fn shared_answer(&self, handle: &str, position: i64, head: i64) -> Option<Answer> {
        let answers = self.answers.lock();
        (answers.head == head).then(|| answers.by_shape.get(&(handle.to_owned(), position)).cloned()).flatten()
    }

    /// Asks for a reread of the log (e.g. a client is ahead of the tail).
    pub fn want_refresh(&self) {
        self.refresh_wanted.notify_one();
    }

    /// Reads the changes after the tail's head and appends them, counting
    /// the bytes it gains or loses in `held` (under its lock, as every
    /// change of its bytes is).
    async fn refresh(&self, held: &AtomicUsize) -> Result<(), AppError> {
        let (loaded, from) = {
            let state = self.state();
            (state.loaded, state.head)
        };
        // One statement per page: the head and the changes up to it.
        let mut fresh = Vec::new();
        let mut after = from;
        let head = loop {
            let (head, page) =
                reader::log_to_head(&self.pool, &self.schema, if loaded { after } else { i64::MAX }, TAIL_PAGE).await?;
            let full = page.len() as i64 == TAIL_PAGE;
            if let Some(last) = page.last() {
                after = last.position;
            }
            fresh.extend(page.into_iter().map(Arc::new));
            if !full {
                break head;
            }
        };
        if head != from {
            // Answers built at the old head will not be asked for again
            // (and after a restore they would be wrong).
            let mut answers = self.answers.lock();
            held.fetch_sub(std::mem::take(&mut answers.bytes), Ordering::Relaxed);
            *answers = SharedAnswers { head, ..SharedAnswers::default() };
        }
        let mut state = self.state.write();
        let before = state.bytes;
        // The tail holds every position of its range (it finds a change by
        // its distance from `start`), and no merged update that replaces
        // one it already holds (a client would get both).
        let whole = head >= from
            && fresh.len() as i64 == head - from
            && fresh.iter().all(|change| change.merged_from.is_none_or(|first| first > from));
        if !loaded || !whole {
            // First load; or the log went back (a restored database): start
            // at its head, and clients ahead of it get 409 and resync; or
            // positions are missing, or replaced (removed by retention or
            // merged by compaction before this tail read them): start at the
            // head, and clients behind it read the database.
            *state = TailState { loaded: true, start: head, head, changes: VecDeque::new(), bytes: 0, ..*state };
        } else {
            state.bytes += fresh.iter().map(|change| change.weight()).sum::<usize>();
            state.changes.extend(fresh);
            state.head = head;
            state.start = state.head - state.changes.len() as i64;
            while state.changes.len() > TAIL_CAPACITY {
                state.pop_oldest();
            }
        }
        if state.bytes >= before {
            held.fetch_add(state.bytes - before, Ordering::Relaxed);
        } else {
            held.fetch_sub(before - state.bytes, Ordering::Relaxed);
        }
        drop(state);
        self.updated.send_modify(|tick| *tick += 1);
        Ok(())
    }
}

async fn refresh_loop(hub: Arc<Hub>, tail: Arc<Tail>) {
    loop {
        let woken = tokio::time::timeout(TAIL_IDLE, tail.refresh_wanted.notified()).await.is_ok();
        // Nobody follows: drop the tail rather than keep reading (the next
        // follower starts a fresh one).
        if hub.drop_if_idle(&tail) {
            return;
        }
        if !woken {
            continue;
        }
        let mut delay = Duration::from_millis(100);
        loop {
            hub.reads.fetch_add(1, Ordering::Relaxed);
            crate::ops::metrics::log_read();
            match tail.refresh(&hub.held).await {
                Ok(()) => {
                    hub.enforce_budget(&tail);
                    break;
                }
                Err(error) => {
                    tracing::warn!(?error, schema = tail.schema.as_str(), "reading the change log failed; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        }
    }
}

/// Follows one connection's notification channels; on every (re)connect
/// it rereads all tails, since notifications sent while disconnected are
/// lost.
async fn listen(hub: Arc<Hub>, on: Arc<Listener>) {
    let mut delay = Duration::from_millis(100);
    loop {
        let mut listener = match connect(&on).await {
            Ok(listener) => listener,
            Err(error) => {
                tracing::warn!(%error, database = on.name, "cannot LISTEN for changes; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        delay = Duration::from_millis(100);
        on.up.store(true, Ordering::Relaxed);
        hub.resync_all();
        loop {
            match listener.try_recv().await {
                Ok(Some(notification)) => match notification.channel() {
                    CHANGES_CHANNEL => hub.changed(notification.payload()),
                    SCHEMA_CHANNEL => hub.schema_changed(notification.payload()),
                    ACCESS_CHANNEL => match notification.payload().strip_prefix("group:") {
                        Some(slug) => hub.access.ended_group(slug),
                        None => hub.access.ended(notification.payload().parse().ok()),
                    },
                    _ => {}
                },
                Ok(None) => break,
                Err(error) => {
                    tracing::warn!(%error, database = on.name, "the LISTEN connection failed; reconnecting");
                    break;
                }
            }
        }
        on.up.store(false, Ordering::Relaxed);
    }
}

async fn connect(on: &Listener) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(&on.pool).await?;
    listener.listen_all(on.channels.iter().copied()).await?;
    Ok(listener)
}
