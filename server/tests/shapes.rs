//! `GET /g/{slug}/v1/shape`: the Electric protocol over HTTP against real
//! Postgres: snapshots, chunks, the log join, live long-polls, 409s, the
//! `where` filter, authorisation and bad input.

mod common;

use common::{shape_client::ShapeClient, TestApp};
use reqwest::{Client, StatusCode};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use uuid::Uuid;

/// An admin of a fresh group; its slug and schema.
async fn group(app: &TestApp) -> (Client, String, String) {
    let (admin, slug) = app.admin_of_new_group().await;
    let schema = app.schema_of(&slug).await;
    (admin, slug, schema)
}

/// Inserts `n` announcements straight into the group's table (one statement).
async fn insert_announcements(app: &TestApp, schema: &str, n: i64, pinned_every: i64) {
    sqlx::query(&format!(
        "INSERT INTO \"{schema}\".announcements (id, author_id, title, body, pinned)
         SELECT gen_random_uuid(), gen_random_uuid(), 'notice ' || i, repeat('b', 50), i % $2 = 0
         FROM generate_series(1, $1) i"
    ))
    .bind(n)
    .bind(pinned_every)
    .execute(&app.db)
    .await
    .unwrap();
}

async fn mutate(app: &TestApp, client: &Client, slug: &str, name: &str, args: Value) -> Value {
    let mutation = json!([{"id": Uuid::new_v4(), "name": name, "args": args}]);
    let (status, body) = app.post(client, "/api/mutate", json!({"group": slug, "mutations": mutation})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["results"][0]["status"], "applied", "{body}");
    body
}

