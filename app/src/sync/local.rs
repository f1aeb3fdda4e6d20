//! The group as the browser holds it: each synced table's rows (Postgres
//! text, as the stream sends them), and the typed, indexed `GroupData` the
//! pages read, with queued writes laid over them. Values are typed by the
//! table's `electric-schema` (the registry's types until one came). After
//! the first build a change retypes only the rows it touches.

use super::protocol::{apply, apply_to_held, Change, Row, RowSet, Schema};
use crate::model::{
    registry::{self, AnyRow},
    GroupData,
};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use uuid::Uuid;

/// The rows a batch of changes leaves behind: each primary key it touches,
/// with its new row (`None`: deleted).
pub type Settled = BTreeMap<String, Option<Row>>;

/// A row's place: its table and primary key.
pub type Key = (String, String);

/// Table → its rows by primary key, and how to type them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LocalRows {
    pub tables: BTreeMap<String, RowSet>,
    /// Table → its columns as the server last described them.
    pub schemas: BTreeMap<String, Schema>,
}

/// Queued writes as the rows they leave behind, per table.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Overlay(BTreeMap<String, Settled>);

impl Overlay {
    /// `pending` changes (table, change) laid over `rows`.
    pub fn new(rows: &LocalRows, pending: &[(String, Change)]) -> Self {
        let mut by_table: BTreeMap<&str, Vec<Change>> = BTreeMap::new();
        for (table, change) in pending {
            by_table.entry(table.as_str()).or_default().push(change.clone());
        }
        Self(
            by_table
                .into_iter()
                .map(|(table, changes)| (table.to_owned(), rows.settle_with(table, &changes, apply_to_held)))
                .collect(),
        )
    }

    /// The rows it changes.
    pub fn keys(&self) -> BTreeSet<Key> {
        self.0.iter().flat_map(|(table, rows)| rows.keys().map(|pk| (table.clone(), pk.clone()))).collect()
    }
}

/// Rows that could not be read as their table's type, each with why (left
/// out of what the pages show, never shown wrong).
pub type Unreadable = BTreeMap<Key, String>;

/// What the pages show of the local rows, and what of them does not read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Shown {
    pub data: GroupData,
    pub unreadable: Unreadable,
}

impl LocalRows {
    pub fn table_mut(&mut self, table: &str) -> &mut RowSet {
        self.tables.entry(table.to_owned()).or_default()
    }

    /// What `changes` make of this table's rows, reading only the rows they
    /// touch (a batch costs its own size, not the table's).
    pub fn settle(&self, table: &str, changes: &[Change]) -> Settled {
        self.settle_with(table, changes, apply)
    }

    fn settle_with(&self, table: &str, changes: &[Change], apply: fn(&mut RowSet, &[Change])) -> Settled {
        let current = self.tables.get(table);
        let mut touched: RowSet = changes
            .iter()
            .filter_map(|c| current.and_then(|rows| rows.get(&c.pk)).map(|row| (c.pk.clone(), row.clone())))
            .collect();
        apply(&mut touched, changes);
        let keys: BTreeSet<&String> = changes.iter().map(|c| &c.pk).collect();
        keys.into_iter().map(|pk| (pk.clone(), touched.remove(pk))).collect()
    }

    /// Takes a settled batch in.
    pub fn absorb(&mut self, table: &str, settled: Settled) {
        let rows = self.table_mut(table);
        for (pk, row) in settled {
            match row {
                Some(row) => rows.insert(pk, row),
                None => rows.remove(&pk),
            };
        }
    }

    /// Every row the pages show, with `overlay` over them (the first build).
    pub fn shown(&self, overlay: &Overlay) -> Shown {
        let mut shown = Shown::default();
        let held = self.tables.iter().flat_map(|(table, rows)| rows.keys().map(|pk| (table.clone(), pk.clone())));
        self.refresh(&mut shown.data, &mut shown.unreadable, overlay, held.chain(overlay.keys()));
        shown
    }

