//! Email notifications through a real SMTP server (scripts/smtp-sink): who
//! gets which news, once, with a one-click unsubscribe link (RFC 8058) that
//! works without a session, and members' choices.

mod common;

use chrono::{Duration, Utc};
use common::{
    smtp::{app_mailing_to, link_path, SmtpSink, WAIT},
    TestApp,
};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

const FAST: [(&str, &str); 3] = [
    ("COURTYARD_MAIL_NOTIFY_INTERVAL", "200ms"),
    // Digests and reminders are brought on by moving the job's cursor.
    ("COURTYARD_MAIL_DIGEST_EVERY", "1h"),
    ("COURTYARD_MAIL_BOOKING_REMINDER", "1h"),
];

async fn apply(app: &TestApp, client: &Client, slug: &str, name: &str, args: Value) {
    let (status, body) = app.mutate(client, slug, json!([{"id": Uuid::new_v4(), "name": name, "args": args}])).await;
    assert_eq!((status, &body["results"][0]["status"]), (StatusCode::OK, &json!("applied")), "{body}");
}

async fn email_of(app: &TestApp, client: &Client) -> String {
    app.get(client, "/api/me").await.1["user"]["email"].as_str().unwrap().to_owned()
}

/// Marks the address verified (how is tested in accounts.rs).
async fn verified(app: &TestApp, email: &str) {
    sqlx::query("UPDATE users SET email_verified_at = now() WHERE email = $1")
        .bind(email)
        .execute(&app.db)
        .await
        .unwrap();
}

