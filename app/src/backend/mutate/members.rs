//! `member.update_profile`: residents edit their own directory entry.

use crate::{
    backend::groups::Member,
    error::AppError,
    model::{mutation::ProfileUpdate, validate},
};
use sqlx::PgConnection;

pub async fn update_profile(conn: &mut PgConnection, member: &Member, args: &ProfileUpdate) -> Result<(), AppError> {
    let display_name = validate::name("display_name", &args.display_name)?;
    let unit = validate::unit(args.unit.as_deref())?;
    sqlx::query(&format!(
        "UPDATE {}.members SET display_name = $2, unit = $3 WHERE user_id = $1",
        member.group.schema.ident()
    ))
    .bind(member.user_id)
    .bind(display_name)
    .bind(unit)
    .execute(conn)
    .await?;
    Ok(())
}
