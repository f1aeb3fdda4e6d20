use super::*;

fn types() -> HashMap<String, ColumnType> {
    [
        ("id", ColumnType::Uuid),
        ("title", ColumnType::Text),
        ("unit", ColumnType::Text),
        ("pinned", ColumnType::Boolean),
        ("created_at", ColumnType::Timestamptz),
        ("count", ColumnType::Integer),
    ]
    .into_iter()
    .map(|(name, ty)| (name.to_owned(), ty))
    .collect()
}

fn row(cells: &[(&str, Option<&str>)]) -> HashMap<String, Option<String>> {
    cells.iter().map(|(k, v)| (k.to_string(), v.map(str::to_owned))).collect()
}

fn matches(text: &str, params: &[&str], cells: &[(&str, Option<&str>)]) -> bool {
    let params: Vec<String> = params.iter().map(|p| p.to_string()).collect();
    let expr = parse(text).unwrap();
    expr.check(&types(), &params).unwrap();
    expr.matches(&types(), &params, &row(cells))
}

#[test]
fn and_binds_tighter_than_or() {
    let expr = parse("title = 'a' OR title = 'b' AND pinned = true").unwrap();
    assert!(matches!(expr, Expr::Or(_, ref right) if matches!(**right, Expr::And(_, _))));
}