async fn get(client: &Client, url: &str, query: &[(&str, &str)]) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let response = client.get(url).query(query).send().await.unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    let text = response.text().await.unwrap();
    (status, headers, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

#[tokio::test]
async fn snapshot_equals_the_table_with_electric_headers() {
    let app = TestApp::spawn().await;
    let (admin, slug, schema) = group(&app).await;
    insert_announcements(&app, &schema, 25, 5).await;
    let mut client = ShapeClient::new(&admin, &app.base, &slug, "announcements", &[]);
    let reply = client.poll().await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert!(reply.header("electric-handle").is_some());
    assert!(reply.header("electric-offset").unwrap().ends_with("_0"));
    assert_eq!(reply.header("electric-up-to-date"), Some(""));
    assert_eq!(reply.header("electric-cursor"), None, "never on a non-live answer");
    assert!(reply.header("cache-control").unwrap().contains("max-age=604800"));
    assert!(reply.header("access-control-expose-headers").unwrap().contains("electric-offset"));
    let schema_header: Value = serde_json::from_str(reply.header("electric-schema").unwrap()).unwrap();
    assert_eq!(schema_header["id"], json!({"type": "uuid", "pk_index": 0, "not_null": true}));
    assert_eq!(schema_header["pinned"], json!({"type": "bool", "not_null": true}));
    assert_eq!(schema_header["created_at"]["type"], "timestamptz");
    let first = &reply.messages()[0];
    assert_eq!(first["headers"]["operation"], "insert");
    let key = first["key"].as_str().unwrap();
    assert!(key.starts_with(&format!("\"{schema}\".\"announcements\"/\"")), "{key}");
    assert_eq!(client.rows_by_id("id"), app.table_rows(&schema, "announcements").await);

    // The members table (keyed by user_id) syncs too.
    let mut members = ShapeClient::new(&admin, &app.base, &slug, "members", &[]);
    members.sync().await;
    assert_eq!(members.rows_by_id("user_id"), app.table_rows(&schema, "members").await);
}

#[tokio::test]
async fn chunks_resume_mid_snapshot_and_join_the_log_with_no_gap_or_overlap() {
    let app = TestApp::spawn_with(&[("COURTYARD_SYNC_CHUNK_BYTES", "4096")]).await;
    let (admin, slug, schema) = group(&app).await;
    insert_announcements(&app, &schema, 1500, 3).await;
    let mut client = ShapeClient::new(&admin, &app.base, &slug, "announcements", &[]);
    let first = client.poll().await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(first.header("electric-up-to-date"), None, "the first chunk is not all of it");
    let at = client.snapshot_at.unwrap();
    // Between chunks: change rows on both sides of the cursor.
    let t = format!("\"{schema}\".announcements");
    sqlx::query(&format!("UPDATE {t} SET title = 'changed' WHERE id IN (SELECT id FROM {t} ORDER BY id LIMIT 5)"))
        .execute(&app.db)
        .await
        .unwrap();
    sqlx::query(&format!("UPDATE {t} SET title = 'late' WHERE id IN (SELECT id FROM {t} ORDER BY id DESC LIMIT 5)"))
        .execute(&app.db)
        .await
        .unwrap();
    sqlx::query(&format!("DELETE FROM {t} WHERE id IN (SELECT id FROM {t} ORDER BY id DESC OFFSET 10 LIMIT 3)"))
        .execute(&app.db)
        .await
        .unwrap();
    insert_announcements(&app, &schema, 4, 1).await;
    let mut chunks = 1;
    let mut snapshot_keys = std::collections::HashSet::new();
    while !client.live {
        let reply = client.poll().await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        for message in reply.messages() {
            if message["headers"]["lsn"].is_null() && message["key"].is_string() {
                assert!(snapshot_keys.insert(message["key"].clone()), "a snapshot row came twice");
            }
        }
        chunks += 1;
    }
    assert!(chunks > 5, "{chunks} chunks");
    assert_eq!(client.rows_by_id("id"), app.table_rows(&schema, "announcements").await);
    // Exactly the log after the snapshot's position was delivered, once each.
    let logged: Vec<i64> = app.logged_positions(&schema, "announcements", at).await;
    assert_eq!(client.positions, logged);
}

#[tokio::test]
async fn live_changes_arrive_with_their_txid_and_idle_polls_end_up_to_date() {
    let app = TestApp::spawn_with(&[("COURTYARD_SYNC_LONG_POLL_TIMEOUT_SECS", "1")]).await;
    let (admin, slug, schema) = group(&app).await;
    let mut client = ShapeClient::new(&admin, &app.base, &slug, "announcements", &[]);
    client.sync().await;
    let before = client.offset.clone();

    // Nothing happens: the poll is held, then answers up-to-date, live headers only.
    let started = std::time::Instant::now();
    let idle = client.poll().await;
    assert!(started.elapsed() >= std::time::Duration::from_millis(900));
    assert_eq!(idle.status, StatusCode::OK);
    assert_eq!(
        idle.messages(),
        [json!({"headers": {"control": "up-to-date", "global_last_seen_lsn": before.trim_end_matches("_0")}})]
    );
    assert!(idle.header("electric-cursor").is_some());
    assert_eq!(idle.header("electric-schema"), None);
    assert_eq!(idle.header("cache-control"), Some("private, max-age=5, stale-while-revalidate=5"));

    // A write while the poll waits arrives at once, with the writer's txid.
    let waiting = tokio::spawn(async move {
        let reply = client.poll().await;
        (client, reply)
    });
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let id = Uuid::new_v4();
    let body =
        mutate(&app, &admin, &slug, "announcement.create", json!({"id": id, "title": "Water off", "body": "9-11"}))
            .await;
    let (mut client, reply) = waiting.await.unwrap();
    let change = &reply.messages()[0];
    assert_eq!(change["headers"]["operation"], "insert");
    assert_eq!(change["headers"]["txids"][0].to_string(), body["txid"].as_str().unwrap());
    assert_eq!(change["headers"]["last"], true);
    assert_eq!(change["value"]["title"], "Water off");
    assert_eq!(reply.header("electric-up-to-date"), Some(""));

    // Update and delete follow; the client ends equal to the table.
    mutate(&app, &admin, &slug, "announcement.update", json!({"id": id, "title": "Water back"})).await;
    let update = client.poll().await;
    assert_eq!(update.messages()[0]["headers"]["operation"], "update");
    let value = update.messages()[0]["value"].as_object().unwrap();
    let mut sent: Vec<&str> = value.keys().map(String::as_str).collect();
    sent.sort();
    assert_eq!(sent, ["id", "title", "updated_at"], "replica=default sends the key and what changed");
    mutate(&app, &admin, &slug, "announcement.delete", json!({"id": id})).await;
    let delete = client.poll().await;
    assert_eq!(delete.messages()[0]["headers"]["operation"], "delete");
    assert_eq!(delete.messages()[0]["value"], json!({"id": id}));
    assert_eq!(client.rows_by_id("id"), app.table_rows(&schema, "announcements").await);
}

#[tokio::test]
async fn replica_full_sends_whole_rows_and_the_old_values() {
    let app = TestApp::spawn_with(&[("COURTYARD_SYNC_LONG_POLL_TIMEOUT_SECS", "5")]).await;
    let (admin, slug, _) = group(&app).await;
    let id = Uuid::new_v4();
    mutate(&app, &admin, &slug, "announcement.create", json!({"id": id, "title": "A", "body": "b"})).await;
    let mut client = ShapeClient::new(&admin, &app.base, &slug, "announcements", &[("replica", "full")]);
    client.sync().await;
    mutate(&app, &admin, &slug, "announcement.update", json!({"id": id, "title": "B"})).await;
    let reply = client.poll().await;
    let update = &reply.messages()[0];
    assert_eq!(update["value"]["body"], "b", "the whole row");
    assert_eq!(update["old_value"]["title"], "A");
    assert!(update["old_value"].get("body").is_none(), "old values of changed columns only");
}

#[tokio::test]
async fn a_where_shape_holds_exactly_the_matching_rows_as_they_move() {
    let app = TestApp::spawn_with(&[("COURTYARD_SYNC_LONG_POLL_TIMEOUT_SECS", "5")]).await;
    let (admin, slug, schema) = group(&app).await;
    insert_announcements(&app, &schema, 30, 3).await;
    let query = [
        ("where", "pinned = $1 AND title <> 'hidden'"),
        ("params[1]", "true"),
        ("columns", "\"id\",\"title\",\"pinned\""),
    ];
    let mut client = ShapeClient::new(&admin, &app.base, &slug, "announcements", &query);
    client.sync().await;
    let expected = |rows: BTreeMap<String, Map<String, Value>>| -> BTreeMap<String, Map<String, Value>> {
        rows.into_iter()
            .filter(|(_, r)| r["pinned"] == "t" && r["title"] != "hidden")
            .map(|(k, r)| (k, ["id", "title", "pinned"].iter().map(|c| (c.to_string(), r[*c].clone())).collect()))
            .collect()
    };
    assert_eq!(client.rows_by_id("id").len(), 10);
    assert_eq!(client.rows_by_id("id"), expected(app.table_rows(&schema, "announcements").await));

    let t = format!("\"{schema}\".announcements");
    let moves = [
        format!("UPDATE {t} SET pinned = NOT pinned WHERE id IN (SELECT id FROM {t} ORDER BY id LIMIT 4)"),
        format!("UPDATE {t} SET title = 'hidden' WHERE id IN (SELECT id FROM {t} WHERE pinned ORDER BY id LIMIT 2)"),
        format!("UPDATE {t} SET body = 'unseen column' WHERE pinned"),
        format!("DELETE FROM {t} WHERE id IN (SELECT id FROM {t} WHERE pinned ORDER BY id DESC LIMIT 1)"),
    ];
    for statement in moves {
        sqlx::query(&statement).execute(&app.db).await.unwrap();
        let position: i64 = sqlx::query_scalar(&format!("SELECT position FROM \"{schema}\".change_head"))
            .fetch_one(&app.db)
            .await
            .unwrap();
        while client.position() < position {
            let reply = client.poll().await;
            assert_eq!(reply.status, StatusCode::OK);
            for message in reply.messages().iter().filter(|m| m["headers"]["operation"] == "update") {
                assert!(message["value"].get("body").is_none(), "a column outside the shape never travels");
            }
        }
        assert_eq!(client.rows_by_id("id"), expected(app.table_rows(&schema, "announcements").await), "{statement}");
    }
}

#[tokio::test]
async fn a_client_that_comes_back_gets_exactly_what_it_missed() {
    let app = TestApp::spawn().await;
    let (admin, slug, schema) = group(&app).await;
    insert_announcements(&app, &schema, 10, 2).await;
    let mut client = ShapeClient::new(&admin, &app.base, &slug, "announcements", &[]);
    client.sync().await;
    let left_at = client.position();
    // While it is away: other tables change too.
    insert_announcements(&app, &schema, 3, 1).await;
    mutate(&app, &admin, &slug, "resource.create", json!({"id": Uuid::new_v4(), "name": "Laundry"})).await;
    sqlx::query(&format!("DELETE FROM \"{schema}\".announcements WHERE pinned")).execute(&app.db).await.unwrap();
    client.live = false;
    let reply = client.poll().await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("electric-up-to-date"), Some(""));
    let missed: Vec<i64> = app.logged_positions(&schema, "announcements", left_at).await;
    assert_eq!(client.positions, missed);
    assert_eq!(client.rows_by_id("id"), app.table_rows(&schema, "announcements").await);
}

