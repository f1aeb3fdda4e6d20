//! Reads each screen's view of a group (`model::views`): per table one
//! query in the order of an index that serves it (tenant migration 0005),
//! with a `LIMIT`, so a page costs the rows it shows, however long the
//! group's history. A view of several queries reads one snapshot.

use crate::{
    backend::groups::Member,
    error::AppError,
    model::{
        views::{
            Board, Directory, GroupHeader, Library, Names, PollCard, PollList, RequestItem, RequestList, RequestThread,
            RoomsWeek, Summary, COUNT_CAP, MAX_BOOKINGS, MAX_PHOTOS, MAX_ROOMS, MAX_VIEW_ROWS, MEMBERS_NAMED, RECENT,
        },
        Announcement, Ballot, Booking, FileInfo, MaintenanceRequest, MemberInfo, Poll, PollOption, RequestComment,
        RequestStatus, Resource,
    },
};
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, Postgres, Transaction};
use std::collections::BTreeSet;
use uuid::Uuid;

/// A read-only transaction on one snapshot of the group's database.
async fn snapshot(member: &Member) -> Result<Transaction<'static, Postgres>, AppError> {
    let mut tx = member.group.db.pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY").execute(&mut *tx).await?;
    Ok(tx)
}

/// `limit` rows at most (and at least one), and one more to tell whether
/// more follow.
fn plus_one(limit: usize) -> i64 {
    limit.clamp(1, MAX_VIEW_ROWS) as i64 + 1
}

/// Cuts the extra row `plus_one` asked for; whether there was one.
fn cut<T>(rows: &mut Vec<T>, limit: usize) -> bool {
    let limit = limit.clamp(1, MAX_VIEW_ROWS);
    let more = rows.len() > limit;
    rows.truncate(limit);
    more
}

/// The display names of `ids` (one lookup per id, by the primary key).
async fn names(
    conn: &mut PgConnection,
    member: &Member,
    ids: impl IntoIterator<Item = Uuid>,
) -> Result<Names, AppError> {
    let ids: Vec<Uuid> = ids.into_iter().collect::<BTreeSet<_>>().into_iter().collect();
    let rows: Vec<(Uuid, String)> = sqlx::query_as(&format!(
        "SELECT user_id, display_name FROM {}.members WHERE user_id = ANY($1)",
        member.group.schema.ident()
    ))
    .bind(&ids)
    .fetch_all(conn)
    .await?;
    Ok(Names(rows.into_iter().collect()))
}

async fn first_notices(conn: &mut PgConnection, member: &Member, rows: i64) -> Result<Vec<Announcement>, AppError> {
    Ok(sqlx::query_as(&format!(
        "SELECT * FROM {}.announcements ORDER BY pinned DESC, created_at DESC, id LIMIT $1",
        member.group.schema.ident()
    ))
    .bind(rows)
    .fetch_all(conn)
    .await?)
}

async fn newest_requests(
    conn: &mut PgConnection,
    member: &Member,
    status: RequestStatus,
    rows: i64,
) -> Result<Vec<RequestItem>, AppError> {
    Ok(sqlx::query_as(&format!(
        "SELECT id, author_id, title, status, created_at FROM {}.requests
         WHERE status = $1 ORDER BY created_at DESC, id LIMIT $2",
        member.group.schema.ident()
    ))
    .bind(status)
    .bind(rows)
    .fetch_all(conn)
    .await?)
}

/// The group, the viewer and their directory entry.
pub async fn header(member: &Member) -> Result<GroupHeader, AppError> {
    let profile = sqlx::query_as(&format!("SELECT * FROM {}.members WHERE user_id = $1", member.group.schema.ident()))
        .bind(member.user_id)
        .fetch_optional(&member.group.db.pool)
        .await?;
    Ok(GroupHeader { group: member.summary(), me: member.user_id, profile })
}

/// The board's first `limit` notices.
pub async fn board(member: &Member, limit: usize) -> Result<Board, AppError> {
    let mut tx = snapshot(member).await?;
    let mut notices = first_notices(&mut tx, member, plus_one(limit)).await?;
    let more = cut(&mut notices, limit);
    let names = names(&mut tx, member, notices.iter().map(|n| n.author_id)).await?;
    tx.commit().await?;
    Ok(Board { notices, more, names })
}

