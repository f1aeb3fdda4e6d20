//! Each member's secret calendar feed (RFC 5545) of their group's bookings.

mod common;

use common::TestApp;
use reqwest::{Client, StatusCode};
use serde_json::json;
use uuid::Uuid;

async fn applied(app: &TestApp, client: &Client, slug: &str, name: &str, args: serde_json::Value) {
    let (status, body) = app.mutate(client, slug, json!([{"id": Uuid::new_v4(), "name": name, "args": args}])).await;
    assert_eq!((status, body["results"][0]["status"].as_str()), (StatusCode::OK, Some("applied")), "{body}");
}

fn hours_from_now(hours: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::hours(hours)).to_rfc3339()
}

/// `/fn/renew_calendar_feed` for `slug`: the feed's path.
async fn new_link(app: &TestApp, client: &Client, slug: &str) -> String {
    let response = client
        .post(app.url("/fn/renew_calendar_feed"))
        .header("accept", "application/json")
        .form(&[("slug", slug)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.json::<String>().await.unwrap()
}

#[tokio::test]
async fn a_member_reads_the_groups_bookings_from_a_secret_link_until_it_is_replaced() {
    let app = TestApp::spawn().await;
    let (ann, slug) = app.admin_of_new_group().await;
    let bob = app.resident(&ann, &slug, "Bob").await;
    let room = Uuid::new_v4();
    applied(&app, &ann, &slug, "resource.create", json!({"id": room, "name": "Laundry; room, 1"})).await;
    let (mine, theirs) = (Uuid::new_v4(), Uuid::new_v4());
    let book = |id: Uuid, from: i64| json!({"id": id, "resource_id": room, "starts_at": hours_from_now(from), "ends_at": hours_from_now(from + 1)});
    applied(&app, &bob, &slug, "booking.create", book(mine, 5)).await;
    applied(&app, &ann, &slug, "booking.create", book(theirs, 8)).await;
    // Another group's bookings never show.
    let (carl, other) = app.admin_of_new_group().await;
    let other_room = Uuid::new_v4();
    applied(&app, &carl, &other, "resource.create", json!({"id": other_room, "name": "Sauna"})).await;
    let elsewhere = json!({"id": Uuid::new_v4(), "resource_id": other_room, "starts_at": hours_from_now(5), "ends_at": hours_from_now(6)});
    applied(&app, &carl, &other, "booking.create", elsewhere).await;

    let path = new_link(&app, &bob, &slug).await;
    assert!(path.starts_with("/cal/") && path.ends_with(".ics"), "{path}");
    // The link is the credential: no session needed.
    let response = reqwest::get(app.url(&path)).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/calendar; charset=utf-8");
    assert_eq!(response.headers()["cache-control"], "private, no-store");
    let text = response.text().await.unwrap();
    assert!(text.starts_with("BEGIN:VCALENDAR\r\n") && text.trim_end().ends_with("END:VCALENDAR"), "{text}");
    assert_eq!(text.matches("BEGIN:VEVENT").count(), 2, "{text}");
    assert!(text.contains(&format!("UID:{mine}@courtyard")) && text.contains(&format!("UID:{theirs}@courtyard")));
    // Text escaped as RFC 5545 says; times in UTC.
    assert!(text.contains("SUMMARY:Laundry\\; room\\, 1 (you)"), "{text}");
    assert!(text.contains("SUMMARY:Laundry\\; room\\, 1 (Ann)"), "{text}");
    assert!(text.lines().any(|line| line.starts_with("DTSTART:") && line.ends_with('Z')), "{text}");
    assert!(!text.contains("Sauna"));
    let only_mine = reqwest::get(app.url(&format!("{path}?mine=true"))).await.unwrap().text().await.unwrap();
    assert_eq!(only_mine.matches("BEGIN:VEVENT").count(), 1);
    assert!(only_mine.contains(&format!("UID:{mine}@courtyard")));

    // A new link stops the old one; stopping stops the new one.
    let renewed = new_link(&app, &bob, &slug).await;
    assert_ne!(renewed, path);
    assert_eq!(reqwest::get(app.url(&path)).await.unwrap().status(), StatusCode::NOT_FOUND);
    assert_eq!(reqwest::get(app.url(&renewed)).await.unwrap().status(), StatusCode::OK);
    let response = bob.post(app.url("/fn/stop_calendar_feed")).form(&[("slug", slug.as_str())]).send().await.unwrap();
    assert!(response.status().is_success() || response.status().is_redirection());
    assert_eq!(reqwest::get(app.url(&renewed)).await.unwrap().status(), StatusCode::NOT_FOUND);

    // The group's name is escaped too.
    let (status, _) = app.post(&ann, &format!("/api/groups/{slug}/name"), json!({"name": "Elm; Court, B\\1"})).await;
    assert_eq!(status, StatusCode::OK);
    let named = reqwest::get(app.url(&new_link(&app, &bob, &slug).await)).await.unwrap().text().await.unwrap();
    for property in ["NAME", "X-WR-CALNAME"] {
        assert!(named.contains(&format!("\r\n{property}:Elm\\; Court\\, B\\\\1: bookings\r\n")), "{named}");
    }

    // A password change stops the person's links.
    let mine_now = new_link(&app, &bob, &slug).await;
    let change = json!({"current_password": "correct horse", "new_password": "a new battery staple"});
    assert_eq!(app.post(&bob, "/api/account/password", change).await.0, StatusCode::OK);
    assert_eq!(reqwest::get(app.url(&mine_now)).await.unwrap().status(), StatusCode::NOT_FOUND);

    // A member's link dies with their membership, and stays dead when they
    // come back; junk is not found.
    let link = new_link(&app, &bob, &slug).await;
    let bob_id: Uuid = app.get(&bob, "/api/me").await.1["user"]["id"].as_str().unwrap().parse().unwrap();
    let status = ann.delete(app.url(&format!("/api/groups/{slug}/members/{bob_id}"))).send().await.unwrap().status();
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(reqwest::get(app.url(&link)).await.unwrap().status(), StatusCode::NOT_FOUND);
    let code = app.invite(&ann, &slug).await;
    assert_eq!(app.post(&bob, &format!("/api/invites/{code}/accept"), json!({})).await.0, StatusCode::OK);
    assert_eq!(reqwest::get(app.url(&link)).await.unwrap().status(), StatusCode::NOT_FOUND);
    for junk in ["/cal/x.ics", "/cal/", &format!("/cal/{}", "a".repeat(64)), &format!("/cal/{}.ics", "g".repeat(64))] {
        assert_eq!(reqwest::get(app.url(junk)).await.unwrap().status(), StatusCode::NOT_FOUND, "{junk}");
    }
    // Strangers cannot make a link for a group they are not in.
    let stranger = app.client();
    app.sign_up(&stranger, "Sid").await;
    let response =
        stranger.post(app.url("/fn/renew_calendar_feed")).form(&[("slug", slug.as_str())]).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}
