//! Every group page rendered by the server for a group with years of
//! history (20 000 notices, 20 000 requests with 40 000 comments, 20 000
//! bookings over 10 rooms, 2 000 members) against the same page of a new
//! group of about 100 rows, in one run on one server: render time (median of 100,
//! after 10 to warm up), HTML bytes, and the bytes of the hydration data the
//! page carries (its inline scripts). `cargo bench -p server --bench pages`.

mod harness;

use harness::{median, Bench};
use serde_json::json;
use std::time::Instant;

const RUNS: usize = 100;

/// Group sizes: members, notices, requests, comments per request, bookings
/// per room (one a day, the last the day after tomorrow; 10 rooms).
type Size = (i64, i64, i64, i64, i64);
/// Years of history: 102 011 rows with the admin.
const LARGE: Size = (2000, 20_000, 20_000, 2, 2000);
/// A new group: 106 rows with the admin.
const SMALL: Size = (5, 30, 30, 1, 3);

/// Fills group `schema` (its admin is `admin`).
async fn seed(bench: &Bench, schema: &str, admin: &str, size: Size) {
    let s = format!("\"{schema}\"");
    let (members, notices, requests, comments_per, bookings_per_room) = size;
    sqlx::raw_sql(&format!(
        "BEGIN;
         SET LOCAL session_replication_role = replica;
         INSERT INTO {s}.members (user_id, display_name, role)
           SELECT gen_random_uuid(), 'Resident ' || i, 'resident' FROM generate_series(1, {members}) i;
         INSERT INTO {s}.announcements (id, author_id, title, body, pinned, created_at, updated_at)
           SELECT gen_random_uuid(), '{admin}', 'Notice ' || i, repeat('text ', 40), i % 500 = 0,
                  now() - i * interval '1 hour', now() - i * interval '1 hour'
           FROM generate_series(1, {notices}) i;
         INSERT INTO {s}.requests (id, author_id, title, description, status, created_at, updated_at)
           SELECT gen_random_uuid(), '{admin}', 'Request ' || i, repeat('text ', 20),
                  CASE i % 3 WHEN 0 THEN 'open' WHEN 1 THEN 'in_progress' ELSE 'resolved' END,
                  now() - i * interval '1 hour', now() - i * interval '1 hour'
           FROM generate_series(1, {requests}) i;
         INSERT INTO {s}.request_comments (id, request_id, author_id, body, created_at)
           SELECT gen_random_uuid(), r.id, '{admin}', 'comment ' || c, r.created_at + c * interval '1 minute'
           FROM {s}.requests r, generate_series(1, {comments_per}) c;
         INSERT INTO {s}.resources (id, name)
           SELECT gen_random_uuid(), 'Room ' || i FROM generate_series(1, 10) i;
         INSERT INTO {s}.bookings (id, resource_id, member_id, starts_at, ends_at)
           SELECT gen_random_uuid(), r.id, '{admin}',
                  date_trunc('day', now()) + (h - {bookings_per_room} + 3) * interval '1 day' + interval '9 hours',
                  date_trunc('day', now()) + (h - {bookings_per_room} + 3) * interval '1 day' + interval '11 hours'
           FROM {s}.resources r, generate_series(0, {bookings_per_room} - 1) h;
         COMMIT;
         ANALYZE {s}.members, {s}.announcements, {s}.requests, {s}.request_comments, {s}.resources, {s}.bookings;"
    ))
    .execute(&bench.db)
    .await
    .unwrap();
}

/// Bytes of the page's inline scripts (the hydration data: the views it
/// rendered, serialized).
fn hydration_bytes(html: &str) -> usize {
    let mut total = 0;
    let mut rest = html;
    while let Some(start) = rest.find("<script") {
        let Some(open_end) = rest[start..].find('>') else { break };
        let body = &rest[start + open_end + 1..];
        let Some(close) = body.find("</script>") else { break };
        total += close;
        rest = &body[close..];
    }
    total
}

