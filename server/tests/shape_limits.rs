//! What one client, or many groups, can make the sync server hold or read:
//! the in-memory tails stay within their byte budget however many groups
//! write large rows, and an old or forged offset reads a bounded part of a
//! long change log (by its index, or a 409 past the snapshot lag).

mod common;

use common::TestApp;
use reqwest::StatusCode;
use std::time::Duration;
use uuid::Uuid;

const BUDGET: usize = 1_000_000;

/// Follows the group (a waiting wake, so its tail is kept), then writes 40
/// notices of 10 KB to it in one transaction; returns the head before them.
async fn write_while_followed(app: &TestApp, client: &reqwest::Client, slug: &str, schema: &str) -> i64 {
    let (_, woken) = app.get(client, &format!("/g/{slug}/v1/wake?after=1000000")).await;
    let head = woken["head"].as_i64().unwrap();
    let waiting = client.get(app.url(&format!("/g/{slug}/v1/wake?after={head}"))).send();
    let insert = format!(
        "INSERT INTO \"{schema}\".announcements (id, author_id, title, body)
         SELECT gen_random_uuid(), gen_random_uuid(), 'big ' || i, repeat('x', 10000) FROM generate_series(1, 40) i"
    );
    let (answer, written) = tokio::join!(waiting, sqlx::query(&insert).execute(&app.db));
    written.unwrap();
    assert_eq!(answer.unwrap().status(), StatusCode::OK);
    head
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tails_stay_within_their_byte_budget_the_least_recently_followed_going_first() {
    let budget = BUDGET.to_string();
    let app = TestApp::spawn_with(&[
        ("COURTYARD_SYNC_TAIL_BUDGET_BYTES", budget.as_str()),
        ("COURTYARD_SYNC_LONG_POLL_TIMEOUT_SECS", "20"),
    ])
    .await;
    let ann = app.client();
    app.sign_up(&ann, "Ann").await;
    let mut groups = Vec::new();
    for i in 0..12 {
        let slug = app.create_group(&ann, &format!("Tall {i}")).await;
        groups.push((slug.clone(), app.schema_of(&slug).await));
    }
    // Each group followed (a waiting wake), then 40 rows of ~10 KB written to it.
    for (slug, schema) in &groups {
        write_while_followed(&app, &ann, slug, schema).await;
        // Its tail has read the rows (12 groups × 400 KB: far over the budget).
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (held, tails) = app.shapes.hub().tail_memory();
    assert!(tails >= 2, "tails are kept ({tails})");
    assert!(held <= BUDGET, "tails hold {held} bytes, over the budget of {BUDGET}");
    assert!(held > BUDGET / 4, "the budget is used, not just emptied ({held})");

    // Clients behind an emptied tail still get every row, from the database.
    let (first, _) = &groups[0];
    let start = ann.get(app.url(&format!("/g/{first}/v1/shape?table=announcements&offset=-1&columns=id"))).send().await;
    let start = start.unwrap();
    let handle = start.headers()["electric-handle"].to_str().unwrap().to_owned();
    let live = format!("/g/{first}/v1/shape?table=announcements&offset=0_0&handle={handle}&live=true&columns=id");
    let (status, body) = app.get(&ann, &live).await;
    assert_eq!(status, StatusCode::OK);
    let inserts = body.as_array().unwrap().iter().filter(|m| m["headers"]["operation"] == "insert").count();
    assert_eq!(inserts, 40, "{body}");
}

/// Rows of the group's `changes` Postgres has read (sequentially and by
/// index), once every backend has flushed its statistics (they do within
/// about a second of going idle): the count, when it held still for 1.5 s.
async fn rows_read(app: &TestApp, schema: &str) -> i64 {
    let (mut last, mut still) = (-1, 0);
    for _ in 0..60 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        sqlx::query("SELECT pg_stat_clear_snapshot()").execute(&app.db).await.unwrap();
        let read: i64 = sqlx::query_scalar(
            "SELECT coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0) FROM pg_stat_user_tables
             WHERE schemaname = $1 AND relname = 'changes'",
        )
        .bind(schema)
        .fetch_one(&app.db)
        .await
        .unwrap();
        still = if read == last { still + 1 } else { 0 };
        if still == 3 {
            return read;
        }
        last = read;
    }
    panic!("the statistics of {schema}.changes never held still");
}

#[tokio::test]
async fn an_old_or_forged_offset_reads_a_bounded_part_of_a_long_log() {
    let app = TestApp::spawn().await;
    let (ann, slug) = app.admin_of_new_group().await;
    let schema = app.schema_of(&slug).await;
    // A room, then 200 000 logged changes of another table after it, in
    // transactions of three.
    let room = Uuid::new_v4();
    let add =
        serde_json::json!([{"id": Uuid::new_v4(), "name": "resource.create", "args": {"id": room, "name": "Hall"}}]);
    assert_eq!(app.mutate(&ann, &slug, add).await.0, StatusCode::OK);
    sqlx::raw_sql(&format!(
        "INSERT INTO \"{schema}\".changes (position, txid, op, relation, key, value)
         SELECT h.position + i, ((i - 1) / 3)::text::xid8, 'insert', 'requests', gen_random_uuid()::text, '{{}}'::jsonb
         FROM \"{schema}\".change_head h, generate_series(1, 200000) i;
         UPDATE \"{schema}\".change_head SET position = position + 200000;
         ANALYZE \"{schema}\".changes;"
    ))
    .execute(&app.db)
    .await
    .unwrap();
    let head: i64 =
        sqlx::query_scalar(&format!("SELECT position FROM \"{schema}\".change_head")).fetch_one(&app.db).await.unwrap();
    let shape = format!("/g/{slug}/v1/shape?table=resources");
    let start = ann.get(app.url(&format!("{shape}&offset=-1"))).send().await.unwrap();
    let handle = start.headers()["electric-handle"].to_str().unwrap().to_owned();
    let get = |offset: String| {
        let url = app.url(&format!("{shape}&offset={offset}&handle={handle}"));
        let client = ann.clone();
        async move { common::read(client.get(url).send().await.unwrap()).await }
    };
    // The measure sees reads: a count of the log is 200 000 of them.
    let before = rows_read(&app, &schema).await;
    let counted: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM \"{schema}\".changes WHERE op = 'insert'"))
        .fetch_one(&app.db)
        .await
        .unwrap();
    let base = rows_read(&app, &schema).await;
    assert!(base - before >= counted && counted > 200_000, "{before} → {base}");

    // A snapshot offset from the start of the log: refused, nothing scanned.
    let (status, _) = get(format!("1_{}", u128::from_be_bytes(*room.as_bytes()) / 2)).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let forged = rows_read(&app, &schema).await - base;
    // A log offset from the start: this table's changes only, by the index.
    let (status, body) = get("1_0".into()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let old = rows_read(&app, &schema).await - base - forged;
    // A snapshot 5 000 positions behind the head: at most what it is behind.
    let (status, _) = get(format!("{}_1", head - 5_000)).await;
    assert_eq!(status, StatusCode::OK);
    let lagging = rows_read(&app, &schema).await - base - forged - old;
    // A shape matching none of the 200 000 changes of its table, from the
    // start of the log: one answer reads at most 10 pages, then says where
    // it got to, and the next goes on from there.
    let nothing = "where=id%20%3D%20%2700000000-0000-0000-0000-00000000dead%27";
    let shape = format!("/g/{slug}/v1/shape?table=requests&{nothing}");
    let start = ann.get(app.url(&format!("{shape}&offset=-1"))).send().await.unwrap();
    let handle = start.headers()["electric-handle"].to_str().unwrap().to_owned();
    let before = rows_read(&app, &schema).await;
    let page = ann.get(app.url(&format!("{shape}&offset=1_0&handle={handle}"))).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.headers().get("electric-up-to-date").is_none(), "not there yet");
    let reached: i64 = page.headers()["electric-offset"].to_str().unwrap().trim_end_matches("_0").parse().unwrap();
    assert!(reached > 1 && reached < head, "{reached}");
    let first: i64 =
        sqlx::query_scalar(&format!("SELECT min(position) FROM \"{schema}\".changes WHERE relation = 'requests'"))
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!((reached - first + 1) % 3, 0, "it ends at a transaction's end ({first}, {reached})");
    let unmatched = rows_read(&app, &schema).await - before;
    for (what, read, bound) in [
        ("forged snapshot", forged, 100),
        ("old log offset", old, 1_000),
        ("lagging snapshot", lagging, 6_000),
        ("a where matching nothing", unmatched, 10_500),
    ] {
        assert!(read <= bound, "{what}: {read} rows of a {head}-entry log read (bound {bound})");
    }
    let live = ann.get(app.url(&format!("{shape}&offset={reached}_0&handle={handle}&live=true"))).send().await.unwrap();
    assert_eq!(live.status(), StatusCode::OK, "a live request goes on from there too");
    let moved: i64 = live.headers()["electric-offset"].to_str().unwrap().trim_end_matches("_0").parse().unwrap();
    assert!(moved > reached, "{moved} after {reached}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn answers_kept_for_sharing_count_against_the_budget() {
    let budget = BUDGET.to_string();
    let app = TestApp::spawn_with(&[("COURTYARD_SYNC_TAIL_BUDGET_BYTES", budget.as_str())]).await;
    let (ann, slug) = app.admin_of_new_group().await;
    let schema = app.schema_of(&slug).await;
    let head = write_while_followed(&app, &ann, &slug, &schema).await;
    // 30 shapes, each answered from the tail with all 400 KB: 12 MB if kept.
    for i in 0..30 {
        let shape = format!("/g/{slug}/v1/shape?table=announcements&where=title%20%3C%3E%20$1&params[1]=r{i}");
        let start = ann.get(app.url(&format!("{shape}&offset=-1"))).send().await.unwrap();
        let handle = start.headers()["electric-handle"].to_str().unwrap().to_owned();
        let live =
            ann.get(app.url(&format!("{shape}&offset={head}_0&handle={handle}&live=true"))).send().await.unwrap();
        assert_eq!(live.status(), StatusCode::OK);
        let (held, _) = app.shapes.hub().tail_memory();
        assert!(held <= BUDGET, "after {i}: {held} bytes held, over the budget of {BUDGET}");
    }
}
