//! Property tests of everything that reads request text on the shape
//! endpoint: the `where` parser and evaluator, offsets and the query
//! parameters. Whatever the input: no panic, and what parses renders to SQL
//! whose every value is a bound parameter. These are the fast check that
//! runs with `cargo test`; the cargo-fuzz targets in fuzz/ hunt wider
//! (scripts/test runs each for a bounded time), and any crash they find
//! becomes a test in tests/regressions.rs.

use proptest::prelude::*;
use shape_query::{
    offset::Offset,
    request::ShapeParams,
    where_clause::{self, ColumnType},
};
use std::collections::HashMap;

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
        let _ = ShapeParams::parse(&pairs);
    }
}
