use super::*;

/// The tables these tests allow (the app passes its table registry).
const TABLES: [&str; 3] = ["announcements", "bookings", "requests"];

fn parse(query: &[(&str, &str)]) -> Result<ShapeParams, FieldErrors> {
    let pairs: Vec<(String, String)> = query.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    ShapeParams::parse(&pairs, TABLES)
}

fn fields(query: &[(&str, &str)]) -> Vec<String> {
    parse(query).err().map(|e| e.into_keys().collect()).unwrap_or_default()
}

#[test]
fn what_the_official_client_sends_is_accepted() {
    let params = parse(&[
        ("table", "announcements"),
        ("offset", "12_0"),
        ("handle", "1-abc"),
        ("live", "true"),
        ("cursor", "123"),
        ("columns", r#""id","title""#),
        ("where", "pinned = $1"),
        ("params[1]", "true"),
        ("replica", "full"),
        ("log", "full"),
        ("expired_handle", "old"),
        ("cache-buster", "x"),
    ])
    .unwrap();
    assert_eq!(params.table, "announcements");
    assert_eq!(params.offset, Offset::Log(12));
    assert!(params.live);
    assert_eq!(params.columns, Some(vec!["id".to_owned(), "title".to_owned()]));
    assert_eq!(params.params, ["true"]);
    assert_eq!(params.replica, Replica::Full);
    assert!(!params.sse);
}

#[test]
fn server_sent_events_are_asked_for_as_electric_reads_it() {
    let live = [("table", "announcements"), ("offset", "12_0"), ("handle", "h"), ("live", "true")];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut query = live.to_vec();
        query.extend_from_slice(extra);
        parse(&query)
    };
    // The client sends both names; Electric takes any value but `false`.
    assert!(with(&[("experimental_live_sse", "true"), ("live_sse", "true")]).unwrap().sse);
    assert!(with(&[("experimental_live_sse", "1")]).unwrap().sse);
    assert!(!with(&[("live_sse", "false")]).unwrap().sse);
    assert!(!with(&[("live_sse", "false"), ("experimental_live_sse", "true")]).unwrap().sse);
    let not_live = [("table", "announcements"), ("offset", "12_0"), ("handle", "h"), ("live_sse", "true")];
    assert_eq!(fields(&not_live), ["live_sse"]);
}

#[test]
fn tables_must_be_unqualified_synced_tables() {
    assert!(parse(&[("table", "\"bookings\""), ("offset", "-1")]).is_ok());
    for table in ["public.users", "g_0.announcements", "users", "sessions", "applied_mutations", "changes", ""] {
        assert_eq!(fields(&[("table", table), ("offset", "-1")]), ["table"], "{table}");
    }
}

#[test]
fn malformed_parameters_are_named() {
    let base = [("table", "announcements")];
    let cases: [(&[(&str, &str)], &str); 9] = [
        (&[("offset", "x")], "offset"),
        (&[], "offset"),
        (&[("offset", "3_0")], "handle"),
        (&[("offset", "-1"), ("live", "true")], "live"),
        (&[("offset", "-1"), ("live", "yes")], "live"),
        (&[("offset", "-1"), ("replica", "partial")], "replica"),
        (&[("offset", "-1"), ("log", "some")], "log"),
        (&[("offset", "-1"), ("where", "lower(title) = 'a'")], "where"),
        (&[("offset", "-1"), ("params[2]", "a")], "params"),
    ];
    for (extra, field) in cases {
        let query: Vec<(&str, &str)> = base.iter().chain(extra.iter()).copied().collect();
        assert_eq!(fields(&query), [field], "{query:?}");
    }
}

#[test]
fn oversized_values_are_refused() {
    let long = "x".repeat(MAX_PARAM_LENGTH + 1);
    let query = [("table", "announcements"), ("offset", "-1"), ("params[1]", long.as_str())];
    assert_eq!(fields(&query), ["params"]);
    let handle = "h".repeat(300);
    assert_eq!(fields(&[("table", "announcements"), ("offset", "1_0"), ("handle", &handle)]), ["handle"]);
    assert_eq!(fields(&[("table", "announcements"), ("offset", "-1"), ("params[101]", "a")]), ["params"]);
}
