//! The client side of Electric's shape protocol as a plain state machine:
//! what to ask next, what an answer means, and how changes apply to a row
//! set. No browser types: the browser's stream (and tests) feed it answers.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::{collections::BTreeMap, time::Duration};

/// A row: column → Postgres text (or null), as the stream sends it.
pub type Row = Map<String, Value>;

/// Where one shape stands; persisted with its rows so they never disagree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShapeState {
    pub table: String,
    pub handle: Option<String>,
    pub offset: String,
    pub cursor: Option<String>,
    /// The last answer ended up to date: the next request may be live.
    pub live: bool,
    /// Caught up at least once since the last snapshot began: the rows
    /// are a whole copy (possibly behind), fit to show.
    #[serde(default)]
    pub complete: bool,
    /// The table's columns as the server last described them (the
    /// `electric-schema` header of a non-live answer): how its values are
    /// typed. `None` until one came (then the table registry's types apply).
    #[serde(default)]
    pub schema: Option<Schema>,
}

/// A column as the `electric-schema` header describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnSpec {
    /// The Postgres type name (`uuid`, `text`, `bool`, `timestamptz`, ...);
    /// of an array, its elements' type.
    #[serde(rename = "type")]
    pub type_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pk_index: Option<u32>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub dims: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Column → its description.
pub type Schema = BTreeMap<String, ColumnSpec>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Operation {
    Insert,
    Update,
    Delete,
}

/// One change message.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub operation: Operation,
    /// The primary key's value.
    pub pk: String,
    pub value: Row,
    pub txids: Vec<u64>,
}

/// What the stream should do with an answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Apply these changes (and store the new state with them, atomically).
    Apply { changes: Vec<Change>, up_to_date: bool },
    /// The shape must be fetched again from scratch: drop its local rows.
    Refetch,
    /// The group is not ours any more (the server's 404): wipe it locally.
    Gone,
    /// Not signed in (401).
    SignedOut,
    /// Try again later (`Verdict::Later`).
    Retry { after: Option<Duration> },
    /// A request the server will never accept (`Verdict::BadRequest`).
    Fatal(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    #[error("the shape answer is not a JSON array of messages: {0}")]
    Body(String),
    #[error("the shape answer lacks the {0} header")]
    MissingHeader(&'static str),
    #[error("the shape answer's electric-schema header is not a column map: {0}")]
    Schema(String),
    #[error("{0} is not a table of the registry")]
    UnknownTable(String),
}

/// What an answer's status means to the sync: the one reading of HTTP
/// statuses for every request it makes (shapes, the wake long-poll, the
/// outbox). Only the server's own error answers (a JSON object with its
/// `error`; for a bad request also Electric's `message` with its `errors`)
/// can end the group or drop writes: a proxy's, a gateway's or a captive
/// portal's page with the same status means "later".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// 2xx: read the body.
    Ok,
    /// 409: the shape is gone; fetch it again from scratch.
    MustRefetch,
    /// 401: not signed in (or someone else is, now).
    SignedOut,
    /// The server's 404: the group is not ours any more.
    Gone,
    /// The server's 400, 413 or 422, with its reason: this request will
    /// never pass as it is.
    BadRequest(String),
    /// Anything else (429, 5xx, other pages): try again, after the
    /// `Retry-After` if one came.
    Later(Option<Duration>),
}

impl Verdict {
    pub fn of(status: u16, header: impl Fn(&str) -> Option<String>, body: &str) -> Self {
        let json = || serde_json::from_str::<Value>(body).ok();
        // `{"error": "…"}`: the server's own error answer.
        let error = || json().and_then(|v| v.get("error")?.as_str().map(str::to_owned));
        // Electric's `{"message": "…", "errors": {…}}` for a bad shape request
        // (a gateway's `{"message": …}` alone is not the server speaking).
        let invalid = || {
            let value = json()?;
            let errors = value.get("errors").filter(|e| e.is_object())?;
            Some(format!("{}: {errors}", value.get("message")?.as_str()?))
        };
        match status {
            200..=299 => Self::Ok,
            409 => Self::MustRefetch,
            401 => Self::SignedOut,
            404 if error().is_some() => Self::Gone,
            400 | 413 | 422 => error().or_else(invalid).map_or(Self::Later(None), Self::BadRequest),
            _ => Self::Later(header("retry-after").and_then(|s| s.trim().parse().ok()).map(Duration::from_secs)),
        }
    }
}

/// The primary key column of a synced table (from the table registry).
pub fn pk_column(table: &str) -> Option<&'static str> {
    crate::model::registry::table(table).map(|t| t.pk)
}

impl ShapeState {
    pub fn new(table: &str) -> Self {
        Self {
            table: table.to_owned(),
            handle: None,
            offset: "-1".into(),
            cursor: None,
            live: false,
            complete: false,
            schema: None,
        }
    }

    /// The query of the next request; `live_allowed: false` keeps it a
    /// plain catch-up request even when up to date (the browser waits on
    /// the group's wake long-poll instead).
    pub fn query(&self, live_allowed: bool) -> Vec<(&'static str, String)> {
        let mut query = vec![("table", self.table.clone()), ("offset", self.offset.clone())];
        if let Some(handle) = &self.handle {
            query.push(("handle", handle.clone()));
        }
        if self.live && live_allowed {
            query.push(("live", "true".into()));
            query.push(("cursor", self.cursor.clone().unwrap_or_default()));
        }
        query
    }

