//! Hostile input through every door: values Postgres refuses (NUL in any
//! text, in paths, in `where`), server functions held to the JSON API's
//! statuses and limits, sign-in from another site, return addresses that
//! leave the site, headers every page must carry, answers a shared cache
//! must not keep, an expired session, an old invite, a flood of groups.
//! Each gets a 4xx (or its rule), never a 500 or a dropped connection.

mod common;

use common::TestApp;
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

/// Asserts a 4xx; returns the body.
async fn client_error(response: reqwest::Response, what: &str) -> Value {
    let (status, body) = common::read(response).await;
    assert!(status.is_client_error(), "{what}: {status} {body}");
    body
}

#[tokio::test]
async fn nul_characters_are_refused_with_4xx_wherever_they_come_in() {
    let app = TestApp::spawn().await;
    let (ann, slug) = app.admin_of_new_group().await;
    let nul = "a\u{0}b";
    let email = format!("x{nul}@example.org");
    let json_posts: Vec<(String, Value)> = vec![
        ("/api/auth/signup".into(), json!({"email": email, "password": "correct horse", "name": "N"})),
        ("/api/auth/signup".into(), json!({"email": "n@example.org", "password": "correct\u{0}horse", "name": "N"})),
        ("/api/auth/signup".into(), json!({"email": "n@example.org", "password": "correct horse", "name": nul})),
        ("/api/auth/login".into(), json!({"email": email, "password": "correct horse"})),
        ("/api/auth/token".into(), json!({"email": email, "password": nul})),
        ("/api/groups".into(), json!({"slug": nul, "name": "N"})),
        ("/api/groups".into(), json!({"slug": "nul-name", "name": nul})),
        (format!("/api/groups/{}/invites", "a%00b"), json!({})),
        (format!("/api/invites/{}/accept", "%00"), json!({})),
        ("/api/mutate".into(), json!({"group": nul, "mutations": []})),
    ];
    for (path, body) in &json_posts {
        client_error(ann.post(app.url(path)).json(body).send().await.unwrap(), path).await;
    }
    let gets = [
        "/g/a%00b".to_owned(),
        "/g/a%00b/requests".into(),
        "/join/%00".into(),
        format!("/g/{}/v1/shape?table=announcements&offset=-1", "a%00b"),
        format!("/g/{}/v1/wake?after=0", "a%00b"),
        format!("/g/{slug}/v1/shape?table=announcements%00&offset=-1"),
        format!("/g/{slug}/v1/shape?table=announcements&offset=-1&where=title%20%3D%20'a%00b'"),
        format!("/g/{slug}/v1/shape?table=announcements&offset=-1&where=title%20%3D%20$1&params[1]=a%00b"),
        format!("/g/{slug}/v1/shape?table=announcements&offset=-1&columns=id,ti%00tle"),
        format!("/g/{slug}/v1/shape?table=announcements&offset=0_0&handle=%00"),
        format!("/g/{slug}/v1/wake?after=%00"),
    ];
    for path in &gets {
        client_error(ann.get(app.url(path)).header("accept", "text/html").send().await.unwrap(), path).await;
    }
    let forms: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("/fn/sign_up", vec![("email", &email), ("password", "correct horse"), ("name", "N")]),
        ("/fn/log_in", vec![("email", &email), ("password", "correct horse")]),
        ("/fn/create_group", vec![("slug", nul), ("name", "N")]),
        ("/fn/create_invite", vec![("slug", nul)]),
        ("/fn/invite", vec![("code", nul)]),
        ("/fn/accept_invite", vec![("code", nul)]),
        ("/fn/group_header", vec![("slug", nul)]),
        ("/fn/board", vec![("slug", nul), ("limit", "50")]),
        ("/fn/board", vec![("slug", "x"), ("limit", "-1")]),
        ("/fn/requests", vec![("slug", "x"), ("status", "lost"), ("limit", "50")]),
        ("/fn/request_thread", vec![("slug", "x"), ("id", "not-a-uuid"), ("limit", "50")]),
        ("/fn/rooms", vec![("slug", "x"), ("from", "yesterday"), ("to", "2030-01-07T00:00:00Z")]),
        ("/fn/directory", vec![("slug", "x"), ("limit", "99999999999999999999999")]),
        ("/fn/summary", vec![("slug", "x"), ("from", "2030-01-07T00:00:00Z")]),
    ];
    for (path, form) in &forms {
        client_error(ann.post(app.url(path)).form(form).send().await.unwrap(), path).await;
    }
    // In a mutation, a refused value rejects that mutation only.
    let (room, request) = (Uuid::new_v4(), Uuid::new_v4());
    let setup = json!([
        {"id": Uuid::new_v4(), "name": "resource.create", "args": {"id": room, "name": "Room"}},
        {"id": Uuid::new_v4(), "name": "request.create", "args": {"id": request, "title": "Leak", "description": ""}}]);
    assert_eq!(app.mutate(&ann, &slug, setup).await.0, StatusCode::OK);
    let bad = [
        ("announcement.create", json!({"id": Uuid::new_v4(), "title": nul, "body": ""})),
        ("announcement.create", json!({"id": Uuid::new_v4(), "title": "t", "body": nul})),
        ("request.create", json!({"id": Uuid::new_v4(), "title": "t", "description": nul})),
        ("request.comment", json!({"id": Uuid::new_v4(), "request_id": request, "body": nul})),
        ("resource.create", json!({"id": Uuid::new_v4(), "name": nul})),
        ("member.update_profile", json!({"display_name": nul})),
        ("member.update_profile", json!({"display_name": "Ann", "unit": nul})),
        (
            "booking.create",
            json!({"id": Uuid::new_v4(), "resource_id": room, "starts_at": "0000-01-01T00:00:00Z", "ends_at": "0000-01-01T01:00:00Z"}),
        ),
    ];
    let mut batch: Vec<Value> =
        bad.iter().map(|(name, args)| json!({"id": Uuid::new_v4(), "name": name, "args": args})).collect();
    let good = Uuid::new_v4();
    batch.push(
        json!({"id": Uuid::new_v4(), "name": "announcement.create", "args": {"id": good, "title": "fine", "body": ""}}),
    );
    let (status, body) = app.mutate(&ann, &slug, Value::Array(batch)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let results = body["results"].as_array().unwrap();
    for (result, (name, _)) in results.iter().zip(&bad) {
        assert_eq!(result["status"], "rejected", "{name}: {result}");
    }
    assert_eq!(results.last().unwrap()["status"], "applied", "the good one behind them: {body}");
}

