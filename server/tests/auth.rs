//! Sign-up, log-in, log-out and /api/me over HTTP.

mod common;

use common::TestApp;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn signup_creates_an_account_and_a_session_cookie() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let response = client
        .post(app.url("/api/auth/signup"))
        .json(&json!({"email": " Ann@Example.org ", "password": "correct horse", "name": "Ann"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let cookie = response.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("courtyard_session="), "{cookie}");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");

    let (status, me) = app.get(&client, "/api/me").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["user"]["email"], "ann@example.org");
    assert_eq!(me["user"]["name"], "Ann");
    assert_eq!(me["groups"], json!([]));

    let hash: String = sqlx::query_scalar("SELECT password_hash FROM users").fetch_one(&app.db).await.unwrap();
    assert!(hash.starts_with("$argon2id$"), "stored hash is argon2id");
}

#[tokio::test]
async fn signup_with_a_taken_email_is_409_whatever_its_case() {
    let app = TestApp::spawn().await;
    let body = json!({"email": "bo@example.org", "password": "correct horse", "name": "Bo"});
    let (status, _) = app.post(&app.client(), "/api/auth/signup", body).await;
    assert_eq!(status, StatusCode::CREATED);
    let again = json!({"email": "BO@example.org", "password": "another one", "name": "Bo 2"});
    let (status, body) = app.post(&app.client(), "/api/auth/signup", again).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(body["error"].as_str().unwrap().contains("email"));
}

#[tokio::test]
async fn invalid_signup_input_is_422_naming_the_field() {
    let app = TestApp::spawn().await;
    let cases = [
        (json!({"email": "ann@example.org", "password": "short", "name": "Ann"}), "password"),
        (json!({"email": "not-an-email", "password": "correct horse", "name": "Ann"}), "email"),
        (json!({"email": "ann@example.org", "password": "correct horse", "name": "  "}), "name"),
    ];
    for (body, field) in cases {
        let (status, answer) = app.post(&app.client(), "/api/auth/signup", body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
        assert_eq!(answer["field"], field);
        assert!(answer["error"].is_string());
    }
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users").fetch_one(&app.db).await.unwrap();
    assert_eq!(users, 0);
}

#[tokio::test]
async fn malformed_bodies_get_json_errors_not_500s() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let url = app.url("/api/auth/signup");

    let syntax = client.post(&url).header("content-type", "application/json").body("{not json").send().await.unwrap();
    let (status, body) = common::read(syntax).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"].is_string());

    let missing_field = client.post(&url).json(&json!({"email": "a@b.org"})).send().await.unwrap();
    let (status, body) = common::read(missing_field).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["error"].as_str().unwrap().contains("password"), "{body}");

    let wrong_type = client.post(&url).json(&json!({"email": 1, "password": [], "name": {}})).send().await.unwrap();
    assert_eq!(wrong_type.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let no_content_type = client.post(&url).body("{}").send().await.unwrap();
    let (status, body) = common::read(no_content_type).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"].is_string());
}

