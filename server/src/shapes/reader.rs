//! Reads from a group's tables and change log, inside one REPEATABLE READ
//! transaction per request, so the log's head, the snapshot and the log
//! after it are one consistent view.

use super::{
    change::{message_key, LogChange, Op},
    shape::Shape,
};
use app::{backend::SchemaName, error::AppError};
use serde_json::Value;
use sqlx::{Executor, PgConnection, PgPool, Postgres, Transaction};
use uuid::Uuid;

/// Starts a read-only REPEATABLE READ transaction in which Postgres writes
/// values as the change log does (ISO timestamps in UTC).
pub async fn begin(pool: &PgPool) -> Result<Transaction<'static, Postgres>, AppError> {
    let mut tx = pool.begin().await?;
    tx.execute(
        "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY;
         SET LOCAL timezone = 'UTC';
         SET LOCAL datestyle = 'ISO, YMD';",
    )
    .await?;
    Ok(tx)
}

/// The last log position visible to this transaction: every position up to
/// it is visible, and no other (see docs/sync.md, gap safety).
pub async fn head(conn: &mut PgConnection, schema: &SchemaName) -> Result<i64, AppError> {
    Ok(sqlx::query_scalar(&format!("SELECT position FROM {}.change_head", schema.ident())).fetch_one(conn).await?)
}

/// The log's floor and head in this transaction: it holds what was logged
/// in `(floor, head]` (older entries are removed by the retention job).
pub async fn bounds(conn: &mut PgConnection, schema: &SchemaName) -> Result<(i64, i64), AppError> {
    Ok(sqlx::query_as(&format!(
        "SELECT f.position, h.position FROM {0}.change_floor f, {0}.change_head h",
        schema.ident()
    ))
    .fetch_one(conn)
    .await?)
}

type LogRow = (i64, String, String, String, Value, Option<Value>, Option<i64>);

/// The head and up to `limit` changes after `after` up to it, in one
/// statement (one snapshot, one round trip): what a tail reads on a wake-up.
pub async fn log_to_head(
    db: impl sqlx::PgExecutor<'_>,
    schema: &SchemaName,
    after: i64,
    limit: i64,
) -> Result<(i64, Vec<LogChange>), AppError> {
    type Row =
        (i64, Option<i64>, Option<String>, Option<String>, Option<String>, Option<Value>, Option<Value>, Option<i64>);
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "WITH h AS (SELECT position AS head FROM {0}.change_head)
         SELECT h.head, c.position, c.txid::text, c.op, c.relation, c.value, c.old_value, c.merged_from
         FROM h LEFT JOIN {0}.changes c ON c.position > $1 AND c.position <= h.head
         ORDER BY c.position LIMIT $2",
        schema.ident()
    ))
    .bind(after)
    .bind(limit)
    .fetch_all(db)
    .await?;
    let head = rows.first().map_or(after, |row| row.0);
    let changes = rows
        .into_iter()
        .filter_map(|(_, position, txid, op, relation, value, old, merged_from)| {
            Some((position?, txid?, op?, relation?, value?, old, merged_from))
        })
        .map(log_change)
        .collect::<Result<_, _>>()?;
    Ok((head, changes))
}

/// Up to `limit` logged changes after position `after` (of one table, or all).
pub async fn log_after(
    conn: &mut PgConnection,
    schema: &SchemaName,
    after: i64,
    relation: Option<&str>,
    limit: i64,
) -> Result<Vec<LogChange>, AppError> {
    let rows: Vec<LogRow> = sqlx::query_as(&format!(
        "SELECT position, txid::text, op, relation, value, old_value, merged_from FROM {}.changes
         WHERE position > $1 AND ($2::text IS NULL OR relation = $2)
         ORDER BY position LIMIT $3",
        schema.ident()
    ))
    .bind(after)
    .bind(relation)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.into_iter().map(log_change).collect()
}