/// Values the `where` checker accepts must cast in Postgres (else the
/// query fails: a 500); it may refuse more than Postgres does.
#[tokio::test]
async fn every_where_value_the_checker_accepts_casts_in_postgres() {
    use shape_query::where_clause::ColumnType;
    let app = TestApp::spawn().await;
    let mut values: Vec<String> = [
        "",
        " ",
        "a\u{0}b",
        "\u{0}",
        "true",
        " true ",
        "TRUE",
        "t\u{3000}",
        "\u{a0}1",
        "yes",
        "on",
        "2",
        "1",
        "0",
        "-0",
        "+5",
        " 42 ",
        "42\u{3000}",
        "9223372036854775807",
        "9223372036854775808",
        "-9223372036854775808",
        "1e3",
        "0x10",
        "1_000",
        "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
        "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11",
        "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}",
        "a0eebc999c0b4ef8bb6d6bb9bd380a11",
        "urn:uuid:a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
        "a0eebc99-9c0b4ef8-bb6d-6bb9bd380a11",
        "{a0eebc999c0b4ef8bb6d6bb9bd380a11}",
        " a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
        "2024-05-01T10:00:00Z",
        "2024-05-01 10:00:00+00",
        "2024-05-01T10:00:00.123456789+02:00",
        "0000-01-01T00:00:00Z",
        "0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59Z",
        "10000-01-01T00:00:00Z",
        "2024-05-01T10:00:00+15:59",
        "2024-05-01T10:00:00+16:00",
        "2024-05-01T10:00:00-15:59",
        "2024-05-01T10:00:00-23:59",
        "2024-05-01T23:59:60Z",
        "2024-02-30T00:00:00Z",
        "2024-05-01t10:00:00z",
        "2024-05-01 10:00:00+05",
        "2024-05-01 10:00:00+0530",
        " 2024-05-01T10:00:00Z ",
        "2024-05-01T10:00:00Z\u{3000}",
        "+002024-05-01T10:00:00Z",
        "-0001-01-01T00:00:00Z",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    // And the cross of a few pieces, for the shapes nobody listed.
    for date in ["2024-05-01", "0000-12-31", "9999-12-31", "1970-01-01"] {
        for sep in ["T", " ", "t"] {
            for zone in ["Z", "+00", "+15:59", "-16:00", "+24:00", "+00:00:30"] {
                values.push(format!("{date}{sep}12:30:00{zone}"));
            }
        }
    }
    let types = [
        (ColumnType::Text, "text"),
        (ColumnType::Uuid, "uuid"),
        (ColumnType::Boolean, "boolean"),
        (ColumnType::Integer, "bigint"),
        (ColumnType::Timestamptz, "timestamptz"),
    ];
    let mut accepted = 0;
    for (ty, cast) in types {
        for value in &values {
            if !ty.accepts(value) {
                continue;
            }
            accepted += 1;
            let result = sqlx::query(&format!("SELECT $1::text::{cast}")).bind(value).execute(&app.db).await;
            assert!(result.is_ok(), "{cast} accepts {value:?} but Postgres refuses it: {result:?}");
        }
    }
    assert!(accepted > 40, "the list exercises acceptance too ({accepted})");
}

#[tokio::test]
async fn server_functions_answer_with_the_apis_statuses_and_limits() {
    let app = TestApp::spawn().await;
    let (ann, slug) = app.admin_of_new_group().await;
    let bo = app.resident(&ann, &slug, "Bo").await;
    let invite = bo.post(app.url("/fn/create_invite")).form(&[("slug", slug.as_str())]).send().await.unwrap();
    assert_eq!(invite.status(), StatusCode::FORBIDDEN);
    let (_, body) = common::read(invite).await;
    assert_eq!(body["kind"], "forbidden", "{body}");
    let taken = ann.post(app.url("/fn/create_group")).form(&[("slug", slug.as_str()), ("name", "Again")]).send().await;
    assert_eq!(taken.unwrap().status(), StatusCode::CONFLICT);
    let big = "x".repeat(3 * 1024 * 1024);
    let declared = ann.post(app.url("/fn/mutate")).header("content-type", "application/json").body(big.clone());
    assert_eq!(declared.send().await.unwrap().status(), StatusCode::PAYLOAD_TOO_LARGE);
    let chunks: Vec<Result<String, std::io::Error>> = (0..3).map(|_| Ok("x".repeat(1024 * 1024))).collect();
    let chunked = ann
        .post(app.url("/fn/mutate"))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    assert_eq!(chunked.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // Return addresses: CR/LF, other sites and their disguises get 4xx (and no session).
    let me = app.sign_up(&app.client(), "Cy").await;
    for next in
        ["/g/x\r\nSet-Cookie: a=b", "//evil.example", "/\\evil.example", "https://evil.example", "/\t/evil.example"]
    {
        let client = app.client();
        let form = [("email", me["email"].as_str().unwrap()), ("password", "correct horse"), ("next", next)];
        let response = client.post(app.url("/fn/log_in")).form(&form).send().await.expect("no dropped connection");
        client_error(response, next).await;
        assert_eq!(app.get(&client, "/api/me").await.0, StatusCode::UNAUTHORIZED, "{next}: not signed in");
    }
    let client = app.client();
    let form = [("email", me["email"].as_str().unwrap()), ("password", "correct horse"), ("next", "/g/elm?week=2")];
    let response = client.post(app.url("/fn/log_in")).header("accept", "text/html").form(&form).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FOUND, "a plain form post is redirected");
    assert_eq!(response.headers()["location"], "/g/elm?week=2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn slow_and_large_bodies_are_bounded_in_bytes_and_time() {
    let app = TestApp::spawn().await;
    // 32 uploads of just under 2 MiB that never finish: 64 MiB, the budget
    // for bodies held at once, less a few hundred bytes.
    let chunk = vec![b'x'; 2 * 1024 * 1024 - 10];
    let mut stalled = Vec::new();
    for _ in 0..32 {
        let (tx, rx) = futures::channel::mpsc::unbounded::<Result<Vec<u8>, std::io::Error>>();
        tx.unbounded_send(Ok(chunk.clone())).unwrap();
        let request = Client::new()
            .post(app.url("/api/auth/login"))
            .header("content-type", "application/json")
            .header("content-length", (2 * 1024 * 1024).to_string())
            .body(reqwest::Body::wrap_stream(rx));
        stalled.push((tx, tokio::spawn(request.send())));
    }
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    // A small request still fits; one more large one does not.
    let small = Client::new().post(app.url("/fn/log_in")).form(&[("email", "x@example.org"), ("password", "p")]);
    assert_eq!(small.send().await.unwrap().status(), StatusCode::UNAUTHORIZED, "a sign-in still gets through");
    let large = Client::new().post(app.url("/api/auth/login")).header("content-type", "application/json");
    let large = large.body(vec![b' '; 1024 * 1024]).send().await.unwrap();
    assert_eq!(large.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(large.headers().contains_key("retry-after"));
    // Ten seconds on, the stalled ones are answered 408 and let go.
    let (still_sending, first) = stalled.remove(0);
    let answered = tokio::time::timeout(std::time::Duration::from_secs(20), first).await.expect("answered in time");
    assert_eq!(answered.unwrap().unwrap().status(), StatusCode::REQUEST_TIMEOUT);
    drop((still_sending, stalled));
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let again = Client::new().post(app.url("/api/auth/login")).header("content-type", "application/json");
    let again = again.body(format!("{{\"email\": \"x@example.org\", \"password\": \"{}\"}}", "p".repeat(1024 * 1024)));
    assert_eq!(again.send().await.unwrap().status(), StatusCode::UNAUTHORIZED, "the budget is back");
}

#[tokio::test]
async fn sign_in_and_sign_up_from_another_site_are_refused() {
    let app = TestApp::spawn().await;
    let me = app.sign_up(&app.client(), "Ann").await;
    let port = app.base.rsplit(':').next().unwrap().to_owned();
    let login = json!({"email": me["email"], "password": "correct horse"});
    let signup = |n: u32| json!({"email": format!("new{n}-{}@example.org", Uuid::new_v4().simple()), "password": "correct horse", "name": "New"});
    let elsewhere = [
        ("origin", "https://evil.example".to_owned()),
        ("origin", "null".to_owned()),
        ("origin", format!("https://127.0.0.1:{port}")),
        ("origin", format!("http://127.0.0.1:{}", port.parse::<u16>().unwrap() + 1)),
        ("referer", "https://evil.example/login".to_owned()),
        ("sec-fetch-site", "cross-site".to_owned()),
    ];
    for (header, value) in &elsewhere {
        for (path, body) in
            [("/api/auth/login", login.clone()), ("/api/auth/signup", signup(1)), ("/api/auth/token", login.clone())]
        {
            let response = app.client().post(app.url(path)).header(*header, value).json(&body).send().await.unwrap();
            assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path} with {header}: {value}");
        }
        let form = [("email", me["email"].as_str().unwrap()), ("password", "correct horse")];
        let response =
            app.client().post(app.url("/fn/log_in")).header(*header, value).form(&form).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "/fn/log_in with {header}: {value}");
    }
    let own = app.client().post(app.url("/api/auth/login")).header("origin", &app.base).json(&login);
    assert_eq!(own.send().await.unwrap().status(), StatusCode::OK, "this site's own origin");
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM users").fetch_one(&app.db).await.unwrap();
    assert_eq!(count, 1, "no account was made from elsewhere");
}

/// The nonces the page's inline scripts carry.
fn script_nonces(html: &str) -> Vec<Option<String>> {
    html.match_indices("<script")
        .map(|(at, _)| {
            let tag = &html[at..at + html[at..].find('>').unwrap()];
            tag.split_once("nonce=\"").map(|(_, rest)| rest.split('"').next().unwrap().to_owned())
        })
        .collect()
}

#[tokio::test]
async fn pages_carry_the_security_headers_and_a_nonce_for_each_inline_script() {
    let app = TestApp::spawn().await;
    let (ann, slug) = app.admin_of_new_group().await;
    for (client, path) in [
        (app.client(), "/".to_owned()),
        (app.client(), "/login".into()),
        (ann.clone(), format!("/g/{slug}")),
        (app.client(), "/no/such/page".into()),
    ] {
        let response = client.get(app.url(&path)).header("accept", "text/html").send().await.unwrap();
        let headers = response.headers().clone();
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["referrer-policy"], "same-origin", "{path}");
        let policy = headers["content-security-policy"].to_str().unwrap().to_owned();
        assert!(policy.contains("frame-ancestors 'none'") && policy.contains("'wasm-unsafe-eval'"), "{policy}");
        assert!(!policy.contains("unsafe-inline"), "{policy}");
        assert!(headers["cache-control"].to_str().unwrap().starts_with("private"), "{path}");
        let html = response.text().await.unwrap();
        let nonces = script_nonces(&html);
        assert!(!nonces.is_empty(), "{path}: the hydration scripts");
        for nonce in nonces {
            let nonce = nonce.unwrap_or_else(|| panic!("{path}: an inline script without a nonce"));
            assert!(policy.contains(&format!("'nonce-{nonce}'")), "{path}: {nonce} not in {policy}");
        }
    }
    let api = app.get(&ann, "/api/me").await;
    assert_eq!(api.0, StatusCode::OK);
    let raw = ann.get(app.url("/api/me")).send().await.unwrap();
    assert_eq!(raw.headers()["x-content-type-options"], "nosniff");
}

