//! A real SMTP server for the tests (`scripts/smtp-sink`: aiosmtpd on a
//! loopback port), writing each message it receives to a directory this
//! reads. Killed when dropped.

use super::TestApp;
use serde_json::Value;
use std::{
    io::{BufRead, BufReader},
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::Duration,
};

/// How long a test waits for mail.
pub const WAIT: Duration = Duration::from_secs(20);

/// A server sending to `sink`, looking at its queue often and retrying
/// soon, with `more` settings.
pub async fn app_mailing_to(sink: &SmtpSink, more: &[(&str, &str)]) -> TestApp {
    let url = sink.url();
    let mut overrides = vec![
        ("COURTYARD_MAIL_SMTP_URL", url.as_str()),
        ("COURTYARD_PUBLIC_ORIGIN", "http://courtyard.test"),
        ("COURTYARD_MAIL_POLL_INTERVAL", "100ms"),
        ("COURTYARD_MAIL_RETRY_INITIAL", "200ms"),
        ("COURTYARD_MAIL_RETRY_MAX", "1s"),
    ];
    overrides.extend_from_slice(more);
    TestApp::spawn_with(&overrides).await
}

pub struct SmtpSink {
    child: Option<Child>,
    pub port: u16,
    pub dir: PathBuf,
}

impl SmtpSink {
    /// Starts one on a free port, writing to a new directory.
    pub fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let dir = std::env::temp_dir().join(format!("courtyard-mail-{}", uuid::Uuid::new_v4().simple()));
        let mut sink = Self { child: None, port, dir };
        sink.restart();
        sink
    }

    /// `mail.smtp_url` for a server sending here.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Stops it: connections to its port are refused until [`Self::restart`].
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on its port (what it received is kept) and waits
    /// until it listens.
    pub fn restart(&mut self) {
        self.stop();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/smtp-sink");
        let mut child = Command::new(script)
            .args(["--port", &self.port.to_string(), "--dir"])
            .arg(&self.dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("scripts/smtp-sink starts (scripts/setup --test installs aiosmtpd)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "listening", "scripts/smtp-sink did not start");
        self.child = Some(child);
    }

    /// Every message received so far, in order of arrival.
    pub fn messages(&self) -> Vec<Value> {
        let mut names: Vec<PathBuf> = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries
                .map(|entry| entry.unwrap().path())
                .filter(|path| path.extension().is_some_and(|e| e == "json"))
                .filter(|path| !path.file_name().unwrap().to_string_lossy().starts_with('.'))
                .collect(),
            Err(_) => Vec::new(),
        };
        names.sort();
        names.iter().map(|path| serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()).collect()
    }

    /// The messages to `to`.
    pub fn messages_to(&self, to: &str) -> Vec<Value> {
        self.messages().into_iter().filter(|m| m["envelope_to"][0] == to).collect()
    }

    /// Waits (up to `within`) until `count` messages to `to` have come; returns them.
    pub async fn wait_for(&self, to: &str, count: usize, within: Duration) -> Vec<Value> {
        let until = tokio::time::Instant::now() + within;
        loop {
            let found = self.messages_to(to);
            if found.len() >= count {
                return found;
            }
            assert!(tokio::time::Instant::now() < until, "{} of {count} messages to {to} arrived", found.len());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The token of the first link in `message` starting with `prefix`
/// (`/verify/`).
pub fn token_in(message: &Value, prefix: &str) -> String {
    link_path(message, prefix).trim_start_matches(prefix).to_owned()
}

/// The site path of the first link in `message`'s text starting with
/// `prefix` (`/reset/`): the link's path, whatever its origin.
pub fn link_path(message: &Value, prefix: &str) -> String {
    let text = message["text"].as_str().expect("a plain-text body");
    let start = text.find(prefix).unwrap_or_else(|| panic!("no {prefix} link in {text}"));
    text[start..].split_whitespace().next().unwrap().to_owned()
}