fn log_change((position, txid, op, relation, value, old_value, merged_from): LogRow) -> Result<LogChange, AppError> {
    let broken = || {
        tracing::error!(position, "change log row has an unexpected form");
        AppError::Internal
    };
    let object = |v: Value| match v {
        Value::Object(map) => Ok(map),
        _ => Err(broken()),
    };
    Ok(LogChange {
        position,
        txid: txid.parse().map_err(|_| broken())?,
        op: Op::parse(&op).ok_or_else(broken)?,
        relation,
        value: object(value)?,
        old_value: old_value.map(object).transpose()?,
        merged_from,
    })
}

/// Up to `limit` rows of the shape as they were at log position `at`, after
/// primary key `after`, by primary key, each as its finished change message
/// (JSON text built by Postgres: the key, the shape's columns as text, the
/// insert header), ready to copy into an answer. Rows changed since `at` are put back
/// as they were then, from the log: a row's first change after `at` holds
/// its earlier state (none for an insert).
pub async fn snapshot_rows(
    conn: &mut PgConnection,
    schema: &SchemaName,
    shape: &Shape,
    at: i64,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<(Uuid, String)>, AppError> {
    let table = shape.table();
    let touched: Vec<(String, Option<Value>)> = sqlx::query_as(&format!(
        "SELECT DISTINCT ON (key) key,
                CASE op WHEN 'update' THEN old_value WHEN 'delete' THEN value END
         FROM {}.changes WHERE relation = $1 AND position > $2
         ORDER BY key, position",
        schema.ident()
    ))
    .bind(&table.name)
    .bind(at)
    .fetch_all(&mut *conn)
    .await?;

    let qualified = format!("{}.{}", schema.ident(), quote(&table.name));
    let pk = quote(&table.pk);
    let mut binds = Vec::new();
    let filter = shape.where_sql(&mut binds);
    let n = binds.len();
    let source = if touched.is_empty() {
        qualified.clone()
    } else {
        format!(
            "(SELECT t.* FROM {qualified} t WHERE NOT (t.{pk} = ANY(${}::uuid[]))
              UNION ALL
              SELECT r.* FROM jsonb_array_elements(${}::jsonb) p
                   CROSS JOIN LATERAL jsonb_populate_record(NULL::{qualified}, p) r)",
            n + 5,
            n + 6
        )
    };
    // The cursor is always bound (NULL from the start) so the numbering holds.
    let cursor = match after {
        Some(_) => format!("AND t.{pk} > ${}::uuid", n + 1),
        None => format!("AND ${}::uuid IS NULL", n + 1),
    };
    // Electric's key: the prefix, then the primary key with `"` and `/` doubled.
    let sql = format!(
        "SELECT s.{pk}, json_build_object(
             'key', ${prefix} || replace(replace(s.{pk}::text, '\"', '\"\"'), '/', '//') || '\"',
             'value', public.hstore_to_json(public.slice(public.hstore(s::{qualified}), ${columns}::text[])),
             'headers', json_build_object('operation', 'insert'))::text
         FROM (SELECT t.* FROM {source} t WHERE ({filter}) {cursor} ORDER BY t.{pk} LIMIT ${limit}) s
         ORDER BY s.{pk}",
        limit = n + 2,
        prefix = n + 3,
        columns = n + 4,
    );
    let key_prefix = message_key(schema.as_str(), &table.name, None).trim_end_matches('_').to_owned() + "\"";
    let mut query = sqlx::query_as::<_, (Uuid, String)>(&sql);
    for bind in &binds {
        query = query.bind(bind);
    }
    query = query.bind(after).bind(limit).bind(key_prefix).bind(shape.columns());
    if !touched.is_empty() {
        let keys: Vec<Uuid> = touched.iter().filter_map(|(key, _)| key.parse().ok()).collect();
        let priors: Vec<Value> = touched.into_iter().filter_map(|(_, prior)| prior).collect();
        query = query.bind(keys).bind(Value::Array(priors));
    }
    Ok(query.fetch_all(conn).await?)
}

fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}
