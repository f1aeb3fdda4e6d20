//! `/dev/mail` (debug builds without `mail.smtp_url` only, for requests from
//! this machine through no proxy): the latest messages the server wrote to
//! its log instead of sending, with their links clickable, so a developer
//! can follow a reset or verification link.

use app::{backend::AppState, error::AppError};
use axum::{
    extract::{ConnectInfo, Request, State},
    response::Html,
};
use chrono::{DateTime, Utc};
use std::net::SocketAddr;

pub async fn page(State(state): State<AppState>, request: Request) -> Result<Html<String>, AppError> {
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|info| info.0);
    if !crate::ops::from_this_machine(request.headers(), peer) {
        return Err(AppError::NotFound);
    }
    let mails: Vec<(String, String, String, DateTime<Utc>)> =
        sqlx::query_as("SELECT to_address, subject, text_body, created_at FROM mail_queue ORDER BY id DESC LIMIT 50")
            .fetch_all(state.registry())
            .await?;
    let mut html = String::from(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Mail (development)</title></head>\
         <body><h1>Mail written to the log</h1><p>The latest 50 messages, newest first. \
         Set mail.smtp_url to send them instead.</p>",
    );
    if mails.is_empty() {
        html.push_str("<p>None yet.</p>");
    }
    let base = &state.settings.links_base;
    for (to, subject, text, at) in mails {
        let body: Vec<String> = text
            .lines()
            .map(|line| {
                let escaped = html_escape::encode_text(line).into_owned();
                if line.starts_with(base.as_str()) && !line.contains(char::is_whitespace) {
                    let href = html_escape::encode_double_quoted_attribute(line);
                    format!("<a href=\"{href}\">{escaped}</a>")
                } else {
                    escaped
                }
            })
            .collect();
        html.push_str(&format!(
            "<article><h2>{}</h2><p>To {} at {}</p><pre>{}</pre></article>",
            html_escape::encode_text(&subject),
            html_escape::encode_text(&to),
            at.format("%Y-%m-%d %H:%M:%S UTC"),
            body.join("\n"),
        ));
    }
    html.push_str("</body></html>");
    Ok(Html(html))
}
