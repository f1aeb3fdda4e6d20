//! Groups, invites and membership over HTTP, and isolation between groups.

mod common;

use common::TestApp;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn creating_a_group_makes_its_schema_and_an_admin_member() {
    let app = TestApp::spawn().await;
    let ann = app.client();
    let user = app.sign_up(&ann, "Ann").await;
    let (status, group) = app.post(&ann, "/api/groups", json!({"slug": "elm-street", "name": "Elm Street"})).await;
    assert_eq!(status, StatusCode::CREATED, "{group}");
    assert_eq!(group["slug"], "elm-street");
    assert_eq!(group["name"], "Elm Street");
    assert_eq!(group["role"], "admin");
    assert!(group["id"].is_string());

    let schema = app.schema_of("elm-street").await;
    assert_eq!(schema, format!("g_{}", group["id"].as_str().unwrap().replace('-', "")));
    let (display_name, role): (String, String) =
        sqlx::query_as(&format!("SELECT display_name, role FROM \"{schema}\".members WHERE user_id = $1"))
            .bind(uuid::Uuid::parse_str(user["id"].as_str().unwrap()).unwrap())
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!((display_name.as_str(), role.as_str()), ("Ann", "admin"));
    let version: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM \"{schema}\".schema_migrations"))
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(version, app::backend::migrations::latest_tenant_version());

    let (_, me) = app.get(&ann, "/api/me").await;
    assert_eq!(
        me["groups"],
        json!([{"id": group["id"], "slug": "elm-street", "name": "Elm Street", "role": "admin", "residents_open_polls": false}])
    );
}

