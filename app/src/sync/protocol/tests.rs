use super::*;
use serde_json::json;

fn headers(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let pairs: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    move |name| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
}

fn ok(handle: &str, offset: &str) -> impl Fn(&str) -> Option<String> {
    headers(&[("electric-handle", handle), ("electric-offset", offset)])
}

#[test]
fn the_first_request_asks_for_the_snapshot_and_live_ones_carry_the_cursor() {
    let mut state = ShapeState::new("announcements");
    assert_eq!(state.query(true), [("table", "announcements".to_owned()), ("offset", "-1".to_owned())]);
    let body = r#"[{"key":"k","value":{"id":"a","title":"x"},"headers":{"operation":"insert"}},
                   {"headers":{"control":"up-to-date"}}]"#;
    let outcome = state.on_answer(200, ok("h1", "5_0"), body).unwrap();
    assert!(matches!(outcome, Outcome::Apply { ref changes, up_to_date: true } if changes.len() == 1));
    assert!(state.live);
    let query = state.query(true);
    assert!(query.contains(&("live", "true".into())) && query.contains(&("cursor", String::new())));
    assert!(query.contains(&("handle", "h1".into())) && query.contains(&("offset", "5_0".into())));

    assert!(!state.query(false).iter().any(|(k, _)| *k == "live"), "catch-up requests stay plain");
    assert!(state.complete);
    assert_eq!(state.position(), 5);
    let live = headers(&[("electric-handle", "h1"), ("electric-offset", "6_0"), ("electric-cursor", "77")]);
    state.on_answer(200, live, r#"[{"headers":{"control":"up-to-date"}}]"#).unwrap();
    assert!(state.query(true).contains(&("cursor", "77".into())));
}

#[test]
fn a_batch_that_does_not_end_up_to_date_is_not_live() {
    let mut state = ShapeState::new("announcements");
    let body = r#"[{"key":"k","value":{"id":"a"},"headers":{"operation":"insert"}}]"#;
    state.on_answer(200, ok("h", "3_77"), body).unwrap();
    assert!(!state.live && !state.complete);
    assert_eq!(state.position(), 0, "mid-snapshot");
    assert_eq!(state.offset, "3_77");
}

