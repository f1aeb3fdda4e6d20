//! The server as `main` runs it (`server::serve`): HTTPS with ALPN when a
//! certificate is configured, a certificate it cannot use refused at
//! start-up, and a graceful shutdown that ends held event streams and
//! long-polls at once.

mod common;

use common::{config_for, fresh_database};
use futures::StreamExt;
use reqwest::{Client, StatusCode, Version};
use serde_json::{json, Value};
use server::config::Config;
use std::{
    net::SocketAddr,
    path::PathBuf,
    time::{Duration, Instant},
};
use tokio::sync::oneshot;

/// `server::serve` on its own thread and runtime, as `main` runs it.
struct Served {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    stopped: oneshot::Receiver<Result<(), String>>,
}

impl Served {
    fn start(config: Config) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stop_signal) = oneshot::channel::<()>();
        let (done, stopped) = oneshot::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let result = server::serve(config, listener, async {
                    let _ = stop_signal.await;
                })
                .await;
                let _ = done.send(result.map_err(|error| error.to_string()));
            });
        });
        Self { addr, stop, stopped }
    }

    /// Signals shutdown; how long `serve` took to return after it.
    async fn shut_down(self) -> Duration {
        let asked = Instant::now();
        let _ = self.stop.send(());
        let result = tokio::time::timeout(Duration::from_secs(30), self.stopped)
            .await
            .expect("serve returns after the shutdown signal")
            .expect("serve's thread answers");
        assert_eq!(result, Ok(()));
        asked.elapsed()
    }
}

