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