#[tokio::test]
async fn group_slugs_are_unique_and_validated() {
    let app = TestApp::spawn().await;
    let ann = app.client();
    app.sign_up(&ann, "Ann").await;
    app.post(&ann, "/api/groups", json!({"slug": "oak-court", "name": "Oak Court"})).await;
    let (status, _) = app.post(&ann, "/api/groups", json!({"slug": "oak-court", "name": "Another"})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    for slug in ["ab", "Oak", "oak court", "oak_court", "x\"; DROP SCHEMA public; --", &"a".repeat(41)] {
        let (status, body) = app.post(&ann, "/api/groups", json!({"slug": slug, "name": "Oak"})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{slug}: {body}");
        assert_eq!(body["field"], "slug");
    }
    let (status, body) = app.post(&ann, "/api/groups", json!({"slug": "fine-slug", "name": ""})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["field"], "name");
    let groups: i64 = sqlx::query_scalar("SELECT count(*) FROM groups").fetch_one(&app.db).await.unwrap();
    assert_eq!(groups, 1);
}

#[tokio::test]
async fn signed_out_visitors_cannot_create_groups() {
    let app = TestApp::spawn().await;
    let (status, _) = app.post(&app.client(), "/api/groups", json!({"slug": "pine", "name": "Pine"})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn only_admins_invite_and_outsiders_get_404() {
    let app = TestApp::spawn().await;
    let admin = app.client();
    app.sign_up(&admin, "Ann").await;
    let slug = app.create_group(&admin, "Birch").await;
    let resident = app.resident(&admin, &slug, "Bo").await;

    let (status, body) = app.post(&resident, &format!("/api/groups/{slug}/invites"), json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");

    let outsider = app.client();
    app.sign_up(&outsider, "Cy").await;
    let (status, _) = app.post(&outsider, &format!("/api/groups/{slug}/invites"), json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app.post(&outsider, "/api/groups/no-such-group/invites", json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a missing group looks like a foreign one");
    let (status, _) = app.post(&app.client(), &format!("/api/groups/{slug}/invites"), json!({})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn accepting_an_invite_joins_as_resident_once() {
    let app = TestApp::spawn().await;
    let admin = app.client();
    app.sign_up(&admin, "Ann").await;
    let slug = app.create_group(&admin, "Cedar").await;
    let code = app.invite(&admin, &slug).await;

    let bo = app.client();
    app.sign_up(&bo, "Bo").await;
    for _ in 0..2 {
        let (status, body) = app.post(&bo, &format!("/api/invites/{code}/accept"), json!({})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["slug"], slug.as_str());
        assert_eq!(body["name"], "Cedar");
        assert_eq!(body["role"], "resident");
    }
    let schema = app.schema_of(&slug).await;
    let members: i64 =
        sqlx::query_scalar(&format!("SELECT count(*) FROM \"{schema}\".members")).fetch_one(&app.db).await.unwrap();
    assert_eq!(members, 2);

    // The admin opening their own invite stays admin.
    let (_, body) = app.post(&admin, &format!("/api/invites/{code}/accept"), json!({})).await;
    assert_eq!(body["role"], "admin");
}

#[tokio::test]
async fn unknown_and_expired_invites_are_404() {
    let app = TestApp::spawn().await;
    let admin = app.client();
    app.sign_up(&admin, "Ann").await;
    let slug = app.create_group(&admin, "Dogwood").await;
    let code = app.invite(&admin, &slug).await;
    sqlx::query("UPDATE invites SET expires_at = now() - interval '1 minute' WHERE code = $1")
        .bind(&code)
        .execute(&app.db)
        .await
        .unwrap();

    let bo = app.client();
    app.sign_up(&bo, "Bo").await;
    let (status, _) = app.post(&bo, &format!("/api/invites/{code}/accept"), json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app.post(&bo, "/api/invites/not-a-code/accept", json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let long = "f".repeat(5000);
    let (status, _) = app.post(&bo, &format!("/api/invites/{long}/accept"), json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, me) = app.get(&bo, "/api/me").await;
    assert_eq!(me["groups"], json!([]));
}

#[tokio::test]
async fn a_member_of_one_group_gets_404_for_everything_of_another() {
    let app = TestApp::spawn().await;
    let ann = app.client();
    app.sign_up(&ann, "Ann").await;
    let a = app.create_group(&ann, "Group A").await;
    let bo = app.client();
    app.sign_up(&bo, "Bo").await;
    let b = app.create_group(&bo, "Group B").await;

    let (status, _) = app.post(&ann, &format!("/api/groups/{b}/invites"), json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The page-facing server function answers the same.
    let home = ann.post(app.url("/fn/group_header")).form(&[("slug", b.as_str())]).send().await.unwrap();
    assert_eq!(home.status(), StatusCode::NOT_FOUND);
    let own = ann.post(app.url("/fn/directory")).form(&[("slug", a.as_str()), ("limit", "50")]).send().await.unwrap();
    assert_eq!(own.status(), StatusCode::OK);
    let own: serde_json::Value = own.json().await.unwrap();
    assert_eq!(own["members"].as_array().unwrap().len(), 1);

    let page = ann.get(app.url(&format!("/g/{b}"))).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::NOT_FOUND);
    let text = page.text().await.unwrap();
    assert!(!text.contains("Group B") && !text.contains("Bo"), "nothing of B leaks into the 404 page");

    let (_, me) = app.get(&ann, "/api/me").await;
    assert_eq!(me["groups"].as_array().unwrap().len(), 1);
    assert_eq!(me["groups"][0]["slug"], a.as_str());
}

#[tokio::test]
async fn the_board_reads_a_page_at_a_time_and_says_whether_more_follow() {
    let app = TestApp::spawn().await;
    let (ann, slug) = app.admin_of_new_group().await;
    let schema = app.schema_of(&slug).await;
    sqlx::query(&format!(
        "INSERT INTO \"{schema}\".announcements (id, author_id, title, body, created_at)
         SELECT gen_random_uuid(), gen_random_uuid(), 'notice ' || i, '', now() - i * interval '1 minute'
         FROM generate_series(1, 60) i"
    ))
    .execute(&app.db)
    .await
    .unwrap();

    let board =
        |limit: &'static str| ann.post(app.url("/fn/board")).form(&[("slug", slug.as_str()), ("limit", limit)]).send();
    let page: serde_json::Value = board("50").await.unwrap().json().await.unwrap();
    let titles: Vec<_> = page["notices"].as_array().unwrap().iter().map(|a| a["title"].clone()).collect();
    assert_eq!(titles.len(), 50);
    assert!(titles.contains(&json!("notice 1")) && !titles.contains(&json!("notice 51")), "newest first");
    assert_eq!(page["more"], true);
    let all: serde_json::Value = board("100").await.unwrap().json().await.unwrap();
    assert_eq!(all["notices"].as_array().unwrap().len(), 60);
    assert_eq!(all["more"], false);
    // A length that is not a number is the caller's mistake.
    assert_eq!(board("lots").await.unwrap().status(), StatusCode::BAD_REQUEST);
}
