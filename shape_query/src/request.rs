//! The shape request's query parameters, checked for form (which table and
//! columns exist is checked later, against the group's catalogue).

use crate::{offset::Offset, where_clause};
use std::collections::BTreeMap;

/// Most `params[n]` accepted, and the longest value of one.
pub const MAX_PARAMS: usize = 100;
pub const MAX_PARAM_LENGTH: usize = 4096;
/// Longest `handle`, `cursor` and `columns` accepted.
const MAX_SHORT_LENGTH: usize = 256;
const MAX_COLUMNS_LENGTH: usize = 2048;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replica {
    Default,
    Full,
}

#[derive(Debug, Clone)]
pub struct ShapeParams {
    pub table: String,
    pub offset: Offset,
    pub handle: Option<String>,
    pub live: bool,
    /// `live_sse` (or Electric's older `experimental_live_sse`): the live
    /// phase as one held event stream rather than long-polls.
    pub sse: bool,
    pub cursor: Option<String>,
    pub columns: Option<Vec<String>>,
    pub where_clause: Option<(String, where_clause::Expr)>,
    pub params: Vec<String>,
    pub replica: Replica,
    /// `log=changes_only`: no snapshot, start at the head.
    pub changes_only: bool,
}

/// Field → messages, as Electric's `{"message", "errors"}` body wants them.
pub type FieldErrors = BTreeMap<String, Vec<String>>;

impl ShapeParams {
    /// Reads the query pairs; `tables` are the tables a shape may follow
    /// (the app's table registry). Unknown parameters are ignored, a
    /// repeated one takes its last value.
    pub fn parse<'t>(
        pairs: &[(String, String)],
        tables: impl IntoIterator<Item = &'t str>,
    ) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let mut fail = |field: &str, message: String| errors.entry(field.to_owned()).or_default().push(message);
        let get = |name: &str| pairs.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str());

        let table = match get("table").map(str::trim) {
            None | Some("") => {
                fail("table", "can't be blank".into());
                String::new()
            }
            Some(text) => match table_name(text, tables) {
                Ok(name) => name,
                Err(message) => {
                    fail("table", message);
                    String::new()
                }
            },
        };
        let offset = match get("offset") {
            None => {
                fail("offset", "can't be blank".into());
                Offset::Start
            }
            Some(text) => Offset::parse(text).unwrap_or_else(|| {
                fail("offset", "has invalid format".into());
                Offset::Start
            }),
        };
        let mut choose = |name: &str, choices: &[(&str, u8)]| {
            one_of(get(name), choices).unwrap_or_else(|message| {
                fail(name, message);
                0
            })
        };
        let live = choose("live", &[("false", 0), ("true", 1)]) == 1;
        let replica = match choose("replica", &[("default", 0), ("full", 1)]) {
            1 => Replica::Full,
            _ => Replica::Default,
        };
        let changes_only = choose("log", &[("full", 0), ("changes_only", 1)]) == 1;
        if live && matches!(offset, Offset::Start | Offset::Now) {
            fail("live", "can't be true when offset is -1 or now".into());
        }
        // As Electric reads it: any value but `false` asks for it.
        let sse = get("live_sse").or_else(|| get("experimental_live_sse")).is_some_and(|v| v != "false");
        if sse && !live {
            fail("live_sse", "can't be true unless live is also true".into());
        }
        let handle = get("handle").filter(|h| !h.is_empty()).map(str::to_owned);
        if handle.as_ref().is_some_and(|h| h.len() > MAX_SHORT_LENGTH) {
            fail("handle", "is too long".into());
        }
        if handle.is_none() && !matches!(offset, Offset::Start | Offset::Now) {
            fail("handle", "can't be blank when offset is not -1".into());
        }
        let cursor = get("cursor").filter(|c| !c.is_empty()).map(str::to_owned);
        if cursor.as_ref().is_some_and(|c| c.len() > MAX_SHORT_LENGTH) {
            fail("cursor", "is too long".into());
        }
        let columns = get("columns").map(|text| {
            column_list(text).unwrap_or_else(|message| {
                fail("columns", message);
                Vec::new()
            })
        });
        let params = numbered_params(pairs).unwrap_or_else(|message| {
            fail("params", message);
            Vec::new()
        });
        let where_clause = match get("where").map(str::trim).filter(|w| !w.is_empty()) {
            None => None,
            Some(text) => match where_clause::parse(text) {
                Ok(expr) => Some((text.to_owned(), expr)),
                Err(error) => {
                    fail("where", error.to_string());
                    None
                }
            },
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Self { table, offset, handle, live, sse, cursor, columns, where_clause, params, replica, changes_only })
    }
}

/// The value of a parameter with a fixed set of values (the first is the
/// default when it is absent).
fn one_of(value: Option<&str>, choices: &[(&str, u8)]) -> Result<u8, String> {
    let Some(value) = value else { return Ok(choices[0].1) };
    choices.iter().find(|(name, _)| *name == value).map(|(_, v)| *v).ok_or_else(|| {
        let names: Vec<&str> = choices.iter().map(|(name, _)| *name).collect();
        format!("must be {}", names.join(" or "))
    })
}

/// An unqualified synced table, bare or double-quoted.
fn table_name<'t>(text: &str, tables: impl IntoIterator<Item = &'t str>) -> Result<String, String> {
    let name = match text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
        Some(quoted) if !quoted.contains('"') => quoted,
        _ => text,
    };
    if name.contains('.') {
        return Err("must be an unqualified table name (no schema)".into());
    }
    tables
        .into_iter()
        .find(|t| *t == name)
        .map(str::to_owned)
        .ok_or_else(|| format!("{} is not a table this group syncs", shorten(name)))
}

/// `"id","title"` or `id,title` → the column names.
fn column_list(text: &str) -> Result<Vec<String>, String> {
    if text.len() > MAX_COLUMNS_LENGTH {
        return Err("is too long".into());
    }
    let mut columns = Vec::new();
    for part in text.split(',').map(str::trim) {
        let name = match part.strip_prefix('"').and_then(|p| p.strip_suffix('"')) {
            Some(quoted) => quoted.replace("\"\"", "\""),
            None => part.to_owned(),
        };
        if name.is_empty() {
            return Err("has an empty column name".into());
        }
        if !columns.contains(&name) {
            columns.push(name);
        }
    }
    Ok(columns)
}

/// `params[1]`, `params[2]`, ... → a list indexed from 1, with no holes.
fn numbered_params(pairs: &[(String, String)]) -> Result<Vec<String>, String> {
    let mut numbered = BTreeMap::new();
    for (name, value) in pairs {
        let Some(index) = name.strip_prefix("params[").and_then(|n| n.strip_suffix(']')) else { continue };
        let index: usize = match index.parse() {
            Ok(n) if (1..=MAX_PARAMS).contains(&n) => n,
            _ => return Err(format!("{} is not params[1] to params[{MAX_PARAMS}]", shorten(name))),
        };
        if value.len() > MAX_PARAM_LENGTH {
            return Err(format!("params[{index}] is longer than {MAX_PARAM_LENGTH} bytes"));
        }
        numbered.insert(index, value.clone());
    }
    if let Some((last, _)) = numbered.last_key_value() {
        if *last != numbered.len() {
            return Err("must be numbered from 1 with no gaps".into());
        }
    }
    Ok(numbered.into_values().collect())
}

/// A request value quoted back in an error message, cut short.
fn shorten(text: &str) -> String {
    let cut: String = text.chars().take(64).collect();
    format!("{cut:?}")
}

#[cfg(test)]
mod tests;
