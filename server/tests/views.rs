//! Each screen's view of a group (`backend::views`) on a group with years
//! of history: the right rows in the right order, a page at a time, and
//! read through indexes (no table that grows with the group's history is
//! scanned whole; the directory and the rooms are as large as the building).

mod common;

use app::{
    backend::{groups, views},
    model::{
        views::{MEMBERS_NAMED, RECENT},
        RequestStatus,
    },
};
use chrono::{DateTime, Duration, TimeZone, Utc};
use common::TestApp;
use sqlx::{postgres::PgPoolOptions, PgConnection};
use uuid::Uuid;

/// The monday the seeded bookings start on.
fn monday() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2031, 3, 3, 0, 0, 0).unwrap()
}

/// 5 000 notices (every 100th pinned), 5 000 requests (most resolved, 100
/// open, 100 in progress) with 10 000 comments on 100 of them, 10 rooms
/// with 50 000 hour-long bookings, 2 000 members; then ANALYZE, as
/// autovacuum would.
async fn seed(db: &sqlx::PgPool, schema: &str, admin: Uuid) {
    let s = format!("\"{schema}\"");
    // Triggers off while seeding (the change log is not under test here).
    sqlx::raw_sql(&format!(
        "BEGIN;
         SET LOCAL session_replication_role = replica;
         INSERT INTO {s}.members (user_id, display_name, role)
           SELECT gen_random_uuid(), 'Resident ' || lpad(i::text, 4, '0'), 'resident' FROM generate_series(1, 2000) i;
         INSERT INTO {s}.announcements (id, author_id, title, body, pinned, created_at, updated_at)
           SELECT gen_random_uuid(), '{admin}', 'Notice ' || i, 'text', i % 100 = 0,
                  timestamptz '2026-01-01' + i * interval '1 hour', timestamptz '2026-01-01'
           FROM generate_series(1, 5000) i;
         INSERT INTO {s}.requests (id, author_id, title, description, status, created_at, updated_at)
           SELECT gen_random_uuid(), '{admin}', 'Request ' || i, '',
                  CASE i % 50 WHEN 0 THEN 'open' WHEN 1 THEN 'in_progress' ELSE 'resolved' END,
                  timestamptz '2026-01-01' + i * interval '1 hour', timestamptz '2026-01-01'
           FROM generate_series(1, 5000) i;
         INSERT INTO {s}.request_comments (id, request_id, author_id, body, created_at)
           SELECT gen_random_uuid(), r.id, '{admin}', 'comment', r.created_at + c * interval '1 minute'
           FROM (SELECT id, created_at FROM {s}.requests ORDER BY created_at LIMIT 100) r,
                generate_series(1, 100) c;
         INSERT INTO {s}.resources (id, name)
           SELECT gen_random_uuid(), 'Room ' || i FROM generate_series(1, 10) i;
         INSERT INTO {s}.bookings (id, resource_id, member_id, starts_at, ends_at)
           SELECT gen_random_uuid(), r.id, '{admin}',
                  timestamptz '2031-03-03 00:30:00+00' - interval '2500 hours' + h * interval '1 hour',
                  timestamptz '2031-03-03 00:30:00+00' - interval '2500 hours' + (h + 1) * interval '1 hour'
           FROM {s}.resources r, generate_series(0, 4999) h;
         COMMIT;
         ANALYZE {s}.members, {s}.announcements, {s}.requests, {s}.request_comments, {s}.resources, {s}.bookings;"
    ))
    .execute(db)
    .await
    .unwrap();
}

/// Whole-table scans of the group's tables so far, as Postgres counts them
/// (this session's counts flushed first).
async fn seq_scans(conn: &mut PgConnection, schema: &str) -> i64 {
    sqlx::query("SELECT pg_stat_force_next_flush()").execute(&mut *conn).await.unwrap();
    sqlx::query("SELECT pg_stat_clear_snapshot()").execute(&mut *conn).await.unwrap();
    sqlx::query_scalar(
        "SELECT coalesce(sum(seq_scan), 0)::bigint FROM pg_stat_user_tables WHERE schemaname = $1
         AND relname IN ('announcements', 'requests', 'request_comments', 'bookings')",
    )
    .bind(schema)
    .fetch_one(&mut *conn)
    .await
    .unwrap()
}

/// A server, Ann (her user id), and her new group (slug and schema).
async fn ann_and_her_group() -> (TestApp, Uuid, String, String) {
    let app = TestApp::spawn().await;
    let admin = app.client();
    let user = app.sign_up(&admin, "Ann").await;
    let me: Uuid = user["id"].as_str().unwrap().parse().unwrap();
    let slug = app.create_group(&admin, "Elm").await;
    let schema = app.schema_of(&slug).await;
    (app, me, slug, schema)
}

