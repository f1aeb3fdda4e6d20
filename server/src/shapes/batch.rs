//! One response body: a JSON array of messages, filled up to a byte cap.
//! Log changes are written a transaction at a time, so a response never
//! ends inside a transaction, and the last message of each carries
//! `headers.last`.

use super::{change::LogChange, offset::Offset, shape::Shape};
use axum::body::Bytes;
use serde_json::{json, Value};
use std::sync::{Arc, OnceLock};

pub struct Batch {
    body: Vec<u8>,
    messages: usize,
    /// Where each message lies in `body`.
    spans: Vec<(usize, usize)>,
    cap: usize,
    /// The current transaction's messages, held until it ends.
    open_tx: Vec<Value>,
    open_txid: Option<u64>,
    /// Where the open transaction began (the position before its first change).
    open_from: i64,
    /// Where the batch began: the client has every change up to it.
    started: i64,
    /// The last log position looked at (whether or not it gave a message).
    pub scanned: i64,
}

/// What a finished batch answers with (cheap to clone: waiters of one shape
/// at one offset share it).
#[derive(Clone)]
pub struct Answer {
    pub body: Bytes,
    pub messages: usize,
    pub offset: Offset,
    pub up_to_date: bool,
    spans: Arc<[(usize, usize)]>,
    /// The same messages as server-sent events, made once when first asked
    /// for and shared by every stream sent this answer.
    events: Arc<OnceLock<Bytes>>,
}

impl Answer {
    /// The bytes it may come to hold: its body, where each message lies,
    /// and its events once made (about the body again).
    pub fn weight(&self) -> usize {
        2 * self.body.len() + self.spans.len() * std::mem::size_of::<(usize, usize)>()
    }

    /// The messages as server-sent events: `data: <message>\n\n` each (a
    /// message is one line of JSON).
    pub fn events(&self) -> Bytes {
        self.events
            .get_or_init(|| {
                let mut events = Vec::with_capacity(self.body.len() + self.spans.len() * 8);
                for &(start, end) in self.spans.iter() {
                    events.extend_from_slice(b"data: ");
                    events.extend_from_slice(&self.body[start..end]);
                    events.extend_from_slice(b"\n\n");
                }
                events.into()
            })
            .clone()
    }
}

impl Batch {
    pub fn new(cap: usize, scanned: i64) -> Self {
        Self {
            body: b"[".to_vec(),
            messages: 0,
            spans: Vec::new(),
            cap,
            open_tx: Vec::new(),
            open_txid: None,
            open_from: scanned,
            started: scanned,
            scanned,
        }
    }

    pub fn is_full(&self) -> bool {
        self.body.len() >= self.cap
    }

    pub fn push(&mut self, message: &Value) {
        self.separate();
        let start = self.body.len();
        serde_json::to_writer(&mut self.body, message).expect("a JSON value serialises");
        self.spans.push((start, self.body.len()));
    }

    /// A message already serialised (snapshot rows come from Postgres so).
    pub fn push_raw(&mut self, message: &str) {
        self.separate();
        let start = self.body.len();
        self.body.extend_from_slice(message.as_bytes());
        self.spans.push((start, self.body.len()));
    }

    fn separate(&mut self) {
        if self.messages > 0 {
            self.body.push(b',');
        }
        self.messages += 1;
    }

    /// Adds logged changes in position order, stopping at a transaction
    /// boundary once the batch is full. Returns false if it stopped early.
    pub fn push_changes<'a>(
        &mut self,
        shape: &Shape,
        schema: &str,
        changes: impl IntoIterator<Item = &'a LogChange>,
    ) -> bool {
        for change in changes {
            if self.open_txid != Some(change.txid) {
                self.close_tx();
                if self.is_full() {
                    return false;
                }
                self.open_txid = Some(change.txid);
                self.open_from = self.scanned;
            }
            if let Some(message) = shape.change_message(schema, change, self.started) {
                self.open_tx.push(message);
            }
            self.scanned = change.position;
        }
        true
    }

    /// Ends the batch at the last transaction boundary it holds: drops the
    /// transaction still open (its changes are read again next time). One
    /// open since the batch began is larger than a batch may read: it stays,
    /// and goes on in the next answer.
    pub fn cut_at_transaction_boundary(&mut self) {
        if self.open_txid.is_some() && self.open_from != self.started {
            self.open_tx.clear();
            self.open_txid = None;
            self.scanned = self.open_from;
        }
    }

    /// Writes the open transaction's messages, numbered, the last marked.
    fn close_tx(&mut self) {
        let count = self.open_tx.len();
        for (index, mut message) in std::mem::take(&mut self.open_tx).into_iter().enumerate() {
            message["headers"]["op_position"] = json!(index);
            if index + 1 == count {
                message["headers"]["last"] = json!(true);
            }
            self.push(&message);
        }
        self.open_txid = None;
    }

    /// Ends the body, with an up-to-date control message if `up_to_date`.
    pub fn finish(mut self, offset: Offset, up_to_date: bool) -> Answer {
        self.close_tx();
        if up_to_date {
            let head = offset.position().unwrap_or(0).to_string();
            self.push(&json!({ "headers": { "control": "up-to-date", "global_last_seen_lsn": head } }));
        }
        self.body.push(b']');
        Answer {
            messages: self.messages,
            body: self.body.into(),
            offset,
            up_to_date,
            spans: self.spans.into(),
            events: Arc::default(),
        }
    }

    /// Whether any change (not control) message was written or is pending.
    pub fn has_changes(&self) -> bool {
        self.messages > 0 || !self.open_tx.is_empty()
    }
}
