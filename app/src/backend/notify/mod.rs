//! Email notifications: the job that reads each group's change log and
//! queues mail (`backend::mail`) for
//!
//! - a notice pinned (at once), and the other new notices (in a digest
//!   every `mail.digest_every`);
//! - a status change or a comment on a request one opened or commented on;
//! - a booking starting within `mail.booking_reminder` (if it was made
//!   before that);
//!
//! to each member with a verified address who has that kind of mail on
//! (`choices`), never about what they did themselves (each logged change
//! names its actor, tenant migration 0011). Every message carries a
//! one-click unsubscribe link.
//!
//! Per group, the registry's `notify_cursors` row holds the log position
//! read up to: the mail and the cursor's move are written in one registry
//! transaction, so each change is mailed about once, and the row's lock
//! (`SKIP LOCKED`) keeps two servers off one group. Log positions are
//! handed out in commit order, so nothing committed later lands behind the
//! cursor. A new group's cursor starts at its log's beginning (made with
//! the group); a group made before notifications existed starts at its
//! log's head when the job first meets it: nothing from before is mailed.

pub mod choices;

use super::{
    groups::{Group, GroupRow, GROUP_COLUMNS},
    mail::{self, Mail, Part},
    AppState,
};
use crate::{
    error::AppError,
    model::{MailChoices, MailKind},
};
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{FromRow, PgConnection, Postgres, Transaction};
use std::collections::BTreeSet;
use uuid::Uuid;

/// Log entries read per group and pass.
const BATCH: i64 = 500;
/// The most of a notice's or comment's text a message quotes.
const QUOTE: usize = 2_000;

/// Groups whose log heads one query reads.
const HEADS_PER_QUERY: usize = 200;

/// The job's cursor of a group, as the pass first reads it.
#[derive(sqlx::FromRow)]
struct Cursor {
    position: Option<i64>,
    digest_sent_at: Option<DateTime<Utc>>,
    next_reminder_at: Option<DateTime<Utc>>,
}

/// One pass over the open groups; returns how many messages it queued.
/// The log heads are read a few hundred groups per query, so a pass over
/// quiet groups costs a query per database and batch; only a group with
/// news (or a digest or reminders due) is worked on. A group database that
/// fails is skipped for the rest of the pass (its groups are tried again
/// next pass).
pub async fn run(state: &AppState) -> Result<usize, AppError> {
    let rows = sqlx::query(&format!(
        "SELECT {GROUP_COLUMNS}, c.position, c.digest_sent_at, c.next_reminder_at
         FROM groups g LEFT JOIN notify_cursors c ON c.group_id = g.id
         WHERE g.closed_at IS NULL AND g.tenant_version > 0 ORDER BY g.database, g.id"
    ))
    .fetch_all(state.registry())
    .await?;
    let mut groups: Vec<(Group, i64, Cursor)> = Vec::with_capacity(rows.len());
    for row in &rows {
        let cursor = Cursor::from_row(row)?;
        let group = GroupRow::from_row(row)?;
        let slug = group.slug().to_owned();
        match group.resolve(state) {
            Ok((group, version)) => groups.push((group, version, cursor)),
            Err(error) => tracing::warn!(?error, group.slug = %slug, "a group's database is not configured"),
        }
    }
    let now = Utc::now();
    let mut queued = 0;
    for on_one_database in groups.chunk_by(|a, b| a.0.db.name() == b.0.db.name()) {
        for batch in on_one_database.chunks(HEADS_PER_QUERY) {
            let heads = match heads(&batch[0].0.db.pool, batch.iter().map(|(group, ..)| group)).await {
                Ok(heads) => heads,
                Err(error) => {
                    tracing::warn!(?error, database = batch[0].0.db.name(), "notifications left for the next pass");
                    break;
                }
            };
            for ((group, version, cursor), head) in batch.iter().zip(heads) {
                let Some(head) = head else { continue };
                let due = match (cursor.position, cursor.digest_sent_at) {
                    (Some(position), Some(digest_sent_at)) => {
                        head > position
                            || now - digest_sent_at >= state.settings.digest_every
                            || cursor.next_reminder_at.is_some_and(|at| at <= now)
                    }
                    _ => true,
                };
                if !due {
                    continue;
                }
                match notify_group(state, group, *version).await {
                    Ok(count) => queued += count,
                    Err(error) => {
                        tracing::warn!(?error, group.slug = %group.slug, "notifications left for the next pass")
                    }
                }
            }
        }
    }
    Ok(queued)
}

