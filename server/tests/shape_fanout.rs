//! The fan-out: however many requests wait on a group, one change costs the
//! server one read of the change log, and wakes them all.

mod common;

use app::backend::{groups::Group, Databases, SchemaName};
use common::TestApp;
use server::shapes::hub::Hub;
use std::time::Duration;

#[tokio::test]
async fn one_change_is_read_once_however_many_follow() {
    let app = TestApp::spawn().await;
    let (_, slug) = app.admin_of_new_group().await;
    let schema = SchemaName::parse(&app.schema_of(&slug).await).unwrap();
    let pool = sqlx::postgres::PgPoolOptions::new().max_connections(3).connect(&app.database_url).await.unwrap();
    let databases = Databases::single(pool);
    let hub = Hub::start(&databases, usize::MAX);
    let group = Group {
        id: uuid::Uuid::nil(),
        slug: slug.clone(),
        name: "Elm".into(),
        schema: schema.clone(),
        db: databases.all()[0].clone(),
        closed_at: None,
        residents_open_polls: false,
    };

    let followers: Vec<_> = (0..500).map(|_| hub.follow(&group)).collect();
    let tail = followers[0].0.clone();
    let loaded = async {
        while !tail.state().loaded {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), loaded).await.expect("the tail loads");
    let reads_before = hub.log_reads();
    let head_before = tail.state().head;

    sqlx::query(&format!(
        "INSERT INTO {}.announcements (id, author_id, title, body) VALUES (gen_random_uuid(), gen_random_uuid(), 't', 'b')",
        schema.ident()
    ))
    .execute(&app.db)
    .await
    .unwrap();
    let woken = futures::future::join_all(followers.into_iter().map(|(tail, mut updates)| async move {
        tokio::time::timeout(Duration::from_secs(10), async {
            while tail.state().head == head_before {
                updates.changed().await.unwrap();
            }
        })
        .await
        .is_ok()
    }))
    .await;
    assert!(woken.iter().all(|w| *w), "every follower saw the change");
    let reads = hub.log_reads() - reads_before;
    assert!(reads <= 2, "{reads} log reads for one change and 500 followers");
    assert_eq!(tail.state().changes.back().unwrap().relation, "announcements");
}