#[tokio::test]
async fn shape_and_wake_answers_are_private_to_whoever_asked() {
    let app = TestApp::spawn_with(&[("COURTYARD_SYNC_LONG_POLL_TIMEOUT_SECS", "1")]).await;
    let (ann, slug) = app.admin_of_new_group().await;
    let start = ann.get(app.url(&format!("/g/{slug}/v1/shape?table=members&offset=-1"))).send().await.unwrap();
    let (handle, offset) = (
        start.headers()["electric-handle"].to_str().unwrap().to_owned(),
        start.headers()["electric-offset"].to_str().unwrap().to_owned(),
    );
    let paths = [
        format!("/g/{slug}/v1/shape?table=members&offset=-1"),
        format!("/g/{slug}/v1/shape?table=members&offset={offset}&handle={handle}"),
        format!("/g/{slug}/v1/shape?table=members&offset={offset}&handle={handle}&live=true"),
        format!("/g/{slug}/v1/shape?table=members&offset={offset}&handle=stale"),
        format!("/g/{slug}/v1/wake?after=0"),
    ];
    for path in paths {
        let response = ann.get(app.url(&path)).send().await.unwrap();
        let cache = response.headers()["cache-control"].to_str().unwrap();
        assert!(cache.starts_with("private") || cache == "no-store", "{path}: {cache}");
        assert!(!cache.contains("public") && !cache.contains("s-maxage"), "{path}: {cache}");
    }
}

