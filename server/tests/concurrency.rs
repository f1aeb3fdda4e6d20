//! Parallel requests that must neither fail nor bend a rule: sign-in
//! limits under parallel guesses, password hashing under a flood (memory
//! read from /proc), writes that touch the same rows in opposite orders,
//! replays racing their first attempt, invites accepted at once, a room
//! deleted while it is being booked. Never a 500, never a dropped
//! connection.

mod common;

use common::{process::ServerProcess, TestApp};
use futures::future::join_all;
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

fn update(id: Uuid, title: &str) -> Value {
    json!({"id": Uuid::new_v4(), "name": "announcement.update", "args": {"id": id, "title": title}})
}

/// Every result of a 200 answer, as (status, error).
fn outcomes(status: StatusCode, body: &Value) -> Vec<(String, String)> {
    assert_eq!(status, StatusCode::OK, "{body}");
    body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["status"].as_str().unwrap().to_owned(), r["error"].as_str().unwrap_or_default().to_owned()))
        .collect()
}

#[tokio::test]
async fn twenty_parallel_wrong_passwords_check_at_most_the_limit() {
    // Room for every hash to wait: only the rate limit may refuse.
    let app = TestApp::spawn_with(&[("COURTYARD_SESSION_PASSWORD_HASHES_WAITING", "40")]).await;
    let me = app.sign_up(&app.client(), "Ann").await;
    let guesses = (0..20).map(|_| {
        let body = json!({"email": me["email"], "password": "wrong guess"});
        let request = app.client().post(app.url("/api/auth/login")).json(&body);
        async move { request.send().await.unwrap().status() }
    });
    let statuses = join_all(guesses).await;
    let checked = statuses.iter().filter(|s| **s == StatusCode::UNAUTHORIZED).count();
    let refused = statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
    assert_eq!((checked, refused), (5, 15), "{statuses:?}");
}

#[tokio::test]
async fn sign_ups_from_one_address_are_limited() {
    let app = TestApp::spawn_with(&[("COURTYARD_SESSION_MAX_SIGNUPS_PER_IP", "3")]).await;
    for _ in 0..3 {
        app.sign_up(&app.client(), "Ann").await;
    }
    let body =
        json!({"email": format!("late-{}@example.org", Uuid::new_v4()), "password": "correct horse", "name": "Late"});
    let refused = app.client().post(app.url("/api/auth/signup")).json(&body).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = refused.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=3600).contains(&wait), "{wait}");
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM users").fetch_one(&app.db).await.unwrap();
    assert_eq!(count, 3);
}

/// The bound docs/api.md states: besides the process's own memory, at most
/// `password_hashes_at_once` Argon2 computations of 19 MiB each.
const HASHES_AT_ONCE: u64 = 2;
const HASH_KIB: u64 = 19 * 1024;
const SLACK_KIB: u64 = 48 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_parallel_sign_ins_and_sign_ups_keep_memory_bounded() {
    let database = common::fresh_database().await;
    let server = ServerProcess::start(
        &database,
        &[("COURTYARD_SESSION_PASSWORD_HASHES_AT_ONCE", "2"), ("COURTYARD_SESSION_PASSWORD_HASHES_WAITING", "4")],
    )
    .await;
    let known = json!({"email": format!("ann-{}@example.org", Uuid::new_v4().simple()), "password": "correct horse", "name": "Ann"});
    let created = Client::new().post(server.url("/api/auth/signup")).json(&known).send().await.unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let (before, _) = server.memory_kib();

    let requests = (0..200).map(|i| {
        let (path, body) = match i % 4 {
            0 | 1 => (
                "/api/auth/signup",
                json!({"email": format!("p{i}-{}@example.org", Uuid::new_v4().simple()), "password": "correct horse", "name": "P"}),
            ),
            2 => ("/api/auth/login", known.clone()),
            _ => ("/api/auth/login", json!({"email": known["email"], "password": "a wrong guess"})),
        };
        // A client each: its own connection, as 200 browsers would.
        let request = Client::new().post(server.url(path)).json(&body);
        async move { request.send().await.map(|r| r.status()) }
    });
    let answers = join_all(requests).await;
    let (_, peak) = server.memory_kib();

    let allowed = [200, 201, 401, 409, 429, 503];
    for answer in &answers {
        let status = answer.as_ref().expect("no dropped connection");
        assert!(allowed.contains(&status.as_u16()), "{status}");
    }
    let created = answers.iter().filter(|a| a.as_ref().unwrap().as_u16() == 201).count() as i64;
    assert!(created > 0, "some sign-ups got through");
    // Sign-ups answered 503 (never hashed) do not count against the address.
    let pool = sqlx::PgPool::connect(&database).await.unwrap();
    let counted: i64 = sqlx::query_scalar("SELECT count(*) FROM signups").fetch_one(&pool).await.unwrap();
    assert_eq!(counted, created + 1, "the 201s (and the first sign-up) only");
    let bound = before + HASHES_AT_ONCE * HASH_KIB + SLACK_KIB;
    assert!(peak <= bound, "peak RSS {peak} KiB over the bound {bound} KiB (before: {before} KiB)");
}