/// Median render time (ms), HTML bytes, hydration bytes of one page.
async fn measure(bench: &Bench, path: &str) -> (f64, usize, usize) {
    let get = || async {
        let response = bench.http.get(bench.url(path)).header("authorization", &bench.bearer).send().await.unwrap();
        assert!(response.status().is_success(), "{path}: {}", response.status());
        response.text().await.unwrap()
    };
    for _ in 0..10 {
        get().await;
    }
    let mut times = Vec::with_capacity(RUNS);
    let mut html = String::new();
    for _ in 0..RUNS {
        let started = Instant::now();
        html = get().await;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    (median(&mut times), html.len(), hydration_bytes(&html))
}

#[tokio::main]
async fn main() {
    let bench = Bench::start(&[]).await;
    let admin: String = sqlx::query_scalar(&format!("SELECT user_id::text FROM \"{}\".members LIMIT 1", bench.schema))
        .fetch_one(&bench.db)
        .await
        .unwrap();
    let small_slug = format!("{}-small", bench.slug);
    let created = bench
        .http
        .post(bench.url("/api/groups"))
        .header("authorization", &bench.bearer)
        .json(&json!({"slug": small_slug, "name": "Small"}))
        .send()
        .await
        .unwrap();
    assert!(created.status().is_success());
    let small_schema: String = sqlx::query_scalar("SELECT schema_name FROM groups WHERE slug = $1")
        .bind(&small_slug)
        .fetch_one(&bench.db)
        .await
        .unwrap();
    seed(&bench, &bench.schema, &admin, LARGE).await;
    seed(&bench, &small_schema, &admin, SMALL).await;
    let rows = |schema: &str| {
        let db = bench.db.clone();
        let query = format!(
            "SELECT (SELECT count(*) FROM \"{schema}\".members) + (SELECT count(*) FROM \"{schema}\".announcements)
                  + (SELECT count(*) FROM \"{schema}\".requests) + (SELECT count(*) FROM \"{schema}\".request_comments)
                  + (SELECT count(*) FROM \"{schema}\".resources) + (SELECT count(*) FROM \"{schema}\".bookings)"
        );
        async move { sqlx::query_scalar::<_, i64>(&query).fetch_one(&db).await.unwrap() }
    };
    let (large_rows, small_rows) = (rows(&bench.schema).await, rows(&small_schema).await);
    let request = |schema: &str| {
        let db = bench.db.clone();
        let query = format!("SELECT id::text FROM \"{schema}\".requests ORDER BY created_at DESC LIMIT 1");
        async move { sqlx::query_scalar::<_, String>(&query).fetch_one(&db).await.unwrap() }
    };
    let (large_request, small_request) = (request(&bench.schema).await, request(&small_schema).await);
    println!("group pages rendered by the server: {large_rows} rows against {small_rows} rows");
    println!(
        "{:<14} {:>9} {:>9} {:>6} {:>10} {:>10} {:>6} {:>10} {:>10} {:>6}",
        "page", "large ms", "small ms", "×", "large B", "small B", "×", "large hyd", "small hyd", "×"
    );
    for (page, large_path, small_path) in [
        ("home", String::new(), String::new()),
        ("announcements", "/announcements".into(), "/announcements".into()),
        ("requests", "/requests".into(), "/requests".into()),
        ("request", format!("/requests/{large_request}"), format!("/requests/{small_request}")),
        ("bookings", "/bookings".into(), "/bookings".into()),
        ("members", "/members".into(), "/members".into()),
    ] {
        let large = measure(&bench, &format!("/g/{}{large_path}", bench.slug)).await;
        let small = measure(&bench, &format!("/g/{small_slug}{small_path}")).await;
        println!(
            "{:<14} {:>9.1} {:>9.1} {:>6.2} {:>10} {:>10} {:>6.2} {:>10} {:>10} {:>6.2}",
            page,
            large.0,
            small.0,
            large.0 / small.0,
            large.1,
            small.1,
            large.1 as f64 / small.1 as f64,
            large.2,
            small.2,
            large.2 as f64 / small.2 as f64
        );
    }
    bench.stop().await;
}