/// The newest `limit` polls, their options and the viewer's ballots.
pub async fn polls(member: &Member, limit: usize) -> Result<PollList, AppError> {
    let s = member.group.schema.ident();
    let mut tx = snapshot(member).await?;
    let mut polls: Vec<Poll> =
        sqlx::query_as(&format!("SELECT * FROM {s}.polls ORDER BY created_at DESC, id LIMIT $1"))
            .bind(plus_one(limit))
            .fetch_all(&mut *tx)
            .await?;
    let more = cut(&mut polls, limit);
    let ids: Vec<Uuid> = polls.iter().map(|p| p.id).collect();
    let mut options: Vec<PollOption> =
        sqlx::query_as(&format!("SELECT * FROM {s}.poll_options WHERE poll_id = ANY($1) ORDER BY position"))
            .bind(&ids)
            .fetch_all(&mut *tx)
            .await?;
    let mut ballots: Vec<Ballot> =
        sqlx::query_as(&format!("SELECT * FROM {s}.ballots WHERE poll_id = ANY($1) AND member_id = $2"))
            .bind(&ids)
            .bind(member.user_id)
            .fetch_all(&mut *tx)
            .await?;
    let names = names(&mut tx, member, polls.iter().map(|p| p.author_id)).await?;
    tx.commit().await?;
    let polls = polls
        .into_iter()
        .map(|poll| {
            let (mine, rest) = options.drain(..).partition(|o| o.poll_id == poll.id);
            options = rest;
            let ballot = ballots.iter().position(|b| b.poll_id == poll.id).map(|i| ballots.swap_remove(i));
            PollCard { poll, options: mine, ballot }
        })
        .collect();
    Ok(PollList { polls, more, names })
}

/// The newest `limit` requests of one status.
pub async fn requests(member: &Member, status: RequestStatus, limit: usize) -> Result<RequestList, AppError> {
    let mut tx = snapshot(member).await?;
    let mut requests = newest_requests(&mut tx, member, status, plus_one(limit)).await?;
    let more = cut(&mut requests, limit);
    let names = names(&mut tx, member, requests.iter().map(|r| r.author_id)).await?;
    tx.commit().await?;
    Ok(RequestList { requests, more, names })
}

/// One request and its first `limit` comments (404 if there is no such
/// request in this group).
pub async fn thread(member: &Member, id: Uuid, limit: usize) -> Result<RequestThread, AppError> {
    let s = member.group.schema.ident();
    let mut tx = snapshot(member).await?;
    let request: MaintenanceRequest = sqlx::query_as(&format!("SELECT * FROM {s}.requests WHERE id = $1"))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(AppError::NotFound)?;
    let mut comments: Vec<RequestComment> = sqlx::query_as(&format!(
        "SELECT * FROM {s}.request_comments WHERE request_id = $1 ORDER BY created_at, id LIMIT $2"
    ))
    .bind(id)
    .bind(plus_one(limit))
    .fetch_all(&mut *tx)
    .await?;
    let more = cut(&mut comments, limit);
    let files: Vec<FileInfo> =
        sqlx::query_as(&format!("SELECT * FROM {s}.files WHERE request_id = $1 ORDER BY created_at, id LIMIT $2"))
            .bind(id)
            .bind(MAX_PHOTOS as i64)
            .fetch_all(&mut *tx)
            .await?;
    let people = comments.iter().map(|c| c.author_id).chain(files.iter().map(|f| f.uploader_id));
    let names = names(&mut tx, member, people.chain([request.author_id])).await?;
    tx.commit().await?;
    Ok(RequestThread { request, comments, more, files, names })
}

/// The documents library's newest `limit` files.
pub async fn library(member: &Member, limit: usize) -> Result<Library, AppError> {
    let s = member.group.schema.ident();
    let mut tx = snapshot(member).await?;
    let mut documents: Vec<FileInfo> = sqlx::query_as(&format!(
        "SELECT * FROM {s}.files WHERE request_id IS NULL ORDER BY created_at DESC, id LIMIT $1"
    ))
    .bind(plus_one(limit))
    .fetch_all(&mut *tx)
    .await?;
    let more = cut(&mut documents, limit);
    let names = names(&mut tx, member, documents.iter().map(|d| d.uploader_id)).await?;
    tx.commit().await?;
    Ok(Library { documents, more, names })
}