/// The log heads of `groups` (all on the database of `pool`), in order,
/// in one query; if the database refuses it, one by one (a schema not
/// there yet, say, then costs only its own group's news: `None`). An error
/// if the database cannot be reached.
async fn heads(
    pool: &sqlx::PgPool,
    groups: impl Iterator<Item = &Group> + Clone,
) -> Result<Vec<Option<i64>>, sqlx::Error> {
    // (Schema names are g_ and hex digits, checked when read.)
    let read = |group: &Group| format!("SELECT position FROM {}.change_head", group.schema.ident());
    let all = (groups.clone().enumerate())
        .map(|(index, group)| format!("SELECT {index} AS n, position FROM ({}) h", read(group)))
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    match sqlx::query_as::<_, (i32, i64)>(&format!("{all} ORDER BY n")).fetch_all(pool).await {
        Ok(found) if found.len() == groups.clone().count() => {
            return Ok(found.into_iter().map(|(_, p)| Some(p)).collect())
        }
        Ok(_) => {}
        Err(error @ sqlx::Error::Database(_)) => tracing::debug!(?error, "reading the log heads one by one"),
        Err(error) => return Err(error),
    }
    let mut each = Vec::new();
    for group in groups {
        match sqlx::query_scalar::<_, i64>(&read(group)).fetch_one(pool).await {
            Ok(head) => each.push(Some(head)),
            Err(error @ sqlx::Error::Database(_)) => {
                tracing::warn!(?error, group.slug = %group.slug, "cannot read a group's log head");
                each.push(None);
            }
            Err(error) => return Err(error),
        }
    }
    Ok(each)
}

/// Starts the job's cursor of a group at log position `from` (0 for a new
/// group, in the transaction that makes it), its first digest due at a
/// random point of the next `mail.digest_every`, so the groups' digests
/// spread over the day. (A cursor already there stays.)
pub async fn watch(
    db: impl sqlx::PgExecutor<'_>,
    settings: &super::Settings,
    group: Uuid,
    from: i64,
) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO notify_cursors (group_id, position, digest_sent_at)
         VALUES ($1, $2, now() - random() * make_interval(secs => $3)) ON CONFLICT DO NOTHING",
    )
    .bind(group)
    .bind(from)
    .bind(settings.digest_every.num_seconds() as f64)
    .execute(db)
    .await?;
    Ok(())
}

/// A logged change the job reads.
#[derive(sqlx::FromRow)]
struct Logged {
    position: i64,
    op: String,
    relation: String,
    value: Value,
    old_value: Option<Value>,
    actor: Option<Uuid>,
}

/// What a change is news of.
enum Event {
    Pinned { notice: Uuid, actor: Option<Uuid> },
    Posted { notice: Uuid },
    Comment { comment: Uuid, request: Uuid },
    Status { request: Uuid, status: String, actor: Option<Uuid> },
}

fn text(value: &Value, column: &str) -> Option<String> {
    value.get(column).and_then(Value::as_str).map(str::to_owned)
}

fn id(value: &Value, column: &str) -> Option<Uuid> {
    value.get(column).and_then(Value::as_str).and_then(|s| s.parse().ok())
}

impl Event {
    /// (Values are logged as Postgres prints them: booleans as `t`/`f`.)
    fn of(change: &Logged) -> Option<Event> {
        let (new, old) = (&change.value, change.old_value.as_ref());
        match (change.relation.as_str(), change.op.as_str()) {
            ("announcements", "insert") if text(new, "pinned").as_deref() == Some("t") => {
                Some(Event::Pinned { notice: id(new, "id")?, actor: change.actor })
            }
            ("announcements", "insert") => Some(Event::Posted { notice: id(new, "id")? }),
            ("announcements", "update")
                if text(new, "pinned").as_deref() == Some("t")
                    && old.and_then(|o| text(o, "pinned")).as_deref() == Some("f") =>
            {
                Some(Event::Pinned { notice: id(new, "id")?, actor: change.actor })
            }
            ("request_comments", "insert") => {
                Some(Event::Comment { comment: id(new, "id")?, request: id(new, "request_id")? })
            }
            ("requests", "update") => {
                let status = text(new, "status")?;
                (old.and_then(|o| text(o, "status")).as_deref() != Some(status.as_str())).then_some(Event::Status {
                    request: id(new, "id")?,
                    status,
                    actor: change.actor,
                })
            }
            _ => None,
        }
    }
}

