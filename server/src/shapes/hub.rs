//! The in-memory fan-out: one LISTEN connection per server process, and per
//! group a tail of its latest logged changes that every waiting live request
//! of that group reads. A change costs one log query per group, however
//! many clients wait; a waiting client holds no database connection.

use super::{access::AccessCache, batch::Answer, catalog::Catalog, change::LogChange, reader};
use app::{backend::SchemaName, error::AppError};
use sqlx::{postgres::PgListener, PgPool};
use std::{
    collections::{HashMap, VecDeque},
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex, RwLock,
    },
    time::Duration,
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
    pool: PgPool,
    /// Who may follow which group, for the hot paths.
    pub access: AccessCache,
    /// Log reads made by tails (for tests and metrics).
    reads: AtomicU64,
    tails: Mutex<HashMap<String, Arc<Tail>>>,
    catalogs: Mutex<HashMap<String, Arc<Catalog>>>,
}

/// A group's latest changes: positions `start + 1 ..= head`, in order.
#[derive(Default)]
pub struct TailState {
    pub loaded: bool,
    pub start: i64,
    pub head: i64,
    pub changes: VecDeque<Arc<LogChange>>,
    /// Bumped when the group's schema is migrated.
    pub schema_epoch: u64,
}

/// The head they were built at, and answers by (shape handle, offset).
type SharedAnswers = (i64, HashMap<(String, i64), Answer>);

pub struct Tail {
    schema: SchemaName,
    /// Answers built from this tail, shared by every waiter asking the same
    /// (shape handle, offset) at the same head: one serialisation per change
    /// and shape, however many clients follow it.
    answers: Mutex<SharedAnswers>,
    state: RwLock<TailState>,
    /// Ticks on every update of `state`.
    updated: watch::Sender<u64>,
    refresh_wanted: Notify,
}

impl Hub {
    /// Creates the hub and starts its LISTEN task on the current runtime.
    pub fn start(pool: PgPool) -> Arc<Self> {
        let hub = Arc::new(Self {
            pool,
            access: AccessCache::default(),
            reads: AtomicU64::new(0),
            tails: Mutex::default(),
            catalogs: Mutex::default(),
        });
        tokio::spawn(listen(hub.clone()));
        hub
    }

    /// The group's catalogue, loaded once and kept until its schema changes.
    pub async fn catalog(&self, schema: &SchemaName) -> Result<Arc<Catalog>, AppError> {
        if let Some(catalog) = self.catalogs.lock().unwrap().get(schema.as_str()) {
            return Ok(catalog.clone());
        }
        let catalog = Arc::new(Catalog::load(&self.pool, schema).await?);
        self.catalogs.lock().unwrap().insert(schema.as_str().to_owned(), catalog.clone());
        Ok(catalog)
    }

    /// The group's tail, created (and its refresher started) on first use,
    /// and a subscription to its updates (taken under the map's lock, so an
    /// idle tail is never dropped while someone starts to follow it).
    pub fn follow(self: &Arc<Self>, schema: &SchemaName) -> (Arc<Tail>, watch::Receiver<u64>) {
        let mut tails = self.tails.lock().unwrap();
        if let Some(tail) = tails.get(schema.as_str()) {
            return (tail.clone(), tail.updated.subscribe());
        }
        let tail = Arc::new(Tail {
            schema: schema.clone(),
            answers: Mutex::default(),
            state: RwLock::default(),
            updated: watch::Sender::new(0),
            refresh_wanted: Notify::new(),
        });
        tails.insert(schema.as_str().to_owned(), tail.clone());
        tokio::spawn(refresh_loop(self.clone(), tail.clone()));
        tail.refresh_wanted.notify_one();
        let updates = tail.updated.subscribe();
        (tail, updates)
    }

    /// How many times tails have read the change log.
    pub fn log_reads(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
    }

    /// Drops the tail if nobody follows it; true if dropped.
    fn drop_if_idle(&self, tail: &Tail) -> bool {
        let mut tails = self.tails.lock().unwrap();
        let idle = tail.updated.receiver_count() == 0;
        if idle {
            tails.remove(tail.schema.as_str());
        }
        idle
    }

    fn changed(&self, schema: &str) {
        let tail = self.tails.lock().unwrap().get(schema).cloned();
        if let Some(tail) = tail {
            tail.refresh_wanted.notify_one();
        }
    }

