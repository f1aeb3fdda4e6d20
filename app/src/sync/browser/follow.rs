//! The sync task: catches the group's shapes up (plain shape requests from
//! each stored offset), then waits for the group's log to move and
//! catches up what moved; pauses with backoff while unreachable.
//!
//! The wait: the tab holding the outbox lock holds the group's wake event
//! stream and relays what it hears to the group's other tabs over their
//! BroadcastChannel, so a browser holds one stream per group however many
//! tabs are open. Where the stream fails (nothing comes through at first:
//! a proxy that buffers), or the other tabs hear nothing relayed for a
//! while, they wait on the wake long-poll instead.

use super::{
    engine::{Engine, Halt, TabMessage, REQUEST_TIMEOUT_MS, WAKE_TIMEOUT_MS},
    events::{self, Event},
    net,
};
use crate::{
    model::registry,
    sync::{
        protocol::{backoff, Outcome, ShapeState, Verdict},
        wakes::Wake,
    },
};
use chrono::Utc;
use futures::{channel::mpsc, StreamExt};
use leptos::prelude::*;
use std::{collections::BTreeSet, rc::Rc};
use web_sys::AbortController;

/// How long the sync waits after an error it cannot work around.
const FATAL_PAUSE_MS: u32 = 60_000;
/// How long a new wake stream may stay silent (the server comments at
/// once) before it is taken for one a proxy buffers.
const STREAM_FIRST_MS: u32 = 10_000;
/// How long an open stream, or the tab relaying one, may stay silent (the
/// server comments every 15 s at most).
const SILENCE_MS: u32 = 40_000;
/// A stream that ends sooner than this after opening counts as failed.
const SHORT_STREAM_MS: f64 = 5_000.0;
/// How long a tab long-polls once streams failed (twice in a row, or
/// once with nothing coming through).
const NO_STREAMS_MS: f64 = 300_000.0;

fn every_table() -> BTreeSet<String> {
    registry::table_names().map(str::to_owned).collect()
}

