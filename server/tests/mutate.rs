//! `POST /api/mutate`: every mutation's rules, batches, idempotency, races
//! and isolation, over HTTP against real Postgres.

mod common;

use chrono::{Duration, Utc};
use common::TestApp;
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

/// Sends one batch; returns the status and body.
async fn send(app: &TestApp, client: &Client, slug: &str, mutations: Value) -> (StatusCode, Value) {
    app.post(client, "/api/mutate", json!({"group": slug, "mutations": mutations})).await
}

/// Sends one mutation; returns its outcome (`status`, `error`).
async fn one(app: &TestApp, client: &Client, slug: &str, name: &str, args: Value) -> Value {
    let (status, body) = send(app, client, slug, json!([{"id": Uuid::new_v4(), "name": name, "args": args}])).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["results"][0].clone()
}

fn applied(outcome: &Value) {
    assert_eq!(outcome["status"], "applied", "{outcome}");
}

fn rejected(outcome: &Value, says: &str) {
    assert_eq!(outcome["status"], "rejected", "{outcome}");
    let error = outcome["error"].as_str().unwrap_or_default();
    assert!(error.contains(says), "expected {says:?} in {error:?}");
}

/// An admin and a resident of a fresh group.
async fn group(app: &TestApp) -> (Client, Client, String) {
    let admin = app.client();
    app.sign_up(&admin, "Ann").await;
    let slug = app.create_group(&admin, "Elm").await;
    let resident = app.resident(&admin, &slug, "Bo").await;
    (admin, resident, slug)
}

async fn count(app: &TestApp, slug: &str, table: &str) -> i64 {
    let schema = app.schema_of(slug).await;
    sqlx::query_scalar(&format!("SELECT count(*) FROM \"{schema}\".{table}")).fetch_one(&app.db).await.unwrap()
}

fn hours_from_now(hours: i64) -> String {
    let base = Utc::now().date_naive().and_hms_opt(0, 0, 0).unwrap().and_utc() + Duration::days(2);
    (base + Duration::hours(hours)).to_rfc3339()
}

#[tokio::test]
async fn announcements_follow_their_permission_rules() {
    let app = TestApp::spawn().await;
    let (admin, resident, slug) = group(&app).await;
    let id = Uuid::new_v4();
    let created =
        one(&app, &resident, &slug, "announcement.create", json!({"id": id, "title": " Bins ", "body": "Tuesday"}))
            .await;
    applied(&created);
    let schema = app.schema_of(&slug).await;
    let (title, author, pinned): (String, Uuid, bool) =
        sqlx::query_as(&format!("SELECT title, author_id, pinned FROM \"{schema}\".announcements WHERE id = $1"))
            .bind(id)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(title, "Bins");
    assert!(!pinned);
    let (_, me) = app.get(&resident, "/api/me").await;
    assert_eq!(author.to_string(), me["user"]["id"].as_str().unwrap(), "the server sets the author");

    applied(&one(&app, &resident, &slug, "announcement.update", json!({"id": id, "body": "Wednesday"})).await);
    rejected(&one(&app, &resident, &slug, "announcement.pin", json!({"id": id, "pinned": true})).await, "only admins");
    applied(&one(&app, &admin, &slug, "announcement.pin", json!({"id": id, "pinned": true})).await);
    applied(&one(&app, &admin, &slug, "announcement.update", json!({"id": id, "title": "Bins!"})).await);

    let other = app.resident(&admin, &slug, "Cy").await;
    rejected(
        &one(&app, &other, &slug, "announcement.update", json!({"id": id, "title": "Mine"})).await,
        "only whoever made it",
    );
    rejected(&one(&app, &other, &slug, "announcement.delete", json!({"id": id})).await, "only whoever made it");
    rejected(&one(&app, &resident, &slug, "announcement.update", json!({"id": id})).await, "nothing to change");
    applied(&one(&app, &admin, &slug, "announcement.delete", json!({"id": id})).await);
    rejected(&one(&app, &admin, &slug, "announcement.delete", json!({"id": id})).await, "no such announcement");
    assert_eq!(count(&app, &slug, "announcements").await, 0);
}

