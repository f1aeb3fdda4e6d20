//! `resource.*` mutations: the rooms and things residents book (admins only).

use super::{id_taken, missing, Failure};
use crate::{backend::groups::Member, model::mutation::ResourceCreate};
use sqlx::PgConnection;
use uuid::Uuid;

pub async fn create(conn: &mut PgConnection, member: &Member, args: &ResourceCreate) -> Result<(), Failure> {
    member.require_admin("add rooms")?;
    sqlx::query(&format!("INSERT INTO {}.resources (id, name) VALUES ($1, $2)", member.group.schema.ident()))
        .bind(args.id)
        .bind(&args.name)
        .execute(conn)
        .await
        .map_err(id_taken)?;
    Ok(())
}

/// Removes a resource and its bookings.
pub async fn delete(conn: &mut PgConnection, member: &Member, id: Uuid) -> Result<(), Failure> {
    member.require_admin("remove rooms")?;
    let deleted = sqlx::query(&format!("DELETE FROM {}.resources WHERE id = $1", member.group.schema.ident()))
        .bind(id)
        .execute(conn)
        .await?;
    if deleted.rows_affected() == 0 {
        return Err(missing("room").into());
    }
    Ok(())
}
