//! The `where` parser, checker, SQL renderer and evaluator on any text.
//! Input: the `where` text, then optionally NUL-separated `params[n]`
//! values (without a NUL, a fixed set). No panic, and what passes `check`
//! renders to SQL in which every value is a bound parameter.

#![no_main]

use libfuzzer_sys::fuzz_target;
use shape_query::where_clause::{self, ColumnType, Expr};
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
    .map(|(name, ty)| (name.to_owned(), ty))
    .collect()
}

const DEFAULT_PARAMS: [&str; 5] =
    ["x'; DROP TABLE members; --", "42", "true", "6a3b5d0e-1f2a-4b3c-8d4e-5f6a7b8c9d0e", "2024-05-01T10:00:00Z"];

/// How many values `expr` names (each becomes one bound parameter).
fn operand_count(expr: &Expr) -> usize {
    match expr {
        Expr::And(a, b) | Expr::Or(a, b) => operand_count(a) + operand_count(b),
        Expr::Not(a) => operand_count(a),
        Expr::Compare { .. } => 1,
        Expr::In { values, .. } => values.len(),
        Expr::IsNull { .. } => 0,
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut parts = text.split('\0');
    let where_text = parts.next().unwrap_or_default();
    let given: Vec<String> = parts.take(8).map(str::to_owned).collect();
    let params = if text.contains('\0') { given } else { DEFAULT_PARAMS.iter().map(|p| (*p).to_owned()).collect() };

    let expr = match where_clause::parse(where_text) {
        Ok(expr) => expr,
        Err(error) => {
            let _ = error.to_string();
            return;
        }
    };
    let types = types();

    // The live filter runs only on checked shapes, but must not panic on any.
    let sample: HashMap<String, Option<String>> = [
        ("id", Some("6a3b5d0e-1f2a-4b3c-8d4e-5f6a7b8c9d0e")),
        ("title", Some("x")),
        ("pinned", Some("t")),
        ("n", None),
        ("at", Some("2024-05-01 10:00:00.5+00")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.map(str::to_owned)))
    .collect();
    // Every column equal to the first param: reaches the "equal" branches.
    let echo: HashMap<String, Option<String>> = types.keys().map(|k| (k.clone(), params.first().cloned())).collect();
    let _ = expr.matches(&types, &params, &sample);
    let _ = expr.matches(&types, &params, &echo);

    match expr.check(&types, &params) {
        Err(error) => {
            let _ = error.to_string();
        }
        Ok(()) => {
            assert!(expr.columns().iter().all(|c| types.contains_key(*c)), "unchecked column in {expr:?}");
            // One value already bound: the where's are numbered after it.
            let mut binds = vec!["earlier".to_owned()];
            let sql = expr.to_sql(&types, &params, &mut binds);
            // Nothing of the request is spliced: no quote, no semicolon,
            // no comment, and the parentheses balance.
            assert!(!sql.contains('\'') && !sql.contains(';') && !sql.contains("--"), "{sql}");
            assert_eq!(sql.matches('(').count(), sql.matches(')').count(), "{sql}");
            // Each value is one bound parameter, numbered after the earlier one.
            let values = operand_count(&expr);
            assert_eq!(binds.len(), 1 + values, "{sql}");
            assert_eq!(sql.matches('$').count(), values, "{sql}");
            assert!(!sql.contains("$1::"), "{sql}");
            for n in 2..=binds.len() {
                assert!(sql.contains(&format!("${n}::")), "${n} missing from {sql}");
            }
        }
    }
});
