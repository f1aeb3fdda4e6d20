//! The mail job: sends the queue (`mail_queue`, filled by `app::backend::mail`
//! in the transactions of the actions that cause mail) over SMTP with
//! lettre, or, without `mail.smtp_url`, writes each message to the log.
//!
//! Every server runs it. A message is claimed first, in a short
//! transaction (`FOR UPDATE SKIP LOCKED`, then its next attempt moved a
//! lease ahead, [`LEASE`]), then sent, then marked sent: two servers never
//! send one message at once, one sent is not sent again, and a message
//! whose marking failed (the registry away just then) waits out its lease
//! rather than going out every poll. (A server killed between the SMTP
//! server's acceptance and the marking sends that message again once the
//! lease is over.) A failed send is tried again after `retry_initial`,
//! doubling up to `retry_max`, and given up on after `give_up_after`. Every
//! SMTP error counts as passing (a 5xx too: a login refused or a sender
//! not allowed is the configuration's fault, and must not drop the queue);
//! only a message that cannot be built is given up on at once.

use crate::config::MailConfig;
use app::backend::auth::email_link;
use chrono::{DateTime, Utc};
use lettre::{
    message::{
        header::{ContentType, HeaderName, HeaderValue},
        Mailbox, MultiPart, SinglePart,
    },
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
};
use sqlx::PgPool;
use std::time::Duration;

/// How long a claimed message is left to its sender: past it (the sender
/// died, or could not mark it), another send may take it.
const LEASE: Duration = Duration::from_secs(300);

/// An SMTP transport from `mail.smtp_url` (a connection per message).
pub fn transport(url: &str) -> Result<AsyncSmtpTransport<Tokio1Executor>, lettre::transport::smtp::Error> {
    Ok(AsyncSmtpTransport::<Tokio1Executor>::from_url(url.trim())?.timeout(Some(Duration::from_secs(30))).build())
}

/// The sender `mail.from` names, if it names one.
pub fn sender(from: &str) -> Option<Mailbox> {
    from.trim().parse().ok()
}

/// Where the mail goes.
enum Outbox {
    Smtp(Box<AsyncSmtpTransport<Tokio1Executor>>),
    /// No SMTP server configured: the log (development).
    Log,
}

#[derive(sqlx::FromRow)]
struct Queued {
    id: i64,
    to_address: String,
    subject: String,
    text_body: String,
    html_body: String,
    attempts: i32,
    created_at: DateTime<Utc>,
    unsubscribe_url: Option<String>,
}

/// A send that failed: for now, or for good.
struct Failure {
    error: String,
    permanent: bool,
}

struct Mailer {
    outbox: Outbox,
    from: Mailbox,
    config: MailConfig,
}

impl Mailer {
    async fn send(&self, mail: &Queued) -> Result<(), Failure> {
        let Outbox::Smtp(transport) = &self.outbox else {
            tracing::info!(
                to = %mail.to_address,
                subject = %mail.subject,
                body = %mail.text_body,
                "mail (no mail.smtp_url set: written here, not sent)"
            );
            return Ok(());
        };
        // An address alone (never "Name <address>" read out of it).
        let to: lettre::Address = mail
            .to_address
            .parse()
            .map_err(|error| Failure { error: format!("bad recipient: {error}"), permanent: true })?;
        let mut builder = Message::builder().from(self.from.clone()).to(Mailbox::new(None, to)).subject(&mail.subject);
        if let Some(url) = &mail.unsubscribe_url {
            // RFC 8058: the address a mail provider posts
            // `List-Unsubscribe=One-Click` to, with no session.
            builder = builder
                .raw_header(HeaderValue::new(HeaderName::new_from_ascii_str("List-Unsubscribe"), format!("<{url}>")))
                .raw_header(HeaderValue::new(
                    HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                    "List-Unsubscribe=One-Click".to_owned(),
                ));
        }
        let message = builder
            .multipart(
                MultiPart::alternative()
                    .singlepart(SinglePart::builder().header(ContentType::TEXT_PLAIN).body(mail.text_body.clone()))
                    .singlepart(SinglePart::builder().header(ContentType::TEXT_HTML).body(mail.html_body.clone())),
            )
            .map_err(|error| Failure { error: format!("cannot build the message: {error}"), permanent: true })?;
        transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|error| Failure { permanent: false, error: error.to_string() })
    }

    /// The wait after the `attempts`-th failed send.
    fn backoff(&self, attempts: i32) -> Duration {
        let doublings = attempts.saturating_sub(1).clamp(0, 20) as u32;
        self.config.retry_initial.saturating_mul(2u32.pow(doublings)).min(self.config.retry_max)
    }
}

