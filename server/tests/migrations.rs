//! Start-up migrations of group schemas.

mod common;

use sqlx::{postgres::PgPoolOptions, PgPool};

/// 50 groups whose schemas were made before any tenant migration existed.
async fn groups_at_version_zero(pool: &PgPool) -> Vec<String> {
    let mut schemas = Vec::new();
    for i in 0..50 {
        let id = uuid::Uuid::new_v4();
        let schema = format!("g_{}", id.simple());
        sqlx::query("INSERT INTO groups (id, slug, name, schema_name) VALUES ($1, $2, $3, $4)")
            .bind(id)
            .bind(format!("group-{i:02}"))
            .bind(format!("Group {i}"))
            .bind(&schema)
            .execute(pool)
            .await
            .unwrap();
        sqlx::raw_sql(&format!(
            "CREATE SCHEMA \"{schema}\"; CREATE TABLE \"{schema}\".schema_migrations \
             (version bigint PRIMARY KEY, description text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
        ))
        .execute(pool)
        .await
        .unwrap();
        schemas.push(schema);
    }
    schemas
}

#[tokio::test]
async fn two_concurrent_startups_migrate_50_groups_exactly_once() {
    let url = common::fresh_database().await;
    let setup = PgPoolOptions::new().max_connections(2).connect(&url).await.unwrap();
    app::backend::migrations::run_global(&setup).await.unwrap();
    let schemas = groups_at_version_zero(&setup).await;

    let (one, two) = (common::config_for(&url, &[]), common::config_for(&url, &[]));
    let (first, second) = tokio::join!(server::connect(&one), server::connect(&two));
    let (first, second) = (first.expect("first server starts"), second.expect("second server starts"));
    let (first, second) = tokio::join!(
        app::backend::migrations::migrate_groups(&first, 4),
        app::backend::migrations::migrate_groups(&second, 4)
    );
    assert_eq!(first.expect("the first server migrates").failed, 0);
    assert_eq!(second.expect("the second server migrates").failed, 0);

    let latest = app::backend::migrations::latest_tenant_version();
    for schema in schemas {
        let versions: Vec<i64> =
            sqlx::query_scalar(&format!("SELECT version FROM \"{schema}\".schema_migrations ORDER BY version"))
                .fetch_all(&setup)
                .await
                .unwrap();
        assert_eq!(versions.len() as i64, latest, "{schema}: every migration");
        let mut unique = versions.clone();
        unique.dedup();
        assert_eq!(unique, versions, "{schema}: each version once");
        let members: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'members')",
        )
        .bind(&schema)
        .fetch_one(&setup)
        .await
        .unwrap();
        assert!(members, "{schema} has its members table");
        let recorded: i64 = sqlx::query_scalar("SELECT tenant_version FROM groups WHERE schema_name = $1")
            .bind(&schema)
            .fetch_one(&setup)
            .await
            .unwrap();
        assert_eq!(recorded, latest, "{schema}: the registry records its version");
    }
}

#[tokio::test]
async fn migrating_again_applies_nothing() {
    let url = common::fresh_database().await;
    let pool = server::connect(&common::config_for(&url, &[])).await.unwrap();
    groups_at_version_zero(&pool.registry).await;
    let first = app::backend::migrations::migrate_groups(&pool, 4).await.unwrap();
    assert!(first.applied >= 50 && first.failed == 0, "{first:?}");
    let again = app::backend::migrations::migrate_groups(&pool, 4).await.unwrap();
    assert_eq!(again, app::backend::migrations::Migrated::default());
}

/// The first group's admin's id.
async fn admin_id(app: &common::TestApp, slug: &str) -> uuid::Uuid {
    sqlx::query_scalar("SELECT m.user_id FROM memberships m JOIN groups g ON g.id = m.group_id WHERE g.slug = $1")
        .bind(slug)
        .fetch_one(&app.db)
        .await
        .unwrap()
}

