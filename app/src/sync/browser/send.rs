//! The outbox task: stores each write the pages queue, and (in the tab that
//! holds the group's lock) sends the queue in order, retrying with backoff.

use super::{
    engine::{Engine, Halt, TabMessage, REQUEST_TIMEOUT_MS},
    files, net,
};
use crate::{
    model::{MutateRequest, Mutation},
    sync::{
        outbox::{Answered, Entry, Rejection, BATCH},
        protocol::backoff,
        ui::Queued,
    },
};
use chrono::Utc;
use futures::{channel::mpsc, StreamExt};
use leptos::prelude::*;
use std::rc::Rc;
use uuid::Uuid;

impl Engine {
    /// Stores each queued write, then answers the page.
    pub(super) async fn accept(self: Rc<Self>, mut queued: mpsc::UnboundedReceiver<Queued>) {
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
            } else if let Err(error) = &stored {
                // The write is not kept: the form says so, and the
                // indicator says why.
                self.ui.trouble.set(Some(super::engine::trouble(error)));
            }
            let _ = done.send(stored);
        }
    }

    /// Sends queued writes in order whenever there are some, until stopped.
    pub(super) async fn send_outbox(self: Rc<Self>, mut kicks: mpsc::UnboundedReceiver<()>) {
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
        // After a whole batch is refused, writes go one at a time until the
        // one at fault is found.
        let mut one_by_one = false;
        'batches: loop {
            self.outbox.borrow_mut().expire(Utc::now());
            let batch = self.outbox.borrow().to_send(if one_by_one { 1 } else { BATCH });
            if batch.is_empty() {
                self.publish();
                return Ok(());
            }
            // A file's bytes go before the write that names them; one that
            // cannot go yet holds back that write and those after it, not
            // those before.
            let (mut batch, mut held_back) = (batch, false);
            for (at, entry) in batch.iter().enumerate() {
                let Mutation::FileAttach(file) = &entry.mutation else { continue };
                match files::upload(self.me, &self.slug, &file.sha256).await {
                    Ok(()) => {}
                    Err(files::Halt::Unreachable) if at > 0 => {
                        batch.truncate(at);
                        held_back = true;
                        break;
                    }
                    Err(files::Halt::Unreachable) => return Err(Halt::Unreachable(None)),
                    Err(files::Halt::SignedOut) => return Err(Halt::SignedOut),
                    Err(files::Halt::Refused(reason)) => {
                        files::forget_upload(self.me, &self.slug, &file.sha256).await;
                        let refused = self.outbox.borrow_mut().refused(entry.id, reason);
                        self.settle(std::slice::from_ref(entry), refused.into_iter().collect()).await;
                        continue 'batches;
                    }
                }
            }
            let request =
                MutateRequest { group: self.slug.clone(), mutations: batch.iter().map(Entry::envelope).collect() };
            let answer = net::post_json("/api/mutate", self.me, &request, REQUEST_TIMEOUT_MS)
                .await
                .map_err(|_| Halt::Unreachable(None))?;
            match Answered::from_answer(answer.status, |h| answer.header(h), &answer.body) {
                Answered::Outcomes(response) => {
                    self.ui.online.set(true);
                    let (done, rejected) = self.outbox.borrow_mut().answered(&response, Utc::now());
                    self.settle(&done, rejected).await;
                    if held_back {
                        // The file's upload is tried again later.
                        return Err(Halt::Unreachable(None));
                    }
                }
                Answered::SignedOut => return Err(Halt::SignedOut),
                Answered::Gone => return Err(Halt::Gone),
                // Find which write: one at a time.
                Answered::BadInput(_) if batch.len() > 1 => one_by_one = true,
                Answered::BadInput(reason) => {
                    self.ui.online.set(true);
                    let refused = self.outbox.borrow_mut().refused(batch[0].id, reason);
                    self.settle(&batch, refused.into_iter().collect()).await;
                    one_by_one = false;
                }
                Answered::Later(after) => return Err(Halt::Unreachable(after)),
            }
        }
    }

    /// Forgets answered writes in storage and tells the page and the other
    /// tabs what was refused.
    async fn settle(&self, done: &[Entry], rejected: Vec<Rejection>) {
        for entry in done {
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
