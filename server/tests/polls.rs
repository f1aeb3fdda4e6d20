//! Polls: who may open them, one ballot per member (changeable until the
//! end), ballots private to their voter in every shape, results counted
//! when they may show (live, or at the end: by closing or by the job).

mod common;

use common::{shape_client::ShapeClient, TestApp};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use std::time::Duration;
use uuid::Uuid;

async fn run(app: &TestApp, client: &Client, slug: &str, name: &str, args: Value) -> (String, Value) {
    let (status, body) = app.mutate(client, slug, json!([{"id": Uuid::new_v4(), "name": name, "args": args}])).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let result = body["results"][0].clone();
    (result["status"].as_str().unwrap().to_owned(), result)
}

async fn applied(app: &TestApp, client: &Client, slug: &str, name: &str, args: Value) {
    let (status, result) = run(app, client, slug, name, args).await;
    assert_eq!(status, "applied", "{result}");
}

/// The rejection's message.
async fn rejected(app: &TestApp, client: &Client, slug: &str, name: &str, args: Value) -> String {
    let (status, result) = run(app, client, slug, name, args).await;
    assert_eq!(status, "rejected", "{result}");
    result["error"].as_str().unwrap().to_owned()
}

struct Poll {
    id: Uuid,
    options: Vec<Uuid>,
}

fn poll_args(poll: &Poll, multiple: bool, anonymous: bool, live: bool, closes_in: chrono::Duration) -> Value {
    let labels = ["Red", "Green", "Blue"];
    json!({
        "id": poll.id,
        "question": "  Which colour for the door?  ",
        "options": poll.options.iter().zip(labels).map(|(id, label)| json!({"id": id, "label": label})).collect::<Vec<_>>(),
        "multiple": multiple,
        "anonymous": anonymous,
        "live_results": live,
        "closes_at": (chrono::Utc::now() + closes_in).to_rfc3339(),
    })
}

fn new_poll() -> Poll {
    Poll { id: Uuid::new_v4(), options: (0..3).map(|_| Uuid::new_v4()).collect() }
}

fn vote(poll: &Poll, picks: &[usize]) -> Value {
    json!({"poll_id": poll.id, "option_ids": picks.iter().map(|i| poll.options[*i]).collect::<Vec<_>>()})
}

/// Each option's `votes` as the group's table holds them, in order.
async fn counts(app: &TestApp, schema: &str, poll: &Poll) -> Vec<Option<i32>> {
    let mut counts = Vec::new();
    for option in &poll.options {
        let votes: Option<i32> =
            sqlx::query_scalar(&format!("SELECT votes FROM \"{schema}\".poll_options WHERE id = $1"))
                .bind(option)
                .fetch_one(&app.db)
                .await
                .unwrap();
        counts.push(votes);
    }
    counts
}

async fn who_voted(app: &TestApp, client: &Client, slug: &str, poll: Uuid) -> (StatusCode, Value) {
    let response = client
        .post(app.url("/fn/who_voted"))
        .header("accept", "application/json")
        .form(&[("slug", slug), ("poll", &poll.to_string())])
        .send()
        .await
        .unwrap();
    common::read(response).await
}

