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
    let (first, second) = (server::connect(&one), server::connect(&two));
    let (first, second) = tokio::join!(first, second);
    first.expect("first server starts");
    second.expect("second server starts");

    let latest = app::backend::migrations::latest_tenant_version();
    for schema in schemas {
        let versions: Vec<i64> =
            sqlx::query_scalar(&format!("SELECT version FROM \"{schema}\".schema_migrations ORDER BY version"))
                .fetch_all(&setup)
                .await
                .unwrap();
        assert_eq!(versions.last(), Some(&latest), "{schema}");
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
    }
}

#[tokio::test]
async fn migrating_again_applies_nothing() {
    let url = common::fresh_database().await;
    let pool = server::connect(&common::config_for(&url, &[])).await.unwrap();
    let admin_pool = pool.clone();
    groups_at_version_zero(&admin_pool).await;
    let first = app::backend::migrations::migrate_groups(&pool).await.unwrap();
    assert!(first >= 50);
    assert_eq!(app::backend::migrations::migrate_groups(&pool).await.unwrap(), 0);
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
    expected.sort();
    assert_eq!(triggers, expected);
}
