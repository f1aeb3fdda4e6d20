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

/// Table → its rows by primary key.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LocalRows {
    pub tables: BTreeMap<String, RowSet>,
}

impl LocalRows {
    pub fn table_mut(&mut self, table: &str) -> &mut RowSet {
        self.tables.entry(table.to_owned()).or_default()
    }

    /// The pages' view: these rows with `pending` changes (table, change)
    /// applied on top; also the ids those changes touch.
    pub fn view(&self, group: GroupSummary, me: Uuid, pending: &[(String, Change)]) -> (GroupData, BTreeSet<String>) {
        let mut rows = self.clone();
        let mut touched = BTreeSet::new();
        for (table, change) in pending {
            apply(rows.table_mut(table), std::slice::from_ref(change));
            touched.insert(change.pk.clone());
        }
        let mut members: Vec<crate::model::MemberInfo> = rows.typed("members");
        // The directory's order, as the server sends it.
        members.sort_by(|a, b| {
            a.display_name.to_lowercase().cmp(&b.display_name.to_lowercase()).then(a.user_id.cmp(&b.user_id))
        });
        let data = GroupData {
            group,
            me,
            members,
            announcements: rows.typed("announcements"),
            requests: rows.typed("requests"),
            comments: rows.typed("request_comments"),
            resources: rows.typed("resources"),
            bookings: rows.typed("bookings"),
        };
        (data, touched)
    }

    /// A table's rows as model types; a row that does not read (a half-known
    /// row, say) is left out rather than shown wrong.
    fn typed<T: DeserializeOwned>(&self, table: &str) -> Vec<T> {
        let Some(rows) = self.tables.get(table) else { return Vec::new() };
        rows.values().filter_map(|row| serde_json::from_value(Value::Object(typed_row(row))).ok()).collect()
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
    use crate::model::Role;
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