async fn user_id(app: &TestApp, client: &Client) -> String {
    app.get(client, "/api/me").await.1["user"]["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_poll_from_opening_to_results_with_one_private_ballot_per_member() {
    let app = TestApp::spawn().await;
    let (ann, slug) = app.admin_of_new_group().await;
    let schema = app.schema_of(&slug).await;
    let bob = app.resident(&ann, &slug, "Bob").await;
    let cat = app.resident(&ann, &slug, "Cat").await;
    let hour = chrono::Duration::hours(1);

    // Residents open polls only where the group lets them.
    let theirs = new_poll();
    let refused = rejected(&app, &bob, &slug, "poll.create", poll_args(&theirs, false, true, false, hour)).await;
    assert!(refused.contains("only admins"), "{refused}");
    let (status, _) = app.post(&bob, &format!("/api/groups/{slug}/polls"), json!({"residents_open_polls": true})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, group) =
        app.post(&ann, &format!("/api/groups/{slug}/polls"), json!({"residents_open_polls": true})).await;
    assert_eq!((status, &group["residents_open_polls"]), (StatusCode::OK, &json!(true)), "{group}");
    applied(&app, &bob, &slug, "poll.create", poll_args(&theirs, false, true, false, hour)).await;
    let (status, _) =
        app.post(&ann, &format!("/api/groups/{slug}/polls"), json!({"residents_open_polls": "yes"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    // Bad polls are refused with a reason.
    let mut bad = poll_args(&new_poll(), false, true, false, hour);
    bad["options"] = json!([{"id": Uuid::new_v4(), "label": "Only one"}]);
    assert!(rejected(&app, &ann, &slug, "poll.create", bad).await.contains("options"));
    let mut same = poll_args(&new_poll(), false, true, false, hour);
    same["options"][1]["label"] = json!("red");
    assert!(rejected(&app, &ann, &slug, "poll.create", same).await.contains("differ"));
    let past = poll_args(&new_poll(), false, true, false, -hour);
    assert!(rejected(&app, &ann, &slug, "poll.create", past).await.contains("future"));
    let far = poll_args(&new_poll(), false, true, false, chrono::Duration::days(400));
    assert!(rejected(&app, &ann, &slug, "poll.create", far).await.contains("at most"));

    // One choice, anonymous, results at the end.
    let poll = new_poll();
    applied(&app, &ann, &slug, "poll.create", poll_args(&poll, false, true, false, hour)).await;
    let stored = app.table_rows(&schema, "polls").await;
    assert_eq!(stored[&poll.id.to_string()]["question"], json!("Which colour for the door?"));
    applied(&app, &bob, &slug, "poll.vote", vote(&poll, &[0])).await;
    applied(&app, &cat, &slug, "poll.vote", vote(&poll, &[1])).await;
    // A vote replaces the member's ballot; a replay changes nothing again.
    let again = Uuid::new_v4();
    for expected in ["applied", "duplicate"] {
        let (_, body) =
            app.mutate(&bob, &slug, json!([{"id": again, "name": "poll.vote", "args": vote(&poll, &[1])}])).await;
        assert_eq!(body["results"][0]["status"], json!(expected), "{body}");
    }
    assert_eq!(app.table_rows(&schema, "ballots").await.len(), 2, "one ballot each");
    assert!(rejected(&app, &bob, &slug, "poll.vote", vote(&poll, &[0, 1])).await.contains("one choice"));
    let elsewhere = json!({"poll_id": poll.id, "option_ids": [theirs.options[0]]});
    assert!(rejected(&app, &bob, &slug, "poll.vote", elsewhere).await.contains("not an option"));
    let nothing = json!({"poll_id": poll.id, "option_ids": []});
    assert!(rejected(&app, &bob, &slug, "poll.vote", nothing).await.contains("choose"));
    let nowhere = json!({"poll_id": Uuid::new_v4(), "option_ids": [poll.options[0]]});
    assert!(rejected(&app, &bob, &slug, "poll.vote", nowhere).await.contains("no such poll"));

    // The database keeps one ballot per member and poll, whatever writes.
    let bob_id = user_id(&app, &bob).await;
    let second = sqlx::query(&format!(
        "INSERT INTO \"{schema}\".ballots (id, poll_id, member_id, choices) VALUES ($1, $2, $3::uuid, '[]')"
    ))
    .bind(Uuid::new_v4())
    .bind(poll.id)
    .bind(&bob_id)
    .execute(&app.db)
    .await
    .unwrap_err();
    assert_eq!(second.as_database_error().unwrap().constraint(), Some("ballots_one_per_member"));

    // Each member's shapes hold their own ballot only, whatever they ask.
    let cat_id = user_id(&app, &cat).await;
    for asked in [vec![], vec![("where", format!("member_id = '{cat_id}'"))]] {
        let extra: Vec<(&str, &str)> = asked.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let mut ballots = ShapeClient::new(&bob, &app.url(""), &slug, "ballots", &extra);
        ballots.sync().await;
        let rows: Vec<_> = ballots.rows.values().collect();
        assert!(rows.iter().all(|row| row["member_id"] == json!(bob_id)), "{rows:?}");
        assert_eq!(rows.len(), usize::from(asked.is_empty()), "{rows:?}");
    }
    let mut anns = ShapeClient::new(&ann, &app.url(""), &slug, "ballots", &[]);
    anns.sync().await;
    assert!(anns.rows.is_empty(), "the admin sees no one's ballot");
    // Nor the export.
    let export = app.get(&ann, &format!("/api/groups/{slug}/export")).await.1;
    assert_eq!(export["tables"]["ballots"], json!([]), "{export}");
    assert_eq!(export["tables"]["polls"].as_array().unwrap().len(), 2);

    // Hidden until the end; nobody learns who voted for what.
    assert_eq!(counts(&app, &schema, &poll).await, [None, None, None]);
    let mut options = ShapeClient::new(&cat, &app.url(""), &slug, "poll_options", &[]);
    options.sync().await;
    assert!(options.rows.values().all(|o| o["votes"].is_null()));
    assert_eq!(who_voted(&app, &cat, &slug, poll.id).await.0, StatusCode::FORBIDDEN);

    // Only its author or an admin closes it; then the counts show.
    assert!(rejected(&app, &cat, &slug, "poll.close", json!({"id": poll.id})).await.contains("only whoever made it"));
    applied(&app, &ann, &slug, "poll.close", json!({"id": poll.id})).await;
    assert_eq!(counts(&app, &schema, &poll).await, [Some(0), Some(2), Some(0)]);
    let seen = options.poll().await;
    assert_eq!(seen.status, StatusCode::OK);
    assert!(options.rows.values().any(|o| o["votes"] == json!("2")), "{:?}", options.rows);
    assert!(rejected(&app, &bob, &slug, "poll.vote", vote(&poll, &[2])).await.contains("closed"));

    // Deleting takes its options and ballots along.
    assert!(rejected(&app, &cat, &slug, "poll.delete", json!({"id": poll.id})).await.contains("only whoever"));
    applied(&app, &ann, &slug, "poll.delete", json!({"id": poll.id})).await;
    assert!(app.table_rows(&schema, "ballots").await.is_empty());
    assert_eq!(app.table_rows(&schema, "poll_options").await.len(), 3, "the other poll's options stay");
}

#[tokio::test]
async fn a_live_named_poll_counts_each_vote_and_names_the_voters() {
    let app = TestApp::spawn().await;
    let (ann, slug) = app.admin_of_new_group().await;
    let schema = app.schema_of(&slug).await;
    let bob = app.resident(&ann, &slug, "Bob").await;
    let hour = chrono::Duration::hours(1);

    let live = new_poll();
    applied(&app, &ann, &slug, "poll.create", poll_args(&live, true, false, true, hour)).await;
    assert_eq!(counts(&app, &schema, &live).await, [Some(0), Some(0), Some(0)]);
    applied(&app, &bob, &slug, "poll.vote", vote(&live, &[0, 2])).await;
    applied(&app, &ann, &slug, "poll.vote", vote(&live, &[2])).await;
    assert_eq!(counts(&app, &schema, &live).await, [Some(1), Some(0), Some(2)]);
    let (status, voters) = who_voted(&app, &bob, &slug, live.id).await;
    assert_eq!(status, StatusCode::OK, "{voters}");
    assert_eq!(voters[live.options[0].to_string()], json!(["Bob"]));
    assert_eq!(voters[live.options[2].to_string()], json!(["Ann", "Bob"]), "by name");

    // A named poll with results at the end names no one before it.
    let later = new_poll();
    applied(&app, &ann, &slug, "poll.create", poll_args(&later, false, false, false, hour)).await;
    assert_eq!(who_voted(&app, &bob, &slug, later.id).await.0, StatusCode::CONFLICT);
    assert_eq!(who_voted(&app, &bob, &slug, Uuid::new_v4()).await.0, StatusCode::NOT_FOUND);
    // Another group's members learn nothing of it.
    let (carl, _) = app.admin_of_new_group().await;
    assert_eq!(who_voted(&app, &carl, &slug, live.id).await.0, StatusCode::NOT_FOUND);

    // Bob goes, taking what he wrote: his ballot leaves the counts too.
    let gone =
        app.post(&bob, "/api/account/delete", json!({"password": "correct horse", "remove_content": true})).await;
    assert_eq!(gone.0, StatusCode::NO_CONTENT, "{}", gone.1);
    assert_eq!(counts(&app, &schema, &live).await, [Some(0), Some(0), Some(1)]);
}

#[tokio::test]
async fn polls_past_their_end_are_counted_by_the_job() {
    // (The job runs every minute, or every close_grace when shorter.)
    let app = TestApp::spawn_with(&[("COURTYARD_GROUPS_CLOSE_GRACE", "1s")]).await;
    let (ann, slug) = app.admin_of_new_group().await;
    let schema = app.schema_of(&slug).await;
    let poll = new_poll();
    applied(&app, &ann, &slug, "poll.create", poll_args(&poll, false, true, false, chrono::Duration::seconds(2))).await;
    applied(&app, &ann, &slug, "poll.vote", vote(&poll, &[1])).await;
    // An entry whose poll never committed is forgotten.
    let group_id: Uuid =
        sqlx::query_scalar("SELECT id FROM groups WHERE slug = $1").bind(&slug).fetch_one(&app.db).await.unwrap();
    sqlx::query("INSERT INTO poll_closings (group_id, poll_id, closes_at) VALUES ($1, $2, now())")
        .bind(group_id)
        .bind(Uuid::new_v4())
        .execute(&app.db)
        .await
        .unwrap();
    // An entry earlier than its poll's end (a replay with another time) is
    // moved to the poll's end, and the poll is not counted early.
    let later = new_poll();
    applied(&app, &ann, &slug, "poll.create", poll_args(&later, false, true, false, chrono::Duration::hours(1))).await;
    sqlx::query("UPDATE poll_closings SET closes_at = now() WHERE poll_id = $1")
        .bind(later.id)
        .execute(&app.db)
        .await
        .unwrap();
    let until = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let left: i64 = sqlx::query_scalar("SELECT count(*) FROM poll_closings WHERE poll_id <> $1")
            .bind(later.id)
            .fetch_one(&app.db)
            .await
            .unwrap();
        if left == 0 {
            break;
        }
        assert!(tokio::time::Instant::now() < until, "the job never counted the poll");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(counts(&app, &schema, &poll).await, [Some(0), Some(1), Some(0)]);
    assert!(rejected(&app, &ann, &slug, "poll.vote", vote(&poll, &[0])).await.contains("closed"));
    let (entry, end): (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>) = sqlx::query_as(&format!(
        "SELECT c.closes_at, p.closes_at FROM poll_closings c JOIN {schema}.polls p ON p.id = c.poll_id"
    ))
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(entry, end, "the early entry waits for the poll's end");
    assert_eq!(counts(&app, &schema, &later).await, [None, None, None]);
}