/// Waits until the job has met the group (news before that is not mailed).
async fn met(app: &TestApp, slug: &str) {
    let until = tokio::time::Instant::now() + WAIT;
    loop {
        let found: Option<i64> = sqlx::query_scalar(
            "SELECT c.position FROM notify_cursors c JOIN groups g ON g.id = c.group_id WHERE g.slug = $1",
        )
        .bind(slug)
        .fetch_optional(&app.db)
        .await
        .unwrap();
        if found.is_some() {
            return;
        }
        assert!(tokio::time::Instant::now() < until, "the job never met {slug}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// Waits until the job has read the group's log up to its head.
async fn caught_up(app: &TestApp, slug: &str, schema: &str) {
    let until = tokio::time::Instant::now() + WAIT;
    loop {
        let (read, head): (i64, i64) = sqlx::query_as(&format!(
            "SELECT c.position, (SELECT position FROM \"{schema}\".change_head)
             FROM notify_cursors c JOIN groups g ON g.id = c.group_id WHERE g.slug = $1"
        ))
        .bind(slug)
        .fetch_one(&app.db)
        .await
        .unwrap();
        if read >= head {
            return;
        }
        assert!(tokio::time::Instant::now() < until, "the job never read {slug}'s log");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// The messages to `to` with `subject` in their subject.
fn about(sink: &SmtpSink, to: &str, subject: &str) -> Vec<Value> {
    sink.messages_to(to).into_iter().filter(|m| m["subject"].as_str().unwrap().contains(subject)).collect()
}

async fn wait_about(sink: &SmtpSink, to: &str, subject: &str, count: usize) -> Vec<Value> {
    let until = tokio::time::Instant::now() + WAIT;
    loop {
        let found = about(sink, to, subject);
        if found.len() >= count {
            return found;
        }
        assert!(tokio::time::Instant::now() < until, "{} of {count} “{subject}” messages to {to}", found.len());
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// Some passes of the job, so a message that should not come would have.
async fn passes() {
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
}

#[tokio::test]
async fn news_is_mailed_once_to_who_follows_it_and_stops_by_one_click() {
    let sink = SmtpSink::start();
    let app = app_mailing_to(&sink, &FAST).await;
    // A second server on the same database: each change is still mailed once.
    let url = sink.url();
    let mut overrides = vec![
        ("COURTYARD_MAIL_SMTP_URL", url.as_str()),
        ("COURTYARD_PUBLIC_ORIGIN", "http://courtyard.test"),
        ("COURTYARD_MAIL_POLL_INTERVAL", "100ms"),
    ];
    overrides.extend(FAST);
    let _second = TestApp::spawn_on(&app.database_url, &overrides).await;

    let (ann, slug) = app.admin_of_new_group().await;
    let bob = app.resident(&ann, &slug, "Bob").await;
    let cy = app.resident(&ann, &slug, "Cy").await;
    let dee = app.resident(&ann, &slug, "Dee").await;
    let [ann_at, bob_at, cy_at, dee_at] =
        [email_of(&app, &ann).await, email_of(&app, &bob).await, email_of(&app, &cy).await, email_of(&app, &dee).await];
    for email in [&ann_at, &bob_at, &cy_at] {
        verified(&app, email).await;
    }
    met(&app, &slug).await;
    // (A new group's first digest falls at a random time of its first
    // period: this test brings it on by hand.)
    sqlx::query("UPDATE notify_cursors SET digest_sent_at = now()").execute(&app.db).await.unwrap();

    // A pinned notice goes at once, to everyone verified but who posted it.
    let bins = Uuid::new_v4();
    apply(&app, &ann, &slug, "announcement.create", json!({"id": bins, "title": "Bins move", "body": "To Tuesday."}))
        .await;
    apply(&app, &ann, &slug, "announcement.pin", json!({"id": bins, "pinned": true})).await;
    let to_bob = wait_about(&sink, &bob_at, "Pinned: Bins move", 1).await;
    wait_about(&sink, &cy_at, "Pinned: Bins move", 1).await;
    let message = &to_bob[0];
    assert!(message["subject"].as_str().unwrap().starts_with('['), "{message}");
    assert!(message["text"].as_str().unwrap().contains("To Tuesday."), "{message}");
    let header = message["headers"]["List-Unsubscribe"].as_str().expect("a List-Unsubscribe header");
    assert!(header.starts_with("<http://courtyard.test/api/unsubscribe/") && header.ends_with('>'), "{header}");
    assert_eq!(message["headers"]["List-Unsubscribe-Post"], "List-Unsubscribe=One-Click");

    // Other notices wait for the digest; each member's leaves out their own.
    let (stairs, lift) = (Uuid::new_v4(), Uuid::new_v4());
    apply(&app, &ann, &slug, "announcement.create", json!({"id": stairs, "title": "Stairs", "body": "Painted."})).await;
    apply(&app, &bob, &slug, "announcement.create", json!({"id": lift, "title": "Lift", "body": "Fixed."})).await;
    passes().await;
    assert!(about(&sink, &cy_at, "new notice").is_empty(), "not before the digest is due");
    sqlx::query("UPDATE notify_cursors SET digest_sent_at = now() - interval '2 hours'")
        .execute(&app.db)
        .await
        .unwrap();
    let digest = wait_about(&sink, &cy_at, "2 new notices", 1).await;
    let text = digest[0]["text"].as_str().unwrap();
    assert!(text.contains("Stairs (by") && text.contains("Lift (by Bob): Fixed."), "{text}");
    let to_bob = wait_about(&sink, &bob_at, "A new notice", 1).await;
    assert!(
        to_bob[0]["text"].as_str().unwrap().contains("Stairs") && !to_bob[0]["text"].as_str().unwrap().contains("Lift")
    );
    wait_about(&sink, &ann_at, "A new notice", 1).await;

    // A request's news goes to who opened it or commented, not to who made it.
    let tap = Uuid::new_v4();
    apply(&app, &bob, &slug, "request.create", json!({"id": tap, "title": "Tap", "description": "Drips"})).await;
    apply(&app, &cy, &slug, "request.comment", json!({"id": Uuid::new_v4(), "request_id": tap, "body": "Mine too"}))
        .await;
    let comment = wait_about(&sink, &bob_at, "New comment on “Tap”", 1).await;
    let text = comment[0]["text"].as_str().unwrap().replace("\r\n", "\n");
    assert!(text.contains("Cy commented on “Tap”:\n\nMine too"), "{text}");
    apply(&app, &ann, &slug, "request.set_status", json!({"id": tap, "status": "in_progress"})).await;
    wait_about(&sink, &bob_at, "“Tap” is now in progress", 1).await;
    let status = wait_about(&sink, &cy_at, "“Tap” is now in progress", 1).await;
    assert!(status[0]["text"].as_str().unwrap().contains("marked “Tap” as in progress."), "{}", status[0]);

    // A booking made before its reminder's time is reminded of, once.
    let (room, slot) = (Uuid::new_v4(), Uuid::new_v4());
    apply(&app, &ann, &slug, "resource.create", json!({"id": room, "name": "Laundry"})).await;
    let starts = Utc::now() + Duration::minutes(30);
    let booking = json!({"id": slot, "resource_id": room, "starts_at": starts, "ends_at": starts + Duration::hours(1)});
    apply(&app, &bob, &slug, "booking.create", booking).await;
    // Made just now (within the reminder's time): none. Once the job has
    // read it, the booking is aged and the window moved back, as if it had
    // been made two days ago and its reminder's time came now.
    let schema = app.schema_of(&slug).await;
    caught_up(&app, &slug, &schema).await;
    sqlx::query(&format!("UPDATE \"{schema}\".bookings SET created_at = now() - interval '2 days'"))
        .execute(&app.db)
        .await
        .unwrap();
    sqlx::query("UPDATE notify_cursors SET reminded_through = now() - interval '1 minute', next_reminder_at = now()")
        .execute(&app.db)
        .await
        .unwrap();
    let reminder = wait_about(&sink, &bob_at, "Reminder: Laundry", 1).await;
    assert!(reminder[0]["text"].as_str().unwrap().contains("You booked Laundry for"), "{}", reminder[0]);
    // A booking made before its reminder's time but committed after the
    // window passed it (a long transaction): reminded of from the log.
    let sauna = Uuid::new_v4();
    apply(&app, &ann, &slug, "resource.create", json!({"id": sauna, "name": "Sauna"})).await;
    let bob_id: Uuid =
        sqlx::query_scalar("SELECT id FROM users WHERE email = $1").bind(&bob_at).fetch_one(&app.db).await.unwrap();
    sqlx::query(&format!(
        "INSERT INTO \"{schema}\".bookings (id, resource_id, member_id, starts_at, ends_at, created_at)
         VALUES ($1, $2, $3, now() + interval '40 minutes', now() + interval '100 minutes', now() - interval '1 day')"
    ))
    .bind(Uuid::new_v4())
    .bind(sauna)
    .bind(bob_id)
    .execute(&app.db)
    .await
    .unwrap();
    wait_about(&sink, &bob_at, "Reminder: Sauna", 1).await;

    // One click, no session: Bob's notices stop, the rest go on.
    let one_click = header.trim_matches(['<', '>']).replace("http://courtyard.test", &app.base);
    let nobody = Client::new();
    let response = nobody.post(&one_click).body("List-Unsubscribe=One-Click").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.text().await.unwrap().contains("Unsubscribed"));
    // Again: the same answer, nothing else changes.
    assert_eq!(nobody.post(&one_click).send().await.unwrap().status(), StatusCode::OK);
    let fire = Uuid::new_v4();
    apply(&app, &ann, &slug, "announcement.create", json!({"id": fire, "title": "Fire drill", "body": "Noon."})).await;
    apply(&app, &ann, &slug, "announcement.pin", json!({"id": fire, "pinned": true})).await;
    wait_about(&sink, &cy_at, "Pinned: Fire drill", 1).await;
    passes().await;
    assert!(about(&sink, &bob_at, "Fire drill").is_empty(), "Bob stopped notices");

    // Each once, though two servers ran the job; none to the unverified,
    // none to the one who did it.
    let once = [
        (&bob_at, "Pinned: Bins move"),
        (&cy_at, "Pinned: Bins move"),
        (&bob_at, "Reminder: Laundry"),
        (&bob_at, "Reminder: Sauna"),
        (&cy_at, "2 new notices"),
        (&bob_at, "A new notice"),
    ];
    for (to, subject) in once {
        assert_eq!(about(&sink, to, subject).len(), 1, "{subject} to {to}");
    }
    assert_eq!(about(&sink, &bob_at, "“Tap”").len(), 2, "the comment and the status");
    assert!(sink.messages_to(&dee_at).iter().all(|m| !m["subject"].as_str().unwrap().starts_with('[')));
    assert!(about(&sink, &ann_at, "Pinned").is_empty() && about(&sink, &ann_at, "“Tap”").is_empty());

    // A visit goes to the page that asks first; a bad token is 404.
    let visit = Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let response = visit.get(&one_click).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let page = response.headers()["location"].to_str().unwrap().to_owned();
    assert!(page.starts_with("/unsubscribe/"), "{page}");
    let html = nobody.get(app.url(&page)).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("You will no longer get emails about new notices"), "{html}");
    for bad in ["nope", &"0".repeat(64)] {
        let response = nobody.post(app.url(&format!("/api/unsubscribe/{bad}"))).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{bad}");
    }
    let first = about(&sink, &bob_at, "Pinned: Bins move").remove(0);
    assert_eq!(link_path(&first, "/unsubscribe/"), page, "the body's link is the header's");

    // Leaving ends one's choices and links.
    let (status, body) = app.post(&bob, &format!("/api/groups/{slug}/leave"), json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(nobody.post(&one_click).send().await.unwrap().status(), StatusCode::NOT_FOUND);
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM mail_preferences").fetch_one(&app.db).await.unwrap();
    assert_eq!(left, 0);
}

#[tokio::test]
async fn choices_are_the_members_own_and_nothing_from_before_is_mailed() {
    let sink = SmtpSink::start();
    // A server whose job looks once, at its start (before the group is).
    let app = app_mailing_to(&sink, &[("COURTYARD_MAIL_NOTIFY_INTERVAL", "1h")]).await;
    let (ann, slug) = app.admin_of_new_group().await;
    let bob = app.resident(&ann, &slug, "Bob").await;
    let cy = app.resident(&ann, &slug, "Cy").await;
    let (bob_at, cy_at) = (email_of(&app, &bob).await, email_of(&app, &cy).await);
    verified(&app, &bob_at).await;
    verified(&app, &cy_at).await;
    // As if the group were made before notifications were: its news until
    // a job first meets it is never mailed.
    sqlx::query("DELETE FROM notify_cursors").execute(&app.db).await.unwrap();
    let old = Uuid::new_v4();
    apply(&app, &ann, &slug, "announcement.create", json!({"id": old, "title": "Old news", "body": "."})).await;
    apply(&app, &ann, &slug, "announcement.pin", json!({"id": old, "pinned": true})).await;
    let url = sink.url();
    let mut overrides =
        vec![("COURTYARD_MAIL_SMTP_URL", url.as_str()), ("COURTYARD_PUBLIC_ORIGIN", "http://courtyard.test")];
    overrides.extend(FAST);
    let _looking = TestApp::spawn_on(&app.database_url, &overrides).await;
    met(&app, &slug).await;

    // Bob's choices, through the pages' server functions.
    let form = |body: &str| {
        bob.post(app.url("/fn/set_mail_choices"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.to_owned())
            .send()
    };
    let response = form(&format!("slug={slug}&requests=on&bookings=on")).await.unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    let mine = bob.post(app.url("/fn/mail_choices")).form(&[("slug", slug.as_str())]).send().await.unwrap();
    assert_eq!(mine.json::<Value>().await.unwrap(), json!({"notices": false, "requests": true, "bookings": true}));
    // Not a member: 404; signed out: 401.
    let stranger = app.client();
    app.sign_up(&stranger, "Stranger").await;
    let response = stranger.post(app.url("/fn/mail_choices")).form(&[("slug", slug.as_str())]).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let response =
        Client::new().post(app.url("/fn/mail_choices")).form(&[("slug", slug.as_str())]).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    let new = Uuid::new_v4();
    apply(&app, &ann, &slug, "announcement.create", json!({"id": new, "title": "New news", "body": "."})).await;
    apply(&app, &ann, &slug, "announcement.pin", json!({"id": new, "pinned": true})).await;
    let tap = Uuid::new_v4();
    apply(&app, &bob, &slug, "request.create", json!({"id": tap, "title": "Tap", "description": "Drips"})).await;
    apply(&app, &ann, &slug, "request.set_status", json!({"id": tap, "status": "resolved"})).await;
    wait_about(&sink, &bob_at, "“Tap” is now resolved", 1).await;
    wait_about(&sink, &cy_at, "Pinned: New news", 1).await;
    passes().await;
    assert!(about(&sink, &bob_at, "news").is_empty(), "Bob turned notices off");
    assert!(about(&sink, &cy_at, "Old news").is_empty(), "news from before the job met the group");
    // What one does oneself is no news to oneself: Bob reopens his
    // request; Ann pins Cy's notice.
    let ann_at = email_of(&app, &ann).await;
    verified(&app, &ann_at).await;
    let fan = Uuid::new_v4();
    apply(&app, &bob, &slug, "request.create", json!({"id": fan, "title": "Fan", "description": "Loud"})).await;
    apply(&app, &cy, &slug, "request.comment", json!({"id": Uuid::new_v4(), "request_id": fan, "body": "Yes"})).await;
    apply(&app, &bob, &slug, "request.set_status", json!({"id": fan, "status": "resolved"})).await;
    let sale = Uuid::new_v4();
    apply(&app, &cy, &slug, "announcement.create", json!({"id": sale, "title": "Sofa sale", "body": "Free."})).await;
    apply(&app, &ann, &slug, "announcement.pin", json!({"id": sale, "pinned": true})).await;
    wait_about(&sink, &cy_at, "“Fan” is now resolved", 1).await;
    wait_about(&sink, &bob_at, "New comment on “Fan”", 1).await;
    passes().await;
    assert!(about(&sink, &bob_at, "“Fan” is now").is_empty(), "Bob resolved it himself");
    assert!(about(&sink, &ann_at, "Pinned: Sofa sale").is_empty(), "Ann pinned it herself");
    assert!(about(&sink, &cy_at, "Pinned: Sofa sale").is_empty(), "Cy wrote it");
}