#[test]
fn sql_has_quoted_columns_and_only_bound_values() {
    let (a, b) = ("00000000-0000-0000-0000-00000000000a", "00000000-0000-0000-0000-00000000000b");
    let expr =
        parse(&format!(r#"title = 'x''; DROP TABLE users; --' AND "pinned" = $1 AND id IN ($2, '{b}')"#)).unwrap();
    let params = vec!["t".to_owned(), a.to_owned()];
    expr.check(&types(), &params).unwrap();
    let mut binds = vec!["earlier".to_owned()];
    let sql = expr.to_sql(&types(), &params, &mut binds);
    assert_eq!(
        sql,
        r#"((("title" = $2::text COLLATE "C") AND ("pinned" = $3::boolean)) AND ("id" IN ($4::uuid, $5::uuid)))"#
    );
    assert_eq!(binds, ["earlier", "x'; DROP TABLE users; --", "t", a, b]);
}

#[test]
fn values_that_are_not_of_the_columns_type_are_refused() {
    let cases = [("id = 'abc'", vec![]), ("pinned = $1", vec!["maybe"]), ("count IN (1, 'x')", vec![])];
    for (text, params) in cases {
        let params: Vec<String> = params.into_iter().map(String::from).collect();
        let error = parse(text).unwrap().check(&types(), &params).unwrap_err();
        assert!(matches!(error, WhereError::BadValue { .. }), "{text}: {error}");
    }
    let ok = parse("created_at > '2026-01-01T00:00:00Z' AND count = 3").unwrap();
    assert_eq!(ok.check(&types(), &[]), Ok(()));
}

#[test]
fn unsupported_syntax_is_named() {
    let cases = [
        ("lower(title) = 'x'", "`(` here"),
        ("title LIKE 'x%'", "`LIKE`"),
        ("id IN (SELECT id FROM users)", "`SELECT`"),
        ("title = 'x'; DELETE FROM announcements", "`;`"),
        ("title = NULL", "IS NULL"),
        ("title = title", "`title`"),
        ("pinned", "ends too early"),
        ("title = 'x' pinned", "`pinned`"),
        ("title IS 'x'", "IS followed by"),
        ("title = 'open", "closing quote"),
        ("title = $", "`$` without a number"),
    ];
    for (text, says) in cases {
        let error = parse(text).unwrap_err().to_string();
        assert!(error.contains(says), "{text:?}: {error:?} should name {says:?}");
    }
}

#[test]
fn size_and_depth_are_capped() {
    assert_eq!(parse(&format!("title = '{}'", "x".repeat(MAX_LENGTH))), Err(WhereError::TooLong));
    let deep = format!("{}title = 'x'{}", "(".repeat(MAX_DEPTH + 1), ")".repeat(MAX_DEPTH + 1));
    assert_eq!(parse(&deep), Err(WhereError::TooDeep));
    let nots = format!("{}title = 'x'", "NOT ".repeat(MAX_DEPTH + 1));
    assert_eq!(parse(&nots), Err(WhereError::TooDeep));
    assert!(parse(&format!("{}title = 'x'{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH))).is_ok());
}

#[test]
fn columns_and_params_are_checked() {
    let expr = parse("secret = 'x'").unwrap();
    assert_eq!(expr.check(&types(), &[]), Err(WhereError::UnknownColumn("secret".into())));
    let expr = parse("title = $2").unwrap();
    assert_eq!(expr.check(&types(), &["a".into()]), Err(WhereError::MissingParam(2)));
    let expr = parse("title IN ($0)").unwrap();
    assert_eq!(expr.check(&types(), &["a".into()]), Err(WhereError::MissingParam(0)));
}

#[test]
fn null_follows_three_valued_logic() {
    let no_unit = [("unit", None)];
    assert!(!matches("unit = '4B'", &[], &no_unit));
    assert!(!matches("NOT unit = '4B'", &[], &no_unit), "NOT unknown is unknown");
    assert!(!matches("unit NOT IN ('4B')", &[], &no_unit));
    assert!(matches("unit IS NULL", &[], &no_unit));
    assert!(!matches("unit IS NOT NULL", &[], &no_unit));
    assert!(matches("unit = '4B' OR unit IS NULL", &[], &no_unit));
    assert!(!matches("unit = '4B' AND unit IS NULL", &[], &no_unit));
}

#[test]
fn values_compare_by_their_column_type() {
    let cells = [
        ("id", Some("0b8e5a3e-7f4c-4d7e-9c1a-2f3b4c5d6e7f")),
        ("pinned", Some("t")),
        ("created_at", Some("2030-01-07 09:00:00+00")),
        ("count", Some("10")),
        ("title", Some("Bins")),
    ];
    assert!(matches("id = '0B8E5A3E-7F4C-4D7E-9C1A-2F3B4C5D6E7F'", &[], &cells));
    assert!(matches("pinned = true AND pinned <> false", &[], &cells));
    assert!(
        !matches("created_at > '2030-01-07T08:59:59Z' AND created_at < $1", &["2030-01-07T10:00:00+01:00"], &cells),
        "10:00+01:00 is 09:00Z, so created_at is not before it"
    );
    assert!(matches("created_at >= $1", &["2030-01-07T10:00:00+01:00"], &cells));
    assert!(matches("count > 9", &[], &cells), "10 > 9 as numbers, not as text");
    assert!(matches("title IN ('Bins', 'Gate') AND title <> 'bins'", &[], &cells));
}

/// A tiny xorshift generator: the same inputs on every run.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }

    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.below(from.len())]
    }
}

/// A random expression of the supported grammar.
fn expression(rng: &mut Rng, depth: usize) -> String {
    const COLUMNS: [&str; 5] = ["title", "\"pinned\"", "unit", "count", "created_at"];
    const VALUES: [&str; 7] = ["'x'", "'it''s'", "$1", "$2", "7", "-3.5", "true"];
    match if depth > 0 { rng.below(5) } else { 4 } {
        0 => format!("({} AND {})", expression(rng, depth - 1), expression(rng, depth - 1)),
        1 => format!("{} OR {}", expression(rng, depth - 1), expression(rng, depth - 1)),
        2 => format!("NOT {}", expression(rng, depth - 1)),
        _ => {
            let column = rng.pick(&COLUMNS);
            match rng.below(3) {
                0 => format!("{column} {} {}", rng.pick(&["=", "<>", "!=", "<", "<=", ">", ">="]), rng.pick(&VALUES)),
                1 => format!("{column} {}IN ({}, {})", rng.pick(&["", "NOT "]), rng.pick(&VALUES), rng.pick(&VALUES)),
                _ => format!("{column} IS {}NULL", rng.pick(&["", "NOT "])),
            }
        }
    }
}

/// Grammar-made inputs, half of them then damaged, never panic; whatever
/// parses also checks, renders and evaluates.
#[test]
fn random_inputs_never_panic() {
    const DAMAGE: [&str; 12] = ["(", ")", "'", "\"", ";", "$", "!", "--", "é", "AND", ",", "SELECT"];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let params = vec!["5".to_owned(), "x".to_owned()];
    let cells = row(&[("title", Some("x")), ("pinned", Some("f")), ("unit", None), ("count", Some("5"))]);
    let (mut parsed, mut refused) = (0, 0);
    for _ in 0..5_000 {
        let mut text = expression(&mut rng, 4);
        if rng.below(2) == 0 {
            let at = (0..=text.len()).filter(|i| text.is_char_boundary(*i)).nth(rng.below(text.len() + 1)).unwrap_or(0);
            text.insert_str(at, rng.pick(&DAMAGE));
        }
        match parse(&text) {
            Ok(expr) => {
                parsed += 1;
                if expr.check(&types(), &params).is_ok() {
                    let mut binds = Vec::new();
                    let _ = expr.to_sql(&types(), &params, &mut binds);
                    let _ = expr.matches(&types(), &params, &cells);
                }
            }
            Err(_) => refused += 1,
        }
    }
    assert!(parsed > 2_000 && refused > 500, "both kinds of input were exercised ({parsed} parsed, {refused} refused)");
}