/// The app's state on `pool` (its one group database too): views read
/// through the member's group database, so through `pool`.
fn on(pool: &sqlx::PgPool) -> app::backend::AppState {
    let options = leptos::config::LeptosOptions::builder().output_name("courtyard").build();
    app::backend::AppState::new(app::backend::Databases::single(pool.clone()), options, Default::default())
}

#[tokio::test]
async fn each_view_reads_one_page_through_an_index() {
    let (app, me, slug, schema) = ann_and_her_group().await;
    seed(&app.db, &schema, me).await;
    // One connection: the views' reads and the counters are one session's.
    let one = PgPoolOptions::new().max_connections(1).connect(&app.database_url).await.unwrap();
    let member = groups::resolve(&on(&one), me, &slug).await.unwrap();
    let scans_before = seq_scans(&mut one.acquire().await.unwrap(), &schema).await;

    let board = views::board(&member, 50).await.unwrap();
    assert_eq!(board.notices.len(), 50);
    assert!(board.more);
    assert!(board.notices[..50].iter().all(|n| n.pinned), "50 pinned notices lead");
    assert!(board.notices.windows(2).all(|w| w[0].created_at > w[1].created_at));
    assert_eq!(board.names.of(me), "Ann");
    let whole = views::board(&member, 100_000).await.unwrap();
    assert_eq!(whole.notices.len(), 1000, "a view reads at most MAX_VIEW_ROWS");

    for status in RequestStatus::ALL {
        let list = views::requests(&member, status, 50).await.unwrap();
        assert_eq!(list.requests.len(), 50);
        assert!(list.more && list.requests.iter().all(|r| r.status == status));
        assert!(list.requests.windows(2).all(|w| w[0].created_at > w[1].created_at));
    }

    let oldest: Uuid = sqlx::query_scalar(&format!("SELECT id FROM \"{schema}\".requests ORDER BY created_at LIMIT 1"))
        .fetch_one(&app.db)
        .await
        .unwrap();
    let thread = views::thread(&member, oldest, 50).await.unwrap();
    assert_eq!((thread.request.id, thread.comments.len(), thread.more), (oldest, 50, true));
    assert!(thread.comments.iter().all(|c| c.request_id == oldest));
    assert!(thread.comments.windows(2).all(|w| w[0].created_at < w[1].created_at));
    assert!(matches!(views::thread(&member, Uuid::new_v4(), 50).await, Err(app::error::AppError::NotFound)));

    // Bookings run hour by hour, each on the half hour: the week holds 7 * 24
    // per room, and the one that started before Monday 00:00 and runs into it.
    let week = views::rooms_between(&member, monday(), monday() + Duration::days(7)).await.unwrap();
    assert_eq!(week.rooms.len(), 10);
    assert!(week.rooms.windows(2).all(|w| w[0].name.to_lowercase() <= w[1].name.to_lowercase()));
    let per_room = week.bookings.iter().filter(|b| b.resource_id == week.rooms[0].id).count();
    assert_eq!(per_room, 7 * 24 + 1);
    assert!(week.bookings.iter().all(|b| b.ends_at > monday() && b.starts_at < monday() + Duration::days(7)));
    assert!(week.bookings.windows(2).all(|w| w[0].starts_at <= w[1].starts_at));

    let directory = views::directory(&member, 50).await.unwrap();
    assert_eq!(directory.members.len(), 50);
    assert!(directory.more);
    let names: Vec<String> = directory.members.iter().map(|m| m.display_name.to_lowercase()).collect();
    assert!(names.windows(2).all(|w| w[0] <= w[1]), "{names:?}");

    let summary = views::summary(&member, monday(), monday() + Duration::days(1)).await.unwrap();
    assert_eq!(summary.notices, board.notices[..RECENT]);
    let open: i64 =
        sqlx::query_scalar(&format!("SELECT count(*) FROM \"{schema}\".requests WHERE status <> 'resolved'"))
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(summary.open_count, open as u64);
    assert_eq!(summary.open_requests.len(), RECENT);
    assert!(summary.open_requests.iter().all(|r| r.status != RequestStatus::Resolved));
    assert!(summary.open_requests.windows(2).all(|w| w[0].created_at >= w[1].created_at));
    assert_eq!(summary.today.len(), 10 * 25, "24 hours and the one running into the day, per room");
    assert_eq!(summary.rooms.0.len(), 10);
    assert_eq!((summary.members.len(), summary.member_count), (MEMBERS_NAMED, 2001));

    let scans_after = seq_scans(&mut one.acquire().await.unwrap(), &schema).await;
    assert_eq!(scans_after, scans_before, "a view scanned a whole table");
}