    /// Brings `data` (and `unreadable`) up to date for the rows at `keys`:
    /// each as synced, with `overlay` over it, typed; no other row is read.
    pub fn refresh(
        &self,
        data: &mut GroupData,
        unreadable: &mut Unreadable,
        overlay: &Overlay,
        keys: impl IntoIterator<Item = Key>,
    ) {
        for (table, pk) in keys {
            let row = match overlay.0.get(&table).and_then(|rows| rows.get(&pk)) {
                Some(laid_over) => laid_over.as_ref(),
                None => self.tables.get(&table).and_then(|rows| rows.get(&pk)),
            };
            let read = row.map(|row| {
                Uuid::parse_str(&pk).map_err(|_| format!("{pk:?} is not a key"))?;
                let typed = typed_row(&table, self.schemas.get(&table), row)?;
                AnyRow::from_json(&table, Value::Object(typed))
            });
            match read {
                Some(Ok(row)) => {
                    data.put(row);
                    unreadable.remove(&(table, pk));
                }
                Some(Err(error)) => {
                    if let Ok(key) = Uuid::parse_str(&pk) {
                        data.remove(&table, key);
                    }
                    unreadable.insert((table, pk), error);
                }
                None => {
                    if let Ok(key) = Uuid::parse_str(&pk) {
                        data.remove(&table, key);
                    }
                    unreadable.remove(&(table, pk));
                }
            }
        }
    }
}

/// Postgres text → the JSON the model types read, by each column's type:
/// the table's `electric-schema` if one came, else the registry's. A row
/// missing a non-null column of the registry (an update whose insert never
/// came) does not read; a nullable column it lacks (a column added since
/// the row was stored) reads as null.
fn typed_row(table: &str, schema: Option<&Schema>, row: &Row) -> Result<Row, String> {
    let declared = registry::table(table).ok_or_else(|| format!("{table} is not a synced table"))?;
    let mut out = Row::new();
    for (column, value) in row {
        let type_name = match schema.and_then(|s| s.get(column)) {
            Some(spec) if spec.dims > 0 => "array",
            Some(spec) => spec.type_name.as_str(),
            None => declared.column(column).map_or("text", |c| c.ty.pg_name()),
        };
        out.insert(column.clone(), decode(type_name, value).map_err(|e| format!("{column}: {e}"))?);
    }
    let lacking: Vec<_> = declared.columns.iter().filter(|c| !out.contains_key(c.name)).collect();
    for column in lacking {
        if !column.nullable {
            return Err(format!("no {} (a part of the row never arrived)", column.name));
        }
        out.insert(column.name.to_owned(), Value::Null);
    }
    Ok(out)
}

/// One value's Postgres text as JSON, as the official client parses them:
/// booleans, integers, finite floats and JSON typed; timestamps with a time
/// zone as RFC 3339; the rest (uuid, text, numeric, arrays, ...) as text.
fn decode(type_name: &str, value: &Value) -> Result<Value, String> {
    let Some(text) = value.as_str() else { return Ok(value.clone()) };
    let bad = || format!("{text:?} is not a {type_name}");
    Ok(match type_name {
        "bool" => match text {
            "t" | "true" => Value::Bool(true),
            "f" | "false" => Value::Bool(false),
            _ => return Err(bad()),
        },
        "int2" | "int4" | "int8" => Value::from(text.parse::<i64>().map_err(|_| bad())?),
        // NaN and the infinities have no JSON number: kept as text.
        "float4" | "float8" => match text.parse::<f64>().map_err(|_| bad())? {
            float if float.is_finite() => {
                serde_json::Number::from_f64(float).map_or_else(|| value.clone(), Value::Number)
            }
            _ => value.clone(),
        },
        "json" | "jsonb" => serde_json::from_str(text).map_err(|_| bad())?,
        "timestamptz" => Value::String(rfc3339(text)),
        _ => value.clone(),
    })
}

/// Postgres' ISO timestamp text (`2026-01-07 09:00:00.5+00`) as RFC 3339.
fn rfc3339(text: &str) -> String {
    let mut out = text.replacen(' ', "T", 1);
    // `+00` → `+00:00`
    if let Some(sign) = out.rfind(['+', '-']).filter(|at| *at > 10 && out.len() - at == 3) {
        out.insert_str(sign + 3, ":00");
    }
    out
}

