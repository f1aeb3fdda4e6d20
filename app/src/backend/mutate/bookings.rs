//! `booking.*` mutations. Overlaps are refused by the table's exclusion
//! constraint, so no code path (or race) can double-book a resource.

use super::{missing, require_owner_or_admin, Failure};
use crate::{
    backend::groups::Member,
    error::AppError,
    model::{mutation::BookingCreate, validate},
};
use sqlx::PgConnection;
use uuid::Uuid;

pub async fn create(conn: &mut PgConnection, member: &Member, args: &BookingCreate) -> Result<(), Failure> {
    validate::booking_window(args.starts_at, args.ends_at, chrono::Utc::now())?;
    let schema = member.group.schema.ident();
    // Held until commit: the room cannot be deleted under the booking.
    let room: Option<i32> =
        sqlx::query_scalar(&format!("SELECT 1 FROM {schema}.resources WHERE id = $1 FOR KEY SHARE"))
            .bind(args.resource_id)
            .fetch_optional(&mut *conn)
            .await?;
    if room.is_none() {
        return Err(missing("room").into());
    }
    sqlx::query(&format!(
        "INSERT INTO {schema}.bookings (id, resource_id, member_id, starts_at, ends_at) VALUES ($1, $2, $3, $4, $5)"
    ))
    .bind(args.id)
    .bind(args.resource_id)
    .bind(member.user_id)
    .bind(args.starts_at)
    .bind(args.ends_at)
    .execute(conn)
    .await
    .map_err(|error| {
        let constraint = error.as_database_error().and_then(|e| e.constraint()).map(str::to_owned);
        if error.as_database_error().is_some_and(|e| e.is_foreign_key_violation()) {
            return missing("room");
        }
        match (AppError::from(error), constraint.as_deref()) {
            (AppError::Conflict(_), Some("bookings_no_overlap")) => {
                AppError::Conflict("that slot is already booked".into())
            }
            (AppError::Conflict(_), _) => AppError::Conflict("a row with this id already exists".into()),
            (other, _) => other,
        }
    })?;
    Ok(())
}

/// The booker or an admin may cancel.
pub async fn cancel(conn: &mut PgConnection, member: &Member, id: Uuid) -> Result<(), Failure> {
    let schema = member.group.schema.ident();
    let owner: Uuid = sqlx::query_scalar(&format!("SELECT member_id FROM {schema}.bookings WHERE id = $1 FOR UPDATE"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| missing("booking"))?;
    require_owner_or_admin(member, owner, "cancel this booking")?;
    sqlx::query(&format!("DELETE FROM {schema}.bookings WHERE id = $1")).bind(id).execute(conn).await?;
    Ok(())
}