#[tokio::test]
async fn input_limits_are_rejections_not_errors() {
    let app = TestApp::spawn().await;
    let (_, resident, slug) = group(&app).await;
    let create = |title: String, body: String| json!({"id": Uuid::new_v4(), "title": title, "body": body});
    rejected(
        &one(&app, &resident, &slug, "announcement.create", create("  ".into(), "x".into())).await,
        "enter a title",
    );
    rejected(&one(&app, &resident, &slug, "announcement.create", create("t".repeat(201), "x".into())).await, "200");
    rejected(
        &one(&app, &resident, &slug, "announcement.create", create("t".into(), "b".repeat(10_001))).await,
        "10000",
    );
    applied(&one(&app, &resident, &slug, "announcement.create", create("t".repeat(200), "b".repeat(10_000))).await);
    let forged = json!({"id": Uuid::new_v4(), "title": "t", "body": "b", "author_id": Uuid::new_v4()});
    rejected(&one(&app, &resident, &slug, "announcement.create", forged).await, "author_id");
    rejected(&one(&app, &resident, &slug, "announcement.create", json!({"title": "t"})).await, "invalid args");
    rejected(&one(&app, &resident, &slug, "announcement.create", json!("not an object")).await, "invalid args");
    assert_eq!(count(&app, &slug, "announcements").await, 1);
}

#[tokio::test]
async fn every_resource_checks_its_input_limits() {
    let app = TestApp::spawn().await;
    let (admin, resident, slug) = group(&app).await;
    let long_title = "t".repeat(201);
    let long_text = "b".repeat(10_001);
    let request = Uuid::new_v4();
    applied(
        &one(&app, &resident, &slug, "request.create", json!({"id": request, "title": "Gate", "description": ""}))
            .await,
    );
    let notice = Uuid::new_v4();
    applied(&one(&app, &resident, &slug, "announcement.create", json!({"id": notice, "title": "N", "body": ""})).await);
    let cases = [
        ("request.create", json!({"id": Uuid::new_v4(), "title": "", "description": ""}), "enter a title"),
        ("request.create", json!({"id": Uuid::new_v4(), "title": long_title, "description": ""}), "200"),
        ("request.create", json!({"id": Uuid::new_v4(), "title": "t", "description": long_text}), "10000"),
        ("request.comment", json!({"id": Uuid::new_v4(), "request_id": request, "body": long_text}), "10000"),
        ("announcement.update", json!({"id": notice, "title": long_title}), "200"),
        ("announcement.update", json!({"id": notice, "body": long_text}), "10000"),
    ];
    for (name, args, says) in cases {
        rejected(&one(&app, &resident, &slug, name, args).await, says);
    }
    rejected(
        &one(&app, &admin, &slug, "resource.create", json!({"id": Uuid::new_v4(), "name": " "})).await,
        "enter a name",
    );
    let long_name = json!({"id": Uuid::new_v4(), "name": "r".repeat(101)});
    rejected(&one(&app, &admin, &slug, "resource.create", long_name).await, "100");
    let taken = json!({"id": request, "title": "Again", "description": ""});
    rejected(&one(&app, &resident, &slug, "request.create", taken).await, "already exists");
}

#[tokio::test]
async fn requests_can_be_closed_by_their_author_and_managed_by_admins() {
    let app = TestApp::spawn().await;
    let (admin, resident, slug) = group(&app).await;
    let id = Uuid::new_v4();
    applied(
        &one(
            &app,
            &resident,
            &slug,
            "request.create",
            json!({"id": id, "title": "Leaky tap", "description": "3rd floor"}),
        )
        .await,
    );
    let status = |s: &str| json!({"id": id, "status": s});
    rejected(&one(&app, &resident, &slug, "request.set_status", status("in_progress")).await, "only an admin");
    let other = app.resident(&admin, &slug, "Cy").await;
    rejected(&one(&app, &other, &slug, "request.set_status", status("resolved")).await, "only an admin");
    applied(&one(&app, &admin, &slug, "request.set_status", status("in_progress")).await);
    applied(&one(&app, &resident, &slug, "request.set_status", status("resolved")).await);
    applied(&one(&app, &admin, &slug, "request.set_status", status("open")).await);
    rejected(&one(&app, &admin, &slug, "request.set_status", status("done")).await, "invalid args");

    let comment = |request_id: Uuid, body: &str| json!({"id": Uuid::new_v4(), "request_id": request_id, "body": body});
    applied(&one(&app, &other, &slug, "request.comment", comment(id, "Same here")).await);
    rejected(&one(&app, &other, &slug, "request.comment", comment(id, "   ")).await, "write something");
    rejected(&one(&app, &other, &slug, "request.comment", comment(Uuid::new_v4(), "Hm")).await, "no such request");
    assert_eq!(count(&app, &slug, "request_comments").await, 1);
}