/// The browser reads each view from its own copy of the group (the rows as
/// the stream sends them, typed and indexed): it must show what the server
/// reads by SQL, row for row, ties and all.
#[tokio::test]
async fn the_browsers_copy_reads_the_same_views_as_the_server() {
    use app::sync::local::{LocalRows, Overlay};
    let (app, me, slug, schema) = ann_and_her_group().await;
    let s = format!("\"{schema}\"");
    // Few distinct times, so that many rows tie and the key decides; names
    // with and without accents, in either case.
    sqlx::raw_sql(&format!(
        "INSERT INTO {s}.members (user_id, display_name, role)
           SELECT gen_random_uuid(), (ARRAY['ann', 'Bob', 'bob', 'Cy', 'dee', 'Émile', 'éa', 'zoë', 'Ωmega'])[1 + i % 9], 'resident'
           FROM generate_series(1, 60) i;
         INSERT INTO {s}.announcements (id, author_id, title, body, pinned, created_at, updated_at)
           SELECT gen_random_uuid(), '{me}', 'Notice ' || i, '', i % 7 = 0,
                  timestamptz '2026-01-01' + (i % 9) * interval '1 hour', timestamptz '2026-01-01'
           FROM generate_series(1, 300) i;
         INSERT INTO {s}.requests (id, author_id, title, description, status, created_at, updated_at)
           SELECT gen_random_uuid(), (SELECT user_id FROM {s}.members ORDER BY user_id LIMIT 1), 'Request ' || i, '',
                  (ARRAY['open', 'in_progress', 'resolved'])[1 + i % 3],
                  timestamptz '2026-01-01' + (i % 11) * interval '1 hour', timestamptz '2026-01-01'
           FROM generate_series(1, 300) i;
         INSERT INTO {s}.request_comments (id, request_id, author_id, body, created_at)
           SELECT gen_random_uuid(), r.id, '{me}', 'comment', r.created_at + (c % 4) * interval '1 minute'
           FROM (SELECT id, created_at FROM {s}.requests ORDER BY id LIMIT 3) r, generate_series(1, 80) c;
         INSERT INTO {s}.resources (id, name)
           SELECT gen_random_uuid(), (ARRAY['laundry', 'Garden', 'garden', 'Hall', 'Étage'])[i] FROM generate_series(1, 5) i;
         INSERT INTO {s}.bookings (id, resource_id, member_id, starts_at, ends_at)
           SELECT gen_random_uuid(), r.id, '{me}',
                  timestamptz '2031-03-03' + h * interval '30 hours',
                  timestamptz '2031-03-03' + h * interval '30 hours' + (1 + abs(h) % 3 * 12) * interval '1 hour'
           FROM {s}.resources r, generate_series(-10, 40) h;"
    ))
    .execute(&app.db)
    .await
    .unwrap();
    let pool = &app.db;
    let member = groups::resolve(&on(pool), me, &slug).await.unwrap();
    let mut rows = LocalRows::default();
    for table in app::model::registry::table_names() {
        *rows.table_mut(table) = app.table_rows(&schema, table).await.into_iter().collect();
    }
    let shown = rows.shown(&Overlay::default());
    assert!(shown.unreadable.is_empty(), "{:?}", shown.unreadable);
    let local = shown.data;

    for limit in [1, 50, 1000] {
        assert_eq!(local.board_view(limit), views::board(&member, limit).await.unwrap(), "board {limit}");
        assert_eq!(local.directory_view(limit), views::directory(&member, limit).await.unwrap());
        for status in RequestStatus::ALL {
            let server = views::requests(&member, status, limit).await.unwrap();
            assert_eq!(local.requests_view(status, limit), server, "{status:?} {limit}");
        }
    }
    let threads: Vec<Uuid> =
        sqlx::query_scalar(&format!("SELECT id FROM {s}.requests ORDER BY id LIMIT 4")).fetch_all(pool).await.unwrap();
    for id in threads {
        let server = views::thread(&member, id, 50).await.unwrap();
        assert_eq!(local.thread_view(id, 50), Some(server));
    }
    assert_eq!(local.thread_view(Uuid::new_v4(), 50), None);
    for (from, to) in [
        (monday(), monday() + Duration::days(7)),
        (monday() - Duration::days(3), monday()),
        (monday() + Duration::hours(7), monday() + Duration::hours(8)),
    ] {
        assert_eq!(local.rooms_view(from, to), views::rooms_between(&member, from, to).await.unwrap());
        assert_eq!(local.summary_view(from, to), views::summary(&member, from, to).await.unwrap());
    }
}