    /// Reads an answer (`header` looks a response header up) and moves on.
    pub fn on_answer(
        &mut self,
        status: u16,
        header: impl Fn(&str) -> Option<String>,
        body: &str,
    ) -> Result<Outcome, ProtocolError> {
        match Verdict::of(status, &header, body) {
            Verdict::Ok => {}
            Verdict::MustRefetch => {
                let handle = header("electric-handle");
                *self = Self { handle, ..Self::new(&self.table) };
                return Ok(Outcome::Refetch);
            }
            Verdict::SignedOut => return Ok(Outcome::SignedOut),
            Verdict::Gone => return Ok(Outcome::Gone),
            Verdict::Later(after) => return Ok(Outcome::Retry { after }),
            Verdict::BadRequest(reason) => {
                return Ok(Outcome::Fatal(format!("the server refused the shape request ({status}): {reason}")))
            }
        }
        let handle = header("electric-handle").ok_or(ProtocolError::MissingHeader("electric-handle"))?;
        let offset = header("electric-offset").ok_or(ProtocolError::MissingHeader("electric-offset"))?;
        let messages: Vec<Value> = if body.trim().is_empty() {
            Vec::new()
        } else {
            serde_json::from_str(body).map_err(|e| ProtocolError::Body(e.to_string()))?
        };
        let schema = match header("electric-schema") {
            Some(text) => {
                Some(serde_json::from_str::<Schema>(&text).map_err(|e| ProtocolError::Schema(e.to_string()))?)
            }
            None => None,
        };
        let pk_name = pk_column(&self.table).ok_or_else(|| ProtocolError::UnknownTable(self.table.clone()))?;
        let mut changes = Vec::new();
        let mut up_to_date = false;
        for message in &messages {
            let headers = &message["headers"];
            up_to_date = headers["control"] == "up-to-date";
            if headers["control"] == "must-refetch" {
                *self = Self { handle: Some(handle), ..Self::new(&self.table) };
                return Ok(Outcome::Refetch);
            }
            let Some(operation) = headers.get("operation").cloned() else { continue };
            let operation: Operation =
                serde_json::from_value(operation).map_err(|e| ProtocolError::Body(e.to_string()))?;
            let value = message["value"].as_object().cloned().unwrap_or_default();
            let pk = value.get(pk_name).and_then(Value::as_str).map(str::to_owned);
            let pk = pk.ok_or_else(|| ProtocolError::Body(format!("a change without its {pk_name}")))?;
            let txids =
                headers["txids"].as_array().map(|t| t.iter().filter_map(Value::as_u64).collect()).unwrap_or_default();
            changes.push(Change { operation, pk, value, txids });
        }
        if self.handle.as_deref() != Some(handle.as_str()) && self.offset != "-1" {
            // A different shape instance answered a resumed request: start over.
            *self = Self { handle: Some(handle), ..Self::new(&self.table) };
            return Ok(Outcome::Refetch);
        }
        self.handle = Some(handle);
        self.offset = offset;
        if schema.is_some() {
            self.schema = schema;
        }
        if let Some(cursor) = header("electric-cursor") {
            self.cursor = Some(cursor);
        }
        // Live once a batch ends up to date; a batch that does not (a large
        // catch-up) goes back to plain requests until it does.
        self.live = up_to_date;
        self.complete |= up_to_date;
        Ok(Outcome::Apply { changes, up_to_date })
    }
}

impl ShapeState {
    /// The log position the shape has reached (0 before its first snapshot
    /// is done).
    pub fn position(&self) -> i64 {
        match self.offset.split_once('_') {
            Some((position, "0")) => position.parse().unwrap_or(0),
            _ => 0,
        }
    }
}

/// A shape's rows by primary key.
pub type RowSet = BTreeMap<String, Row>;

/// Applies changes in order: inserts put the row, updates merge the columns
/// sent, deletes remove it. An update of a row not held keeps what it
/// sent (a half-known row, reported when read).
pub fn apply(rows: &mut RowSet, changes: &[Change]) {
    apply_to(rows, changes, true);
}

/// As `apply`, but an update of a row not held changes nothing (a queued
/// write to a row this browser does not have: the server decides).
pub fn apply_to_held(rows: &mut RowSet, changes: &[Change]) {
    apply_to(rows, changes, false);
}

fn apply_to(rows: &mut RowSet, changes: &[Change], keep_half_rows: bool) {
    for change in changes {
        match change.operation {
            Operation::Insert => {
                rows.insert(change.pk.clone(), change.value.clone());
            }
            Operation::Update if keep_half_rows => {
                rows.entry(change.pk.clone()).or_default().extend(change.value.clone());
            }
            Operation::Update => {
                if let Some(row) = rows.get_mut(&change.pk) {
                    row.extend(change.value.clone());
                }
            }
            Operation::Delete => {
                rows.remove(&change.pk);
            }
        }
    }
}

/// Retry delays: 1 s doubling to 32 s, with jitter (`random` in 0..1), or
/// what `Retry-After` says.
pub fn backoff(attempt: u32, retry_after: Option<Duration>, random: f64) -> Duration {
    if let Some(after) = retry_after {
        return after.min(Duration::from_secs(300));
    }
    let base = 1000u64 << attempt.min(5);
    let jittered = base as f64 * (0.5 + random.clamp(0.0, 1.0) / 2.0);
    Duration::from_millis(jittered as u64)
}

#[cfg(test)]
mod tests;