/// Postgres's text for a timestamp, as the stream would send it.
pub fn pg_timestamp(time: chrono::DateTime<chrono::Utc>) -> String {
    time.format("%Y-%m-%d %H:%M:%S%.6f+00").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{model::Role, sync::protocol::Operation};
    use serde_json::json;

    fn row(value: Value) -> Row {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn text_rows_become_the_pages_types() {
        let (id, me) = (Uuid::new_v4(), Uuid::new_v4());
        let mut local = LocalRows::default();
        local.table_mut("announcements").insert(
            id.to_string(),
            row(json!({"id": id, "author_id": me, "title": "Bins", "body": "Tuesday", "pinned": "t",
                       "created_at": "2026-01-07 09:00:00.123456+00", "updated_at": "2026-01-07 09:00:00+00"})),
        );
        local.table_mut("members").insert(
            me.to_string(),
            row(json!({"user_id": me, "display_name": "Ann", "unit": null, "role": "admin",
                       "joined_at": "2026-01-01 00:00:00+00"})),
        );
        // A half-known row (an update whose insert never came) is left
        // out, and reported.
        let half = Uuid::new_v4();
        local.table_mut("requests").insert(half.to_string(), row(json!({"id": half, "title": "t"})));
        let Shown { data, unreadable } = local.shown(&Overlay::default());
        let board = data.board_view(10);
        assert_eq!(board.notices.len(), 1);
        let notice = &board.notices[0];
        assert!(notice.pinned);
        assert_eq!(notice.created_at.to_rfc3339(), "2026-01-07T09:00:00.123456+00:00");
        assert_eq!(board.names.of(me), "Ann");
        assert_eq!(data.member(me).unwrap().role, Role::Admin);
        assert!(data.requests_view(crate::model::RequestStatus::Open, 10).requests.is_empty());
        assert_eq!(unreadable.len(), 1, "{unreadable:?}");
        let ((table, pk), why) = unreadable.iter().next().unwrap();
        assert_eq!((table.as_str(), pk.as_str()), ("requests", half.to_string().as_str()));
        assert!(why.starts_with("no author_id"), "{why}");
    }

    #[test]
    fn values_are_typed_by_the_streams_schema() {
        let id = Uuid::new_v4();
        let notice = row(json!({"id": id, "author_id": id, "title": "Bins", "body": "x", "pinned": "t",
                                "created_at": "2026-01-07 09:00:00+00", "updated_at": "2026-01-07 09:00:00+00"}));
        let mut local = LocalRows::default();
        local.table_mut("announcements").insert(id.to_string(), notice);
        // A server that says `pinned` is text: the row does not read as a
        // notice, and says why, rather than being guessed at.
        let schema: Schema = serde_json::from_value(json!({
            "id": {"type": "uuid", "pk_index": 0}, "author_id": {"type": "uuid"}, "title": {"type": "text"},
            "body": {"type": "text"}, "pinned": {"type": "text"}, "created_at": {"type": "timestamptz"},
            "updated_at": {"type": "timestamptz"}
        }))
        .unwrap();
        local.schemas.insert("announcements".into(), schema.clone());
        let view = local.shown(&Overlay::default());
        assert!(view.data.is_empty());
        let why = view.unreadable.values().next().unwrap();
        assert!(why.contains("invalid type: string \"t\", expected a boolean"), "{why}");
        let mut schema = schema;
        schema.get_mut("pinned").unwrap().type_name = "bool".into();
        local.schemas.insert("announcements".into(), schema);
        let view = local.shown(&Overlay::default());
        assert!(view.data.board_view(1).notices[0].pinned && view.unreadable.is_empty());
        assert_eq!(decode("int8", &json!("-12")), Ok(json!(-12)));
        assert_eq!(decode("jsonb", &json!("{\"a\":[1]}")), Ok(json!({"a": [1]})));
        assert!(decode("bool", &json!("yes")).is_err());
        assert_eq!(decode("float8", &json!("NaN")), Ok(json!("NaN")));
        assert_eq!(decode("numeric", &json!("1.10")), Ok(json!("1.10")), "exact, as text");
        // A nullable column the stored row lacks (added since) reads as null.
        let member = row(json!({"user_id": id, "display_name": "Ann", "role": "admin",
                                "joined_at": "2026-01-01 00:00:00+00"}));
        assert_eq!(typed_row("members", None, &member).unwrap()["unit"], Value::Null);
    }

    #[test]
    fn a_settled_batch_equals_the_batch_applied_to_the_whole_table() {
        let mut local = LocalRows::default();
        for i in 0..5 {
            local.table_mut("t").insert(i.to_string(), row(json!({"id": i.to_string(), "n": "0"})));
        }
        let change = |operation, pk: &str, n: &str| Change {
            operation,
            pk: pk.into(),
            value: row(json!({"id": pk, "n": n})),
            txids: vec![],
        };
        let changes = [
            change(Operation::Update, "1", "1"),
            change(Operation::Delete, "2", ""),
            change(Operation::Insert, "2", "2"),
            change(Operation::Delete, "3", ""),
            change(Operation::Insert, "9", "9"),
            change(Operation::Delete, "9", ""),
            change(Operation::Update, "1", "11"),
        ];
        let mut whole = local.tables["t"].clone();
        apply(&mut whole, &changes);
        let settled = local.settle("t", &changes);
        assert_eq!(settled.len(), 4, "each touched key once");
        assert_eq!(settled["9"], None);
        local.absorb("t", settled);
        assert_eq!(local.tables["t"], whole);
    }

    #[test]
    fn a_refresh_of_the_touched_rows_equals_a_whole_build() {
        let me = Uuid::new_v4();
        let notice = |id: Uuid, title: &str| {
            row(json!({"id": id, "author_id": me, "title": title, "body": "", "pinned": "f",
                       "created_at": "2026-01-07 09:00:00+00", "updated_at": "2026-01-07 09:00:00+00"}))
        };
        let ids: Vec<Uuid> = (0..4).map(|_| Uuid::new_v4()).collect();
        let mut local = LocalRows::default();
        for id in &ids {
            local.table_mut("announcements").insert(id.to_string(), notice(*id, "a"));
        }
        let mut shown = local.shown(&Overlay::default());
        let change = |operation, id: Uuid, title: &str| Change {
            operation,
            pk: id.to_string(),
            value: notice(id, title),
            txids: vec![],
        };
        // A synced batch, then a queued write over it, then none.
        let settled = local
            .settle("announcements", &[change(Operation::Delete, ids[0], ""), change(Operation::Update, ids[1], "b")]);
        let keys: Vec<Key> = settled.keys().map(|pk| ("announcements".to_owned(), pk.clone())).collect();
        local.absorb("announcements", settled);
        let queued = [("announcements".to_owned(), change(Operation::Update, ids[2], "queued"))];
        let overlay = Overlay::new(&local, &queued);
        local.refresh(&mut shown.data, &mut shown.unreadable, &overlay, keys.into_iter().chain(overlay.keys()));
        assert_eq!(shown, local.shown(&overlay));
        assert_eq!(shown.data.board_view(10).notices.len(), 3);
        local.refresh(&mut shown.data, &mut shown.unreadable, &Overlay::default(), overlay.keys());
        assert_eq!(shown, local.shown(&Overlay::default()));
    }

    #[test]
    fn timestamps_round_trip_through_postgres_text() {
        let now = chrono::Utc::now();
        let text = pg_timestamp(now);
        let parsed: chrono::DateTime<chrono::Utc> = rfc3339(&text).parse().unwrap();
        assert_eq!(parsed, now.with_nanosecond_truncated());
    }

    trait Micros {
        fn with_nanosecond_truncated(self) -> Self;
    }

    impl Micros for chrono::DateTime<chrono::Utc> {
        fn with_nanosecond_truncated(self) -> Self {
            use chrono::Timelike;
            self.with_nanosecond(self.nanosecond() / 1000 * 1000).unwrap()
        }
    }
}
