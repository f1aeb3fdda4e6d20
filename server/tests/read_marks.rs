//! Read marks: how far each member has seen a notice or a request, moving
//! only forward, private to the member in every shape, gone with what they
//! mark and with the member.

mod common;

use chrono::{DateTime, Duration, Utc};
use common::{shape_client::ShapeClient, TestApp};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

async fn apply(app: &TestApp, client: &Client, slug: &str, name: &str, args: Value) {
    let (status, body) = app.mutate(client, slug, json!([{"id": Uuid::new_v4(), "name": name, "args": args}])).await;
    assert_eq!((status, &body["results"][0]["status"]), (StatusCode::OK, &json!("applied")), "{body}");
}

/// The member's mark on `subject`, as the group's table holds it.
async fn seen(app: &TestApp, schema: &str, member: &str, subject: Uuid) -> Option<DateTime<Utc>> {
    sqlx::query_scalar(&format!(
        "SELECT seen_at FROM \"{schema}\".read_marks WHERE member_id = $1::uuid AND subject_id = $2"
    ))
    .bind(member)
    .bind(subject)
    .fetch_optional(&app.db)
    .await
    .unwrap()
}

#[tokio::test]
async fn marks_move_forward_stay_private_and_go_with_their_subject_and_member() {
    let app = TestApp::spawn().await;
    let (ann, slug) = app.admin_of_new_group().await;
    let schema = app.schema_of(&slug).await;
    let bob = app.resident(&ann, &slug, "Bob").await;
    let bob_id = app.get(&bob, "/api/me").await.1["user"]["id"].as_str().unwrap().to_owned();
    let (notice, request) = (Uuid::new_v4(), Uuid::new_v4());
    apply(&app, &ann, &slug, "announcement.create", json!({"id": notice, "title": "Bins", "body": "Tuesday"})).await;
    apply(&app, &ann, &slug, "request.create", json!({"id": request, "title": "Tap", "description": "Drips"})).await;

    let mark = |subject: Uuid, at: DateTime<Utc>| json!({"subject_id": subject, "seen_at": at.to_rfc3339()});
    let earlier = Utc::now() - Duration::minutes(5);
    apply(&app, &bob, &slug, "read.mark", mark(notice, earlier)).await;
    let first = seen(&app, &schema, &bob_id, notice).await.unwrap();
    assert!((first - earlier).num_milliseconds().abs() < 1, "{first} {earlier}");
    // Never back, never past the change it records.
    apply(&app, &bob, &slug, "read.mark", mark(notice, earlier - Duration::hours(1))).await;
    assert_eq!(seen(&app, &schema, &bob_id, notice).await, Some(first));
    apply(&app, &bob, &slug, "read.mark", mark(notice, Utc::now() + Duration::days(30))).await;
    let changed: DateTime<Utc> =
        sqlx::query_scalar(&format!("SELECT updated_at FROM \"{schema}\".announcements WHERE id = $1"))
            .bind(notice)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(seen(&app, &schema, &bob_id, notice).await, Some(changed));
    apply(&app, &bob, &slug, "read.mark", mark(request, Utc::now())).await;
    // A subject that is gone (or never was) is marked by nothing.
    apply(&app, &bob, &slug, "read.mark", mark(Uuid::new_v4(), Utc::now())).await;
    // (Ann's request is seen by Ann: opening it is seeing it.)
    let marks = app.table_rows(&schema, "read_marks").await;
    assert_eq!(marks.values().filter(|m| m["member_id"] == json!(bob_id)).count(), 2, "{marks:?}");
    assert_eq!(marks.len(), 3, "{marks:?}");
    // Bad input is a rejection with a reason.
    for args in [json!({"subject_id": notice}), json!({"subject_id": notice, "seen_at": "1800-01-01T00:00:00Z"})] {
        let (status, body) =
            app.mutate(&bob, &slug, json!([{"id": Uuid::new_v4(), "name": "read.mark", "args": args}])).await;
        assert_eq!((status, &body["results"][0]["status"]), (StatusCode::OK, &json!("rejected")), "{body}");
    }

    // Each member's shape holds their own marks only, whatever it asks.
    for asked in [vec![], vec![("where", format!("member_id = '{bob_id}' OR member_id <> '{bob_id}'"))]] {
        let extra: Vec<(&str, &str)> = asked.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let mut anns = ShapeClient::new(&ann, &app.url(""), &slug, "read_marks", &extra);
        anns.sync().await;
        let rows: Vec<_> = anns.rows.values().collect();
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert_eq!(rows[0]["subject_id"], json!(request), "Ann's own mark only");
    }
    let mut bobs = ShapeClient::new(&bob, &app.url(""), &slug, "read_marks", &[]);
    bobs.sync().await;
    assert_eq!(bobs.rows.len(), 2);

    // Deleting the notice deletes its marks; leaving deletes the member's.
    apply(&app, &ann, &slug, "announcement.delete", json!({"id": notice})).await;
    assert_eq!(seen(&app, &schema, &bob_id, notice).await, None);
    assert_eq!(app.post(&bob, &format!("/api/groups/{slug}/leave"), json!({})).await.0, StatusCode::NO_CONTENT);
    assert_eq!(app.table_rows(&schema, "read_marks").await.len(), 1, "Ann's stays");
    assert_eq!(app.table_rows(&schema, "requests").await.len(), 1, "what others wrote stays");
}
