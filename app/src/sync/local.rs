//! The group as the browser holds it: each synced table's rows (Postgres
//! text, as the stream sends them), turned into the `GroupData` the pages
//! show, with queued writes laid over them.

use super::protocol::{apply, Change, Row, RowSet};
use crate::model::{GroupData, GroupSummary};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use uuid::Uuid;

/// The tables a group syncs, in the order they are followed.
pub const TABLES: [&str; 6] = ["members", "announcements", "requests", "request_comments", "resources", "bookings"];

/// The rows a batch of changes leaves behind: each primary key it touches,
/// with its new row (`None`: deleted).
pub type Settled = BTreeMap<String, Option<Row>>;

/// Table → its rows by primary key.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LocalRows {
    pub tables: BTreeMap<String, RowSet>,
}

impl LocalRows {
    pub fn table_mut(&mut self, table: &str) -> &mut RowSet {
        self.tables.entry(table.to_owned()).or_default()
    }

    /// What `changes` make of this table's rows, reading only the rows they
    /// touch (a batch costs its own size, not the table's).
    pub fn settle(&self, table: &str, changes: &[Change]) -> Settled {
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
    /// applied on top; also the ids those changes touch.
    pub fn view(&self, group: GroupSummary, me: Uuid, pending: &[(String, Change)]) -> (GroupData, BTreeSet<String>) {
        let mut overlay: BTreeMap<&str, Vec<Change>> = BTreeMap::new();
        for (table, change) in pending {
            overlay.entry(table.as_str()).or_default().push(change.clone());
        }
        let overlay: BTreeMap<&str, Settled> =
            overlay.into_iter().map(|(table, changes)| (table, self.settle(table, &changes))).collect();
        let touched = pending.iter().map(|(_, change)| change.pk.clone()).collect();
        let mut members: Vec<crate::model::MemberInfo> = self.typed("members", &overlay);
        // The directory's order, as the server sends it.
        members.sort_by(|a, b| {
            a.display_name.to_lowercase().cmp(&b.display_name.to_lowercase()).then(a.user_id.cmp(&b.user_id))
        });
        let data = GroupData {
            group,
            me,
            members,
            announcements: self.typed("announcements", &overlay),
            requests: self.typed("requests", &overlay),
            comments: self.typed("request_comments", &overlay),
            resources: self.typed("resources", &overlay),
            bookings: self.typed("bookings", &overlay),
            notices_left_out: 0,
        };
        (data, touched)
    }

    /// A table's rows (with `overlay` over them) as model types, in key
    /// order; a row that does not read (a half-known row, say) is left out
    /// rather than shown wrong.
    fn typed<T: DeserializeOwned>(&self, table: &str, overlay: &BTreeMap<&str, Settled>) -> Vec<T> {
        let empty = RowSet::new();
        let base = self.tables.get(table).unwrap_or(&empty);
        let read = |row: &Row| serde_json::from_value(Value::Object(typed_row(row))).ok();
        match overlay.get(table) {
            None => base.values().filter_map(read).collect(),
            Some(overlay) => {
                let mut rows: BTreeMap<&str, &Row> = base.iter().map(|(pk, row)| (pk.as_str(), row)).collect();
                for (pk, row) in overlay {
                    match row {
                        Some(row) => rows.insert(pk, row),
                        None => rows.remove(pk.as_str()),
                    };
                }
                rows.into_values().filter_map(read).collect()
            }
        }
    }
}

/// Postgres text → the JSON the model types read: `t`/`f` for booleans,
/// ISO timestamps (`2026-01-07 09:00:00.5+00`) as RFC 3339.
fn typed_row(row: &Row) -> Row {
    row.iter()
        .map(|(column, value)| {
            let value = match value.as_str() {
                Some(text) if BOOLEAN_COLUMNS.contains(&column.as_str()) => Value::Bool(text == "t"),
                Some(text) if column.ends_with("_at") => Value::String(rfc3339(text)),
                _ => value.clone(),
            };
            (column.clone(), value)
        })
        .collect()
}

const BOOLEAN_COLUMNS: [&str; 1] = ["pinned"];

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
        // A half-known row (an update whose insert never came) is left out.
        local.table_mut("requests").insert("x".into(), row(json!({"id": Uuid::new_v4(), "title": "t"})));
        let group = GroupSummary { id: Uuid::new_v4(), slug: "elm".into(), name: "Elm".into(), role: Role::Admin };
        let (data, touched) = local.view(group, me, &[]);
        assert!(touched.is_empty());
        assert_eq!(data.announcements.len(), 1);
        let notice = &data.announcements[0];
        assert!(notice.pinned);
        assert_eq!(notice.created_at.to_rfc3339(), "2026-01-07T09:00:00.123456+00:00");
        assert_eq!(data.members[0].role, Role::Admin);
        assert!(data.requests.is_empty());
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