/// A group made at version zero (its schema without any tenant migration)
/// after the server started, with `user` as its admin in the registry: its
/// slug and schema.
async fn group_behind(app: &common::TestApp, user: uuid::Uuid) -> (String, String) {
    let id = uuid::Uuid::new_v4();
    let behind = format!("behind-{}", &id.simple().to_string()[..12]);
    let schema = format!("g_{}", id.simple());
    sqlx::query("INSERT INTO groups (id, slug, name, schema_name) VALUES ($1, $2, 'Behind', $3)")
        .bind(id)
        .bind(&behind)
        .bind(&schema)
        .execute(&app.db)
        .await
        .unwrap();
    sqlx::raw_sql(&format!(
        "CREATE SCHEMA \"{schema}\"; CREATE TABLE \"{schema}\".schema_migrations \
         (version bigint PRIMARY KEY, description text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
    ))
    .execute(&app.db)
    .await
    .unwrap();
    sqlx::query("INSERT INTO memberships (user_id, group_id, role) VALUES ($1, $2, 'admin')")
        .bind(user)
        .bind(id)
        .execute(&app.db)
        .await
        .unwrap();
    (behind, schema)
}

/// A group start-up has not migrated yet (here: one made at version zero
/// after the server started, with a member) is brought up to date by the
/// first request for it, before that request reads it; requests at once
/// share the one migration.
#[tokio::test]
async fn a_group_behind_is_migrated_when_first_asked_for() {
    let app = common::TestApp::spawn().await;
    let (admin, slug) = app.admin_of_new_group().await;
    let (behind, schema) = group_behind(&app, admin_id(&app, &slug).await).await;

    let path = format!("/g/{behind}/v1/shape?table=announcements&offset=-1");
    let (first, second) = tokio::join!(app.get(&admin, &path), app.get(&admin, &path));
    assert_eq!((first.0, second.0), (reqwest::StatusCode::OK, reqwest::StatusCode::OK), "{first:?} {second:?}");
    let latest = app::backend::migrations::latest_tenant_version();
    let versions: Vec<i64> =
        sqlx::query_scalar(&format!("SELECT version FROM \"{schema}\".schema_migrations ORDER BY version"))
            .fetch_all(&app.db)
            .await
            .unwrap();
    assert_eq!(versions.len() as i64, latest, "every migration");
    let recorded: i64 = sqlx::query_scalar("SELECT tenant_version FROM groups WHERE schema_name = $1")
        .bind(&schema)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(recorded, latest);
}

/// Accepting an invite to a group start-up has not migrated yet migrates
/// it first: the join writes the group's directory, which the migrations
/// make.
#[tokio::test]
async fn an_invite_to_a_group_behind_is_accepted_after_its_migration() {
    let app = common::TestApp::spawn().await;
    let (_, slug) = app.admin_of_new_group().await;
    let user = admin_id(&app, &slug).await;
    let (behind, schema) = group_behind(&app, user).await;
    let code = uuid::Uuid::new_v4().simple().to_string();
    sqlx::query(
        "INSERT INTO invites (code, group_id, created_by, expires_at)
         SELECT $1, id, $2, now() + interval '1 day' FROM groups WHERE slug = $3",
    )
    .bind(&code)
    .bind(user)
    .bind(&behind)
    .execute(&app.db)
    .await
    .unwrap();

    let bob = app.client();
    app.sign_up(&bob, "Bob").await;
    let (status, body) = app.post(&bob, &format!("/api/invites/{code}/accept"), serde_json::json!({})).await;
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");
    assert_eq!(body["slug"], behind.as_str());
    let listed: Vec<String> =
        sqlx::query_scalar(&format!("SELECT display_name FROM \"{schema}\".members")).fetch_all(&app.db).await.unwrap();
    assert_eq!(listed, ["Bob"]);
}

