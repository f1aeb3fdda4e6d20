//! Each member's secret iCalendar feed (RFC 5545) of their group's
//! bookings, for phone calendars: a link whose token is the only
//! credential (a calendar app holds no session), working while its owner is
//! a member and until they make a new one or stop it. Only a SHA-256 of the
//! token is kept.

use crate::{
    backend::{
        auth::session::{digest, new_token, well_formed},
        groups::{GroupRow, Member, GROUP_COLUMNS},
        AppState,
    },
    error::AppError,
};
use chrono::{DateTime, Utc};
use icalendar::{Calendar, Component, Event, EventLike, Property};
use uuid::Uuid;

/// Bookings a feed lists: from this long ago ...
const PAST_DAYS: i64 = 30;
/// ... to this far ahead.
const AHEAD_DAYS: i64 = 365;

/// When the member's feed link was made, if they have one.
pub async fn made_at(state: &AppState, member: &Member) -> Result<Option<DateTime<Utc>>, AppError> {
    Ok(sqlx::query_scalar("SELECT created_at FROM calendar_feeds WHERE user_id = $1 AND group_id = $2")
        .bind(member.user_id)
        .bind(member.group.id)
        .fetch_optional(state.registry())
        .await?)
}

/// A new feed link for the member (the old one stops working); its path,
/// `/cal/{token}.ics`, the only time the token is told.
pub async fn renew(state: &AppState, member: &Member) -> Result<String, AppError> {
    let token = new_token();
    sqlx::query(
        "INSERT INTO calendar_feeds (token_hash, user_id, group_id) VALUES ($1, $2, $3)
         ON CONFLICT (user_id, group_id) DO UPDATE SET token_hash = EXCLUDED.token_hash, created_at = now()",
    )
    .bind(digest(&token))
    .bind(member.user_id)
    .bind(member.group.id)
    .execute(state.registry())
    .await?;
    Ok(format!("/cal/{token}.ics"))
}

/// Stops the member's feed link.
pub async fn stop(state: &AppState, member: &Member) -> Result<(), AppError> {
    sqlx::query("DELETE FROM calendar_feeds WHERE user_id = $1 AND group_id = $2")
        .bind(member.user_id)
        .bind(member.group.id)
        .execute(state.registry())
        .await?;
    Ok(())
}

/// Stops `user_id`'s feed links: of `group` when their membership of it
/// ends (coming back makes no old link work again), of every group when
/// their password is reset or changed (a link made by someone who knew the
/// old one stops).
pub async fn stop_all(db: impl sqlx::PgExecutor<'_>, user_id: Uuid, group: Option<Uuid>) -> Result<(), AppError> {
    sqlx::query("DELETE FROM calendar_feeds WHERE user_id = $1 AND ($2::uuid IS NULL OR group_id = $2)")
        .bind(user_id)
        .bind(group)
        .execute(db)
        .await?;
    Ok(())
}

/// Text as RFC 5545 writes it: backslashes, semicolons, commas and line
/// breaks escaped (for the properties the icalendar crate writes as given).
fn escaped(text: &str) -> String {
    text.replace('\\', "\\\\").replace(';', "\\;").replace(',', "\\,").replace(['\r', '\n'], "\\n")
}

/// The feed a link's `file` (`{token}.ics`) names, as iCalendar text: the
/// group's bookings from 30 days ago to a year ahead (only the owner's with
/// `mine`), in UTC. 404 for an unknown or stopped link, or one whose owner
/// left the group.
pub async fn feed(state: &AppState, file: &str, mine: bool) -> Result<String, AppError> {
    let token = file.strip_suffix(".ics").filter(|token| well_formed(token)).ok_or(AppError::NotFound)?;
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        group: GroupRow,
        user_id: Uuid,
    }
    let row: Option<Row> = sqlx::query_as(&format!(
        "SELECT {GROUP_COLUMNS}, f.user_id FROM calendar_feeds f
         JOIN groups g ON g.id = f.group_id
         JOIN memberships m ON m.group_id = f.group_id AND m.user_id = f.user_id
         WHERE f.token_hash = $1"
    ))
    .bind(digest(token))
    .fetch_optional(state.registry())
    .await?;
    let Row { group, user_id } = row.ok_or(AppError::NotFound)?;
    let (group, version) = group.resolve(state)?;
    crate::backend::migrations::ensure_current(state.registry(), &group, version).await?;
    #[derive(sqlx::FromRow)]
    struct Booked {
        id: Uuid,
        room: String,
        who: Option<String>,
        member_id: Uuid,
        starts_at: DateTime<Utc>,
        ends_at: DateTime<Utc>,
        created_at: DateTime<Utc>,
    }
    let bookings: Vec<Booked> = sqlx::query_as(&format!(
        "SELECT b.id, r.name AS room, m.display_name AS who, b.member_id, b.starts_at, b.ends_at, b.created_at
             FROM {schema}.bookings b JOIN {schema}.resources r ON r.id = b.resource_id
             LEFT JOIN {schema}.members m ON m.user_id = b.member_id
             WHERE b.ends_at > now() - make_interval(days => $1) AND b.starts_at < now() + make_interval(days => $2)
               AND (NOT $3 OR b.member_id = $4)
             ORDER BY b.starts_at, b.id
             LIMIT 10000",
        schema = group.schema.ident()
    ))
    .bind(PAST_DAYS as i32)
    .bind(AHEAD_DAYS as i32)
    .bind(mine)
    .bind(user_id)
    .fetch_all(&group.db.pool)
    .await?;
    let mut calendar = Calendar::new();
    let name = if mine { format!("{}: my bookings", group.name) } else { format!("{}: bookings", group.name) };
    // (The crate escapes X-WR-CALNAME, not NAME: that one is escaped here.)
    calendar.append_property(Property::new("NAME", escaped(&name)));
    calendar.append_property(Property::new("X-WR-CALNAME", name));
    for Booked { id, room, who, member_id, starts_at, ends_at, created_at } in bookings {
        let who = if member_id == user_id { "you".to_owned() } else { who.unwrap_or_else(|| "a former member".into()) };
        calendar.push(
            Event::new()
                .uid(&format!("{id}@courtyard"))
                .summary(&format!("{room} ({who})"))
                .location(&room)
                .starts(starts_at)
                .ends(ends_at)
                .timestamp(created_at)
                .done(),
        );
    }
    Ok(calendar.done().to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn text_is_escaped_as_rfc_5545_says() {
        assert_eq!(super::escaped("Elm; Court, B\\C"), "Elm\\; Court\\, B\\\\C");
    }
}
