//! Outgoing mail: each message composed here (a plain-text and an HTML
//! body from the same parts) and queued in the transaction of the action
//! that causes it. The server's mail job sends the queue (server/src/mail.rs).

use crate::{backend::Settings, error::AppError};
use sqlx::PgExecutor;

/// One message to one address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// The one-click unsubscribe address (RFC 8058) of a notification: sent
    /// as its `List-Unsubscribe` header.
    pub unsubscribe: Option<String>,
}

/// A piece of a message's body.
#[derive(Clone, Copy)]
pub enum Part<'a> {
    /// A paragraph of text.
    Text(&'a str),
    /// A link on a line of its own: its label, and the site path it leads
    /// to (made absolute with the site's public address).
    Link(&'a str, &'a str),
}

impl Mail {
    /// A message whose two bodies say the same: `greeting` and `parts` in
    /// order, then a closing line. User text in it is escaped in the HTML.
    pub fn compose(settings: &Settings, to: &str, subject: &str, greeting: &str, parts: &[Part<'_>]) -> Self {
        let footer = format!("Courtyard, {}", settings.links_base);
        let mut text = format!("{greeting}\n\n");
        let mut html = format!(
            "<!doctype html><html><body style=\"font-family:sans-serif;line-height:1.5\"><p>{}</p>",
            html_escape::encode_text(greeting)
        );
        for part in parts {
            match part {
                Part::Text(paragraph) => {
                    text.push_str(&format!("{paragraph}\n\n"));
                    html.push_str(&format!("<p>{}</p>", html_escape::encode_text(paragraph)));
                }
                Part::Link(label, path) => {
                    let url = format!("{}{path}", settings.links_base);
                    text.push_str(&format!("{label}:\n{url}\n\n"));
                    html.push_str(&format!(
                        "<p><a href=\"{}\">{}</a></p>",
                        html_escape::encode_double_quoted_attribute(&url),
                        html_escape::encode_text(label)
                    ));
                }
            }
        }
        text.push_str(&format!("-- \n{footer}\n"));
        html.push_str(&format!(
            "<p style=\"color:#666;font-size:smaller\">{}</p></body></html>",
            html_escape::encode_text(&footer)
        ));
        Self { to: to.to_owned(), subject: subject.to_owned(), text, html, unsubscribe: None }
    }
}

/// Queues `mail`; it is sent once the transaction `db` belongs to commits.
/// A notification (one with an unsubscribe link) goes after the mail
/// people wait for (sign-in links, verification), however many are queued.
pub async fn queue(db: impl PgExecutor<'_>, mail: &Mail) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO mail_queue (to_address, subject, text_body, html_body, unsubscribe_url, priority)
         VALUES ($1, $2, $3, $4, $5, CASE WHEN $5 IS NULL THEN 0 ELSE 1 END)",
    )
    .bind(&mail.to)
    .bind(&mail.subject)
    .bind(&mail.text)
    .bind(&mail.html)
    .bind(&mail.unsubscribe)
    .execute(db)
    .await?;
    Ok(())
}

/// How long a link lasts, in words ("1 hour", "7 days").
pub fn lasts(duration: chrono::Duration) -> String {
    let seconds = duration.num_seconds().max(1);
    let (n, unit) = [(86_400, "day"), (3600, "hour"), (60, "minute")]
        .into_iter()
        .find(|(size, _)| seconds % size == 0)
        .map_or((seconds, "second"), |(size, unit)| (seconds / size, unit));
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_bodies_say_the_same_and_the_html_escapes_user_text() {
        let settings = Settings { links_base: "https://courtyard.example".into(), ..Settings::default() };
        let mail = Mail::compose(
            &settings,
            "ann@example.com",
            "Reset",
            "Hello <Ann> & co,",
            &[Part::Text("Someone asked."), Part::Link("Choose a new password", "/reset/abc\"def")],
        );
        assert!(mail.text.contains("Hello <Ann> & co,"));
        assert!(mail.text.contains("https://courtyard.example/reset/abc\"def"));
        assert!(mail.html.contains("Hello &lt;Ann&gt; &amp; co,"));
        assert!(mail.html.contains("href=\"https://courtyard.example/reset/abc&quot;def\""));
        assert!(!mail.html.contains("<Ann>"));
    }

    #[test]
    fn durations_read_as_words() {
        assert_eq!(lasts(chrono::Duration::hours(1)), "1 hour");
        assert_eq!(lasts(chrono::Duration::days(7)), "7 days");
        assert_eq!(lasts(chrono::Duration::minutes(90)), "90 minutes");
        assert_eq!(lasts(chrono::Duration::hours(36)), "36 hours");
        assert_eq!(lasts(chrono::Duration::seconds(1)), "1 second");
        assert_eq!(lasts(chrono::Duration::seconds(90)), "90 seconds");
    }
}