/// The tenant migrations make exactly the tables the registry declares:
/// each column (name, type, nullability, in order), its primary key, and
/// both triggers every synced table needs (the capture trigger keyed by
/// the primary key, and the lock-order trigger); no other table is captured.
#[tokio::test]
async fn the_migrations_match_the_table_registry() {
    let app = common::TestApp::spawn().await;
    let (_admin, slug) = app.admin_of_new_group().await;
    let schema = app.schema_of(&slug).await;
    for table in app::model::registry::tables() {
        let columns: Vec<(String, String, bool)> = sqlx::query_as(
            "SELECT column_name::text, udt_name::text, is_nullable = 'YES' FROM information_schema.columns
             WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position",
        )
        .bind(&schema)
        .bind(table.name)
        .fetch_all(&app.db)
        .await
        .unwrap();
        let declared: Vec<(String, String, bool)> =
            table.columns.iter().map(|c| (c.name.to_owned(), c.ty.pg_name().to_owned(), c.nullable)).collect();
        assert_eq!(columns, declared, "the columns of {}", table.name);
        let pk: Vec<String> = sqlx::query_scalar(
            "SELECT a.attname::text FROM pg_index i
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
             WHERE i.indrelid = format('%I.%I', $1::text, $2::text)::regclass AND i.indisprimary",
        )
        .bind(&schema)
        .bind(table.name)
        .fetch_all(&app.db)
        .await
        .unwrap();
        assert_eq!(pk, [table.pk], "the primary key of {}", table.name);
    }
    let triggers: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT c.relname::text, t.tgname::text, split_part(encode(t.tgargs, 'escape'), '\\000', 1)
         FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = $1 AND NOT t.tgisinternal ORDER BY 1, 2",
    )
    .bind(&schema)
    .fetch_all(&app.db)
    .await
    .unwrap();
    let mut expected: Vec<(String, String, String)> = app::model::registry::tables()
        .iter()
        .flat_map(|t| {
            [
                (t.name.to_owned(), "capture_delete".to_owned(), t.pk.to_owned()),
                (t.name.to_owned(), "capture_insert".to_owned(), t.pk.to_owned()),
                (t.name.to_owned(), "capture_update".to_owned(), t.pk.to_owned()),
                (t.name.to_owned(), "lock_change_head".to_owned(), String::new()),
            ]
        })
        .collect();
    // Besides: removing files releases their stored bytes (tenant migration 0012).
    expected.push(("files".to_owned(), "release_blobs".to_owned(), String::new()));
    expected.sort();
    assert_eq!(triggers, expected);
}

/// `server admin migrate` brings every group up to date and exits;
/// `server admin groups` then lists them at the latest version.
#[tokio::test]
async fn the_admin_commands_migrate_and_list_the_groups() {
    let url = common::fresh_database().await;
    let setup = PgPoolOptions::new().max_connections(2).connect(&url).await.unwrap();
    app::backend::migrations::run_global(&setup).await.unwrap();
    let schemas = groups_at_version_zero(&setup).await;
    let admin = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_server"))
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
            .env("DATABASE_URL", &url)
            .env("RUST_LOG", "warn")
            .arg("admin")
            .args(args)
            .output()
            .expect("the server binary runs")
    };

    let migrate = admin(&["migrate"]);
    assert!(migrate.status.success(), "{}", String::from_utf8_lossy(&migrate.stderr));
    let said = String::from_utf8_lossy(&migrate.stdout);
    let applied: usize = said.split_whitespace().next().unwrap().parse().unwrap();
    assert!(applied >= schemas.len(), "{said}");

    let latest = app::backend::migrations::latest_tenant_version();
    let listed = admin(&["groups", "--json"]);
    assert!(listed.status.success());
    let lines: Vec<serde_json::Value> =
        String::from_utf8_lossy(&listed.stdout).lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    assert_eq!(lines.len(), schemas.len());
    for line in &lines {
        assert_eq!(line["schema_version"], latest, "{line}");
        assert_eq!(line["database"], "main");
        assert_eq!(line["members"], 0);
        assert!(line["log_bytes"].as_i64().unwrap() > 0, "{line}");
    }
    assert_eq!(lines[0]["slug"], "group-00");
    let table = admin(&["groups"]);
    assert!(String::from_utf8_lossy(&table.stdout).trim_end().ends_with("50 groups"));

    let again = admin(&["migrate"]);
    assert!(String::from_utf8_lossy(&again.stdout).starts_with("0 group migrations applied"));
    assert!(!admin(&["no-such-task"]).status.success());
}