#[tokio::test]
async fn login_checks_the_password_with_one_message_for_both_mistakes() {
    let app = TestApp::spawn().await;
    let body = json!({"email": "cy@example.org", "password": "correct horse", "name": "Cy"});
    app.post(&app.client(), "/api/auth/signup", body).await;

    let client = app.client();
    let (status, body) =
        app.post(&client, "/api/auth/login", json!({"email": "CY@example.org", "password": "correct horse"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["user"]["name"], "Cy");
    assert_eq!(app.get(&client, "/api/me").await.0, StatusCode::OK);

    let (wrong_password, a) =
        app.post(&app.client(), "/api/auth/login", json!({"email": "cy@example.org", "password": "wrong horse"})).await;
    let (unknown_email, b) = app
        .post(&app.client(), "/api/auth/login", json!({"email": "nobody@example.org", "password": "correct horse"}))
        .await;
    assert_eq!(wrong_password, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown_email, StatusCode::UNAUTHORIZED);
    assert_eq!(a, b, "the two failures must not be told apart");
}

#[tokio::test]
async fn logout_ends_the_session_on_the_server() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let response = client
        .post(app.url("/api/auth/signup"))
        .json(&json!({"email": "di@example.org", "password": "correct horse", "name": "Di"}))
        .send()
        .await
        .unwrap();
    let cookie = response.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();

    let response = client.post(app.url("/api/auth/logout")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.get(&client, "/api/me").await.0, StatusCode::UNAUTHORIZED);

    // The old cookie, replayed by hand, is dead too.
    let replay = app.client().get(app.url("/api/me")).header("cookie", cookie).send().await.unwrap();
    assert_eq!(replay.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn me_without_a_session_is_401_json() {
    let app = TestApp::spawn().await;
    let (status, body) = app.get(&app.client(), "/api/me").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body["error"].is_string());
    let forged =
        app.client().get(app.url("/api/me")).header("cookie", "courtyard_session=forged").send().await.unwrap();
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_bearer_token_works_like_the_cookie() {
    let app = TestApp::spawn().await;
    let response = app
        .client()
        .post(app.url("/api/auth/signup"))
        .json(&json!({"email": "ed@example.org", "password": "correct horse", "name": "Ed"}))
        .send()
        .await
        .unwrap();
    let cookie = response.headers()["set-cookie"].to_str().unwrap().to_owned();
    let token = cookie.split(';').next().unwrap().trim_start_matches("courtyard_session=");
    let me = reqwest::Client::new().get(app.url("/api/me")).bearer_auth(token).send().await.unwrap();
    assert_eq!(me.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_token_endpoint_gives_non_browser_clients_a_bearer_token() {
    let app = TestApp::spawn().await;
    let body = json!({"email": "fay@example.org", "password": "correct horse", "name": "Fay"});
    app.post(&app.client(), "/api/auth/signup", body).await;

    let response = reqwest::Client::new()
        .post(app.url("/api/auth/token"))
        .json(&json!({"email": "fay@example.org", "password": "correct horse"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    assert!(response.headers().get("set-cookie").is_none(), "no cookie for a token client");
    let (_, body) = common::read(response).await;
    assert!(body["expires_at"].is_string());
    let token = body["token"].as_str().unwrap();
    let me = reqwest::Client::new().get(app.url("/api/me")).bearer_auth(token).send().await.unwrap();
    assert_eq!(me.status(), StatusCode::OK);

    let logout = reqwest::Client::new().post(app.url("/api/auth/logout")).bearer_auth(token).send().await.unwrap();
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    let me = reqwest::Client::new().get(app.url("/api/me")).bearer_auth(token).send().await.unwrap();
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED, "logout revokes the token");

    let (status, _) = app
        .post(&app.client(), "/api/auth/token", json!({"email": "fay@example.org", "password": "wrong horse"}))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn unknown_api_paths_are_json_404s() {
    let app = TestApp::spawn().await;
    let (status, body) = app.get(&app.client(), "/api/nothing/here").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body["error"].is_string());
}

/// Failed sign-ins from `forwarded` (as a proxy names the client), each
/// for a different made-up account: the status of each.
async fn failures_from(app: &TestApp, forwarded: &str, tries: usize) -> Vec<StatusCode> {
    let mut statuses = Vec::new();
    for _ in 0..tries {
        let email = format!("nobody-{}@example.org", uuid::Uuid::new_v4().simple());
        let response = app
            .client()
            .post(app.url("/api/auth/login"))
            .header("x-forwarded-for", forwarded)
            .json(&json!({"email": email, "password": "wrong horse"}))
            .send()
            .await
            .unwrap();
        statuses.push(response.status());
    }
    statuses
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_per_address_limit_is_per_client() {
    let limit = [("COURTYARD_SESSION_MAX_LOGIN_FAILURES_PER_IP", "2")];
    let proxied = TestApp::spawn_with(&[limit[0], ("COURTYARD_TRUSTED_PROXIES", "127.0.0.1")]).await;
    let attacker = failures_from(&proxied, "203.0.113.9", 3).await;
    assert_eq!(attacker.last(), Some(&StatusCode::TOO_MANY_REQUESTS), "{attacker:?}");
    // Another client behind the same proxy is not locked out by that one.
    assert_eq!(failures_from(&proxied, "198.51.100.7", 1).await, [StatusCode::UNAUTHORIZED]);
    // A client's own claim further left is not believed.
    let spoofed = failures_from(&proxied, "198.51.100.8, 203.0.113.9", 1).await;
    assert_eq!(spoofed, [StatusCode::TOO_MANY_REQUESTS]);

    // Without trusted proxies the header is ignored: everyone from this
    // address shares its limit.
    let direct = TestApp::spawn_with(&limit).await;
    failures_from(&direct, "203.0.113.9", 3).await;
    assert_eq!(failures_from(&direct, "198.51.100.7", 1).await, [StatusCode::TOO_MANY_REQUESTS]);
}