/// A member mail may go to.
#[derive(sqlx::FromRow)]
struct Recipient {
    user_id: Uuid,
    email: String,
    name: String,
    #[sqlx(flatten)]
    choices: MailChoices,
}

#[derive(sqlx::FromRow)]
struct Notice {
    author_id: Uuid,
    title: String,
    body: String,
    pinned: bool,
}

#[derive(sqlx::FromRow)]
struct Booked {
    member_id: Uuid,
    room: String,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
}

/// One group's pass: the log since the cursor, the digest if due, the
/// bookings entering the reminder window.
async fn notify_group(state: &AppState, group: &Group, version: i64) -> Result<usize, AppError> {
    let schema = group.schema.ident();
    let known: Option<i64> = sqlx::query_scalar("SELECT position FROM notify_cursors WHERE group_id = $1")
        .bind(group.id)
        .fetch_optional(state.registry())
        .await?;
    if known.is_none() {
        // A group made before notifications: from its log's head on.
        let head: i64 =
            sqlx::query_scalar(&format!("SELECT position FROM {schema}.change_head")).fetch_one(&group.db.pool).await?;
        watch(state.registry(), &state.settings, group.id, head).await?;
        return Ok(0);
    }
    // (Before the cursor's lock: it may migrate the group's schema.)
    crate::backend::migrations::ensure_current(state.registry(), group, version).await?;
    let mut tx = state.registry().begin().await?;
    let cursor: Option<(i64, DateTime<Utc>, DateTime<Utc>)> = sqlx::query_as(
        "SELECT position, digest_sent_at, reminded_through FROM notify_cursors WHERE group_id = $1
         FOR UPDATE SKIP LOCKED",
    )
    .bind(group.id)
    .fetch_optional(&mut *tx)
    .await?;
    // Another server has it just now.
    let Some((position, digest_sent_at, reminded_through)) = cursor else { return Ok(0) };
    let mut conn = group.db.pool.acquire().await?;
    // The head first: every entry up to it has committed. (And the time by
    // the group database's clock, which stamps the bookings.)
    let (head, now): (i64, DateTime<Utc>) =
        sqlx::query_as(&format!("SELECT position, now() FROM {schema}.change_head")).fetch_one(&mut *conn).await?;
    let logged: Vec<Logged> = if head > position {
        sqlx::query_as(&format!(
            "SELECT position, op, relation, value, old_value, actor FROM {schema}.changes
             WHERE position > $1 AND position <= $2
               AND relation IN ('announcements', 'requests', 'request_comments', 'bookings')
             ORDER BY position LIMIT $3"
        ))
        .bind(position)
        .bind(head)
        .bind(BATCH)
        .fetch_all(&mut *conn)
        .await?
    } else {
        Vec::new()
    };
    let read_to = match logged.last() {
        Some(last) if logged.len() as i64 == BATCH => last.position,
        _ => head.max(position),
    };
    // (An update that compaction merged with ones already read, which only
    // happens to a job more than `sync.max_snapshot_lag` positions behind,
    // is read as the change from the run's first state to its last: a pin
    // may be mailed again, nothing is lost.)
    let events: Vec<Event> = logged.iter().filter_map(Event::of).collect();
    // Bookings logged now (made before their reminder's time, but
    // committed after the window passed them) are reminded of too.
    let booked: Vec<Uuid> = (logged.iter())
        .filter(|l| l.relation == "bookings" && l.op == "insert")
        .filter_map(|l| id(&l.value, "id"))
        .collect();
    let settings = &state.settings;
    let digest_due = now - digest_sent_at >= settings.digest_every;
    let lead = settings.booking_reminder;
    let remind_to = now + lead;
    let reminders: Vec<Booked> = sqlx::query_as(&format!(
        "SELECT b.member_id, r.name AS room, b.starts_at, b.ends_at
         FROM {schema}.bookings b JOIN {schema}.resources r ON r.id = b.resource_id
         WHERE b.starts_at > now() AND b.starts_at - b.created_at > $3
           AND ((b.starts_at > $1 AND b.starts_at <= $2) OR (b.id = ANY($4) AND b.starts_at <= $1))
         ORDER BY b.starts_at, b.id"
    ))
    .bind(reminded_through)
    .bind(remind_to)
    .bind(lead)
    .bind(&booked)
    .fetch_all(&mut *conn)
    .await?;
    // When the next reminder is due (a booking made later moves the log,
    // and the group is looked at again then).
    let next_start: Option<DateTime<Utc>> = sqlx::query_scalar(&format!(
        "SELECT min(starts_at) FROM {schema}.bookings WHERE starts_at > greatest($1, $2) AND starts_at - created_at > $3"
    ))
    .bind(reminded_through)
    .bind(remind_to)
    .bind(lead)
    .fetch_one(&mut *conn)
    .await?;
    let digest_waiting = digest_due
        && sqlx::query_scalar::<_, bool>("SELECT EXISTS (SELECT 1 FROM notify_digest WHERE group_id = $1)")
            .bind(group.id)
            .fetch_one(&mut *tx)
            .await?;
    let mut queued = 0;
    if !events.is_empty() || digest_waiting || !reminders.is_empty() {
        let mut mailing = Mailing::new(state, group, &mut tx).await?;
        for event in &events {
            queued += mailing.event(&mut conn, event).await?;
        }
        if digest_due {
            queued += mailing.digest(&mut conn).await?;
        }
        for booked in &reminders {
            queued += mailing.reminder(booked).await?;
        }
    }
    sqlx::query(
        "UPDATE notify_cursors SET position = $2,
             digest_sent_at = CASE WHEN $3 THEN now() ELSE digest_sent_at END,
             reminded_through = greatest(reminded_through, $4),
             next_reminder_at = $5
         WHERE group_id = $1",
    )
    .bind(group.id)
    .bind(read_to)
    .bind(digest_due)
    .bind(remind_to)
    .bind(next_start.map(|start| start - lead))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    if queued > 0 {
        tracing::info!(group.slug = %group.slug, queued, "notifications queued");
    }
    Ok(queued)
}

