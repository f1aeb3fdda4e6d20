//! Accounts by email, through a real SMTP server (scripts/smtp-sink):
//! password reset, email verification, and the mail queue that never loses
//! a message (an SMTP server down, several servers sending).

mod common;

use common::{
    smtp::{app_mailing_to, link_path, token_in, SmtpSink, WAIT},
    TestApp,
};
use reqwest::StatusCode;
use serde_json::json;
use std::time::Duration;

fn email_of(user: &serde_json::Value) -> String {
    user["email"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_forgotten_password_is_reset_by_email_and_every_other_session_ends() {
    let sink = SmtpSink::start();
    let app = app_mailing_to(&sink, &[]).await;
    let (phone, laptop) = (app.client(), app.client());
    let user = app.sign_up(&phone, "Ann").await;
    let email = email_of(&user);
    let (status, _) = app.post(&laptop, "/api/auth/login", json!({"email": email, "password": "correct horse"})).await;
    assert_eq!(status, StatusCode::OK);

    // Asked for from a third browser, signed out.
    let browser = app.client();
    let (status, body) = app.post(&browser, "/api/auth/reset", json!({"email": email.to_uppercase()})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    // The same answer for an address no account has, and no mail for it.
    let nobody = format!("nobody-{}@example.org", uuid::Uuid::new_v4().simple());
    let (status, _) = app.post(&browser, "/api/auth/reset", json!({"email": nobody})).await;
    assert_eq!(status, StatusCode::ACCEPTED);

    // The verification mail of the sign-up, then the reset.
    let mails = sink.wait_for(&email, 2, WAIT).await;
    let reset = mails.iter().find(|m| m["subject"] == "Reset your Courtyard password").expect("the reset mail");
    assert!(reset["html"].as_str().unwrap().contains("/reset/"), "an HTML body with the link too");
    let path = link_path(reset, "/reset/");
    let token = path.trim_start_matches("/reset/").to_owned();

    // The page the link opens.
    let page = browser.get(app.url(&path)).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("Choose a new password"));

    // A password the rules refuse: 422, and the link still works.
    let (status, body) =
        app.post(&browser, "/api/auth/reset/confirm", json!({"token": token, "password": "short"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = app
        .post(&browser, "/api/auth/reset/confirm", json!({"token": token, "password": "a new battery staple"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["user"]["email_verified"], true, "the link proved the address");

    // This browser is signed in; the phone and the laptop are not.
    assert_eq!(app.get(&browser, "/api/me").await.0, StatusCode::OK);
    assert_eq!(app.get(&phone, "/api/me").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(app.get(&laptop, "/api/me").await.0, StatusCode::UNAUTHORIZED);

    // The link works once.
    let (status, _) =
        app.post(&browser, "/api/auth/reset/confirm", json!({"token": token, "password": "yet another one"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // The old password is gone, the new one signs in.
    let (status, _) = app.post(&phone, "/api/auth/login", json!({"email": email, "password": "correct horse"})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) =
        app.post(&phone, "/api/auth/login", json!({"email": email, "password": "a new battery staple"})).await;
    assert_eq!(status, StatusCode::OK);

    // The account is told its password changed.
    let mails = sink.wait_for(&email, 3, WAIT).await;
    assert_eq!(mails[2]["subject"], "Your Courtyard password was changed");
    assert!(sink.messages_to(&nobody).is_empty());
    // With an SMTP server set there is no /dev/mail.
    assert_eq!(browser.get(app.url("/dev/mail")).send().await.unwrap().status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn reset_links_expire_and_junk_tokens_are_not_found() {
    let sink = SmtpSink::start();
    let app = app_mailing_to(&sink, &[("COURTYARD_ACCOUNTS_RESET_LINK_TTL", "1s")]).await;
    let client = app.client();
    let email = email_of(&app.sign_up(&client, "Bea").await);
    let (status, _) = app.post(&client, "/api/auth/reset", json!({"email": email})).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let mails = sink.wait_for(&email, 2, WAIT).await;
    let reset = mails.iter().find(|m| m["subject"] == "Reset your Courtyard password").unwrap();
    assert!(reset["text"].as_str().unwrap().contains("for 1 second"), "{}", reset["text"]);
    let token = token_in(reset, "/reset/");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (status, _) =
        app.post(&client, "/api/auth/reset/confirm", json!({"token": token, "password": "a new battery staple"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "expired");
    for junk in ["", "abc", &"z".repeat(64), &"0".repeat(64), "'; DROP TABLE users; --"] {
        let (status, _) = app
            .post(&client, "/api/auth/reset/confirm", json!({"token": junk, "password": "a new battery staple"}))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{junk:?}");
    }
    // Bad requests: not JSON, no email, not an email.
    let response = client
        .post(app.url("/api/auth/reset"))
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(app.post(&client, "/api/auth/reset", json!({})).await.0, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, body) = app.post(&client, "/api/auth/reset", json!({"email": "not an email"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
}

#[tokio::test]
async fn resets_are_limited_per_email_and_per_address() {
    let sink = SmtpSink::start();
    let app = app_mailing_to(
        &sink,
        &[("COURTYARD_ACCOUNTS_MAX_RESETS_PER_EMAIL", "2"), ("COURTYARD_ACCOUNTS_MAX_RESETS_PER_IP", "5")],
    )
    .await;
    let client = app.client();
    let email = email_of(&app.sign_up(&client, "Cy").await);
    for _ in 0..2 {
        assert_eq!(app.post(&client, "/api/auth/reset", json!({"email": email})).await.0, StatusCode::ACCEPTED);
    }
    let response = client.post(app.url("/api/auth/reset")).json(&json!({"email": email})).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(response.headers().contains_key("retry-after"));
    // Other addresses from this client: three more, then the address's limit.
    for n in 0..3 {
        let other = format!("other-{n}@example.org");
        assert_eq!(app.post(&client, "/api/auth/reset", json!({"email": other})).await.0, StatusCode::ACCEPTED);
    }
    let (status, _) = app.post(&client, "/api/auth/reset", json!({"email": "one-more@example.org"})).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    // Two reset mails went out, and the sign-up's verification.
    sink.wait_for(&email, 3, WAIT).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sink.messages_to(&email).len(), 3);
}

#[tokio::test]
async fn an_address_is_verified_by_following_the_link_sent_at_sign_up() {
    let sink = SmtpSink::start();
    let app = app_mailing_to(&sink, &[]).await;
    let client = app.client();
    let user = app.sign_up(&client, "Dee").await;
    assert_eq!(user["email_verified"], false);
    let email = email_of(&user);
    let mails = sink.wait_for(&email, 1, WAIT).await;
    assert_eq!(mails[0]["subject"], "Confirm your email for Courtyard");
    assert!(mails[0]["from"].as_str().unwrap().contains("courtyard@localhost"));

    // Asked again: a second link; both work until one is used.
    assert_eq!(app.post(&client, "/api/auth/verify/resend", json!({})).await.0, StatusCode::ACCEPTED);
    let mails = sink.wait_for(&email, 2, WAIT).await;
    let first = token_in(&mails[0], "/verify/");
    let second = token_in(&mails[1], "/verify/");
    assert_ne!(first, second);

    // Followed on another device, signed out.
    let other = app.client();
    let page = other.get(app.url(&format!("/verify/{second}"))).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK, "the page opens signed out");
    let (status, body) = app.post(&other, "/api/auth/verify", json!({"token": second})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["email"], email.as_str());
    let (_, me) = app.get(&client, "/api/me").await;
    assert_eq!(me["user"]["email_verified"], true);
    // Used, and the other link withdrawn with it.
    assert_eq!(app.post(&other, "/api/auth/verify", json!({"token": second})).await.0, StatusCode::NOT_FOUND);
    assert_eq!(app.post(&other, "/api/auth/verify", json!({"token": first})).await.0, StatusCode::NOT_FOUND);
    // Verified, asking again sends nothing; signed out, it is 401.
    assert_eq!(app.post(&client, "/api/auth/verify/resend", json!({})).await.0, StatusCode::ACCEPTED);
    assert_eq!(app.post(&other, "/api/auth/verify/resend", json!({})).await.0, StatusCode::UNAUTHORIZED);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sink.messages_to(&email).len(), 2);
}

#[tokio::test]
async fn mail_queued_while_the_smtp_server_is_down_arrives_once_it_is_back_exactly_once() {
    let mut sink = SmtpSink::start();
    let app = app_mailing_to(&sink, &[]).await;
    sink.stop();
    let mut emails = Vec::new();
    for n in 0..4 {
        let client = app.client();
        let email = email_of(&app.sign_up(&client, &format!("Eve{n}")).await);
        assert_eq!(app.post(&client, "/api/auth/reset", json!({"email": email})).await.0, StatusCode::ACCEPTED);
        emails.push(email);
    }
    // Every message was tried and failed at least once.
    let until = tokio::time::Instant::now() + WAIT;
    loop {
        let untried: i64 =
            sqlx::query_scalar("SELECT count(*) FROM mail_queue WHERE attempts = 0 OR sent_at IS NOT NULL")
                .fetch_one(&app.db)
                .await
                .unwrap();
        if untried == 0 {
            break;
        }
        assert!(tokio::time::Instant::now() < until, "{untried} messages not tried yet");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let error: String =
        sqlx::query_scalar("SELECT last_error FROM mail_queue LIMIT 1").fetch_one(&app.db).await.unwrap();
    assert!(!error.is_empty());

    sink.restart();
    for email in &emails {
        sink.wait_for(email, 2, WAIT).await;
    }
    // A while longer: nothing comes twice.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(sink.messages().len(), 8);
    for email in &emails {
        let subjects: Vec<_> = sink.messages_to(email).iter().map(|m| m["subject"].clone()).collect();
        assert_eq!(subjects.len(), 2, "{email}: {subjects:?}");
        assert_ne!(subjects[0], subjects[1]);
    }
    let (sent, emptied): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE sent_at IS NOT NULL), count(*) FILTER (WHERE text_body = '' AND html_body = '')
         FROM mail_queue",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!((sent, emptied), (8, 8), "sent, and the bodies (with their links) forgotten");
}

#[tokio::test]
async fn several_servers_share_the_queue_and_send_each_message_once() {
    let sink = SmtpSink::start();
    let url = sink.url();
    let settings = [
        ("COURTYARD_MAIL_SMTP_URL", url.as_str()),
        ("COURTYARD_PUBLIC_ORIGIN", "http://courtyard.test"),
        ("COURTYARD_MAIL_POLL_INTERVAL", "50ms"),
    ];
    let one = TestApp::spawn_with(&settings).await;
    let two = TestApp::spawn_on(&one.database_url, &settings).await;
    let three = TestApp::spawn_on(&one.database_url, &settings).await;
    // Forty messages queued at once.
    sqlx::query(
        "INSERT INTO mail_queue (to_address, subject, text_body, html_body)
         SELECT 'many@example.org', 'message ' || n, 'body ' || n, '<p>body ' || n || '</p>' FROM generate_series(1, 40) n",
    )
    .execute(&one.db)
    .await
    .unwrap();
    let mails = sink.wait_for("many@example.org", 40, WAIT).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut subjects: Vec<String> =
        sink.messages_to("many@example.org").iter().map(|m| m["subject"].as_str().unwrap().to_owned()).collect();
    assert_eq!(subjects.len(), 40, "{} arrived", mails.len());
    subjects.sort();
    subjects.dedup();
    assert_eq!(subjects.len(), 40, "none twice");
    drop((two, three));
}

#[tokio::test]
async fn without_smtp_mail_goes_to_the_log_and_dev_mail_shows_it() {
    let app = TestApp::spawn_with(&[("COURTYARD_MAIL_POLL_INTERVAL", "100ms")]).await;
    let client = app.client();
    let email = email_of(&app.sign_up(&client, "Flo").await);
    assert_eq!(app.post(&client, "/api/auth/reset", json!({"email": email})).await.0, StatusCode::ACCEPTED);
    let until = tokio::time::Instant::now() + WAIT;
    loop {
        let sent: i64 = sqlx::query_scalar("SELECT count(*) FROM mail_queue WHERE sent_at IS NOT NULL")
            .fetch_one(&app.db)
            .await
            .unwrap();
        if sent == 2 {
            break;
        }
        assert!(tokio::time::Instant::now() < until, "{sent} of 2 written to the log");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let page = client.get(app.url("/dev/mail")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("Reset your Courtyard password") && html.contains(&email), "{html}");
    assert!(html.contains("<a href=\"http://127.0.0.1:0/reset/"), "the link can be followed: {html}");
}

fn id_of(user: &serde_json::Value) -> uuid::Uuid {
    user["id"].as_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn a_person_changes_their_name_password_and_email() {
    let sink = SmtpSink::start();
    let app = app_mailing_to(&sink, &[]).await;
    let (me, other_device) = (app.client(), app.client());
    let user = app.sign_up(&me, "Gus").await;
    let email = email_of(&user);
    app.post(&other_device, "/api/auth/login", json!({"email": email, "password": "correct horse"})).await;

    // Name.
    let (status, body) = app.post(&me, "/api/account/name", json!({"name": "  Gus Grey "})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["user"]["name"], "Gus Grey");
    assert_eq!(app.get(&me, "/api/me").await.1["user"]["name"], "Gus Grey");
    assert_eq!(app.post(&me, "/api/account/name", json!({"name": " "})).await.0, StatusCode::UNPROCESSABLE_ENTITY);

    // Password: the current one first; the other device is signed out.
    let change = |current: &str, new: &str| json!({"current_password": current, "new_password": new});
    let (status, body) = app.post(&me, "/api/account/password", change("wrong one", "a new battery staple")).await;
    assert_eq!((status, body["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("current_password")));
    let (status, body) = app.post(&me, "/api/account/password", change("correct horse", "short")).await;
    assert_eq!((status, body["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("password")));
    let (status, body) = app.post(&me, "/api/account/password", change("correct horse", "a new battery staple")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["sessions_ended"], 1);
    assert_eq!(app.get(&me, "/api/me").await.0, StatusCode::OK);
    assert_eq!(app.get(&other_device, "/api/me").await.0, StatusCode::UNAUTHORIZED);
    let (status, _) =
        app.post(&other_device, "/api/auth/login", json!({"email": email, "password": "a new battery staple"})).await;
    assert_eq!(status, StatusCode::OK);

    // Email: confirmed from the new address before it changes.
    let taken = email_of(&app.sign_up(&app.client(), "Hal").await);
    let new_email = format!("gus-new-{}@example.org", uuid::Uuid::new_v4().simple());
    let ask = |email: &str, password: &str| json!({"email": email, "password": password});
    assert_eq!(
        app.post(&me, "/api/account/email", ask(&new_email, "correct horse")).await.0,
        StatusCode::UNPROCESSABLE_ENTITY,
        "the password is asked for"
    );
    assert_eq!(app.post(&me, "/api/account/email", ask(&taken, "a new battery staple")).await.0, StatusCode::CONFLICT);
    assert_eq!(
        app.post(&me, "/api/account/email", ask(&email, "a new battery staple")).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        app.post(&me, "/api/account/email", ask(&new_email, "a new battery staple")).await.0,
        StatusCode::ACCEPTED
    );
    assert_eq!(app.get(&me, "/api/me").await.1["user"]["email"], email.as_str(), "not changed yet");
    let confirm = &sink.wait_for(&new_email, 1, WAIT).await[0];
    assert_eq!(confirm["subject"], "Confirm your new email for Courtyard");
    let token = token_in(confirm, "/verify/");
    let (status, body) = app.post(&app.client(), "/api/auth/verify", json!({"token": token})).await;
    assert_eq!((status, body["email"].as_str()), (StatusCode::OK, Some(new_email.as_str())));
    let (_, me_now) = app.get(&me, "/api/me").await;
    assert_eq!(me_now["user"]["email"], new_email.as_str());
    assert_eq!(me_now["user"]["email_verified"], true);
    // The old address is told; sign-in takes the new one only.
    let old_mails = sink.wait_for(&email, 3, WAIT).await;
    assert!(old_mails.iter().any(|m| m["subject"] == "Your Courtyard email was changed"), "{old_mails:?}");
    let login = |email: &str| json!({"email": email, "password": "a new battery staple"});
    assert_eq!(app.post(&app.client(), "/api/auth/login", login(&email)).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(app.post(&app.client(), "/api/auth/login", login(&new_email)).await.0, StatusCode::OK);
}

#[tokio::test]
async fn sessions_are_listed_and_ended_one_at_a_time() {
    let app = TestApp::spawn().await;
    let phone = app.client();
    let user = app.sign_up(&phone, "Ida").await;
    let laptop = app.client();
    let response = laptop
        .post(app.url("/api/auth/login"))
        .header("user-agent", "Laptop Browser/1.0")
        .json(&json!({"email": email_of(&user), "password": "correct horse"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    let (status, sessions) = app.get(&phone, "/api/account/sessions").await;
    assert_eq!(status, StatusCode::OK);
    let sessions = sessions.as_array().unwrap().clone();
    assert_eq!(sessions.len(), 2);
    let laptops: Vec<_> = sessions.iter().filter(|s| s["user_agent"] == "Laptop Browser/1.0").collect();
    assert_eq!(laptops.len(), 1);
    assert_eq!(laptops[0]["current"], false);
    assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1);
    let laptop_id = laptops[0]["id"].as_str().unwrap();
    let phone_id = sessions.iter().find(|s| s["current"] == true).unwrap()["id"].as_str().unwrap().to_owned();

    // Someone else cannot end them.
    let stranger = app.client();
    app.sign_up(&stranger, "Jo").await;
    let end =
        |client: &reqwest::Client, id: &str| client.delete(app.url(&format!("/api/account/sessions/{id}"))).send();
    assert_eq!(end(&stranger, laptop_id).await.unwrap().status(), StatusCode::NOT_FOUND);
    assert_eq!(end(&phone, "not-an-id").await.unwrap().status(), StatusCode::NOT_FOUND);
    assert_eq!(app.get(&laptop, "/api/me").await.0, StatusCode::OK);

    assert_eq!(end(&phone, laptop_id).await.unwrap().status(), StatusCode::NO_CONTENT);
    assert_eq!(app.get(&laptop, "/api/me").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(app.get(&phone, "/api/me").await.0, StatusCode::OK);
    // Ending one's own session signs out here.
    let response = end(&phone, &phone_id).await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(response.headers()["set-cookie"].to_str().unwrap().contains("Max-Age=0"));
    assert_eq!(app.get(&phone, "/api/me").await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_deleted_account_leaves_its_groups_and_its_words_stay_unless_asked() {
    let app = TestApp::spawn().await;
    let (ann, slug) = app.admin_of_new_group().await;
    let schema = app.schema_of(&slug).await;
    let bob = app.resident(&ann, &slug, "Bob").await;
    let cat = app.resident(&ann, &slug, "Cat").await;
    let bob_id = id_of(&app.get(&bob, "/api/me").await.1["user"]);
    let cat_id = id_of(&app.get(&cat, "/api/me").await.1["user"]);
    for client in [&bob, &cat] {
        let (status, body) = app
            .mutate(
                client,
                &slug,
                json!([{"id": uuid::Uuid::new_v4(), "name": "announcement.create",
                "args": {"id": uuid::Uuid::new_v4(), "title": "Hello", "body": "from me"}}]),
            )
            .await;
        assert_eq!((status, body["results"][0]["status"].as_str()), (StatusCode::OK, Some("applied")), "{body}");
    }
    let delete = |password: &str, remove: bool| json!({"password": password, "remove_content": remove});

    // The only admin cannot go without handing over.
    let (status, body) = app.post(&ann, "/api/account/delete", delete("correct horse", false)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body["error"].as_str().unwrap().contains("only admin of Elm"), "{body}");

    assert_eq!(app.post(&bob, "/api/account/delete", delete("wrong", false)).await.0, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.post(&bob, "/api/account/delete", delete("correct horse", false)).await.0, StatusCode::NO_CONTENT);
    assert_eq!(app.post(&cat, "/api/account/delete", delete("correct horse", true)).await.0, StatusCode::NO_CONTENT);
    assert_eq!(app.get(&bob, "/api/me").await.0, StatusCode::UNAUTHORIZED);

    let members = app.table_rows(&schema, "members").await;
    assert!(!members.contains_key(&bob_id.to_string()) && !members.contains_key(&cat_id.to_string()));
    let authors: Vec<String> = app
        .table_rows(&schema, "announcements")
        .await
        .values()
        .map(|row| row["author_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(authors, [bob_id.to_string()], "Bob's notice stays, Cat's went with her");
    let accounts: i64 = sqlx::query_scalar("SELECT count(*) FROM users WHERE id = ANY($1)")
        .bind(vec![bob_id, cat_id])
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(accounts, 0);
}

#[tokio::test]
async fn links_asked_for_before_a_password_reset_stop_working() {
    // Someone who knew the password asked to move the account to their
    // address; the owner resets the password: that link is dead.
    let sink = SmtpSink::start();
    let app = app_mailing_to(&sink, &[]).await;
    let intruder = app.client();
    let email = email_of(&app.sign_up(&intruder, "Kim").await);
    let theirs = format!("intruder-{}@example.org", uuid::Uuid::new_v4().simple());
    let (status, _) =
        app.post(&intruder, "/api/account/email", json!({"email": theirs, "password": "correct horse"})).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let change = &sink.wait_for(&theirs, 1, WAIT).await[0];
    let change_token = token_in(change, "/verify/");

    let owner = app.client();
    assert_eq!(app.post(&owner, "/api/auth/reset", json!({"email": email})).await.0, StatusCode::ACCEPTED);
    let mails = sink.wait_for(&email, 2, WAIT).await;
    let reset = mails.iter().find(|m| m["subject"] == "Reset your Courtyard password").unwrap();
    let token = token_in(reset, "/reset/");
    let (status, _) =
        app.post(&owner, "/api/auth/reset/confirm", json!({"token": token, "password": "the owner's own"})).await;
    assert_eq!(status, StatusCode::OK);

    assert_eq!(
        app.post(&app.client(), "/api/auth/verify", json!({"token": change_token})).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.get(&owner, "/api/me").await.1["user"]["email"], email.as_str());
    assert_eq!(app.get(&intruder, "/api/me").await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn pages_holding_a_secret_or_ones_account_are_never_stored() {
    let app = TestApp::spawn().await;
    let client = app.client();
    app.sign_up(&client, "Lou").await;
    for path in [
        "/account",
        &format!("/reset/{}", "a".repeat(64)),
        &format!("/verify/{}", "b".repeat(64)),
        &format!("/unsubscribe/{}", "c".repeat(64)),
    ] {
        let response = client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(response.headers()["cache-control"], "private, no-store", "{path}");
    }
    let response = client.get(app.url("/")).send().await.unwrap();
    assert_eq!(response.headers()["cache-control"], "private, no-cache");
}