    fn schema_changed(&self, schema: &str) {
        self.catalogs.lock().unwrap().remove(schema);
        let tail = self.tails.lock().unwrap().get(schema).cloned();
        if let Some(tail) = tail {
            tail.state.write().unwrap().schema_epoch += 1;
            tail.updated.send_modify(|tick| *tick += 1);
        }
    }

    /// After a (re)connect nothing said while disconnected is known: reread all.
    fn resync_all(&self) {
        self.access.ended(None);
        self.catalogs.lock().unwrap().clear();
        for tail in self.tails.lock().unwrap().values() {
            tail.state.write().unwrap().schema_epoch += 1;
            tail.refresh_wanted.notify_one();
        }
    }
}

impl Tail {
    pub fn state(&self) -> std::sync::RwLockReadGuard<'_, TailState> {
        self.state.read().unwrap()
    }

    /// The answer already built for `handle` from `position` at `head`.
    pub fn shared_answer(&self, handle: &str, position: i64, head: i64) -> Option<Answer> {
        let answers = self.answers.lock().unwrap();
        (answers.0 == head).then(|| answers.1.get(&(handle.to_owned(), position)).cloned()).flatten()
    }

    pub fn share_answer(&self, handle: &str, position: i64, head: i64, answer: &Answer) {
        let mut answers = self.answers.lock().unwrap();
        if answers.0 != head {
            *answers = (head, HashMap::new());
        }
        answers.1.insert((handle.to_owned(), position), answer.clone());
    }

    /// Asks for a reread of the log (e.g. a client is ahead of the tail).
    pub fn want_refresh(&self) {
        self.refresh_wanted.notify_one();
    }

    /// Reads the changes after the tail's head and appends them.
    async fn refresh(&self, pool: &PgPool) -> Result<(), AppError> {
        let (loaded, from) = {
            let state = self.state();
            (state.loaded, state.head)
        };
        // One statement per page: the head and the changes up to it.
        let mut fresh = Vec::new();
        let mut after = from;
        let head = loop {
            let (head, page) =
                reader::log_to_head(pool, &self.schema, if loaded { after } else { i64::MAX }, TAIL_PAGE).await?;
            let full = page.len() as i64 == TAIL_PAGE;
            if let Some(last) = page.last() {
                after = last.position;
            }
            fresh.extend(page.into_iter().map(Arc::new));
            if !full {
                break head;
            }
        };
        let mut state = self.state.write().unwrap();
        if !loaded || head < from {
            // First load, or the log went back (a restored database): start
            // at its head; clients ahead of it get 409 and resync.
            *state = TailState { loaded: true, start: head, head, changes: VecDeque::new(), ..*state };
        } else {
            state.changes.extend(fresh);
            state.head = head;
            while state.changes.len() > TAIL_CAPACITY {
                state.changes.pop_front();
            }
            state.start = state.head - state.changes.len() as i64;
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
            let Err(error) = tail.refresh(&hub.pool).await else { break };
            tracing::warn!(?error, schema = tail.schema.as_str(), "reading the change log failed; retrying");
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(5));
        }
    }
}

/// Follows the notification channels; on every (re)connect it rereads all
/// tails, since notifications sent while disconnected are lost.
async fn listen(hub: Arc<Hub>) {
    let mut delay = Duration::from_millis(100);
    loop {
        let mut listener = match connect(&hub.pool).await {
            Ok(listener) => listener,
            Err(error) => {
                tracing::warn!(%error, "cannot LISTEN for changes; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        delay = Duration::from_millis(100);
        hub.resync_all();
        loop {
            match listener.try_recv().await {
                Ok(Some(notification)) => match notification.channel() {
                    CHANGES_CHANNEL => hub.changed(notification.payload()),
                    SCHEMA_CHANNEL => hub.schema_changed(notification.payload()),
                    ACCESS_CHANNEL => hub.access.ended(notification.payload().parse().ok()),
                    _ => {}
                },
                Ok(None) => break,
                Err(error) => {
                    tracing::warn!(%error, "the LISTEN connection failed; reconnecting");
                    break;
                }
            }
        }
    }
}

async fn connect(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen_all([CHANGES_CHANNEL, SCHEMA_CHANNEL, ACCESS_CHANNEL]).await?;
    Ok(listener)
}