/// The messages of one group's pass, queued in the registry transaction
/// that moves its cursor.
struct Mailing<'a, 't> {
    state: &'a AppState,
    group: &'a Group,
    tx: &'a mut Transaction<'t, Postgres>,
    /// The members with a verified address.
    recipients: Vec<Recipient>,
    /// The notices mailed as pinned in this pass.
    pinned: BTreeSet<Uuid>,
    /// The unsubscribe links used in this pass, by recipient and kind.
    links: std::collections::HashMap<(Uuid, MailKind), String>,
}

impl<'a, 't> Mailing<'a, 't> {
    async fn new(
        state: &'a AppState,
        group: &'a Group,
        tx: &'a mut Transaction<'t, Postgres>,
    ) -> Result<Self, AppError> {
        let recipients = sqlx::query_as(
            "SELECT u.id AS user_id, u.email, u.name,
                    coalesce(p.notices, true) AS notices, coalesce(p.requests, true) AS requests,
                    coalesce(p.bookings, true) AS bookings
             FROM memberships m JOIN users u ON u.id = m.user_id
             LEFT JOIN mail_preferences p ON p.user_id = m.user_id AND p.group_id = m.group_id
             WHERE m.group_id = $1 AND u.email_verified_at IS NOT NULL
             ORDER BY u.id
             FOR KEY SHARE OF m",
        )
        .bind(group.id)
        .fetch_all(&mut **tx)
        .await?;
        Ok(Self { state, group, tx, recipients, pinned: BTreeSet::new(), links: Default::default() })
    }