#[test]
fn statuses_map_to_what_the_stream_does() {
    let mut state =
        ShapeState { handle: Some("old".into()), offset: "9_0".into(), live: true, ..ShapeState::new("bookings") };
    assert_eq!(state.on_answer(409, headers(&[("electric-handle", "new")]), "").unwrap(), Outcome::Refetch);
    assert_eq!(state, ShapeState { handle: Some("new".into()), ..ShapeState::new("bookings") });
    assert_eq!(state.on_answer(404, headers(&[]), r#"{"error":"not found"}"#).unwrap(), Outcome::Gone);
    // Not the server's own answer (a proxy's page): later, nothing wiped.
    assert_eq!(state.on_answer(404, headers(&[]), "<h1>Not Found</h1>").unwrap(), Outcome::Retry { after: None });
    assert_eq!(state.on_answer(401, headers(&[]), "").unwrap(), Outcome::SignedOut);
    assert_eq!(
        state.on_answer(503, headers(&[("retry-after", "7")]), "").unwrap(),
        Outcome::Retry { after: Some(Duration::from_secs(7)) }
    );
    let invalid = r#"{"message":"Invalid request","errors":{"table":["is not a table"]}}"#;
    assert!(matches!(state.on_answer(400, headers(&[]), invalid).unwrap(), Outcome::Fatal(m) if m.contains("table")));
    assert_eq!(state.on_answer(400, headers(&[]), "{}").unwrap(), Outcome::Retry { after: None });
    assert_eq!(state.on_answer(403, headers(&[]), r#"{"error":"no"}"#).unwrap(), Outcome::Retry { after: None });
    // A gateway's JSON is not the server's answer either.
    let gateway = r#"{"message":"no Route matched with those values"}"#;
    assert_eq!(state.on_answer(404, headers(&[]), gateway).unwrap(), Outcome::Retry { after: None });
    assert_eq!(state.on_answer(413, headers(&[]), gateway).unwrap(), Outcome::Retry { after: None });
    assert_eq!(state.on_answer(200, headers(&[]), "[]"), Err(ProtocolError::MissingHeader("electric-handle")));
    assert!(matches!(state.on_answer(200, ok("h", "1_0"), "{not json"), Err(ProtocolError::Body(_))));
}

#[test]
fn members_are_keyed_by_user_id_and_txids_are_kept() {
    let mut state = ShapeState::new("members");
    let body =
        r#"[{"key":"k","value":{"user_id":"u1","display_name":"Ann"},"headers":{"operation":"update","txids":[42]}}]"#;
    let Outcome::Apply { changes, .. } = state.on_answer(200, ok("h", "2_0"), body).unwrap() else { panic!() };
    assert_eq!(changes[0].pk, "u1");
    assert_eq!(changes[0].txids, [42]);
}

#[test]
fn backoff_doubles_to_a_cap_and_honours_retry_after() {
    assert_eq!(backoff(0, None, 1.0), Duration::from_millis(1000));
    assert_eq!(backoff(3, None, 1.0), Duration::from_millis(8000));
    assert_eq!(backoff(30, None, 1.0), Duration::from_millis(32000));
    assert_eq!(backoff(30, None, 0.0), Duration::from_millis(16000));
    assert_eq!(backoff(2, Some(Duration::from_secs(3)), 0.5), Duration::from_secs(3));
}

/// A tiny xorshift generator: the same sequences on every run.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// The server side of the model: a table, its log, and answers cut into
/// batches the way the real server may cut them.
struct Model {
    table: RowSet,
    log: Vec<Value>,
    handle: u32,
}

impl Model {
    fn mutate(&mut self, rng: &mut Rng) {
        let keys: Vec<String> = self.table.keys().cloned().collect();
        let column = |n: u64| format!("c{n}");
        let message = |op: &str, value: Row| json!({"key": "k", "value": value, "headers": {"operation": op}});
        match (rng.below(3), keys.is_empty()) {
            (0, _) | (_, true) => {
                let pk = format!("{:04}", rng.below(10_000));
                let mut row = Row::new();
                row.insert("id".into(), json!(pk));
                for n in 0..3 {
                    row.insert(
                        column(n),
                        if rng.below(4) == 0 { Value::Null } else { json!(rng.below(9).to_string()) },
                    );
                }
                self.table.insert(pk.clone(), row.clone());
                self.log.push(message("insert", row));
            }
            (1, false) => {
                let pk = keys[rng.below(keys.len() as u64) as usize].clone();
                let mut sent = Row::new();
                sent.insert("id".into(), json!(pk));
                for n in 0..3 {
                    if rng.below(2) == 0 {
                        let value = json!(format!("u{}", rng.below(9)));
                        self.table.get_mut(&pk).unwrap().insert(column(n), value.clone());
                        sent.insert(column(n), value);
                    }
                }
                self.log.push(message("update", sent));
            }
            _ => {
                let pk = keys[rng.below(keys.len() as u64) as usize].clone();
                self.table.remove(&pk);
                let mut sent = Row::new();
                sent.insert("id".into(), json!(pk));
                self.log.push(message("delete", sent));
            }
        }
    }
}

/// Random writes, batches, chunked snapshots and 409s: the client always
/// ends with exactly the server's table.
#[test]
fn random_change_sequences_end_equal_to_the_reference() {
    for seed in 1..=200u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let mut model = Model { table: RowSet::new(), log: Vec::new(), handle: 1 };
        let mut state = ShapeState::new("announcements");
        let mut rows = RowSet::new();
        // The client's position in the log, as the server sees it.
        let mut delivered = 0usize;
        for _ in 0..rng.below(40) {
            model.mutate(&mut rng);
        }
        for _round in 0..60 {
            for _ in 0..rng.below(5) {
                model.mutate(&mut rng);
            }
            let handle = format!("h{}", model.handle);
            if rng.below(25) == 0 {
                // The server drops the shape: 409, then a fresh snapshot.
                model.handle += 1;
                let refetch = headers(&[("electric-handle", &format!("h{}", model.handle))]);
                assert_eq!(state.on_answer(409, refetch, "").unwrap(), Outcome::Refetch);
                rows.clear();
                continue;
            }
            let body: Vec<Value> = if state.offset == "-1" {
                // A snapshot of the table now, in one or more chunks.
                delivered = model.log.len();
                let all: Vec<Value> = model
                    .table
                    .values()
                    .map(|row| json!({"key": "k", "value": row, "headers": {"operation": "insert"}}))
                    .collect();
                let mut chunks: Vec<Vec<Value>> =
                    all.chunks(1 + rng.below(8) as usize).map(<[Value]>::to_vec).collect();
                let last = chunks.pop().unwrap_or_default();
                for chunk in chunks {
                    let outcome = state.on_answer(200, ok(&handle, "0_1"), &Value::Array(chunk).to_string()).unwrap();
                    let Outcome::Apply { changes, up_to_date: false } = outcome else { panic!("{outcome:?}") };
                    apply(&mut rows, &changes);
                }
                last
            } else {
                let end = (delivered + rng.below(6) as usize).min(model.log.len());
                let batch = model.log[delivered..end].to_vec();
                delivered = end;
                batch
            };
            let mut body = body;
            let up_to_date = delivered == model.log.len();
            if up_to_date {
                body.push(json!({"headers": {"control": "up-to-date"}}));
            }
            let offset = format!("{delivered}_0");
            match state.on_answer(200, ok(&handle, &offset), &Value::Array(body).to_string()).unwrap() {
                Outcome::Apply { changes, up_to_date: done } => {
                    assert_eq!(done, up_to_date);
                    apply(&mut rows, &changes);
                }
                other => panic!("{other:?}"),
            }
        }
        // Catch up, then compare.
        let rest: Vec<Value> = model.log[delivered..].to_vec();
        let mut body = rest;
        body.push(json!({"headers": {"control": "up-to-date"}}));
        let handle = format!("h{}", model.handle);
        if state.offset == "-1" {
            body = model.table.values().map(|row| json!({"value": row, "headers": {"operation": "insert"}})).collect();
            body.push(json!({"headers": {"control": "up-to-date"}}));
        }
        let Outcome::Apply { changes, .. } =
            state.on_answer(200, ok(&handle, "x_0"), &Value::Array(body).to_string()).unwrap()
        else {
            panic!()
        };
        apply(&mut rows, &changes);
        assert_eq!(rows, model.table, "seed {seed}");
        assert!(state.live);
    }
}
