//! Poll results: counted into `poll_options.votes` when they may show (at
//! each vote of a live poll; when a poll closes, by its closing mutation or
//! by the housekeeping job at its end time), and who voted for what in a
//! named poll once its results show.

use super::{
    groups::{Group, GroupRow, Member, GROUP_COLUMNS},
    AppState, SchemaName,
};
use crate::{error::AppError, model::views::PollVoters};
use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgConnection, Row};
use uuid::Uuid;

/// Notes when a poll closes (the registry's `poll_closings`), before the
/// poll's own transaction begins (never while it holds the group's write
/// lock): an entry whose poll never came is dropped by the job, and one
/// that does not match its poll's end is moved to it. A poll's first entry
/// stays (a replay with another end changes nothing).
pub(crate) async fn remember_closing(
    state: &AppState,
    group: &Group,
    poll: Uuid,
    closes_at: DateTime<Utc>,
) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO poll_closings (group_id, poll_id, closes_at) VALUES ($1, $2, $3)
         ON CONFLICT (group_id, poll_id) DO NOTHING",
    )
    .bind(group.id)
    .bind(poll)
    .bind(closes_at)
    .execute(state.registry())
    .await?;
    Ok(())
}

/// Writes each option's count of ballots choosing it (only the changed
/// ones), if its results may show (a live poll, or a closed one). It first
/// locks the poll's row, so a vote still in flight (it holds the row
/// shared) commits before the count reads the ballots. Returns when the
/// poll closes if its results may not show yet (nothing is written).
pub(crate) async fn count(
    conn: &mut PgConnection,
    schema: &SchemaName,
    poll: Uuid,
) -> Result<Option<DateTime<Utc>>, AppError> {
    let schema = schema.ident();
    let found: Option<(DateTime<Utc>, bool)> = sqlx::query_as(&format!(
        "SELECT closes_at, live_results OR closes_at <= now() FROM {schema}.polls WHERE id = $1 FOR UPDATE"
    ))
    .bind(poll)
    .fetch_optional(&mut *conn)
    .await?;
    match found {
        None => return Ok(None),
        Some((closes_at, false)) => return Ok(Some(closes_at)),
        Some(_) => {}
    }
    sqlx::query(&format!(
        "UPDATE {schema}.poll_options o SET votes = c.n
         FROM (SELECT p.id, count(b.id)::int AS n
               FROM {schema}.poll_options p
               LEFT JOIN {schema}.ballots b ON b.poll_id = p.poll_id AND b.choices::jsonb ? p.id::text
               WHERE p.poll_id = $1 GROUP BY p.id) c
         WHERE o.id = c.id AND o.votes IS DISTINCT FROM c.n"
    ))
    .bind(poll)
    .execute(conn)
    .await?;
    Ok(None)
}

/// Counts live polls' votes again after the votes' own transaction has
/// committed, each in a transaction of its own: the counts' changes then
/// carry no txid of a voter's other writes (which would tell, in an
/// anonymous poll, who chose what). A failure leaves the counts to the next
/// vote or to the closing.
pub(crate) async fn recount(group: &Group, polls: &[Uuid]) {
    for &poll in polls {
        let counted = async {
            let mut tx = group.db.pool.begin().await?;
            count(&mut tx, &group.schema, poll).await?;
            tx.commit().await?;
            Ok::<_, AppError>(())
        };
        if let Err(error) = counted.await {
            tracing::warn!(?error, group.slug = %group.slug, %poll, "a live poll's count is left for later");
        }
    }
}

