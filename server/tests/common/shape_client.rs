//! A minimal follower of one shape over HTTP, as Electric's client does it:
//! snapshot chunks, then live long-polls; it keeps the rows and records
//! every log position it was handed, to check for duplicates and gaps.

use reqwest::{Client, StatusCode};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

pub struct ShapeClient {
    http: Client,
    url: String,
    /// Extra query pairs (`where`, `params[1]`, `columns`, `replica`).
    extra: Vec<(String, String)>,
    pub handle: Option<String>,
    pub offset: String,
    cursor: Option<String>,
    pub live: bool,
    /// Rows by message key.
    pub rows: BTreeMap<String, Map<String, Value>>,
    /// The `lsn` of every change message received, in order.
    pub positions: Vec<i64>,
    /// The log position the first snapshot was taken at.
    pub snapshot_at: Option<i64>,
    pub refetches: usize,
}

/// One response, as received.
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn messages(&self) -> &[Value] {
        self.body.as_array().map(Vec::as_slice).unwrap_or_default()
    }
}

impl ShapeClient {
    pub fn new(http: &Client, base: &str, slug: &str, table: &str, extra: &[(&str, &str)]) -> Self {
        let mut pairs: Vec<(String, String)> = vec![("table".into(), table.into())];
        pairs.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        Self {
            http: http.clone(),
            url: format!("{base}/g/{slug}/v1/shape"),
            extra: pairs,
            handle: None,
            offset: "-1".into(),
            cursor: None,
            live: false,
            rows: BTreeMap::new(),
            positions: Vec::new(),
            snapshot_at: None,
            refetches: 0,
        }
    }

    /// Sends the next request and applies what comes back.
    pub async fn poll(&mut self) -> Reply {
        self.try_poll().await.expect("the server answers")
    }

    /// As `poll`, but a request that got no whole answer (the server died,
    /// the connection broke) is an error and changes nothing: the next try
    /// asks again from the same offset.
    pub async fn try_poll(&mut self) -> Result<Reply, reqwest::Error> {
        let mut query = self.extra.clone();
        query.push(("offset".into(), self.offset.clone()));
        if let Some(handle) = &self.handle {
            query.push(("handle".into(), handle.clone()));
        }
        if self.live {
            query.push(("live".into(), "true".into()));
            query.push(("cursor".into(), self.cursor.clone().unwrap_or_default()));
        }
        let response = self.http.get(&self.url).query(&query).send().await?;
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await?;
        let body: Value = if text.is_empty() { Value::Array(vec![]) } else { serde_json::from_str(&text).unwrap() };
        let reply = Reply { status, headers, body };
        match status {
            StatusCode::OK => self.apply(&reply),
            StatusCode::CONFLICT => {
                self.refetches += 1;
                self.handle = reply.header("electric-handle").map(str::to_owned);
                self.offset = "-1".into();
                self.live = false;
                self.rows.clear();
                self.snapshot_at = None;
            }
            _ => {}
        }
        Ok(reply)
    }

    fn apply(&mut self, reply: &Reply) {
        let handle = reply.header("electric-handle").expect("electric-handle on every 200");
        let offset = reply.header("electric-offset").expect("electric-offset on every 200");
        if self.offset == "-1" {
            self.snapshot_at = Some(offset.split('_').next().unwrap().parse().unwrap());
        }
        self.handle = Some(handle.to_owned());
        self.offset = offset.to_owned();
        if let Some(cursor) = reply.header("electric-cursor") {
            self.cursor = Some(cursor.to_owned());
        }
        let mut up_to_date = false;
        for message in reply.messages() {
            let headers = &message["headers"];
            up_to_date = headers["control"] == "up-to-date";
            let Some(operation) = headers["operation"].as_str() else { continue };
            if let Some(lsn) = headers["lsn"].as_str() {
                self.positions.push(lsn.parse().unwrap());
            }
            let key = message["key"].as_str().unwrap().to_owned();
            let value = message["value"].as_object().cloned().unwrap_or_default();
            match operation {
                "insert" => {
                    self.rows.insert(key, value);
                }
                "update" => self.rows.get_mut(&key).expect("an update of a row the client has").extend(value),
                "delete" => {
                    self.rows.remove(&key);
                }
                other => panic!("unknown operation {other}"),
            }
        }
        self.live = up_to_date;
    }

    /// Polls until the client is up to date (the snapshot and the log caught up).
    pub async fn sync(&mut self) {
        for _ in 0..10_000 {
            let reply = self.poll().await;
            assert!(matches!(reply.status, StatusCode::OK | StatusCode::CONFLICT), "{} {}", reply.status, reply.body);
            if self.live && reply.status == StatusCode::OK {
                return;
            }
        }
        panic!("never up to date");
    }

    /// The log position this client has reached.
    pub fn position(&self) -> i64 {
        self.offset.split('_').next().unwrap().parse().unwrap()
    }

    /// The rows as primary key → values.
    pub fn rows_by_id(&self, pk: &str) -> BTreeMap<String, Map<String, Value>> {
        self.rows.values().map(|row| (row[pk].as_str().unwrap().to_owned(), row.clone())).collect()
    }
}
