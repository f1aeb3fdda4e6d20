//! Who may follow which group, remembered for a short while on the hot
//! paths (live long-polls and wake): a change fanned out to N clients would
//! otherwise cost N session and membership lookups when they come back.
//! Ending a membership or a session names the user on `courtyard_access`
//! (global migration); the hub then forgets that user's entries and wakes
//! the waiting requests, whose next request is checked in Postgres. A
//! lookup racing a notification is not stored (generation check). An entry
//! also ends with its session: an expired session is never served from here.
//! Non-live requests always ask Postgres.

use app::backend::groups::Member;
use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use sha2::{Digest, Sha256};
use std::{
    collections::HashMap,
    sync::atomic::{AtomicU64, Ordering},
    time::{Duration, Instant},
};
use tokio::sync::watch;
use uuid::Uuid;

/// How long an answer is trusted without a notification.
const TTL: Duration = Duration::from_secs(30);
/// Beyond this many entries the cache starts over.
const MAX_ENTRIES: usize = 200_000;

type Key = ([u8; 32], String);

/// A member as looked up, and when their session ends.
#[derive(Debug, Clone)]
pub struct Access {
    pub member: Member,
    pub session_ends: DateTime<Utc>,
}

pub struct AccessCache {
    entries: Mutex<HashMap<Key, (Access, Instant)>>,
    generation: AtomicU64,
    /// Ticks when some access ended: waiting requests check theirs.
    ended: watch::Sender<u64>,
}

impl Default for AccessCache {
    fn default() -> Self {
        Self { entries: Mutex::default(), generation: AtomicU64::new(0), ended: watch::Sender::new(0) }
    }
}

fn key(token: &str, slug: &str) -> Key {
    (Sha256::digest(token.as_bytes()).into(), slug.to_owned())
}

impl AccessCache {
    pub fn get(&self, token: &str, slug: &str) -> Option<Access> {
        let entries = self.entries.lock();
        let (access, at) = entries.get(&key(token, slug))?;
        (at.elapsed() < TTL && access.session_ends > Utc::now()).then(|| access.clone())
    }

    /// Whether `token` is still known to follow `slug` (no lookup).
    pub fn holds(&self, token: &str, slug: &str) -> bool {
        self.entries.lock().get(&key(token, slug)).is_some_and(|(access, _)| access.session_ends > Utc::now())
    }

    /// Read before looking up, passed to `put` after.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    pub fn put(&self, token: &str, slug: &str, access: Access, generation: u64) {
        let mut entries = self.entries.lock();
        if self.generation() != generation {
            return; // some access ended meanwhile: this answer may be stale
        }
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(key(token, slug), (access, Instant::now()));
    }

    /// Forgets one user's access (`None`: everyone's) and wakes the waiters.
    /// Forgets every access to the group at `slug` (it moved to another
    /// group database: requests resolve it again).
    pub fn ended_group(&self, slug: &str) {
        let mut entries = self.entries.lock();
        self.generation.fetch_add(1, Ordering::SeqCst);
        entries.retain(|(_, group), _| group != slug);
        drop(entries);
        self.ended.send_modify(|tick| *tick += 1);
    }

    pub fn ended(&self, user: Option<Uuid>) {
        let mut entries = self.entries.lock();
        self.generation.fetch_add(1, Ordering::SeqCst);
        match user {
            Some(user) => entries.retain(|_, (access, _)| access.member.user_id != user),
            None => entries.clear(),
        }
        drop(entries);
        self.ended.send_modify(|tick| *tick += 1);
    }

    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.ended.subscribe()
    }
}