/// Counts the polls whose end has come (at most 100 a pass), in their
/// groups' schemas, and forgets them. A database that fails is skipped for
/// the rest of the pass and its entries are tried again five minutes later,
/// so the other groups go on. Returns how many were counted; the server
/// runs it every minute.
pub async fn count_due(state: &AppState) -> Result<usize, AppError> {
    let due = sqlx::query(&format!(
        "SELECT {GROUP_COLUMNS}, c.group_id, c.poll_id, c.closes_at FROM poll_closings c JOIN groups g ON g.id = c.group_id
         WHERE c.closes_at <= now() AND c.retry_at <= now() ORDER BY c.retry_at, c.closes_at LIMIT 100"
    ))
    .fetch_all(state.registry())
    .await?;
    let mut counted = 0;
    let mut failed: Vec<String> = Vec::new();
    for row in due {
        let (group, group_id, poll, closes_at): (GroupRow, Uuid, Uuid, DateTime<Utc>) =
            (GroupRow::from_row(&row)?, row.try_get("group_id")?, row.try_get("poll_id")?, row.try_get("closes_at")?);
        let (slug, database) = (group.slug().to_owned(), group.database().to_owned());
        let done = async {
            if failed.contains(&database) {
                return Err(AppError::Unavailable);
            }
            let (group, _) = group.resolve(state)?;
            let mut tx = group.db.pool.begin().await?;
            let waits = count(&mut tx, &group.schema, poll).await?;
            tx.commit().await?;
            // Forgotten once counted (or gone); kept for the poll's own end
            // if the entry came early.
            let query = match waits {
                None => "DELETE FROM poll_closings WHERE group_id = $1 AND poll_id = $2 AND closes_at = $3",
                Some(_) => {
                    "UPDATE poll_closings SET closes_at = $4 WHERE group_id = $1 AND poll_id = $2 AND closes_at = $3"
                }
            };
            sqlx::query(query).bind(group.id).bind(poll).bind(closes_at).bind(waits).execute(state.registry()).await?;
            Ok::<_, AppError>(())
        };
        match done.await {
            Ok(()) => counted += 1,
            Err(error) => {
                tracing::warn!(?error, group.slug = %slug, %poll, "a poll's count is left for later");
                if !failed.contains(&database) {
                    failed.push(database);
                }
                sqlx::query(
                    "UPDATE poll_closings SET retry_at = now() + interval '5 minutes'
                     WHERE group_id = $1 AND poll_id = $2 AND closes_at = $3",
                )
                .bind(group_id)
                .bind(poll)
                .bind(closes_at)
                .execute(state.registry())
                .await?;
            }
        }
    }
    Ok(counted)
}

/// Who chose each option of a named poll whose results show (live, or
/// closed); 404 for no such poll, 403 for an anonymous one, 409 before the
/// results show.
pub async fn voters(member: &Member, poll: Uuid) -> Result<PollVoters, AppError> {
    let schema = member.group.schema.ident();
    let mut conn = member.group.db.pool.acquire().await?;
    let found: Option<(bool, bool, DateTime<Utc>)> =
        sqlx::query_as(&format!("SELECT anonymous, live_results, closes_at FROM {schema}.polls WHERE id = $1"))
            .bind(poll)
            .fetch_optional(&mut *conn)
            .await?;
    let (anonymous, live, closes_at) = found.ok_or(AppError::NotFound)?;
    if anonymous {
        return Err(AppError::Forbidden("this poll is anonymous: who voted for what is never shown".into()));
    }
    if !live && closes_at > Utc::now() {
        return Err(AppError::Conflict("the results show when the poll closes".into()));
    }
    let rows: Vec<(Uuid, Option<String>)> = sqlx::query_as(&format!(
        "SELECT o.id, m.display_name
         FROM {schema}.poll_options o
         JOIN {schema}.ballots b ON b.poll_id = o.poll_id AND b.choices::jsonb ? o.id::text
         LEFT JOIN {schema}.members m ON m.user_id = b.member_id
         WHERE o.poll_id = $1
         ORDER BY o.position, lower(m.display_name COLLATE \"C\"), b.member_id"
    ))
    .bind(poll)
    .fetch_all(&mut *conn)
    .await?;
    let mut voters = PollVoters::default();
    for (option, name) in rows {
        voters.0.entry(option).or_default().push(name.unwrap_or_else(|| "a former member".into()));
    }
    Ok(voters)
}
