//! Property tests of everything that reads request text on the shape
//! endpoint: the `where` parser and evaluator, offsets and the query
//! parameters. Whatever the input: no panic, and what parses renders to SQL
//! whose every value is a bound parameter. These are the fast check that
//! runs with `cargo test`; the cargo-fuzz targets in fuzz/ hunt wider
//! (scripts/test runs each for a bounded time). At the end: the fuzz
//! seeds must stay valid inputs, and any crash the fuzzers find is kept
//! here as a test, its input inline, once fixed.

use proptest::prelude::*;
use shape_query::{
    offset::Offset,
    request::ShapeParams,
    where_clause::{self, ColumnType},
};
use std::{collections::HashMap, fs, path::PathBuf};

/// The tables these tests allow (the app passes its table registry).
const TABLES: [&str; 3] = ["announcements", "bookings", "requests"];

fn types() -> HashMap<String, ColumnType> {
    [
        ("id", ColumnType::Uuid),
        ("title", ColumnType::Text),
        ("pinned", ColumnType::Boolean),
        ("n", ColumnType::Integer),
        ("at", ColumnType::Timestamptz),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// Where-like text: SQL-ish tokens glued together, often almost valid.
fn where_text() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("title".to_owned()),
        Just("pinned".to_owned()),
        Just("\"n\"".to_owned()),
        Just("id".to_owned()),
        Just("at".to_owned()),
        Just("=".to_owned()),
        Just("<>".to_owned()),
        Just(">=".to_owned()),
        Just("AND".to_owned()),
        Just("OR".to_owned()),
        Just("NOT".to_owned()),
        Just("IN".to_owned()),
        Just("IS".to_owned()),
        Just("NULL".to_owned()),
        Just("(".to_owned()),
        Just(")".to_owned()),
        Just(",".to_owned()),
        Just("$1".to_owned()),
        Just("$2".to_owned()),
        Just("true".to_owned()),
        Just("'x''y'".to_owned()),
        Just("42".to_owned()),
        Just(";".to_owned()),
        Just("--".to_owned()),
        "[ -~]{0,6}".prop_map(|s| s),
        "\\PC{0,3}".prop_map(|s| s),
    ];
    prop::collection::vec(token, 0..24).prop_map(|tokens| tokens.join(" "))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn where_text_never_panics_and_renders_only_bound_values(text in where_text(), p1 in "\\PC{0,8}", p2 in "[0-9]{1,3}") {
        let params = vec![p1, p2];
        if let Ok(expr) = where_clause::parse(&text) {
            if expr.check(&types(), &params).is_ok() {
                let mut binds = Vec::new();
                let sql = expr.to_sql(&types(), &params, &mut binds);
                // Nothing of the request is spliced: no quote, no semicolon.
                prop_assert!(!sql.contains('\'') && !sql.contains(';'), "{}", sql);
                prop_assert_eq!(sql.matches('(').count(), sql.matches(')').count());
                let row: HashMap<String, Option<String>> =
                    [("title".to_owned(), Some("x".to_owned())), ("n".to_owned(), None)].into_iter().collect();
                let _ = expr.matches(&types(), &params, &row);
            }
        }
    }

    #[test]
    fn any_text_as_where_never_panics(text in "\\PC{0,200}") {
        let _ = where_clause::parse(&text).map(|e| e.check(&types(), &[]));
    }

    #[test]
    fn offsets_parse_only_what_they_print(text in "[-_0-9a-z]{0,45}") {
        if let Some(offset) = Offset::parse(&text) {
            prop_assert_eq!(offset.to_string(), text);
        }
    }

    #[test]
    fn shape_params_never_panic(pairs in prop::collection::vec(("[a-z_\\[\\]0-9]{0,12}", "\\PC{0,40}"), 0..12)) {
        let _ = ShapeParams::parse(&pairs, TABLES);
    }
}

// Inputs from fuzzing (fuzz/).

/// The files of `fuzz/seeds/<target>/`, by name.
fn seeds(target: &str) -> Vec<(String, String)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds").join(target);
    let mut files: Vec<(String, String)> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.unwrap().path();
            (path.file_name().unwrap().to_string_lossy().into_owned(), fs::read_to_string(&path).unwrap())
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no seeds in {}", dir.display());
    files
}

#[test]
fn where_clause_seeds_are_valid_wheres() {
    let types = types();
    let default_params = ["x", "42", "true", "6a3b5d0e-1f2a-4b3c-8d4e-5f6a7b8c9d0e", "2024-05-01T10:00:00Z"];
    for (name, text) in seeds("where_clause") {
        // As the target reads it: the where, then NUL-separated params.
        let mut parts = text.split('\0');
        let where_text = parts.next().unwrap();
        let mut params: Vec<String> = parts.map(str::to_owned).collect();
        if !text.contains('\0') {
            params = default_params.iter().map(|p| (*p).to_owned()).collect();
        }
        let expr = where_clause::parse(where_text).unwrap_or_else(|e| panic!("{name}: {e}"));
        expr.check(&types, &params).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn shape_params_seeds_are_valid_requests_or_offsets() {
    for (name, text) in seeds("shape_params") {
        let pairs: Vec<(String, String)> = text
            .split('&')
            .map(|pair| pair.split_once('=').map_or((pair.to_owned(), String::new()), |(k, v)| (k.into(), v.into())))
            .collect();
        let valid = ShapeParams::parse(&pairs, TABLES).is_ok() || Offset::parse(&text).is_some();
        assert!(valid, "{name}: {text:?}");
    }
}
