//! Administering a group: invites by email (listed, revoked), roles,
//! removals, leaving, renaming, closing (read-only, then deleted) and the
//! export. Mail goes to a real SMTP server (scripts/smtp-sink).

mod common;

use common::{
    smtp::{app_mailing_to, link_path, token_in, SmtpSink, WAIT},
    TestApp,
};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use std::time::Duration;
use uuid::Uuid;

async fn user_of(app: &TestApp, client: &Client) -> Value {
    app.get(client, "/api/me").await.1["user"].clone()
}

/// Follows the verification link sent to `client`'s person at sign-up.
async fn verify(app: &TestApp, sink: &SmtpSink, client: &Client) {
    let email = user_of(app, client).await["email"].as_str().unwrap().to_owned();
    let mails = sink.wait_for(&email, 1, WAIT).await;
    let token = token_in(&mails[0], "/verify/");
    assert_eq!(app.post(&app.client(), "/api/auth/verify", json!({"token": token})).await.0, StatusCode::OK);
}

async fn delete(app: &TestApp, client: &Client, path: &str) -> StatusCode {
    client.delete(app.url(path)).send().await.unwrap().status()
}

async fn directory_role(app: &TestApp, schema: &str, user: &Value) -> Option<String> {
    app.table_rows(schema, "members")
        .await
        .get(user["id"].as_str().unwrap())
        .map(|row| row["role"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn admins_invite_by_email_list_and_revoke_invites() {
    let sink = SmtpSink::start();
    let app = app_mailing_to(&sink, &[]).await;
    let (ann, slug) = app.admin_of_new_group().await;
    let bob = app.resident(&ann, &slug, "Bob").await;
    let invites = format!("/api/groups/{slug}/invites");

    let dee_email = format!("dee-{}@example.org", Uuid::new_v4().simple());
    // Only an admin whose own address is verified sends invitations.
    let (status, body) = app.post(&ann, &invites, json!({"email": dee_email})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    verify(&app, &sink, &ann).await;
    let (status, invite) = app.post(&ann, &invites, json!({"email": dee_email.to_uppercase()})).await;
    assert_eq!(status, StatusCode::CREATED, "{invite}");
    assert_eq!(invite["email"], dee_email.as_str());
    let code = invite["code"].as_str().unwrap().to_owned();
    let mail = &sink.wait_for(&dee_email, 1, WAIT).await[0];
    assert_eq!(mail["subject"], "Ann invites you to Elm on Courtyard");
    assert_eq!(link_path(mail, "/join/"), format!("/join/{code}"));
    // A shareable link too, and bad asks.
    let (_, link) = app.post(&ann, &invites, json!({})).await;
    let link_code = link["code"].as_str().unwrap().to_owned();
    assert!(link.get("email").is_none());
    let bob_email = user_of(&app, &bob).await["email"].as_str().unwrap().to_owned();
    assert_eq!(app.post(&ann, &invites, json!({"email": bob_email})).await.0, StatusCode::CONFLICT);
    assert_eq!(app.post(&ann, &invites, json!({"email": "nope"})).await.0, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.post(&bob, &invites, json!({"email": "x@example.org"})).await.0, StatusCode::FORBIDDEN);

    // The list: admins only.
    let (status, open) = app.get(&ann, &invites).await;
    assert_eq!(status, StatusCode::OK);
    let open = open.as_array().unwrap().clone();
    assert_eq!(open.len(), 3, "{open:?}"); // Bob's (used link, still open), Dee's, the new link
    let dee = open.iter().find(|i| i["code"] == code.as_str()).unwrap();
    assert_eq!((dee["email"].as_str(), dee["created_by"].as_str()), (Some(dee_email.as_str()), Some("Ann")));
    assert_eq!(app.get(&bob, &invites).await.0, StatusCode::FORBIDDEN);

    // The invite is Dee's, once she has verified her address.
    let eve = app.client();
    app.sign_up(&eve, "Eve").await;
    let accept = format!("/api/invites/{code}/accept");
    let (status, body) = app.post(&eve, &accept, json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let dee = app.client();
    let (status, _) = app
        .post(&dee, "/api/auth/signup", json!({"email": dee_email, "password": "correct horse", "name": "Dee"}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = app.post(&dee, &accept, json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body["error"].as_str().unwrap().contains("confirm your email"), "{body}");
    let verify = sink.wait_for(&dee_email, 2, WAIT).await;
    let token = token_in(&verify[1], "/verify/");
    assert_eq!(app.post(&dee, "/api/auth/verify", json!({"token": token})).await.0, StatusCode::OK);
    let (status, joined) = app.post(&dee, &accept, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{joined}");
    assert_eq!(joined["role"], "resident");
    // Used up.
    assert_eq!(app.post(&dee, &accept, json!({})).await.0, StatusCode::NOT_FOUND);
    assert!(!app.get(&ann, &invites).await.1.as_array().unwrap().iter().any(|i| i["code"] == code.as_str()));

    // Revoking.
    assert_eq!(delete(&app, &bob, &format!("{invites}/{link_code}")).await, StatusCode::FORBIDDEN);
    assert_eq!(delete(&app, &ann, &format!("{invites}/{link_code}")).await, StatusCode::NO_CONTENT);
    assert_eq!(delete(&app, &ann, &format!("{invites}/{link_code}")).await, StatusCode::NOT_FOUND);
    let (status, _) = app.post(&eve, &format!("/api/invites/{link_code}/accept"), json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn admins_change_roles_and_remove_members_and_a_group_keeps_an_admin() {
    let app = TestApp::spawn().await;
    let (ann, slug) = app.admin_of_new_group().await;
    let schema = app.schema_of(&slug).await;
    let bob = app.resident(&ann, &slug, "Bob").await;
    let (ann_user, bob_user) = (user_of(&app, &ann).await, user_of(&app, &bob).await);
    let role_path = |user: &Value| format!("/api/groups/{slug}/members/{}/role", user["id"].as_str().unwrap());
    let member_path = |user: &Value| format!("/api/groups/{slug}/members/{}", user["id"].as_str().unwrap());

    assert_eq!(app.post(&bob, &role_path(&bob_user), json!({"role": "admin"})).await.0, StatusCode::FORBIDDEN);
    assert_eq!(
        app.post(&ann, &role_path(&bob_user), json!({"role": "king"})).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(app.post(&ann, &role_path(&ann_user), json!({"role": "resident"})).await.0, StatusCode::CONFLICT);
    assert_eq!(app.post(&ann, &role_path(&bob_user), json!({"role": "admin"})).await.0, StatusCode::NO_CONTENT);
    assert_eq!(directory_role(&app, &schema, &bob_user).await.as_deref(), Some("admin"));
    assert_eq!(app.get(&bob, "/api/me").await.1["groups"][0]["role"], "admin");

    // A link made before a removal is withdrawn by it.
    let code = app.invite(&ann, &slug).await;
    // Bob demotes Ann, then removes her; he cannot leave, being the last admin.
    assert_eq!(app.post(&bob, &role_path(&ann_user), json!({"role": "resident"})).await.0, StatusCode::NO_CONTENT);
    assert_eq!(directory_role(&app, &schema, &ann_user).await.as_deref(), Some("resident"));
    assert_eq!(delete(&app, &ann, &member_path(&bob_user)).await, StatusCode::FORBIDDEN);
    assert_eq!(delete(&app, &bob, &member_path(&ann_user)).await, StatusCode::NO_CONTENT);
    assert_eq!(directory_role(&app, &schema, &ann_user).await, None, "out of the directory");
    assert_eq!(app.get(&ann, "/api/me").await.1["groups"], json!([]));
    let (status, _) = app.get(&ann, &format!("/g/{slug}/v1/shape?table=members&offset=-1")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "her access ended");
    let stranger = app.client();
    app.sign_up(&stranger, "Sam").await;
    assert_eq!(app.post(&stranger, &format!("/api/invites/{code}/accept"), json!({})).await.0, StatusCode::NOT_FOUND);
    assert_eq!(app.post(&bob, &format!("/api/groups/{slug}/leave"), json!({})).await.0, StatusCode::CONFLICT);
    assert_eq!(delete(&app, &bob, &member_path(&bob_user)).await, StatusCode::CONFLICT);
    // Nobody there, or no id at all.
    assert_eq!(delete(&app, &bob, &member_path(&ann_user)).await, StatusCode::NOT_FOUND);
    assert_eq!(delete(&app, &bob, &format!("/api/groups/{slug}/members/nobody")).await, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_member_leaves_and_invite_links_keep_working() {
    let app = TestApp::spawn().await;
    let (ann, slug) = app.admin_of_new_group().await;
    let schema = app.schema_of(&slug).await;
    let bob = app.resident(&ann, &slug, "Bob").await;
    let bob_user = user_of(&app, &bob).await;
    let code = app.invite(&ann, &slug).await;
    assert_eq!(app.post(&bob, &format!("/api/groups/{slug}/leave"), json!({})).await.0, StatusCode::NO_CONTENT);
    assert_eq!(app.get(&bob, "/api/me").await.1["groups"], json!([]));
    assert_eq!(directory_role(&app, &schema, &bob_user).await, None);
    assert_eq!(app.post(&bob, &format!("/api/groups/{slug}/leave"), json!({})).await.0, StatusCode::NOT_FOUND);
    // Leaving withdraws nothing: Bob may come back by the link.
    assert_eq!(app.post(&bob, &format!("/api/invites/{code}/accept"), json!({})).await.0, StatusCode::OK);
    assert_eq!(directory_role(&app, &schema, &bob_user).await.as_deref(), Some("resident"));
}

#[tokio::test]
async fn admins_rename_close_and_export_a_group() {
    let sink = SmtpSink::start();
    let app = app_mailing_to(&sink, &[]).await;
    let (ann, slug) = app.admin_of_new_group().await;
    let bob = app.resident(&ann, &slug, "Bob").await;
    let bob_email = user_of(&app, &bob).await["email"].as_str().unwrap().to_owned();
    let notice = Uuid::new_v4();
    let (_, body) = app
        .mutate(
            &bob,
            &slug,
            json!([{"id": Uuid::new_v4(), "name": "announcement.create",
            "args": {"id": notice, "title": "Bins", "body": "Tuesday \"early\""}}]),
        )
        .await;
    assert_eq!(body["results"][0]["status"], "applied", "{body}");

    let name = format!("/api/groups/{slug}/name");
    assert_eq!(app.post(&bob, &name, json!({"name": "Oak"})).await.0, StatusCode::FORBIDDEN);
    let (status, renamed) = app.post(&ann, &name, json!({"name": " Elm Court "})).await;
    assert_eq!((status, renamed["name"].as_str()), (StatusCode::OK, Some("Elm Court")));
    assert_eq!(app.get(&bob, "/api/me").await.1["groups"][0]["name"], "Elm Court");

    // The export: every table, as one JSON document (admins).
    let export = format!("/api/groups/{slug}/export");
    assert_eq!(app.get(&bob, &export).await.0, StatusCode::FORBIDDEN);
    let response = ann.get(app.url(&export)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-disposition"].to_str().unwrap().contains(&format!("{slug}-")));
    let data: Value = response.json().await.unwrap();
    assert_eq!(data["group"]["name"], "Elm Court");
    assert_eq!(data["tables"]["members"].as_array().unwrap().len(), 2);
    assert_eq!(data["tables"]["announcements"][0]["id"], notice.to_string());
    assert_eq!(data["tables"]["announcements"][0]["body"], "Tuesday \"early\"");
    for table in app::model::registry::table_names() {
        assert!(data["tables"][table].is_array(), "{table}");
    }

    // Closing: confirmed by the name; then read-only.
    let close = format!("/api/groups/{slug}/close");
    assert_eq!(app.post(&bob, &close, json!({"name": "Elm Court"})).await.0, StatusCode::FORBIDDEN);
    let (status, body) = app.post(&ann, &close, json!({"name": "Elm"})).await;
    assert_eq!((status, body["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("name")));
    let (status, closed) = app.post(&ann, &close, json!({"name": "Elm Court"})).await;
    assert_eq!(status, StatusCode::OK, "{closed}");
    assert!(closed["closed_at"].is_string());
    assert_eq!(app.post(&ann, &close, json!({"name": "Elm Court"})).await.0, StatusCode::CONFLICT);
    let told = sink.wait_for(&bob_email, 2, WAIT).await;
    assert_eq!(told[1]["subject"], "Elm Court was closed");
    let (_, body) = app
        .mutate(
            &bob,
            &slug,
            json!([{"id": Uuid::new_v4(), "name": "announcement.update",
            "args": {"id": notice, "body": "Wednesday"}}]),
        )
        .await;
    assert_eq!(body["results"][0]["status"], "rejected", "{body}");
    assert!(body["results"][0]["error"].as_str().unwrap().contains("closed"));
    assert_eq!(app.post(&ann, &format!("/api/groups/{slug}/invites"), json!({})).await.0, StatusCode::CONFLICT);
    assert_eq!(app.post(&ann, &name, json!({"name": "Oak"})).await.0, StatusCode::CONFLICT);
    // Still readable and exportable.
    let (status, _) = app.get(&bob, &format!("/g/{slug}/v1/shape?table=announcements&offset=-1")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(app.get(&ann, &export).await.0, StatusCode::OK);
    assert_eq!(app.get(&bob, "/api/me").await.1["groups"][0]["closed_at"], closed["closed_at"]);
}

#[tokio::test]
async fn a_closed_group_is_deleted_after_its_grace_period() {
    let app = TestApp::spawn_with(&[("COURTYARD_GROUPS_CLOSE_GRACE", "1s")]).await;
    let (ann, slug) = app.admin_of_new_group().await;
    let schema = app.schema_of(&slug).await;
    let bob = app.resident(&ann, &slug, "Bob").await;
    let (status, _) = app.post(&ann, &format!("/api/groups/{slug}/close"), json!({"name": "Elm"})).await;
    assert_eq!(status, StatusCode::OK);
    let until = tokio::time::Instant::now() + WAIT;
    loop {
        let left: i64 = sqlx::query_scalar("SELECT count(*) FROM groups WHERE slug = $1")
            .bind(&slug)
            .fetch_one(&app.db)
            .await
            .unwrap();
        if left == 0 {
            break;
        }
        assert!(tokio::time::Instant::now() < until, "the closed group is still there");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let schemas: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_namespace WHERE nspname = $1")
        .bind(&schema)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(schemas, 0, "its schema is dropped");
    assert_eq!(app.get(&bob, "/api/me").await.1["groups"], json!([]));
    assert_eq!(app.get(&ann, &format!("/g/{slug}/v1/shape?table=members&offset=-1")).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn directory_changes_a_failure_left_undone_are_finished_by_the_job() {
    // (The job runs every minute, or every close_grace when shorter.)
    let app = TestApp::spawn_with(&[("COURTYARD_GROUPS_CLOSE_GRACE", "1s")]).await;
    let (ann, slug) = app.admin_of_new_group().await;
    let schema = app.schema_of(&slug).await;
    let bob = app.resident(&ann, &slug, "Bob").await;
    let cat = app.resident(&ann, &slug, "Cat").await;
    let (bob_user, cat_user) = (user_of(&app, &bob).await, user_of(&app, &cat).await);
    let id = |user: &Value| -> Uuid { user["id"].as_str().unwrap().parse().unwrap() };
    // As if the group database had been away: Bob's promotion recorded in
    // the registry only, Cat's departure too.
    sqlx::query("UPDATE memberships SET role = 'admin', directory_synced = false WHERE user_id = $1")
        .bind(id(&bob_user))
        .execute(&app.db)
        .await
        .unwrap();
    sqlx::query("DELETE FROM memberships WHERE user_id = $1").bind(id(&cat_user)).execute(&app.db).await.unwrap();
    let until = tokio::time::Instant::now() + WAIT;
    loop {
        let bob_role = directory_role(&app, &schema, &bob_user).await;
        let cat_role = directory_role(&app, &schema, &cat_user).await;
        if bob_role.as_deref() == Some("admin") && cat_role.is_none() {
            break;
        }
        assert!(tokio::time::Instant::now() < until, "Bob {bob_role:?}, Cat {cat_role:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