#[tokio::test]
async fn only_admins_manage_rooms_and_removing_one_removes_its_bookings() {
    let app = TestApp::spawn().await;
    let (admin, resident, slug) = group(&app).await;
    let room = Uuid::new_v4();
    rejected(
        &one(&app, &resident, &slug, "resource.create", json!({"id": room, "name": "Laundry"})).await,
        "only admins",
    );
    applied(&one(&app, &admin, &slug, "resource.create", json!({"id": room, "name": "Laundry"})).await);
    let booking = json!({"id": Uuid::new_v4(), "resource_id": room, "starts_at": hours_from_now(9), "ends_at": hours_from_now(10)});
    applied(&one(&app, &resident, &slug, "booking.create", booking).await);
    rejected(&one(&app, &resident, &slug, "resource.delete", json!({"id": room})).await, "only admins");
    applied(&one(&app, &admin, &slug, "resource.delete", json!({"id": room})).await);
    assert_eq!(count(&app, &slug, "bookings").await, 0);
}

#[tokio::test]
async fn bookings_check_their_window_overlaps_and_owners() {
    let app = TestApp::spawn().await;
    let (admin, resident, slug) = group(&app).await;
    let room = Uuid::new_v4();
    applied(&one(&app, &admin, &slug, "resource.create", json!({"id": room, "name": "Guest room"})).await);
    let book =
        |from: String, to: String| json!({"id": Uuid::new_v4(), "resource_id": room, "starts_at": from, "ends_at": to});

    let first = book(hours_from_now(9), hours_from_now(11));
    let first_id = first["id"].clone();
    applied(&one(&app, &resident, &slug, "booking.create", first).await);
    rejected(
        &one(&app, &admin, &slug, "booking.create", book(hours_from_now(10), hours_from_now(12))).await,
        "already booked",
    );
    applied(&one(&app, &admin, &slug, "booking.create", book(hours_from_now(11), hours_from_now(12))).await);
    rejected(
        &one(&app, &resident, &slug, "booking.create", book(hours_from_now(14), hours_from_now(13))).await,
        "end after",
    );
    rejected(
        &one(&app, &resident, &slug, "booking.create", book(hours_from_now(13), hours_from_now(13 + 24 * 14 + 1)))
            .await,
        "14 days",
    );
    let past = book((Utc::now() - Duration::hours(3)).to_rfc3339(), (Utc::now() - Duration::hours(2)).to_rfc3339());
    rejected(&one(&app, &resident, &slug, "booking.create", past).await, "already passed");
    let nowhere = json!({"id": Uuid::new_v4(), "resource_id": Uuid::new_v4(), "starts_at": hours_from_now(1), "ends_at": hours_from_now(2)});
    rejected(&one(&app, &resident, &slug, "booking.create", nowhere).await, "no such room");
    rejected(
        &one(&app, &resident, &slug, "booking.create", book("tomorrow".into(), "later".into())).await,
        "invalid args",
    );

    let other = app.resident(&admin, &slug, "Cy").await;
    rejected(&one(&app, &other, &slug, "booking.cancel", json!({"id": first_id})).await, "only whoever made it");
    applied(&one(&app, &resident, &slug, "booking.cancel", json!({"id": first_id})).await);
    assert_eq!(count(&app, &slug, "bookings").await, 1);
}

#[tokio::test]
async fn members_edit_only_their_own_entry() {
    let app = TestApp::spawn().await;
    let (_, resident, slug) = group(&app).await;
    applied(
        &one(&app, &resident, &slug, "member.update_profile", json!({"display_name": "Bo B.", "unit": " 4B "})).await,
    );
    rejected(&one(&app, &resident, &slug, "member.update_profile", json!({"display_name": " "})).await, "enter a name");
    let long_unit = json!({"display_name": "Bo", "unit": "u".repeat(51)});
    rejected(&one(&app, &resident, &slug, "member.update_profile", long_unit).await, "50");
    let forged = json!({"display_name": "X", "user_id": Uuid::new_v4()});
    rejected(&one(&app, &resident, &slug, "member.update_profile", forged).await, "user_id");
    let schema = app.schema_of(&slug).await;
    let units: Vec<(String, Option<String>)> =
        sqlx::query_as(&format!("SELECT display_name, unit FROM \"{schema}\".members ORDER BY display_name"))
            .fetch_all(&app.db)
            .await
            .unwrap();
    assert_eq!(units, [("Ann".to_owned(), None), ("Bo B.".to_owned(), Some("4B".to_owned()))]);
}