impl Engine {
    /// Catches every shape up, then waits for the group to change, until stopped.
    pub(super) async fn follow(
        self: Rc<Self>,
        mut kicks: mpsc::UnboundedReceiver<()>,
        mut nudges: mpsc::UnboundedReceiver<()>,
    ) {
        let mut tables = every_table();
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
                self.wake(after.map_or(shapes, |a| a.max(shapes)), &mut nudges).await
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
                    self.stream.borrow_mut().take();
                    self.ui.online.set(false);
                    self.publish();
                    let pause = backoff(attempt, retry, js_sys::Math::random());
                    attempt += 1;
                    let tick = gloo_timers::future::TimeoutFuture::new(pause.as_millis() as u32);
                    futures::future::select(kicks.next(), tick).await;
                    tables = every_table();
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
                    tables = every_table();
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
    /// the tables to catch up. `nudges` says another tab relayed something.
    async fn wake(
        &self,
        after: i64,
        nudges: &mut mpsc::UnboundedReceiver<()>,
    ) -> Result<(i64, BTreeSet<String>), Halt> {
        loop {
            while nudges.try_recv().is_ok() {}
            if let Some((head, tables)) = self.wakes.borrow_mut().past(after) {
                return Ok((head, tables.unwrap_or_else(every_table)));
            }
            if self.stopped.get() {
                return Ok((after, BTreeSet::new()));
            }
            let now = js_sys::Date::now();
            if !self.is_leader() {
                // The tab holding the stream relays it; while it says
                // nothing (busy, paused, closing), ask the server here.
                let quiet = now - self.last_relay.get();
                if quiet < f64::from(SILENCE_MS) {
                    let silence = gloo_timers::future::TimeoutFuture::new(SILENCE_MS - quiet as u32);
                    futures::future::select(nudges.next(), silence).await;
                    continue;
                }
            } else if now >= self.streams_from.get() {
                self.listen(after).await?;
                continue;
            }
            return self.long_poll(after).await;
        }
    }

    /// Hears the next word of the group's wake stream (opened from `after`
    /// if none is open) and relays it to the other tabs.
    async fn listen(&self, after: i64) -> Result<(), Halt> {
        let held = self.stream.borrow_mut().take();
        let (mut stream, at) = match held {
            Some(held) => held,
            None => {
                let url = format!("/g/{}/v1/wake", self.slug);
                let query = [("after", after.to_string()), ("live_sse", "true".to_owned())];
                let abort = AbortController::new().map_err(|_| Halt::Unreachable(None))?;
                *self.waiting.borrow_mut() = Some(abort.clone());
                let opened = events::open(&url, self.me, &query, REQUEST_TIMEOUT_MS, abort).await;
                self.waiting.borrow_mut().take();
                match opened {
                    _ if self.stopped.get() => return Ok(()),
                    Err(_) => {
                        self.stream_failed(false);
                        return Err(Halt::Unreachable(None));
                    }
                    Ok(Ok(stream)) => (stream, after),
                    Ok(Err(answer)) => {
                        // Refused (429 past the streams one may hold, ...),
                        // or answered but not as a stream: long-polls.
                        self.stream_failed(answer.status == 200);
                        verdict(&answer)?;
                        let woken = woken(&answer.body)?;
                        self.hear(Wake { from: after, head: woken.head, tables: woken.tables });
                        return Ok(());
                    }
                }
            }
        };
        let wait = if stream.heard { SILENCE_MS } else { STREAM_FIRST_MS };
        *self.waiting.borrow_mut() = Some(stream.abort_handle());
        let next = stream.next(wait).await;
        self.waiting.borrow_mut().take();
        if self.stopped.get() {
            return Ok(());
        }
        match next {
            Ok(Some(Event::Comment)) => {
                self.stream_failures.set(0);
                self.hear(Wake { from: at, head: at, tables: Some(BTreeSet::new()) });
                *self.stream.borrow_mut() = Some((stream, at));
            }
            Ok(Some(Event::Data(data))) => {
                let woken = woken(&data)?;
                self.hear(Wake { from: at, head: woken.head, tables: woken.tables });
                *self.stream.borrow_mut() = Some((stream, woken.head));
            }
            // Ended by the server (its time was up, or access may have
            // ended): the next wait opens another. One that never said
            // anything went through something that holds it back; one that
            // ended at once may be cut by something on the way.
            Ok(None) if !stream.heard => self.stream_failed(true),
            Ok(None) if js_sys::Date::now() - stream.opened < SHORT_STREAM_MS => self.stream_failed(false),
            Ok(None) => {}
            Err(_) => {
                if !stream.heard {
                    self.stream_failed(true);
                }
                return Err(Halt::Unreachable(None));
            }
        }
        Ok(())
    }

    /// A stream failed: long-polls for a while if it is the second time in
    /// a row, or at once if `held_back` (nothing came through on it).
    fn stream_failed(&self, held_back: bool) {
        let failures = self.stream_failures.get() + 1;
        if held_back || failures >= 2 {
            self.streams_from.set(js_sys::Date::now() + NO_STREAMS_MS);
            self.stream_failures.set(0);
        } else {
            self.stream_failures.set(failures);
        }
    }

    /// Waits on the wake long-poll once.
    async fn long_poll(&self, after: i64) -> Result<(i64, BTreeSet<String>), Halt> {
        let abort = AbortController::new().map_err(|_| Halt::Unreachable(None))?;
        *self.waiting.borrow_mut() = Some(abort.clone());
        let url = format!("/g/{}/v1/wake", self.slug);
        let answer = net::get(&url, self.me, &[("after", after.to_string())], WAKE_TIMEOUT_MS, &abort).await;
        self.waiting.borrow_mut().take();
        let answer = answer.map_err(|_| Halt::Unreachable(None))?;
        verdict(&answer)?;
        let woken = woken(&answer.body)?;
        if self.is_leader() {
            self.hear(Wake { from: after, head: woken.head, tables: woken.tables.clone() });
        }
        Ok((woken.head, woken.tables.unwrap_or_else(every_table)))
    }

    /// Notes a move of the log, and tells the other tabs.
    fn hear(&self, wake: Wake) {
        self.tell_tabs(&TabMessage::Woke(wake.clone()));
        self.wakes.borrow_mut().hear(wake);
    }
}

#[derive(serde::Deserialize)]
struct Woken {
    head: i64,
    tables: Option<BTreeSet<String>>,
}

fn woken(body: &str) -> Result<Woken, Halt> {
    serde_json::from_str(body).map_err(|e| Halt::Fatal(e.to_string()))
}

/// A wake answer's status, as the sync acts on it.
fn verdict(answer: &net::Answer) -> Result<(), Halt> {
    match Verdict::of(answer.status, |h| answer.header(h), &answer.body) {
        Verdict::Ok => Ok(()),
        Verdict::SignedOut => Err(Halt::SignedOut),
        Verdict::Gone => Err(Halt::Gone),
        Verdict::MustRefetch => Err(Halt::Unreachable(None)),
        Verdict::Later(after) => Err(Halt::Unreachable(after)),
        Verdict::BadRequest(reason) => Err(Halt::Fatal(format!("wake refused: {reason}"))),
    }
}