#[tokio::test]
async fn unknown_stale_or_future_handles_and_offsets_get_409_with_the_current_handle() {
    let app = TestApp::spawn_with(&[("COURTYARD_SYNC_LONG_POLL_TIMEOUT_SECS", "5")]).await;
    let (admin, slug, schema) = group(&app).await;
    let mut client = ShapeClient::new(&admin, &app.base, &slug, "announcements", &[]);
    client.sync().await;
    let handle = client.handle.clone().unwrap();
    let url = app.url(&format!("/g/{slug}/v1/shape"));
    let cases = [
        vec![("offset", "0_0"), ("handle", "not-a-handle")],
        vec![("offset", "999999_0"), ("handle", handle.as_str())],
        vec![("offset", "999999_0"), ("handle", handle.as_str()), ("live", "true")],
        vec![("offset", "999999_5"), ("handle", handle.as_str())],
    ];
    for extra in cases {
        let mut query = vec![("table", "announcements")];
        query.extend(extra.iter().copied());
        let (status, headers, body) = get(&admin, &url, &query).await;
        assert_eq!(status, StatusCode::CONFLICT, "{query:?}: {body}");
        assert_eq!(body, json!([{"headers": {"control": "must-refetch"}}]));
        assert_eq!(headers["electric-handle"], handle.as_str());
        assert_eq!(headers["cache-control"], "private, max-age=60, must-revalidate");
    }

    // A migrated schema names new handles; a waiting live poll learns it at once.
    let waiting = tokio::spawn(async move {
        let reply = client.poll().await;
        (client, reply)
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    sqlx::raw_sql(&format!(
        "INSERT INTO \"{schema}\".schema_migrations (version, description) VALUES (99999999, 'test');
         SELECT pg_notify('courtyard_schema', '{schema}')"
    ))
    .execute(&app.db)
    .await
    .unwrap();
    let (mut client, reply) = waiting.await.unwrap();
    assert_eq!(reply.status, StatusCode::CONFLICT);
    let fresh = reply.header("electric-handle").unwrap();
    assert_ne!(fresh, handle);
    client.sync().await;
    assert_eq!(client.handle.as_deref(), Some(fresh));
}

#[tokio::test]
async fn wake_answers_with_the_tables_that_changed_or_holds_until_the_timeout() {
    let app = TestApp::spawn_with(&[("COURTYARD_SYNC_LONG_POLL_TIMEOUT_SECS", "1")]).await;
    let (admin, slug, schema) = group(&app).await;
    let head = |app: &TestApp| {
        let (db, schema) = (app.db.clone(), schema.clone());
        async move {
            sqlx::query_scalar::<_, i64>(&format!("SELECT position FROM \"{schema}\".change_head"))
                .fetch_one(&db)
                .await
                .unwrap()
        }
    };
    let before = head(&app).await;
    let url = app.url(&format!("/g/{slug}/v1/wake"));
    let (status, _, idle) = get(&admin, &url, &[("after", &before.to_string())]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(idle, json!({"head": before, "tables": []}));

    let waiting = {
        let (admin, url) = (admin.clone(), url.clone());
        tokio::spawn(async move { get(&admin, &url, &[("after", &before.to_string())]).await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    mutate(&app, &admin, &slug, "resource.create", json!({"id": Uuid::new_v4(), "name": "Laundry"})).await;
    let (_, _, woken) = waiting.await.unwrap();
    assert_eq!(woken, json!({"head": head(&app).await, "tables": ["resources"]}));

    let (status, _, body) = get(&admin, &url, &[("after", "nope")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _, body) = get(&admin, &url, &[("after", "999999")]).await;
    assert_eq!((status, body["head"].as_i64()), (StatusCode::OK, Some(head(&app).await)), "a position past the log");
    let stranger = app.client();
    app.sign_up(&stranger, "Cy").await;
    let (status, _, _) = get(&stranger, &url, &[("after", "0")]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_wake_stream_sends_each_move_of_the_log_and_ends_with_access() {
    let app = TestApp::spawn_with(&[("COURTYARD_SYNC_SSE_TIMEOUT_SECS", "3")]).await;
    let (admin, slug, schema) = group(&app).await;
    let head = || async {
        sqlx::query_scalar::<_, i64>(&format!("SELECT position FROM \"{schema}\".change_head"))
            .fetch_one(&app.db)
            .await
            .unwrap()
    };
    let url = app.url(&format!("/g/{slug}/v1/wake"));
    let open = |http: &Client, after: i64| {
        let request = http.get(&url).query(&[("after", after.to_string()), ("live_sse", "true".into())]);
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            assert_eq!(response.headers()["content-type"], "text/event-stream");
            assert_eq!(response.headers()["cache-control"], "no-store");
            Events { response, buffer: String::new() }
        }
    };
    let started = std::time::Instant::now();
    let before = head().await;
    let mut events = open(&admin, before).await;
    // A comment at once (a client tells a buffering proxy by its absence).
    assert_eq!(events.next().await, Some(Event::Comment("keep-alive".into())));
    mutate(&app, &admin, &slug, "resource.create", json!({"id": Uuid::new_v4(), "name": "Laundry"})).await;
    assert_eq!(events.data().await, json!({"head": head().await, "tables": ["resources"]}));
    mutate(&app, &admin, &slug, "announcement.create", json!({"id": Uuid::new_v4(), "title": "A", "body": "b"})).await;
    assert_eq!(events.data().await, json!({"head": head().await, "tables": ["announcements"]}));
    // Silence, then the stream ends on time.
    let mut rest = Vec::new();
    while let Some(event) = events.next().await {
        rest.push(event);
    }
    assert!(rest.iter().all(|e| matches!(e, Event::Comment(_))), "{rest:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));

    // Behind the log: the first event says so at once; past it: the head.
    let mut events = open(&admin, before).await;
    assert_eq!(events.data().await["head"], head().await);
    let mut events = open(&admin, 999_999).await;
    assert_eq!(events.data().await, json!({"head": head().await, "tables": null}));

    // A removed resident's stream: told to catch everything up (each
    // catch-up then gets 404), and ended.
    let resident = app.resident(&admin, &slug, "Bo").await;
    let mut theirs = open(&resident, head().await).await;
    assert_eq!(theirs.next().await, Some(Event::Comment("keep-alive".into())));
    sqlx::query("DELETE FROM memberships WHERE role = 'resident'").execute(&app.db).await.unwrap();
    let ended = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        let told = theirs.data().await;
        (told, theirs.next().await)
    })
    .await
    .expect("ended at once");
    assert_eq!(ended.0["tables"], Value::Null);
    assert_eq!(ended.1, None);
    let response = resident.get(&url).query(&[("after", "0"), ("live_sse", "true")]).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn one_person_holds_at_most_64_event_streams() {
    let app = TestApp::spawn().await;
    let (admin, slug, _) = group(&app).await;
    let url = app.url(&format!("/g/{slug}/v1/wake"));
    let open = || admin.get(&url).query(&[("after", "0"), ("live_sse", "true")]).send();
    let mut held = Vec::new();
    for _ in 0..64 {
        let response = open().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        held.push(response);
    }
    let refused = open().await.unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.headers().contains_key("retry-after"));
    // Another person is not affected.
    let other = app.resident(&admin, &slug, "Bo").await;
    assert_eq!(other.get(&url).query(&[("after", "0"), ("live_sse", "true")]).send().await.unwrap().status(), 200);
    // A stream given up gives its place back.
    held.pop();
    let reopened = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        loop {
            let response = open().await.unwrap();
            if response.status() == StatusCode::OK {
                return response;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    });
    reopened.await.expect("a place once one stream closed");
}

/// One event of a live event stream, as a client reads it.
#[derive(Debug, PartialEq)]
enum Event {
    Data(Value),
    Comment(String),
}

/// A live event stream (`live_sse=true`) being read.
struct Events {
    response: reqwest::Response,
    buffer: String,
}

impl Events {
    /// The next event; `None` once the server ended the stream.
    async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let event: String = self.buffer.drain(..end + 2).collect();
                let event = event.trim_end();
                return Some(match event.strip_prefix("data: ") {
                    Some(data) => Event::Data(serde_json::from_str(data).unwrap()),
                    None => Event::Comment(event.strip_prefix(": ").expect("a data line or a comment").to_owned()),
                });
            }
            let chunk = self.response.chunk().await.unwrap()?;
            self.buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }

    /// The next data event (skipping comments).
    async fn data(&mut self) -> Value {
        loop {
            match self.next().await.expect("an event, not the stream's end") {
                Event::Data(data) => return data,
                Event::Comment(_) => {}
            }
        }
    }

    /// The data events up to and with the next `up-to-date` (skipping comments).
    async fn batch(&mut self) -> Vec<Value> {
        let mut batch = Vec::new();
        loop {
            match self.next().await.expect("a batch, not the stream's end") {
                Event::Data(message) => {
                    let done = message["headers"]["control"] == "up-to-date";
                    batch.push(message);
                    if done {
                        return batch;
                    }
                }
                Event::Comment(_) => {}
            }
        }
    }
}

/// Opens a live event stream from where `client` is; the answer's status
/// and headers, and the stream if it is one.
async fn open_events(
    client: &ShapeClient,
    http: &Client,
    url: &str,
) -> (StatusCode, reqwest::header::HeaderMap, Events) {
    let handle = client.handle.clone().unwrap();
    let query = [
        ("table", "announcements"),
        ("offset", client.offset.as_str()),
        ("handle", handle.as_str()),
        ("live", "true"),
        ("live_sse", "true"),
    ];
    let response = http.get(url).header("accept", "text/event-stream").query(&query).send().await.unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    (status, headers, Events { response, buffer: String::new() })
}

#[tokio::test]
async fn an_event_stream_sends_each_batch_ending_up_to_date_keeps_alive_and_closes_in_time() {
    let app = TestApp::spawn_with(&[("COURTYARD_SYNC_SSE_TIMEOUT_SECS", "3")]).await;
    let (admin, slug, schema) = group(&app).await;
    let url = app.url(&format!("/g/{slug}/v1/shape"));
    let mut client = ShapeClient::new(&admin, &app.base, &slug, "announcements", &[]);
    client.sync().await;
    let started = std::time::Instant::now();
    let (status, headers, mut events) = open_events(&client, &admin, &url).await;
    assert_eq!(status, StatusCode::OK);
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    assert_eq!(header("content-type"), "text/event-stream");
    assert_eq!(header("electric-offset"), client.offset);
    assert_eq!(header("electric-handle"), client.handle.clone().unwrap());
    assert!(!header("electric-cursor").is_empty(), "the client requires a cursor on live answers");
    assert_eq!(header("cache-control"), "private, max-age=2");

    // Two writes, two batches, each ending up to date at its position.
    let id = Uuid::new_v4();
    let body =
        mutate(&app, &admin, &slug, "announcement.create", json!({"id": id, "title": "Lift", "body": "x"})).await;
    let first = events.batch().await;
    assert_eq!(first.len(), 2, "{first:?}");
    assert_eq!(first[0]["headers"]["operation"], "insert");
    assert_eq!(first[0]["headers"]["txids"][0].to_string(), body["txid"].as_str().unwrap());
    assert_eq!(first[0]["value"]["title"], "Lift");
    let lsn = first[0]["headers"]["lsn"].as_str().unwrap().to_owned();
    assert_eq!(first[1]["headers"]["global_last_seen_lsn"], lsn.as_str());
    mutate(&app, &admin, &slug, "announcement.update", json!({"id": id, "title": "Lift works"})).await;
    let second = events.batch().await;
    assert_eq!(second[0]["headers"]["operation"], "update");
    assert_eq!(second[0]["value"]["title"], "Lift works");

    // Another table moves the log on: this stream says where it now is,
    // at its next keep-alive, so its client resumes from there.
    mutate(&app, &admin, &slug, "resource.create", json!({"id": Uuid::new_v4(), "name": "Laundry"})).await;
    let head: i64 =
        sqlx::query_scalar(&format!("SELECT position FROM \"{schema}\".change_head")).fetch_one(&app.db).await.unwrap();
    let moved = events.batch().await;
    assert_eq!(moved, [json!({"headers": {"control": "up-to-date", "global_last_seen_lsn": head.to_string()}})]);

    // Then silence: a keep-alive, and the stream ends on time.
    let mut rest = Vec::new();
    while let Some(event) = events.next().await {
        rest.push(event);
    }
    assert!(rest.contains(&Event::Comment("keep-alive".into())), "{rest:?}");
    assert!(rest.iter().all(|e| matches!(e, Event::Comment(_))), "{rest:?}");
    let lasted = started.elapsed();
    assert!(
        lasted >= std::time::Duration::from_millis(2_900) && lasted < std::time::Duration::from_secs(10),
        "{lasted:?}"
    );

    // The client resumes from the last up-to-date's position and has it all.
    let resumed = moved[0]["headers"]["global_last_seen_lsn"].as_str().unwrap().to_owned();
    client.offset = format!("{resumed}_0");
    client.sync().await;
    let (_, _, mut events) = open_events(&client, &admin, &url).await;
    mutate(&app, &admin, &slug, "announcement.delete", json!({"id": id})).await;
    assert_eq!(events.batch().await[0]["headers"]["operation"], "delete");
    assert!(app.table_rows(&schema, "announcements").await.is_empty());
}

#[tokio::test]
async fn an_event_stream_is_refused_or_ended_where_the_log_cannot_go_on() {
    let app = TestApp::spawn().await;
    let (admin, slug, _) = group(&app).await;
    let url = app.url(&format!("/g/{slug}/v1/shape"));
    let mut client = ShapeClient::new(&admin, &app.base, &slug, "announcements", &[]);
    client.sync().await;

    // Not live: 400 naming the parameter.
    let handle = client.handle.clone().unwrap();
    let query = [
        ("table", "announcements"),
        ("offset", client.offset.as_str()),
        ("handle", handle.as_str()),
        ("live_sse", "true"),
    ];
    let (status, _, body) = get(&admin, &url, &query).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["errors"]["live_sse"].is_array(), "{body}");

    // An offset past the head, or a handle not the shape's: a plain 409.
    let at = client.offset.clone();
    client.offset = "999999_0".into();
    let (status, headers, _) = open_events(&client, &admin, &url).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(headers["electric-handle"].to_str().unwrap(), handle);
    client.offset = at;
    client.handle = Some("1-not-this-shape".into());
    let (status, _, _) = open_events(&client, &admin, &url).await;
    assert_eq!(status, StatusCode::CONFLICT);
    client.handle = Some(handle);

    // A resident streaming when removed: the stream ends at once; the next
    // request is a 404.
    let resident = app.resident(&admin, &slug, "Bo").await;
    let mut theirs = ShapeClient::new(&resident, &app.base, &slug, "announcements", &[]);
    theirs.sync().await;
    let (status, _, mut events) = open_events(&theirs, &resident, &url).await;
    assert_eq!(status, StatusCode::OK);
    sqlx::query("DELETE FROM memberships WHERE role = 'resident'").execute(&app.db).await.unwrap();
    let ended = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        loop {
            match events.next().await {
                Some(Event::Comment(_)) => {}
                other => return other,
            }
        }
    });
    assert_eq!(ended.await, Ok(None), "the stream ends, with nothing more, when the membership does");
    let (status, _, _) = open_events(&theirs, &resident, &url).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// The server speaks HTTP/2 without TLS to a client that knows it does
/// (h2c with prior knowledge): sign-up, a group, a shape and an event
/// stream, all over it.
#[tokio::test]
async fn http2_with_prior_knowledge_serves_the_api_shapes_and_event_streams() {
    let app = TestApp::spawn_with(&[("COURTYARD_SYNC_SSE_TIMEOUT_SECS", "3")]).await;
    let h2 = Client::builder().http2_prior_knowledge().cookie_store(true).build().unwrap();
    app.sign_up(&h2, "Ann").await;
    let slug = app.create_group(&h2, "Elm").await;
    let url = app.url(&format!("/g/{slug}/v1/shape"));
    let first = h2.get(&url).query(&[("table", "announcements"), ("offset", "-1")]).send().await.unwrap();
    assert_eq!(first.version(), reqwest::Version::HTTP_2);
    assert_eq!(first.status(), StatusCode::OK);
    let handle = first.headers()["electric-handle"].to_str().unwrap().to_owned();
    let offset = first.headers()["electric-offset"].to_str().unwrap().to_owned();
    let live = [
        ("table", "announcements"),
        ("offset", offset.as_str()),
        ("handle", handle.as_str()),
        ("live", "true"),
        ("live_sse", "true"),
    ];
    let response = h2.get(&url).query(&live).send().await.unwrap();
    assert_eq!(response.version(), reqwest::Version::HTTP_2);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut events = Events { response, buffer: String::new() };
    mutate(&app, &h2, &slug, "announcement.create", json!({"id": Uuid::new_v4(), "title": "Over h2", "body": "x"}))
        .await;
    let batch = events.batch().await;
    assert_eq!(batch[0]["value"]["title"], "Over h2");
}