#[tokio::test]
async fn batches_touching_rows_in_opposite_orders_never_fail() {
    let app = TestApp::spawn().await;
    let (admin, slug) = app.admin_of_new_group().await;
    let schema = app.schema_of(&slug).await;
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    let create =
        |id| json!({"id": Uuid::new_v4(), "name": "announcement.create", "args": {"id": id, "title": "t", "body": ""}});
    assert_eq!(app.mutate(&admin, &slug, json!([create(a), create(b)])).await.0, StatusCode::OK);
    for round in 0..15 {
        let forward = app.mutate(&admin, &slug, json!([update(a, "a1"), update(b, "b1")]));
        let backward = app.mutate(&admin, &slug, json!([update(b, "b2"), update(a, "a2")]));
        let single = app.mutate(&admin, &slug, json!([update(b, "b3")]));
        // psql-style: a transaction of its own, the rows in the other order.
        let by_hand = async {
            let mut tx = app.db.begin().await.unwrap();
            for (id, title) in [(b, "b4"), (a, "a4")] {
                sqlx::query(&format!("UPDATE \"{schema}\".announcements SET title = $2 WHERE id = $1"))
                    .bind(id)
                    .bind(title)
                    .execute(&mut *tx)
                    .await
                    .expect("the hand-written transaction is not a deadlock victim");
            }
            tx.commit().await.unwrap();
        };
        let (forward, backward, single, ()) = tokio::join!(forward, backward, single, by_hand);
        for (status, body) in [forward, backward, single] {
            for (outcome, error) in outcomes(status, &body) {
                assert_eq!(outcome, "applied", "round {round}: {error}");
            }
        }
    }
    // The log stayed whole: one entry per write, positions without a gap.
    let (count, max): (i64, i64) = sqlx::query_as(&format!("SELECT count(*), max(position) FROM \"{schema}\".changes"))
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(count, max);
}

#[tokio::test]
async fn a_replay_racing_its_first_attempt_gets_the_same_verdict() {
    let app = TestApp::spawn().await;
    let (admin, slug) = app.admin_of_new_group().await;
    for round in 0..20 {
        let id = Uuid::new_v4();
        let create = |mutation_id: Uuid| json!({"id": mutation_id, "name": "announcement.create", "args": {"id": id, "title": "t", "body": ""}});
        // The second create of the batch is rejected (its id is taken by the
        // first) unless its replay, alone, gets there first.
        let replayed = Uuid::new_v4();
        let first = app.mutate(&admin, &slug, json!([create(Uuid::new_v4()), create(replayed)]));
        let replay = app.mutate(&admin, &slug, json!([create(replayed)]));
        let ((first_status, first), (replay_status, replay)) = tokio::join!(first, replay);
        let in_first = outcomes(first_status, &first)[1].clone();
        let in_replay = outcomes(replay_status, &replay)[0].clone();
        match (in_first.0.as_str(), in_replay.0.as_str()) {
            ("rejected", "rejected") => assert_eq!(in_first.1, in_replay.1, "round {round}: the same error"),
            ("duplicate", "applied") => {}
            _ => panic!("round {round}: first {in_first:?}, replay {in_replay:?}"),
        }
    }
}

