//! The sync task: catches the group's shapes up (plain shape requests from
//! each stored offset), then waits on the group's wake long-poll and
//! catches up what it names; pauses with backoff while unreachable.

use super::{
    engine::{Engine, Halt, REQUEST_TIMEOUT_MS, WAKE_TIMEOUT_MS},
    net,
};
use crate::{
    model::registry,
    sync::protocol::{backoff, Outcome, ShapeState, Verdict},
};
use chrono::Utc;
use futures::{channel::mpsc, StreamExt};
use leptos::prelude::*;
use std::{collections::BTreeSet, rc::Rc};
use web_sys::AbortController;

/// How long the sync waits after an error it cannot work around.
const FATAL_PAUSE_MS: u32 = 60_000;

impl Engine {
    /// Catches every shape up, then waits for the group to change, until stopped.
    pub(super) async fn follow(self: Rc<Self>, mut kicks: mpsc::UnboundedReceiver<()>) {
        let mut tables: BTreeSet<String> = registry::table_names().map(str::to_owned).collect();
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
                if self.stopped.get() {
                    return Ok((after.unwrap_or(shapes), BTreeSet::new()));
                }
                self.wake(after.map_or(shapes, |a| a.max(shapes))).await
            };
            match round.await {
                Ok((head, changed)) => {
                    attempt = 0;
                    if self.stopped.get() {
                        return;
                    }
                    if self.ui.trouble.try_get_untracked().flatten().is_some() {
                        self.ui.trouble.set(None);
                    }
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
                    tables = registry::table_names().map(str::to_owned).collect();
                    after = None;
                }
                Err(Halt::Fatal(message)) => {
                    // A storage error (full, evicted) or an answer this
                    // build cannot follow: shown, and tried again later.
                    leptos::logging::warn!("sync paused: {message}");
                    self.ui.trouble.set(Some(super::engine::trouble(&message)));
                    self.publish();
                    self.ui.online.set(true);
                    let tick = gloo_timers::future::TimeoutFuture::new(FATAL_PAUSE_MS);
                    futures::future::select(kicks.next(), tick).await;
                    tables = registry::table_names().map(str::to_owned).collect();
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
            let answer = net::get(&url, self.me, &state.query(false), REQUEST_TIMEOUT_MS, &abort)
                .await
                .map_err(|_| Halt::Unreachable(None))?;
            let outcome = state.on_answer(answer.status, |h| answer.header(h), &answer.body);
            match outcome.map_err(|e| Halt::Fatal(e.to_string()))? {
                Outcome::Apply { changes, up_to_date } => {
                    let settled = self.rows.borrow().settle(table, &changes);
                    self.store.commit(&state, &settled).await.map_err(Halt::Fatal)?;
                    self.touch(table, settled.keys().cloned());
                    self.rows.borrow_mut().absorb(table, settled);
                    self.learn_schema(&state);
                    self.shapes.borrow_mut().insert(table.to_owned(), state);
                    let txids: Vec<u64> = changes.iter().flat_map(|c| c.txids.iter().copied()).collect();
                    self.outbox.borrow_mut().seen(&txids);
                    if up_to_date {
                        return Ok(());
                    }
                }
                Outcome::Refetch => {
                    self.store.reset(&state).await.map_err(Halt::Fatal)?;
                    let dropped = std::mem::take(self.rows.borrow_mut().table_mut(table));
                    self.touch(table, dropped.into_keys());
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
        let answer = net::get(&url, self.me, &[("after", after.to_string())], WAKE_TIMEOUT_MS, &abort).await;
        self.waiting.borrow_mut().take();
        let answer = answer.map_err(|_| Halt::Unreachable(None))?;
        match Verdict::of(answer.status, |h| answer.header(h), &answer.body) {
            Verdict::Ok => {}
            Verdict::SignedOut => return Err(Halt::SignedOut),
            Verdict::Gone => return Err(Halt::Gone),
            Verdict::MustRefetch => return Err(Halt::Unreachable(None)),
            Verdict::Later(after) => return Err(Halt::Unreachable(after)),
            Verdict::BadRequest(reason) => return Err(Halt::Fatal(format!("wake refused: {reason}"))),
        }
        #[derive(serde::Deserialize)]
        struct Woken {
            head: i64,
            tables: Option<BTreeSet<String>>,
        }
        let woken: Woken = serde_json::from_str(&answer.body).map_err(|e| Halt::Fatal(e.to_string()))?;
        let tables = woken.tables.unwrap_or_else(|| registry::table_names().map(str::to_owned).collect());
        Ok((woken.head, tables))
    }
}
