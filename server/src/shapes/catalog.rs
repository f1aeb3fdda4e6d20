//! What a group's synced tables (the registry's) look like: columns,
//! Postgres types, the primary key, read from the system catalogue and cached per group schema
//! until that schema is migrated again.

use super::where_clause::ColumnType;
use app::{backend::SchemaName, error::AppError, model::registry};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use sqlx::PgExecutor;
use std::collections::HashMap;

#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    /// Postgres type name (`uuid`, `text`, `bool`, `timestamptz`, ...); the
    /// element type for arrays.
    pub type_name: String,
    pub dims: i32,
    pub not_null: bool,
    pub pk_index: Option<i32>,
}

#[derive(Debug)]
pub struct Table {
    pub name: String,
    pub columns: Vec<Column>,
    /// The single-column primary key (every synced table has a uuid one).
    pub pk: String,
    pub types: HashMap<String, ColumnType>,
}

impl Table {
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The `electric-schema` header of the given columns.
    pub fn electric_schema(&self, columns: &[String]) -> String {
        let mut out = Map::new();
        for column in self.columns.iter().filter(|c| columns.contains(&c.name)) {
            let mut spec = json!({ "type": column.type_name });
            if let Some(index) = column.pk_index {
                spec["pk_index"] = json!(index);
            }
            if column.not_null {
                spec["not_null"] = json!(true);
            }
            if column.dims > 0 {
                spec["dims"] = json!(column.dims);
            }
            out.insert(column.name.clone(), spec);
        }
        Value::Object(out).to_string()
    }
}

#[derive(Debug)]
pub struct Catalog {
    /// The group schema's latest applied tenant migration.
    pub version: i64,
    pub tables: HashMap<String, Table>,
    /// A digest of everything above: part of every shape handle, so a
    /// migrated schema gives new handles.
    pub digest: [u8; 32],
}

type ColumnRow = (String, String, String, bool, i32, Option<i32>);

impl Catalog {
    pub async fn load(db: impl PgExecutor<'_> + Copy, schema: &SchemaName) -> Result<Self, AppError> {
        let version: Option<i64> =
            sqlx::query_scalar(&format!("SELECT max(version) FROM {}.schema_migrations", schema.ident()))
                .fetch_one(db)
                .await?;
        let rows: Vec<ColumnRow> = sqlx::query_as(
            "SELECT c.relname::text, a.attname::text,
                    CASE WHEN t.typcategory = 'A' THEN e.typname ELSE t.typname END::text,
                    a.attnotnull,
                    CASE WHEN t.typcategory = 'A' THEN greatest(a.attndims, 1) ELSE 0 END,
                    -- indkey is an int2vector, whose subscripts start at 0.
                    (SELECT array_position(i.indkey::int2[], a.attnum) - array_lower(i.indkey::int2[], 1)
                       FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary)
             FROM pg_class c
             JOIN pg_namespace n ON n.oid = c.relnamespace
             JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
             JOIN pg_type t ON t.oid = a.atttypid
             LEFT JOIN pg_type e ON e.oid = t.typelem
             WHERE n.nspname = $1 AND c.relkind = 'r' AND c.relname = ANY($2)
             ORDER BY c.relname, a.attnum",
        )
        .bind(schema.as_str())
        .bind(registry::table_names().collect::<Vec<_>>())
        .fetch_all(db)
        .await?;
        Ok(Self::from_rows(version.unwrap_or(0), rows))
    }

    fn from_rows(version: i64, rows: Vec<ColumnRow>) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(version.to_be_bytes());
        let mut tables: HashMap<String, Table> = HashMap::new();
        for (table, name, type_name, not_null, dims, pk_index) in rows {
            hasher.update(format!("{table}.{name}:{type_name}:{dims}:{not_null}:{pk_index:?};").as_bytes());
            let entry = tables.entry(table.clone()).or_insert_with(|| Table {
                name: table,
                columns: Vec::new(),
                pk: String::new(),
                types: HashMap::new(),
            });
            if pk_index == Some(0) {
                entry.pk = name.clone();
            }
            let ty = if dims > 0 { ColumnType::Text } else { ColumnType::from_pg(&type_name) };
            entry.types.insert(name.clone(), ty);
            entry.columns.push(Column { name, type_name, dims, not_null, pk_index });
        }
        // A table without a single uuid primary key cannot be chunked by key.
        tables.retain(|_, t| {
            let keyed = t.columns.iter().filter(|c| c.pk_index.is_some()).count() == 1;
            keyed && t.types.get(&t.pk) == Some(&ColumnType::Uuid)
        });
        Self { version, tables, digest: hasher.finalize().into() }
    }
}