#[tokio::test]
async fn an_invite_accepted_at_once_by_two_people_or_twice_by_one_lets_all_in() {
    let app = TestApp::spawn().await;
    let (admin, slug) = app.admin_of_new_group().await;
    for _ in 0..5 {
        let code = app.invite(&admin, &slug).await;
        let (bo, cy) = (app.client(), app.client());
        app.sign_up(&bo, "Bo").await;
        app.sign_up(&cy, "Cy").await;
        let path = format!("/api/invites/{code}/accept");
        let answers = tokio::join!(
            app.post(&bo, &path, json!({})),
            app.post(&cy, &path, json!({})),
            app.post(&bo, &path, json!({})),
            app.post(&cy, &path, json!({})),
        );
        for (status, body) in [answers.0, answers.1, answers.2, answers.3] {
            assert_eq!(status, StatusCode::OK, "{body}");
            assert_eq!(body["role"], "resident");
        }
    }
}

#[tokio::test]
async fn a_room_deleted_while_it_is_booked_rejects_the_booking() {
    let app = TestApp::spawn().await;
    let (admin, slug) = app.admin_of_new_group().await;
    let schema = app.schema_of(&slug).await;
    let tomorrow = chrono::Utc::now() + chrono::Duration::days(1);
    for round in 0..10 {
        let room = Uuid::new_v4();
        let add = json!([{"id": Uuid::new_v4(), "name": "resource.create", "args": {"id": room, "name": "Laundry"}}]);
        assert_eq!(app.mutate(&admin, &slug, add).await.0, StatusCode::OK);
        let booking = |hours: i64| {
            json!([{"id": Uuid::new_v4(), "name": "booking.create", "args": {"id": Uuid::new_v4(), "resource_id": room,
                "starts_at": (tomorrow + chrono::Duration::hours(hours)).to_rfc3339(),
                "ends_at": (tomorrow + chrono::Duration::hours(hours + 1)).to_rfc3339()}}])
        };
        let delete = json!([{"id": Uuid::new_v4(), "name": "resource.delete", "args": {"id": room}}]);
        // Deleted through the API, and by hand in SQL, while two bookings come in.
        let delete_sql = format!("DELETE FROM \"{schema}\".resources WHERE id = $1");
        let by_hand = sqlx::query(&delete_sql).bind(room).execute(&app.db);
        let (one, two, deleted, _) = if round % 2 == 0 {
            let (one, two, deleted) = tokio::join!(
                app.mutate(&admin, &slug, booking(1)),
                app.mutate(&admin, &slug, booking(3)),
                app.mutate(&admin, &slug, delete)
            );
            (one, two, deleted, ())
        } else {
            let (one, two, deleted) =
                tokio::join!(app.mutate(&admin, &slug, booking(1)), app.mutate(&admin, &slug, booking(3)), by_hand);
            deleted.expect("the hand-written delete");
            (one, two, (StatusCode::OK, json!({"results": []})), ())
        };
        for (status, body) in [one, two, deleted] {
            for (outcome, error) in outcomes(status, &body) {
                assert!(
                    outcome == "applied" || (outcome == "rejected" && error.contains("no such room")),
                    "round {round}: {outcome} {error}"
                );
            }
        }
        let left: i64 =
            sqlx::query_scalar(&format!("SELECT count(*) FROM \"{schema}\".bookings WHERE resource_id = $1"))
                .bind(room)
                .fetch_one(&app.db)
                .await
                .unwrap();
        assert_eq!(left, 0, "round {round}: the room's bookings went with it");
    }
}