    /// Queues one message of `kind` to `to`, with its unsubscribe link.
    async fn send(&mut self, to: usize, kind: MailKind, subject: &str, parts: &[Part<'_>]) -> Result<usize, AppError> {
        let (group, recipient) = (self.group, &self.recipients[to]);
        let token = match self.links.get(&(recipient.user_id, kind)) {
            Some(token) => token.clone(),
            None => {
                let token = choices::link(&mut **self.tx, recipient.user_id, group.id, kind).await?;
                self.links.insert((recipient.user_id, kind), token.clone());
                token
            }
        };
        let (stop, manage) = (format!("/unsubscribe/{token}"), format!("/g/{}/members#mail", group.slug));
        let stop_label = format!("Stop emails about {} from {}", kind.describe(), group.name);
        let mut all: Vec<Part<'_>> = parts.to_vec();
        all.extend([Part::Link(&stop_label, &stop), Part::Link("Choose which emails you get", &manage)]);
        let settings = &self.state.settings;
        let subject = format!("[{}] {}", one_line(&group.name), one_line(subject));
        let greeting = format!("Hello {},", recipient.name);
        let mut message = Mail::compose(settings, &recipient.email, &subject, &greeting, &all);
        message.unsubscribe = Some(format!("{}/api/unsubscribe/{token}", settings.links_base));
        mail::queue(&mut **self.tx, &message).await?;
        Ok(1)
    }

    /// The recipients wanting `kind`, but for `except`.
    fn wanting(&self, kind: MailKind, except: &[Option<Uuid>]) -> Vec<usize> {
        (self.recipients.iter().enumerate())
            .filter(|(_, r)| r.choices.wants(kind) && !except.contains(&Some(r.user_id)))
            .map(|(index, _)| index)
            .collect()
    }

    async fn event(&mut self, conn: &mut PgConnection, event: &Event) -> Result<usize, AppError> {
        let schema = self.group.schema.ident();
        let mut queued = 0;
        match event {
            Event::Posted { notice } => {
                sqlx::query("INSERT INTO notify_digest (group_id, notice_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                    .bind(self.group.id)
                    .bind(notice)
                    .execute(&mut **self.tx)
                    .await?;
            }
            Event::Pinned { notice: notice_id, actor } => {
                let found: Option<Notice> = sqlx::query_as(&format!(
                    "SELECT author_id, title, body, pinned FROM {schema}.announcements WHERE id = $1"
                ))
                .bind(notice_id)
                .fetch_optional(&mut *conn)
                .await?;
                // Gone, or unpinned again, since, or mailed already in
                // this pass: no news.
                let Some(notice) = found.filter(|n| n.pinned) else { return Ok(0) };
                if !self.pinned.insert(*notice_id) {
                    return Ok(0);
                }
                // Mailed at once: not in the digest too.
                sqlx::query("DELETE FROM notify_digest WHERE group_id = $1 AND notice_id = $2")
                    .bind(self.group.id)
                    .bind(notice_id)
                    .execute(&mut **self.tx)
                    .await?;
                let author = name_of(conn, &schema, notice.author_id).await?;
                let (said, body, path) =
                    (format!("{author} posted this pinned notice:"), quote(&notice.body), self.path("/announcements"));
                let parts = [
                    Part::Text(&said),
                    Part::Text(&notice.title),
                    Part::Text(&body),
                    Part::Link("Read it in Courtyard", &path),
                ];
                for to in self.wanting(MailKind::Notices, &[*actor, Some(notice.author_id)]) {
                    queued += self.send(to, MailKind::Notices, &format!("Pinned: {}", notice.title), &parts).await?;
                }
            }
            Event::Comment { comment, request } => {
                // As it is now: gone (its author left and took it), no news.
                let found: Option<(Uuid, String)> =
                    sqlx::query_as(&format!("SELECT author_id, body FROM {schema}.request_comments WHERE id = $1"))
                        .bind(comment)
                        .fetch_optional(&mut *conn)
                        .await?;
                let Some((author, body)) = found else { return Ok(0) };
                let author = &author;
                let Some((title, followers)) = followers(conn, &schema, *request).await? else { return Ok(0) };
                let who = name_of(conn, &schema, *author).await?;
                let (said, body, path) = (
                    format!("{who} commented on “{title}”:"),
                    quote(&body),
                    self.path(&format!("/requests/{request}")),
                );
                let parts = [Part::Text(&said), Part::Text(&body), Part::Link("See the request", &path)];
                for to in self.wanting(MailKind::Requests, &[Some(*author)]) {
                    if followers.contains(&self.recipients[to].user_id) {
                        queued +=
                            self.send(to, MailKind::Requests, &format!("New comment on “{title}”"), &parts).await?;
                    }
                }
            }
            Event::Status { request, status, actor } => {
                let Some((title, followers)) = followers(conn, &schema, *request).await? else { return Ok(0) };
                let word = status.replace('_', " ");
                let said = match actor {
                    Some(actor) => format!("{} marked “{title}” as {word}.", name_of(conn, &schema, *actor).await?),
                    None => format!("“{title}” is now {word}."),
                };
                let path = self.path(&format!("/requests/{request}"));
                let parts = [Part::Text(&said), Part::Link("See the request", &path)];
                for to in self.wanting(MailKind::Requests, &[*actor]) {
                    if followers.contains(&self.recipients[to].user_id) {
                        queued +=
                            self.send(to, MailKind::Requests, &format!("“{title}” is now {word}"), &parts).await?;
                    }
                }
            }
        }
        Ok(queued)
    }

    /// The notices posted since the last digest, still there and not
    /// pinned (those went at once), to each member but their authors.
    async fn digest(&mut self, conn: &mut PgConnection) -> Result<usize, AppError> {
        let waiting: Vec<Uuid> =
            sqlx::query_scalar("DELETE FROM notify_digest WHERE group_id = $1 RETURNING notice_id")
                .bind(self.group.id)
                .fetch_all(&mut **self.tx)
                .await?;
        if waiting.is_empty() {
            return Ok(0);
        }
        let schema = self.group.schema.ident();
        let notices: Vec<(Notice, Option<String>)> =
            sqlx::query_as::<_, (Uuid, String, String, bool, Option<String>)>(&format!(
                "SELECT a.author_id, a.title, a.body, a.pinned, m.display_name
                 FROM {schema}.announcements a LEFT JOIN {schema}.members m ON m.user_id = a.author_id
                 WHERE a.id = ANY($1) AND NOT a.pinned ORDER BY a.created_at, a.id"
            ))
            .bind(&waiting)
            .fetch_all(&mut *conn)
            .await?
            .into_iter()
            .map(|(author_id, title, body, pinned, by)| (Notice { author_id, title, body, pinned }, by))
            .collect();
        let path = self.path("/announcements");
        let mut queued = 0;
        for to in self.wanting(MailKind::Notices, &[]) {
            let me = self.recipients[to].user_id;
            let mine: Vec<String> = (notices.iter().filter(|(n, _)| n.author_id != me))
                .map(|(n, by)| {
                    let by = by.as_deref().unwrap_or("a former member");
                    format!("{} (by {by}): {}", n.title, quote_short(&n.body))
                })
                .collect();
            if mine.is_empty() {
                continue;
            }
            let intro =
                if mine.len() == 1 { "A new notice:".to_owned() } else { format!("{} new notices:", mine.len()) };
            let mut parts = vec![Part::Text(&intro)];
            parts.extend(mine.iter().map(|line| Part::Text(line)));
            parts.push(Part::Link("Read them in Courtyard", &path));
            let subject =
                if mine.len() == 1 { "A new notice".to_owned() } else { format!("{} new notices", mine.len()) };
            queued += self.send(to, MailKind::Notices, &subject, &parts).await?;
        }
        Ok(queued)
    }

    async fn reminder(&mut self, booked: &Booked) -> Result<usize, AppError> {
        let Some(to) =
            (self.recipients.iter()).position(|r| r.user_id == booked.member_id && r.choices.wants(MailKind::Bookings))
        else {
            return Ok(0);
        };
        let when = span(booked.starts_at, booked.ends_at);
        let said = format!("You booked {} for {when}.", booked.room);
        let path = self.path("/bookings");
        let parts = [Part::Text(&said), Part::Link("See the bookings", &path)];
        self.send(to, MailKind::Bookings, &format!("Reminder: {}, {when}", booked.room), &parts).await
    }

    fn path(&self, under: &str) -> String {
        format!("/g/{}{under}", self.group.slug)
    }
}

/// A request's title and who follows it (its author and everyone who
/// commented on it); `None` if it is gone.
async fn followers(
    conn: &mut PgConnection,
    schema: &str,
    request: Uuid,
) -> Result<Option<(String, BTreeSet<Uuid>)>, AppError> {
    let found: Option<(String, Uuid)> =
        sqlx::query_as(&format!("SELECT title, author_id FROM {schema}.requests WHERE id = $1"))
            .bind(request)
            .fetch_optional(&mut *conn)
            .await?;
    let Some((title, author)) = found else { return Ok(None) };
    let commenters: Vec<Uuid> =
        sqlx::query_scalar(&format!("SELECT DISTINCT author_id FROM {schema}.request_comments WHERE request_id = $1"))
            .bind(request)
            .fetch_all(&mut *conn)
            .await?;
    Ok(Some((title, commenters.into_iter().chain([author]).collect())))
}

/// A member's name in the group's directory.
async fn name_of(conn: &mut PgConnection, schema: &str, user: Uuid) -> Result<String, AppError> {
    let name: Option<String> =
        sqlx::query_scalar(&format!("SELECT display_name FROM {schema}.members WHERE user_id = $1"))
            .bind(user)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(name.unwrap_or_else(|| "A former member".to_owned()))
}

/// Text on one line (a subject).
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// At most [`QUOTE`] characters of `text`.
fn quote(text: &str) -> String {
    cut(text, QUOTE)
}

/// A digest's first line of a notice.
fn quote_short(text: &str) -> String {
    cut(&one_line(text), 200)
}

fn cut(text: &str, most: usize) -> String {
    match text.char_indices().nth(most) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// A booking's time in words, in UTC (the server knows no member's zone).
fn span(starts: DateTime<Utc>, ends: DateTime<Utc>) -> String {
    let end = if ends.date_naive() == starts.date_naive() {
        ends.format("%H:%M").to_string()
    } else {
        ends.format("%a %-d %b %Y %H:%M").to_string()
    };
    format!("{} to {end} UTC", starts.format("%a %-d %b %Y %H:%M"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn logged(relation: &str, op: &str, value: Value, old_value: Option<Value>) -> Logged {
        Logged { position: 1, op: op.into(), relation: relation.into(), value, old_value, actor: None }
    }

    #[test]
    fn changes_are_news_only_of_what_residents_follow() {
        let id = Uuid::new_v4().to_string();
        let of = |l: Logged| Event::of(&l);
        assert!(matches!(
            of(logged("announcements", "insert", json!({"id": id, "pinned": "f"}), None)),
            Some(Event::Posted { .. })
        ));
        assert!(matches!(
            of(logged("announcements", "insert", json!({"id": id, "pinned": "t"}), None)),
            Some(Event::Pinned { .. })
        ));
        let pinned = logged("announcements", "update", json!({"id": id, "pinned": "t"}), Some(json!({"pinned": "f"})));
        assert!(matches!(of(pinned), Some(Event::Pinned { .. })));
        let edited = logged("announcements", "update", json!({"id": id, "pinned": "t"}), Some(json!({"pinned": "t"})));
        assert!(of(edited).is_none(), "an edit of a pinned notice is no news");
        let moved =
            logged("requests", "update", json!({"id": id, "status": "resolved"}), Some(json!({"status": "open"})));
        assert!(matches!(of(moved), Some(Event::Status { status, .. }) if status == "resolved"));
        let renamed =
            logged("requests", "update", json!({"id": id, "status": "open"}), Some(json!({"status": "open"})));
        assert!(of(renamed).is_none());
        let comment = json!({"id": id, "request_id": id, "author_id": id, "body": "On it"});
        assert!(matches!(of(logged("request_comments", "insert", comment, None)), Some(Event::Comment { .. })));
        assert!(of(logged("announcements", "delete", json!({"id": id}), None)).is_none());
        assert!(of(logged("requests", "insert", json!({"id": id}), None)).is_none());
    }

    #[test]
    fn quotes_are_cut_on_characters_and_times_read_in_utc() {
        assert_eq!(cut("ééé", 2), "éé…");
        assert_eq!(cut("short", 200), "short");
        assert_eq!(one_line("a\r\nb \t c"), "a b c");
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        assert_eq!(span(at("2026-12-03T14:00:00Z"), at("2026-12-03T15:30:00Z")), "Thu 3 Dec 2026 14:00 to 15:30 UTC");
        assert_eq!(
            span(at("2026-12-03T22:00:00Z"), at("2026-12-04T01:00:00Z")),
            "Thu 3 Dec 2026 22:00 to Fri 4 Dec 2026 01:00 UTC"
        );
    }
}