#[tokio::test]
async fn a_rejected_mutation_undoes_only_itself_and_txid_names_the_commit() {
    let app = TestApp::spawn().await;
    let (_, resident, slug) = group(&app).await;
    let (a, b, c) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let batch = json!([
        {"id": Uuid::new_v4(), "name": "announcement.create", "args": {"id": a, "title": "One", "body": ""}},
        {"id": Uuid::new_v4(), "name": "announcement.create", "args": {"id": b, "title": "", "body": ""}},
        {"id": Uuid::new_v4(), "name": "announcement.create", "args": {"id": c, "title": "Three", "body": ""}},
    ]);
    let (status, body) = send(&app, &resident, &slug, batch).await;
    assert_eq!(status, StatusCode::OK);
    let statuses: Vec<_> = body["results"].as_array().unwrap().iter().map(|r| r["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["applied", "rejected", "applied"]);
    assert_eq!(count(&app, &slug, "announcements").await, 2);

    let txid: u64 = body["txid"].as_str().unwrap().parse().expect("txid is a decimal string");
    let state: String = sqlx::query_scalar("SELECT pg_xact_status($1::text::xid8)")
        .bind(txid.to_string())
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(state, "committed");
    // The row was written by a subtransaction (its savepoint) of that
    // transaction: its xid lies between this txid and the next one's.
    let (_, next) = send(&app, &resident, &slug, json!([])).await;
    let next: u64 = next["txid"].as_str().unwrap().parse().unwrap();
    let schema = app.schema_of(&slug).await;
    let xmin: String = sqlx::query_scalar(&format!("SELECT xmin::text FROM \"{schema}\".announcements WHERE id = $1"))
        .bind(c)
        .fetch_one(&app.db)
        .await
        .unwrap();
    let xmin: u64 = xmin.parse().unwrap();
    assert!(txid % (1 << 32) < xmin && xmin < next % (1 << 32), "{txid} < {xmin} < {next}");
}

#[tokio::test]
async fn the_same_batch_sent_twice_applies_once() {
    let app = TestApp::spawn().await;
    let (_, resident, slug) = group(&app).await;
    let batch = json!([
        {"id": Uuid::new_v4(), "name": "request.create", "args": {"id": Uuid::new_v4(), "title": "Door", "description": ""}},
        {"id": Uuid::new_v4(), "name": "request.create", "args": {"id": Uuid::new_v4(), "title": "", "description": ""}},
    ]);
    let (_, first) = send(&app, &resident, &slug, batch.clone()).await;
    let (status, second) = send(&app, &resident, &slug, batch).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(first["results"][0]["status"], "applied");
    assert_eq!(second["results"][0]["status"], "duplicate");
    assert_eq!(second["results"][1]["status"], "rejected", "a replayed rejection is rejected again");
    assert_eq!(second["results"][1]["error"], first["results"][1]["error"]);
    assert_eq!(count(&app, &slug, "requests").await, 1);
}

#[tokio::test]
async fn one_mutation_raced_from_8_requests_applies_once() {
    let app = TestApp::spawn().await;
    let (_, resident, slug) = group(&app).await;
    let batch = json!([{"id": Uuid::new_v4(), "name": "announcement.create",
        "args": {"id": Uuid::new_v4(), "title": "Once", "body": ""}}]);
    let sends = (0..8).map(|_| send(&app, &resident, &slug, batch.clone()));
    let answers = futures::future::join_all(sends).await;
    let mut statuses: Vec<String> = answers
        .iter()
        .map(|(status, body)| {
            assert_eq!(*status, StatusCode::OK, "{body}");
            body["results"][0]["status"].as_str().unwrap().to_owned()
        })
        .collect();
    statuses.sort();
    assert_eq!(
        statuses,
        ["applied", "duplicate", "duplicate", "duplicate", "duplicate", "duplicate", "duplicate", "duplicate"]
    );
    assert_eq!(count(&app, &slug, "announcements").await, 1);
}

#[tokio::test]
async fn sixteen_racing_bookings_of_one_slot_leave_exactly_one() {
    let app = TestApp::spawn().await;
    let (admin, resident, slug) = group(&app).await;
    let room = Uuid::new_v4();
    applied(&one(&app, &admin, &slug, "resource.create", json!({"id": room, "name": "Laundry"})).await);
    let sends = (0..16).map(|i| {
        let client = if i % 2 == 0 { &admin } else { &resident };
        let batch = json!([{"id": Uuid::new_v4(), "name": "booking.create", "args": {
            "id": Uuid::new_v4(), "resource_id": room,
            "starts_at": hours_from_now(9), "ends_at": hours_from_now(10 + i % 3)}}]);
        send(&app, client, &slug, batch)
    });
    let answers = futures::future::join_all(sends).await;
    let mut applied_count = 0;
    for (status, body) in &answers {
        assert_eq!(*status, StatusCode::OK, "{body}");
        match body["results"][0]["status"].as_str().unwrap() {
            "applied" => applied_count += 1,
            "rejected" => assert_eq!(body["results"][0]["error"], "that slot is already booked"),
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(applied_count, 1);
    assert_eq!(count(&app, &slug, "bookings").await, 1);
}

#[tokio::test]
async fn bad_requests_get_the_right_status_and_apply_nothing() {
    let app = TestApp::spawn().await;
    let (_, resident, slug) = group(&app).await;
    let create = json!([{"id": Uuid::new_v4(), "name": "announcement.create", "args": {"id": Uuid::new_v4(), "title": "t", "body": ""}}]);

    let (status, _) = send(&app, &app.client(), &slug, create.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let stranger = app.client();
    app.sign_up(&stranger, "Di").await;
    assert_eq!(send(&app, &stranger, &slug, create.clone()).await.0, StatusCode::NOT_FOUND);
    assert_eq!(send(&app, &resident, "no-such-group", create.clone()).await.0, StatusCode::NOT_FOUND);

    let mut mixed = create.as_array().unwrap().clone();
    mixed.push(json!({"id": Uuid::new_v4(), "name": "announcement.explode", "args": {}}));
    let (status, body) = send(&app, &resident, &slug, Value::Array(mixed)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["error"].as_str().unwrap().contains("announcement.explode"));

    let (status, _) = app.post(&resident, "/api/mutate", json!({"mutations": []})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) =
        app.post(&resident, "/api/mutate", json!({"group": slug, "mutations": [{"id": "nope", "name": "x"}]})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let raw = resident
        .post(app.url("/api/mutate"))
        .header("content-type", "application/json")
        .body("[")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), StatusCode::BAD_REQUEST);

    let too_many: Vec<Value> = (0..501)
        .map(|_| json!({"id": Uuid::new_v4(), "name": "announcement.delete", "args": {"id": Uuid::new_v4()}}))
        .collect();
    assert_eq!(send(&app, &resident, &slug, Value::Array(too_many)).await.0, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(count(&app, &slug, "announcements").await, 0);
    assert_eq!(count(&app, &slug, "applied_mutations").await, 0);
}

#[tokio::test]
async fn no_mutation_reaches_another_groups_rows() {
    let app = TestApp::spawn().await;
    let (admin_a, resident_a, a) = group(&app).await;
    let (admin_b, _, b) = group(&app).await;
    let (notice, room, request) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    applied(
        &one(&app, &admin_b, &b, "announcement.create", json!({"id": notice, "title": "B only", "body": ""})).await,
    );
    applied(&one(&app, &admin_b, &b, "resource.create", json!({"id": room, "name": "B room"})).await);
    applied(
        &one(&app, &admin_b, &b, "request.create", json!({"id": request, "title": "B req", "description": ""})).await,
    );

    // A's admin names B's ids inside A's group: they do not exist there.
    rejected(&one(&app, &admin_a, &a, "announcement.delete", json!({"id": notice})).await, "no such");
    rejected(&one(&app, &admin_a, &a, "announcement.pin", json!({"id": notice, "pinned": true})).await, "no such");
    rejected(&one(&app, &admin_a, &a, "resource.delete", json!({"id": room})).await, "no such");
    rejected(
        &one(&app, &admin_a, &a, "request.set_status", json!({"id": request, "status": "resolved"})).await,
        "no such",
    );
    let comment = json!({"id": Uuid::new_v4(), "request_id": request, "body": "hi"});
    rejected(&one(&app, &resident_a, &a, "request.comment", comment).await, "no such");
    let booking = json!({"id": Uuid::new_v4(), "resource_id": room, "starts_at": hours_from_now(1), "ends_at": hours_from_now(2)});
    rejected(&one(&app, &resident_a, &a, "booking.create", booking).await, "no such");
    // And naming B's group directly is a 404.
    let (status, _) = send(
        &app,
        &admin_a,
        &b,
        json!([{"id": Uuid::new_v4(), "name": "announcement.delete", "args": {"id": notice}}]),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    assert_eq!(count(&app, &b, "announcements").await, 1);
    assert_eq!(count(&app, &b, "resources").await, 1);
    assert_eq!(count(&app, &b, "request_comments").await, 0);
    let schema_b = app.schema_of(&b).await;
    let pinned: bool = sqlx::query_scalar(&format!("SELECT pinned FROM \"{schema_b}\".announcements"))
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert!(!pinned);
}