/// Signs up on `client` and creates a group; its slug.
async fn group(client: &Client, base: &str) -> String {
    let email = format!("ann-{}@example.org", uuid::Uuid::new_v4().simple());
    let response = client
        .post(format!("{base}/api/auth/signup"))
        .json(&json!({"email": email, "password": "correct horse", "name": "Ann"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let slug = format!("elm-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let response =
        client.post(format!("{base}/api/groups")).json(&json!({"slug": slug, "name": "Elm"})).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    slug
}

/// The first shape request of the group's announcements; the query of the
/// live requests that follow it.
async fn live_query(client: &Client, url: &str) -> Vec<(&'static str, String)> {
    let first = client.get(url).query(&[("table", "announcements"), ("offset", "-1")]).send().await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    let header = |name: &str| first.headers()[name].to_str().unwrap().to_owned();
    vec![
        ("table", "announcements".into()),
        ("offset", header("electric-offset")),
        ("handle", header("electric-handle")),
        ("live", "true".into()),
    ]
}

/// A self-signed certificate for `localhost` and its key, written as PEM
/// files; their paths and the certificate's PEM.
fn certificate(name: &str) -> (PathBuf, PathBuf, String) {
    let rcgen::CertifiedKey { cert, signing_key } =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("tls-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert_path, key_path) = (dir.join(format!("{name}.crt")), dir.join(format!("{name}.key")));
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, signing_key.serialize_pem()).unwrap();
    (cert_path, key_path, cert.pem())
}

fn tls_config(database_url: &str, cert: &std::path::Path, key: &std::path::Path) -> Config {
    let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
    config_for(database_url, &[("COURTYARD_TLS_CERT", cert), ("COURTYARD_TLS_KEY", key)])
}

/// With a certificate the server speaks HTTPS: a browser-like client
/// (ALPN offering h2 and http/1.1) gets HTTP/2, the API, a shape and an
/// event stream on it; an HTTP/1.1-only client gets HTTP/1.1; plain HTTP
/// is not answered.
#[tokio::test]
async fn with_a_certificate_https_negotiates_http2_or_http11() {
    let (cert, key, pem) = certificate("localhost");
    let served = Served::start(tls_config(&fresh_database().await, &cert, &key));
    let base = format!("https://localhost:{}", served.addr.port());
    let trusted = || {
        Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).unwrap())
            .resolve("localhost", served.addr)
            .cookie_store(true)
    };

    let h2 = trusted().build().unwrap();
    let page = h2.get(format!("{base}/login")).send().await.unwrap();
    assert_eq!(page.version(), Version::HTTP_2, "ALPN picks h2");
    assert_eq!(page.status(), StatusCode::OK);
    let email = format!("ann-{}@example.org", uuid::Uuid::new_v4().simple());
    let signed_up = h2
        .post(format!("{base}/api/auth/signup"))
        .json(&json!({"email": email, "password": "correct horse", "name": "Ann"}))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_up.status(), StatusCode::CREATED);
    let cookie = signed_up.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.contains("; Secure"), "served over HTTPS, the cookie is Secure: {cookie}");
    let slug = format!("elm-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let created =
        h2.post(format!("{base}/api/groups")).json(&json!({"slug": slug, "name": "Elm"})).send().await.unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let url = format!("{base}/g/{slug}/v1/shape");
    let mut query = live_query(&h2, &url).await;
    query.push(("live_sse", "true".into()));
    let stream = h2.get(&url).query(&query).send().await.unwrap();
    assert_eq!(stream.version(), Version::HTTP_2);
    assert_eq!(stream.headers()["content-type"], "text/event-stream");
    // The stream held, another request on the same connection answers.
    let me = h2.get(format!("{base}/api/me")).send().await.unwrap();
    assert_eq!((me.version(), me.status()), (Version::HTTP_2, StatusCode::OK));

    let h1 = trusted().http1_only().build().unwrap();
    let page = h1.get(format!("{base}/login")).send().await.unwrap();
    assert_eq!(page.version(), Version::HTTP_11, "a client offering only http/1.1 gets it");
    assert_eq!(page.status(), StatusCode::OK);

    let plain = Client::new().get(format!("http://127.0.0.1:{}/login", served.addr.port())).send().await;
    assert!(plain.is_err(), "plain HTTP on the HTTPS port: {plain:?}");
    let untrusted = Client::builder().resolve("localhost", served.addr).build().unwrap();
    assert!(untrusted.get(format!("{base}/login")).send().await.is_err(), "the certificate is checked");

    drop(stream);
    served.shut_down().await;
}

/// A certificate or key the server cannot use stops it before it serves,
/// with an error naming the file.
#[tokio::test]
async fn an_unusable_certificate_or_key_is_refused_at_start_up() {
    let (cert, key, _) = certificate("localhost");
    let (_, other_key, _) = certificate("other");
    let missing = cert.with_file_name("missing.crt");
    let not_pem = cert.with_file_name("not-pem.crt");
    std::fs::write(&not_pem, "not a certificate").unwrap();
    // Refused before the database is looked at: none is needed.
    let database = "postgres://nobody@127.0.0.1:1/none";
    for (cert, key, expected) in [
        (&missing, &key, format!("cannot read the TLS certificate chain from {}", missing.display())),
        (&not_pem, &key, format!("{}: the file holds no PEM certificate", not_pem.display())),
        (&cert, &missing, format!("cannot read the TLS private key from {}", missing.display())),
        (&cert, &cert, format!("{}: the file holds no PEM private key", cert.display())),
        (&cert, &other_key, "cannot be used".to_owned()),
    ] {
        let served = Served::start(tls_config(database, cert, key));
        let result = tokio::time::timeout(Duration::from_secs(10), served.stopped).await.unwrap().unwrap();
        let error = result.unwrap_err();
        assert!(error.contains(&expected), "{error:?} should say {expected:?}");
    }
}

/// When shutdown is signalled, an open event stream and a waiting long-poll
/// end at once (the stream cleanly, the long-poll up to date), and `serve`
/// returns well within their timeouts (60 s and 20 s as shipped).
#[tokio::test]
async fn shutting_down_ends_held_streams_and_long_polls_at_once() {
    let config = config_for(&fresh_database().await, &[]);
    assert_eq!((config.sync.sse_timeout_secs, config.sync.long_poll_timeout_secs), (60, 20));
    let served = Served::start(config);
    let base = format!("http://{}", served.addr);
    let client = Client::builder().cookie_store(true).build().unwrap();
    let slug = group(&client, &base).await;
    let url = format!("{base}/g/{slug}/v1/shape");
    let query = live_query(&client, &url).await;

    let mut sse_query = query.clone();
    sse_query.push(("live_sse", "true".into()));
    let stream = client.get(&url).query(&sse_query).send().await.unwrap();
    assert_eq!(stream.headers()["content-type"], "text/event-stream");
    let stream = tokio::spawn(async move {
        let mut body = stream.bytes_stream();
        let mut text = String::new();
        while let Some(chunk) = body.next().await {
            text.push_str(&String::from_utf8_lossy(&chunk.map_err(|error| error.to_string())?));
        }
        Ok::<_, String>(text)
    });
    let long_poll = tokio::spawn({
        let request = client.get(&url).query(&query);
        async move {
            let response = request.send().await.unwrap();
            let status = response.status();
            let up_to_date = response.headers().contains_key("electric-up-to-date");
            (status, up_to_date, response.json::<Value>().await.unwrap())
        }
    });
    // Both held by now.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!stream.is_finished() && !long_poll.is_finished());

    let took = served.shut_down().await;
    assert!(took < Duration::from_secs(5), "serve returned {took:?} after the signal");
    let text = stream.await.unwrap().expect("the stream ends cleanly");
    assert!(!text.contains("\"operation\""), "no changes were sent: {text:?}");
    let (status, up_to_date, body) = long_poll.await.unwrap();
    assert_eq!(status, StatusCode::OK);
    assert!(up_to_date, "the long-poll answers up to date");
    assert_eq!(body.as_array().map(Vec::len), Some(1), "nothing but up-to-date: {body}");
    assert_eq!(body[0]["headers"]["control"], "up-to-date", "{body}");
}