/// Starts the mail job on the current runtime.
pub fn spawn(config: &MailConfig, registry: PgPool) -> tokio::task::JoinHandle<()> {
    let outbox = match config.smtp_url.trim() {
        "" => {
            let listed = if cfg!(debug_assertions) { ", and listed at /dev/mail" } else { "" };
            tracing::info!("no mail.smtp_url set: mail is written to the log instead of being sent{listed}");
            Outbox::Log
        }
        // (Both checked when the configuration loaded.)
        url => match transport(url) {
            Ok(transport) => Outbox::Smtp(Box::new(transport)),
            Err(_) => Outbox::Log,
        },
    };
    let from = sender(&config.from).unwrap_or_else(|| Mailbox::new(None, "courtyard@localhost".parse().unwrap()));
    let mailer = Mailer { outbox, from, config: config.clone() };
    tokio::spawn(async move {
        let mut last_tidy: Option<tokio::time::Instant> = None;
        loop {
            match send_one(&registry, &mailer).await {
                // More may be due: on at once.
                Ok(true) => continue,
                Ok(false) => {}
                Err(error) => tracing::warn!(%error, "cannot read the mail queue; trying again"),
            }
            if last_tidy.is_none_or(|at| at.elapsed() > Duration::from_secs(600)) {
                last_tidy = Some(tokio::time::Instant::now());
                if let Err(error) = tidy(&registry, mailer.config.keep_sent).await {
                    tracing::warn!(%error, "cannot tidy the mail queue");
                }
            }
            tokio::time::sleep(mailer.config.poll_interval).await;
        }
    })
}