#[tokio::test]
async fn an_expired_session_is_refused_at_once_even_while_waiting() {
    let app = TestApp::spawn_with(&[("COURTYARD_SYNC_LONG_POLL_TIMEOUT_SECS", "20")]).await;
    let (ann, slug) = app.admin_of_new_group().await;
    // A session about to end, known to the access cache (the first wake
    // answered from a lookup: a position past the log answers at once).
    sqlx::query("UPDATE sessions SET expires_at = now() + interval '3 seconds'").execute(&app.db).await.unwrap();
    let wake = format!("/g/{slug}/v1/wake?after=1000000");
    let head: i64 = app.get(&ann, &wake).await.1["head"].as_i64().unwrap();
    let wake = format!("/g/{slug}/v1/wake?after={head}");
    let waited = std::time::Instant::now();
    assert_eq!(app.get(&ann, &wake).await.0, StatusCode::OK, "answered when the session ended");
    assert!(waited.elapsed() < std::time::Duration::from_secs(10), "{:?}", waited.elapsed());
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(app.get(&ann, &wake).await.0, StatusCode::UNAUTHORIZED);
    let live = format!("/g/{slug}/v1/shape?table=members&offset={head}_0&handle=x&live=true");
    assert_eq!(app.get(&ann, &live).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_tab_of_someone_else_is_refused_the_next_persons_data() {
    let app = TestApp::spawn().await;
    let (ann, slug) = app.admin_of_new_group().await;
    let ann_id = sqlx::query_scalar::<_, Uuid>("SELECT id FROM users").fetch_one(&app.db).await.unwrap();
    let bo = app.resident(&ann, &slug, "Bo").await;
    // Bo's browser, still running Ann's sync (her tab left open).
    let as_ann = |request: reqwest::RequestBuilder| request.header("courtyard-user", ann_id.to_string());
    let shape = as_ann(bo.get(app.url(&format!("/g/{slug}/v1/shape?table=members&offset=-1"))));
    assert_eq!(shape.send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    let wake = as_ann(bo.get(app.url(&format!("/g/{slug}/v1/wake?after=0"))));
    assert_eq!(wake.send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    let write = json!({"group": slug, "mutations": [{"id": Uuid::new_v4(), "name": "announcement.create", "args": {"id": Uuid::new_v4(), "title": "Ann's", "body": ""}}]});
    let mutate = as_ann(bo.post(app.url("/api/mutate")).json(&write));
    assert_eq!(mutate.send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    let schema = app.schema_of(&slug).await;
    let notices: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM \"{schema}\".announcements"))
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(notices, 0, "nothing written under Bo's session");
    let own = ann.get(app.url(&format!("/g/{slug}/v1/wake?after=0"))).header("courtyard-user", ann_id.to_string());
    assert_eq!(own.send().await.unwrap().status(), StatusCode::OK, "her own session passes");
}

#[tokio::test]
async fn a_removed_member_cannot_come_back_through_an_older_invite_under_any_account() {
    let app = TestApp::spawn().await;
    let (ann, slug) = app.admin_of_new_group().await;
    let old_code = app.invite(&ann, &slug).await;
    let accept = |client: Client, code: String| {
        let app = &app;
        async move { app.post(&client, &format!("/api/invites/{code}/accept"), json!({})).await.0 }
    };
    let bo = app.client();
    app.sign_up(&bo, "Bo").await;
    assert_eq!(accept(bo.clone(), old_code.clone()).await, StatusCode::OK);
    sqlx::query("DELETE FROM memberships WHERE role = 'resident'").execute(&app.db).await.unwrap();
    assert_eq!(accept(bo.clone(), old_code.clone()).await, StatusCode::NOT_FOUND);
    assert_eq!(app.get(&bo, &format!("/g/{slug}/v1/wake?after=0")).await.0, StatusCode::NOT_FOUND);
    // Nor as somebody new.
    let bo_again = app.client();
    app.sign_up(&bo_again, "Bo2").await;
    assert_eq!(accept(bo_again.clone(), old_code.clone()).await, StatusCode::NOT_FOUND);
    let page = bo_again.post(app.url("/fn/invite")).form(&[("code", old_code.as_str())]).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::NOT_FOUND, "the invite page says so too");
    // A newer invite works.
    let new_code = app.invite(&ann, &slug).await;
    assert_eq!(accept(bo.clone(), new_code.clone()).await, StatusCode::OK);

    // Removed while accepting the invite again: the join waits for the
    // removal, then finds the invite withdrawn.
    let mut removal = app.db.begin().await.unwrap();
    sqlx::query("DELETE FROM memberships WHERE role = 'resident'").execute(&mut *removal).await.unwrap();
    let commit_later = async {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        removal.commit().await.unwrap();
    };
    let (racing, ()) = tokio::join!(accept(bo.clone(), new_code.clone()), commit_later);
    assert_eq!(racing, StatusCode::NOT_FOUND);
    let members: i64 = sqlx::query_scalar("SELECT count(*) FROM memberships").fetch_one(&app.db).await.unwrap();
    assert_eq!(members, 1, "only the admin is left");
}

#[tokio::test]
async fn one_account_creates_a_bounded_number_of_groups_even_in_parallel() {
    let app = TestApp::spawn_with(&[("COURTYARD_GROUPS_MAX_PER_USER", "3")]).await;
    let ann = app.client();
    app.sign_up(&ann, "Ann").await;
    let creates = (0..8).map(|i| {
        let body = json!({"slug": format!("g{i}-{}", &Uuid::new_v4().simple().to_string()[..8]), "name": "G"});
        app.post(&ann, "/api/groups", body)
    });
    let answers = futures::future::join_all(creates).await;
    let created = answers.iter().filter(|(s, _)| *s == StatusCode::CREATED).count();
    assert_eq!(created, 3, "{answers:?}");
    assert!(answers.iter().all(|(s, _)| *s == StatusCode::CREATED || *s == StatusCode::FORBIDDEN));
    let schemas: i64 =
        sqlx::query_scalar("SELECT count(*) FROM information_schema.schemata WHERE schema_name LIKE 'g\\_%'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(schemas, 3);
    let bo = Client::builder().cookie_store(true).build().unwrap();
    app.sign_up(&bo, "Bo").await;
    assert_eq!(
        app.post(
            &bo,
            "/api/groups",
            json!({"slug": format!("bo-{}", &Uuid::new_v4().simple().to_string()[..8]), "name": "B"})
        )
        .await
        .0,
        StatusCode::CREATED,
        "the limit is per account"
    );
}
