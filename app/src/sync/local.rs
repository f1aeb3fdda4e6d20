//! The group as the browser holds it: each synced table's rows (Postgres
//! text, as the stream sends them), turned into the `GroupData` the pages
//! show, with queued writes laid over them. Values are typed by the
//! table's `electric-schema` (the registry's types until one came).

use super::protocol::{apply, apply_to_held, Change, Row, RowSet, Schema};
use crate::model::{
    registry::{self, SyncedRow},
    Announcement, Booking, GroupData, GroupSummary, MaintenanceRequest, MemberInfo, RequestComment, Resource,
};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use uuid::Uuid;

/// The rows a batch of changes leaves behind: each primary key it touches,
/// with its new row (`None`: deleted).
pub type Settled = BTreeMap<String, Option<Row>>;

/// Table → its rows by primary key, and how to type them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LocalRows {
    pub tables: BTreeMap<String, RowSet>,
    /// Table → its columns as the server last described them.
    pub schemas: BTreeMap<String, Schema>,
}

/// The pages' view of the local rows.
#[derive(Debug, Clone, PartialEq)]
pub struct View {
    pub data: GroupData,
    /// Ids of rows that show queued writes.
    pub touched: BTreeSet<String>,
    /// Rows that could not be read as their table's type, each with why
    /// (left out of `data`, never shown wrong).
    pub unreadable: Vec<String>,
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

    /// The pages' view: these rows with `pending` changes (table, change)
    /// applied on top.
    pub fn view(&self, group: GroupSummary, me: Uuid, pending: &[(String, Change)]) -> View {
        let mut overlay: BTreeMap<&str, Vec<Change>> = BTreeMap::new();
        for (table, change) in pending {
            overlay.entry(table.as_str()).or_default().push(change.clone());
        }
        let overlay: BTreeMap<&str, Settled> = overlay
            .into_iter()
            .map(|(table, changes)| (table, self.settle_with(table, &changes, apply_to_held)))
            .collect();
        let touched = pending.iter().map(|(_, change)| change.pk.clone()).collect();
        let mut unreadable = Vec::new();
        let mut members: Vec<MemberInfo> = self.typed(&overlay, &mut unreadable);
        // The directory's order, as the server sends it.
        members.sort_by(|a, b| {
            a.display_name.to_lowercase().cmp(&b.display_name.to_lowercase()).then(a.user_id.cmp(&b.user_id))
        });
        let resources: Vec<Resource> = self.typed(&overlay, &mut unreadable);
        let mut bookings: Vec<Booking> = self.typed(&overlay, &mut unreadable);
        // A removed room takes its bookings with it (the server's cascade).
        let rooms: BTreeSet<Uuid> = resources.iter().map(|r| r.id).collect();
        bookings.retain(|b| rooms.contains(&b.resource_id));
        let requests: Vec<MaintenanceRequest> = self.typed(&overlay, &mut unreadable);
        let data = GroupData {
            group,
            me,
            members,
            announcements: self.typed::<Announcement>(&overlay, &mut unreadable),
            requests,
            comments: self.typed::<RequestComment>(&overlay, &mut unreadable),
            resources,
            bookings,
            notices_left_out: 0,
        };
        View { data, touched, unreadable }
    }

    /// A table's rows (with `overlay` over them) as model types, in key
    /// order; a row that does not read is left out and reported in
    /// `unreadable`.
    fn typed<T: SyncedRow>(&self, overlay: &BTreeMap<&str, Settled>, unreadable: &mut Vec<String>) -> Vec<T> {
        let table = T::TABLE.name;
        let empty = RowSet::new();
        let base = self.tables.get(table).unwrap_or(&empty);
        let schema = self.schemas.get(table);
        let mut read = |(pk, row): (&str, &Row)| match typed_row(table, schema, row)
            .and_then(|row| serde_json::from_value(Value::Object(row)).map_err(|e| e.to_string()))
        {
            Ok(row) => Some(row),
            Err(error) => {
                unreadable.push(format!("{table} {pk}: {error}"));
                None
            }
        };
        match overlay.get(table) {
            None => base.iter().map(|(pk, row)| (pk.as_str(), row)).filter_map(&mut read).collect(),
            Some(overlay) => {
                let mut rows: BTreeMap<&str, &Row> = base.iter().map(|(pk, row)| (pk.as_str(), row)).collect();
                for (pk, row) in overlay {
                    match row {
                        Some(row) => rows.insert(pk, row),
                        None => rows.remove(pk.as_str()),
                    };
                }
                rows.into_iter().filter_map(read).collect()
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
        local.table_mut("requests").insert("x".into(), row(json!({"id": Uuid::new_v4(), "title": "t"})));
        let group = GroupSummary { id: Uuid::new_v4(), slug: "elm".into(), name: "Elm".into(), role: Role::Admin };
        let View { data, touched, unreadable } = local.view(group, me, &[]);
        assert!(touched.is_empty());
        assert_eq!(data.announcements.len(), 1);
        let notice = &data.announcements[0];
        assert!(notice.pinned);
        assert_eq!(notice.created_at.to_rfc3339(), "2026-01-07T09:00:00.123456+00:00");
        assert_eq!(data.members[0].role, Role::Admin);
        assert!(data.requests.is_empty());
        assert_eq!(unreadable.len(), 1, "{unreadable:?}");
        assert!(unreadable[0].starts_with("requests x: no author_id"), "{unreadable:?}");
    }

    #[test]
    fn values_are_typed_by_the_streams_schema() {
        let id = Uuid::new_v4();
        let notice = row(json!({"id": id, "author_id": id, "title": "Bins", "body": "x", "pinned": "t",
                                "created_at": "2026-01-07 09:00:00+00", "updated_at": "2026-01-07 09:00:00+00"}));
        let group = GroupSummary { id, slug: "elm".into(), name: "Elm".into(), role: Role::Admin };
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
        let view = local.view(group.clone(), id, &[]);
        assert!(view.data.announcements.is_empty());
        assert!(view.unreadable[0].contains("invalid type: string \"t\", expected a boolean"), "{:?}", view.unreadable);
        let mut schema = schema;
        schema.get_mut("pinned").unwrap().type_name = "bool".into();
        local.schemas.insert("announcements".into(), schema);
        let view = local.view(group, id, &[]);
        assert!(view.data.announcements[0].pinned && view.unreadable.is_empty());
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
