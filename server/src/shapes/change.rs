//! One row of a group's change log, and how a shape turns it (or a snapshot
//! row) into an Electric change message.

use super::request::Replica;
use super::shape::Shape;
use serde_json::{json, Map, Value};

pub type Values = Map<String, Value>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Insert,
    Update,
    Delete,
}

impl Op {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "insert" => Some(Self::Insert),
            "update" => Some(Self::Update),
            "delete" => Some(Self::Delete),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Insert => "insert",
            Self::Update => "update",
            Self::Delete => "delete",
        }
    }
}

#[derive(Debug, Clone)]
pub struct LogChange {
    pub position: i64,
    pub txid: u64,
    pub op: Op,
    pub relation: String,
    /// The new row, or the old one for a delete (column → text or null).
    pub value: Values,
    /// The row before an update.
    pub old_value: Option<Values>,
    /// On an update that stands for several merged ones (log compaction,
    /// `shapes/retention.rs`): the position of the first it replaced.
    /// `old_value` is then the row before that one.
    pub merged_from: Option<i64>,
}

impl LogChange {
    /// About the bytes it holds in memory (its text, the maps' overhead):
    /// what an in-memory tail counts against its budget.
    pub fn weight(&self) -> usize {
        fn map(values: &Values) -> usize {
            values.iter().map(|(k, v)| k.len() + v.as_str().map_or(8, str::len) + 64).sum()
        }
        std::mem::size_of::<Self>() + self.relation.len() + map(&self.value) + self.old_value.as_ref().map_or(0, map)
    }
}

/// Electric's key: `"schema"."table"/"pk"`, quotes doubled, `/` in the
/// value doubled.
pub fn message_key(schema: &str, table: &str, pk: Option<&str>) -> String {
    let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    let pk = pk.map_or_else(|| "_".to_owned(), |v| quote(&v.replace('/', "//")));
    format!("{}.{}/{pk}", quote(schema), quote(table))
}

impl Shape {
    /// The message a logged change gives this shape, if any, for a client
    /// that has every change up to position `seen`: a row moving into the
    /// `where` is an insert, one moving out a delete; an update that changes
    /// none of the shape's columns gives nothing.
    ///
    /// A merged update the client has seen part of (`merged_from <= seen`)
    /// cannot be diffed against the client's row, which is somewhere inside
    /// the run: it gives the whole row, as an update (without `where`, the
    /// row is in the shape throughout) or, with a `where`, as an insert when
    /// the row ends inside it (replacing whatever the client holds) and a
    /// delete when it ends outside.
    pub fn change_message(&self, schema: &str, change: &LogChange, seen: i64) -> Option<Value> {
        if change.relation != self.table().name {
            return None;
        }
        let new_in = self.matches(&change.value);
        let partly_seen = change.merged_from.is_some_and(|first| first <= seen);
        let (op, value, old_value) = match (change.op, &change.old_value) {
            (Op::Insert, _) if new_in => (Op::Insert, self.project(&change.value, None), None),
            (Op::Delete, _) if new_in => (Op::Delete, self.deleted(&change.value), None),
            (Op::Update, Some(_)) if partly_seen => match (self.filter.is_some(), new_in) {
                (false, _) => (Op::Update, self.project(&change.value, None), None),
                (true, true) => (Op::Insert, self.project(&change.value, None), None),
                (true, false) => (Op::Delete, self.deleted(&change.value), None),
            },
            (Op::Update, Some(old)) => match (self.matches(old), new_in) {
                (true, true) => {
                    let changed: Vec<&String> =
                        self.columns().iter().filter(|c| change.value.get(*c) != old.get(*c)).collect();
                    if changed.is_empty() {
                        return None;
                    }
                    match self.replica() {
                        Replica::Default => (Op::Update, self.project(&change.value, Some(&changed)), None),
                        Replica::Full => {
                            let old_value: Values = changed
                                .iter()
                                .map(|c| ((*c).clone(), old.get(*c).cloned().unwrap_or(Value::Null)))
                                .collect();
                            (Op::Update, self.project(&change.value, None), Some(old_value))
                        }
                    }
                }
                (false, true) => (Op::Insert, self.project(&change.value, None), None),
                (true, false) => (Op::Delete, self.deleted(old), None),
                (false, false) => return None,
            },
            _ => return None,
        };
        let key = message_key(schema, &self.table().name, value.get(&self.table().pk).and_then(Value::as_str));
        let mut message = json!({
            "key": key,
            "value": value,
            "headers": {
                "operation": op.as_str(),
                "txids": [change.txid],
                "lsn": change.position.to_string(),
                "op_position": 0,
            },
        });
        if let Some(old_value) = old_value {
            message["old_value"] = Value::Object(old_value);
        }
        Some(message)
    }

    /// The shape's columns of `row` (with `only`: the primary key and those).
    fn project(&self, row: &Values, only: Option<&[&String]>) -> Values {
        let pk = &self.table().pk;
        self.columns()
            .iter()
            .filter(|c| only.is_none_or(|only| *c == pk || only.contains(c)))
            .map(|c| (c.clone(), row.get(c).cloned().unwrap_or(Value::Null)))
            .collect()
    }

    /// A delete carries the primary key, or the whole old row with `replica=full`.
    fn deleted(&self, row: &Values) -> Values {
        match self.replica() {
            Replica::Default => self.project(row, Some(&[])),
            Replica::Full => self.project(row, None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_quote_as_electric_does() {
        assert_eq!(message_key("g_1", "announcements", Some("a1")), r#""g_1"."announcements"/"a1""#);
        assert_eq!(message_key("s", "t", Some(r#"a"b/c"#)), r#""s"."t"/"a""b//c""#);
        assert_eq!(message_key("s", "t", None), r#""s"."t"/_"#);
    }
}