/// Sends the next message due, if one is (and not claimed by another
/// server); whether there was one.
async fn send_one(registry: &PgPool, mailer: &Mailer) -> Result<bool, sqlx::Error> {
    let mut claim = registry.begin().await?;
    let due: Option<Queued> = sqlx::query_as(
        "SELECT id, to_address, subject, text_body, html_body, attempts, created_at, unsubscribe_url FROM mail_queue
         WHERE sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= now()
         ORDER BY priority, next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED",
    )
    .fetch_optional(&mut *claim)
    .await?;
    let Some(mail) = due else { return Ok(false) };
    let attempts = mail.attempts + 1;
    let too_old = Utc::now() - mail.created_at
        > chrono::Duration::from_std(mailer.config.give_up_after).unwrap_or(chrono::Duration::MAX);
    if too_old && mail.attempts > 0 {
        // Tried, and not sent in time (the last failure is in last_error).
        tracing::error!(id = mail.id, to = %mail.to_address, attempts = mail.attempts, "mail given up on");
        sqlx::query("UPDATE mail_queue SET failed_at = now() WHERE id = $1").bind(mail.id).execute(&mut *claim).await?;
        claim.commit().await?;
        metrics::counter!("courtyard_mail_total", "outcome" => "failed").increment(1);
        return Ok(true);
    }
    sqlx::query(
        "UPDATE mail_queue SET attempts = $2, next_attempt_at = now() + make_interval(secs => $3) WHERE id = $1",
    )
    .bind(mail.id)
    .bind(attempts)
    .bind(LEASE.as_secs_f64())
    .execute(&mut *claim)
    .await?;
    claim.commit().await?;
    // Bounded well within the lease, so no other server takes it meanwhile.
    let sent = match tokio::time::timeout(LEASE / 3, mailer.send(&mail)).await {
        Ok(sent) => sent,
        Err(_) => Err(Failure { error: "the SMTP exchange took too long".into(), permanent: false }),
    };
    // The registry away just as the send is recorded: tried again for a
    // while (unrecorded, a sent message would go out again once its lease
    // is over).
    let mut tries = 0;
    loop {
        match mark(registry, mailer, &mail, attempts, &sent, too_old).await {
            Ok(()) => return Ok(true),
            Err(error) if tries < 5 => {
                tries += 1;
                tracing::warn!(%error, id = mail.id, "cannot record how a message's send went; trying again");
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            Err(error) => return Err(error),
        }
    }
}

/// Records how the `attempts`-th send of `mail` went, if the message is
/// still this sender's (not taken by another after its lease ran out).
async fn mark(
    registry: &PgPool,
    mailer: &Mailer,
    mail: &Queued,
    attempts: i32,
    sent: &Result<(), Failure>,
    too_old: bool,
) -> Result<(), sqlx::Error> {
    match sent {
        Ok(()) => {
            // Sent over SMTP, the bodies go (they may hold a sign-in link);
            // written to the log, they stay for /dev/mail.
            let keep_bodies = matches!(mailer.outbox, Outbox::Log);
            sqlx::query(
                "UPDATE mail_queue SET sent_at = now(), last_error = NULL,
                     text_body = CASE WHEN $2 THEN text_body ELSE '' END,
                     html_body = CASE WHEN $2 THEN html_body ELSE '' END
                 WHERE id = $1 AND attempts = $3 AND sent_at IS NULL",
            )
            .bind(mail.id)
            .bind(keep_bodies)
            .bind(attempts)
            .execute(registry)
            .await?;
            metrics::counter!("courtyard_mail_total", "outcome" => "sent").increment(1);
        }
        Err(failure) if failure.permanent || too_old => {
            tracing::error!(id = mail.id, to = %mail.to_address, attempts, error = %failure.error, "mail given up on");
            sqlx::query(
                "UPDATE mail_queue SET failed_at = now(), last_error = $2 WHERE id = $1 AND attempts = $3 AND sent_at IS NULL",
            )
            .bind(mail.id)
            .bind(&failure.error)
            .bind(attempts)
            .execute(registry)
            .await?;
            metrics::counter!("courtyard_mail_total", "outcome" => "failed").increment(1);
        }
        Err(failure) => {
            let wait = mailer.backoff(attempts);
            tracing::warn!(id = mail.id, attempts, retry_in = ?wait, error = %failure.error, "mail not sent; trying again later");
            sqlx::query(
                "UPDATE mail_queue SET last_error = $2, next_attempt_at = now() + make_interval(secs => $3)
                 WHERE id = $1 AND attempts = $4 AND sent_at IS NULL",
            )
            .bind(mail.id)
            .bind(&failure.error)
            .bind(wait.as_secs_f64())
            .bind(attempts)
            .execute(registry)
            .await?;
            metrics::counter!("courtyard_mail_total", "outcome" => "retried").increment(1);
        }
    }
    Ok(())
}

/// Forgets messages sent or given up on more than `keep` ago, and expired
/// email links.
async fn tidy(registry: &PgPool, keep: Duration) -> Result<(), app::error::AppError> {
    sqlx::query(
        "DELETE FROM mail_queue WHERE (sent_at IS NOT NULL OR failed_at IS NOT NULL)
           AND coalesce(sent_at, failed_at) < now() - make_interval(secs => $1)",
    )
    .bind(keep.as_secs_f64())
    .execute(registry)
    .await?;
    email_link::forget_expired(registry).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_wait_longer_and_longer_up_to_the_most() {
        let config = MailConfig {
            retry_initial: Duration::from_secs(10),
            retry_max: Duration::from_secs(600),
            ..MailConfig::default()
        };
        let mailer = Mailer { outbox: Outbox::Log, from: sender(&config.from).unwrap(), config };
        let waits: Vec<u64> = (1..=8).map(|n| mailer.backoff(n).as_secs()).collect();
        assert_eq!(waits, [10, 20, 40, 80, 160, 320, 600, 600]);
        assert_eq!(mailer.backoff(i32::MAX).as_secs(), 600);
    }

    #[test]
    fn the_smtp_url_names_plain_starttls_or_tls() {
        for url in ["smtp://127.0.0.1:2525", "smtp://u:p@mail.example:587?tls=required", "smtps://u:p@mail.example"] {
            assert!(transport(url).is_ok(), "{url}");
        }
        assert!(transport("http://mail.example").is_err());
        assert!(sender("Courtyard <courtyard@example.org>").is_some());
        assert!(sender("not an address").is_none());
    }
}
