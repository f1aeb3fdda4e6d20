//! Many app servers behind a stock load balancer: real server processes on
//! one database, behind Debian's nginx configured by deploy/nginx.conf
//! (round robin, no sticky sessions). Requests are made as a browser makes
//! them: one cookie jar, and an `Origin` on every POST.

mod common;

use common::{nginx::Nginx, process::ServerProcess, shape_client::ShapeClient};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use sqlx::PgPool;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// How long a change may take to reach a follower.
const DELIVERY: Duration = Duration::from_secs(10);

/// One browser: its own cookie jar, which every server honours (sessions
/// live in Postgres).
fn browser() -> Client {
    Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// A POST from a page of the site at `base` (the server checks the Origin
/// against the Host it was asked for).
async fn post(http: &Client, base: &str, path: &str, body: Value) -> (StatusCode, Value) {
    let response = http.post(format!("{base}{path}")).header("origin", base).json(&body).send().await.unwrap();
    common::read(response).await
}

/// Signs a new person up at `base` and has them create a group; its slug.
async fn new_group(http: &Client, base: &str) -> String {
    let email = format!("ann-{}@example.org", Uuid::new_v4().simple());
    let (status, body) =
        post(http, base, "/api/auth/signup", json!({"email": email, "password": "correct horse", "name": "Ann"})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let slug = format!("elm-{}", &Uuid::new_v4().simple().to_string()[..8]);
    let (status, body) = post(http, base, "/api/groups", json!({"slug": slug, "name": "Elm"})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    slug
}

/// Posts an announcement through `base`; its id.
async fn announce(http: &Client, base: &str, slug: &str, title: &str) -> String {
    let id = Uuid::new_v4();
    let mutation = json!({"id": Uuid::new_v4(), "name": "announcement.create",
        "args": {"id": id, "title": title, "body": "b"}});
    let (status, body) = post(http, base, "/api/mutate", json!({"group": slug, "mutations": [mutation]})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["results"][0]["status"], "applied", "{body}");
    id.to_string()
}

/// Long-polls until the follower holds the row `id`.
async fn follow_until_it_has(follower: &mut ShapeClient, id: &str) {
    let deadline = Instant::now() + DELIVERY;
    while !follower.rows_by_id("id").contains_key(id) {
        assert!(Instant::now() < deadline, "the change did not reach the follower within {DELIVERY:?}");
        let reply = follower.poll().await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    }
}

/// The server's count of held long-polls on shapes, read from its own
/// `/metrics` (a local scrape, not through the proxy).
async fn held_shape_polls(server: &ServerProcess) -> f64 {
    let text = reqwest::get(server.url("/metrics")).await.unwrap().text().await.unwrap();
    text.lines()
        .filter(|line| line.starts_with("courtyard_live_subscribers{") && line.contains("\"shape_long_poll\""))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

async fn schema_of(db: &PgPool, slug: &str) -> String {
    sqlx::query_scalar("SELECT schema_name FROM groups WHERE slug = $1").bind(slug).fetch_one(db).await.unwrap()
}

#[tokio::test]
async fn a_write_to_one_server_reaches_a_follower_on_the_other() {
    let database = common::fresh_database().await;
    let a = ServerProcess::start(&database, &[]).await;
    let b = ServerProcess::start(&database, &[]).await;
    let http = browser();
    let slug = new_group(&http, &a.base).await;
    let mut follower = ShapeClient::new(&http, &b.base, &slug, "announcements", &[]);
    follower.sync().await;

    let write = async {
        // Once the follower's long-poll is waiting on B.
        tokio::time::sleep(Duration::from_millis(300)).await;
        announce(&http, &a.base, &slug, "Bins on Tuesday").await
    };
    let deliver = async {
        let deadline = Instant::now() + DELIVERY;
        while follower.rows.is_empty() {
            assert!(Instant::now() < deadline, "B's follower never got A's write");
            assert_eq!(follower.poll().await.status, StatusCode::OK);
        }
    };
    let (id, ()) = tokio::join!(write, deliver);
    assert_eq!(follower.rows_by_id("id")[&id]["title"], "Bins on Tuesday");
}

#[tokio::test]
async fn through_the_proxy_a_long_poll_and_an_event_stream_get_a_write_sent_through_it() {
    let database = common::fresh_database().await;
    // Streams outlast the test: an event that came only when one closed
    // would come too late.
    let env = [("COURTYARD_SYNC_SSE_TIMEOUT_SECS", "60"), ("COURTYARD_TRUSTED_PROXIES", "127.0.0.1")];
    let a = ServerProcess::start(&database, &env).await;
    let b = ServerProcess::start(&database, &env).await;
    let nginx = Nginx::start(&[a.port, b.port]).await;
    let http = browser();
    let slug = new_group(&http, &nginx.base).await;
    let mut follower = ShapeClient::new(&http, &nginx.base, &slug, "announcements", &[]);
    follower.sync().await;

    let query = [
        ("table", "announcements"),
        ("offset", follower.offset.as_str()),
        ("handle", follower.handle.as_deref().unwrap()),
        ("live", "true"),
        ("live_sse", "true"),
    ];
    let mut stream = http
        .get(nginx.url(&format!("/g/{slug}/v1/shape")))
        .header("accept", "text/event-stream")
        .query(&query)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    assert_eq!(stream.headers()["content-type"], "text/event-stream");

    let id = announce(&http, &nginx.base, &slug, "Bins on Tuesday").await;
    follow_until_it_has(&mut follower, &id).await;
    let event = format!("\"id\":\"{id}\"");
    let streamed = tokio::time::timeout(DELIVERY, async {
        let mut received = String::new();
        while !received.contains(&event) {
            let chunk = stream.chunk().await.unwrap().expect("the stream stays open");
            received.push_str(std::str::from_utf8(&chunk).unwrap());
        }
        received
    })
    .await
    .expect("the event stream passed the write on as it came");
    assert!(streamed.contains("data: "), "{streamed}");
}

#[tokio::test]
async fn a_follower_through_the_proxy_goes_on_through_the_other_server_when_one_dies() {
    let database = common::fresh_database().await;
    // Polls held far longer than the test takes, so one is surely held at the kill.
    let env = [("COURTYARD_SYNC_LONG_POLL_TIMEOUT_SECS", "30"), ("COURTYARD_TRUSTED_PROXIES", "127.0.0.1")];
    let a = ServerProcess::start(&database, &env).await;
    let b = ServerProcess::start(&database, &env).await;
    let nginx = Nginx::start(&[a.port, b.port]).await;
    let db = PgPool::connect(&database).await.unwrap();
    let http = browser();
    let slug = new_group(&http, &nginx.base).await;
    let mut ids = vec![announce(&http, &nginx.base, &slug, "before 1").await];
    let mut follower = ShapeClient::new(&http, &nginx.base, &slug, "announcements", &[]);
    follower.sync().await;
    ids.push(announce(&http, &nginx.base, &slug, "before 2").await);
    follow_until_it_has(&mut follower, &ids[1]).await;

    // The follower's loop, as the browser's: a poll that fails is sent
    // again from the same offset. (nginx itself sends a held poll cut off by
    // its server's death on to the other server: a GET may be repeated.)
    let expected = ids.len() + 2;
    let following = tokio::spawn(async move {
        let mut failed = 0;
        while follower.rows.len() < expected {
            match follower.try_poll().await {
                Ok(reply) => assert_eq!(reply.status, StatusCode::OK, "{}", reply.body),
                Err(_) => failed += 1,
            }
        }
        (follower, failed)
    });

    // Kill whichever server holds the follower's poll.
    let deadline = Instant::now() + Duration::from_secs(5);
    let a_holds = loop {
        assert!(Instant::now() < deadline, "no server holds the follower's poll");
        let (on_a, on_b) = (held_shape_polls(&a).await, held_shape_polls(&b).await);
        if on_a + on_b > 0.0 {
            break on_a > 0.0;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let _survivor = if a_holds {
        a.kill();
        b
    } else {
        b.kill();
        a
    };

    ids.push(announce(&http, &nginx.base, &slug, "after 1").await);
    ids.push(announce(&http, &nginx.base, &slug, "after 2").await);
    let (follower, failed) = tokio::time::timeout(DELIVERY, following)
        .await
        .expect("the follower got the writes made after the kill")
        .unwrap();

    let schema = schema_of(&db, &slug).await;
    let logged: Vec<i64> = sqlx::query_scalar(&format!(
        "SELECT position FROM \"{schema}\".changes WHERE relation = 'announcements' AND position > $1 ORDER BY position"
    ))
    .bind(follower.snapshot_at.unwrap())
    .fetch_all(&db)
    .await
    .unwrap();
    assert_eq!(follower.positions, logged, "every change once, in order (failed polls: {failed})");
    let table: Vec<(String, String)> =
        sqlx::query_as(&format!("SELECT id::text, title FROM \"{schema}\".announcements ORDER BY id"))
            .fetch_all(&db)
            .await
            .unwrap();
    let held: Vec<(String, String)> = follower
        .rows_by_id("id")
        .into_iter()
        .map(|(id, row)| (id, row["title"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(held, table, "the follower's rows are the table's");
    ids.sort();
    assert_eq!(table.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>(), ids);
}

#[tokio::test]
async fn the_proxy_keeps_metrics_private_and_takes_the_bodies_the_servers_take() {
    let server = ServerProcess::start(&common::fresh_database().await, &[]).await;
    let nginx = Nginx::start(&[server.port]).await;
    let http = browser();
    assert_eq!(reqwest::get(server.url("/metrics")).await.unwrap().status(), StatusCode::OK, "a local scrape");
    assert_eq!(reqwest::get(nginx.url("/metrics")).await.unwrap().status(), StatusCode::FORBIDDEN);

    // The server's limit (MAX_BODY_BYTES): a body up to it reaches the
    // server (which reads it and finds no JSON), a larger one nginx refuses.
    new_group(&http, &nginx.base).await;
    let limit = 2 * 1024 * 1024;
    let send = |size: usize| {
        http.post(nginx.url("/api/mutate"))
            .header("origin", &nginx.base)
            .header("content-type", "application/json")
            .body(vec![b'x'; size])
            .send()
    };
    assert_eq!(send(limit).await.unwrap().status(), StatusCode::BAD_REQUEST);
    assert_eq!(send(limit + 1).await.unwrap().status(), StatusCode::PAYLOAD_TOO_LARGE);
}