/// The rooms by name, and their bookings overlapping `[from, to)`.
pub async fn rooms_between(member: &Member, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<RoomsWeek, AppError> {
    let mut tx = snapshot(member).await?;
    let rooms = rooms(&mut tx, member).await?;
    let bookings = bookings_between(&mut tx, member, &rooms, from, to).await?;
    let names = names(&mut tx, member, bookings.iter().map(|b| b.member_id)).await?;
    tx.commit().await?;
    Ok(RoomsWeek { rooms, bookings, names })
}

async fn rooms(conn: &mut PgConnection, member: &Member) -> Result<Vec<Resource>, AppError> {
    Ok(sqlx::query_as(&format!(
        "SELECT * FROM {}.resources ORDER BY lower(name COLLATE \"C\"), id LIMIT $1",
        member.group.schema.ident()
    ))
    .bind(MAX_ROOMS as i64)
    .fetch_all(conn)
    .await?)
}

/// Bookings of `rooms` overlapping `[from, to)`, by the exclusion
/// constraint's index on (room, time range).
async fn bookings_between(
    conn: &mut PgConnection,
    member: &Member,
    rooms: &[Resource],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<Booking>, AppError> {
    let rooms: Vec<Uuid> = rooms.iter().map(|r| r.id).collect();
    Ok(sqlx::query_as(&format!(
        "SELECT * FROM {}.bookings
         WHERE resource_id = ANY($1) AND tstzrange(starts_at, ends_at) && tstzrange($2, $3)
         ORDER BY starts_at, id LIMIT $4",
        member.group.schema.ident()
    ))
    .bind(&rooms)
    .bind(from)
    .bind(to.max(from))
    .bind(MAX_BOOKINGS as i64)
    .fetch_all(conn)
    .await?)
}

/// The first `limit` members by name.
pub async fn directory(member: &Member, limit: usize) -> Result<Directory, AppError> {
    let mut members = members_by_name(&member.group.db.pool, member, plus_one(limit)).await?;
    let more = cut(&mut members, limit);
    Ok(Directory { members, more })
}

async fn members_by_name(
    db: impl sqlx::PgExecutor<'_>,
    member: &Member,
    rows: i64,
) -> Result<Vec<MemberInfo>, AppError> {
    Ok(sqlx::query_as(&format!(
        "SELECT * FROM {}.members ORDER BY lower(display_name COLLATE \"C\"), user_id LIMIT $1",
        member.group.schema.ident()
    ))
    .bind(rows)
    .fetch_all(db)
    .await?)
}

/// The home page: the latest few of each, with counts; bookings of the
/// day `[day_from, day_to)`.
pub async fn summary(member: &Member, day_from: DateTime<Utc>, day_to: DateTime<Utc>) -> Result<Summary, AppError> {
    let s = member.group.schema.ident();
    let recent = RECENT as i64;
    let mut tx = snapshot(member).await?;
    let notices = first_notices(&mut tx, member, recent).await?;
    // Each status by its index, newest first, then the newest of both.
    let mut open_requests = newest_requests(&mut tx, member, RequestStatus::Open, recent).await?;
    open_requests.extend(newest_requests(&mut tx, member, RequestStatus::InProgress, recent).await?);
    open_requests.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.id.cmp(&b.id)));
    open_requests.truncate(RECENT);
    let open_count: i64 = sqlx::query_scalar(&format!(
        "SELECT count(*) FROM (SELECT 1 FROM {s}.requests WHERE status IN ('open', 'in_progress') LIMIT $1) o"
    ))
    .bind(COUNT_CAP as i64)
    .fetch_one(&mut *tx)
    .await?;
    let rooms = rooms(&mut tx, member).await?;
    let today = bookings_between(&mut tx, member, &rooms, day_from, day_to).await?;
    let room_names = Names(rooms.iter().map(|r| (r.id, r.name.clone())).collect());
    let members = members_by_name(&mut *tx, member, MEMBERS_NAMED as i64).await?;
    let member_count: i64 =
        sqlx::query_scalar(&format!("SELECT count(*) FROM {s}.members")).fetch_one(&mut *tx).await?;
    let people = notices.iter().map(|n| n.author_id).chain(today.iter().map(|b| b.member_id));
    let names = names(&mut tx, member, people).await?;
    tx.commit().await?;
    Ok(Summary {
        notices,
        open_requests,
        open_count: open_count as u64,
        today,
        rooms: room_names,
        members,
        member_count: member_count as u64,
        names,
    })
}
