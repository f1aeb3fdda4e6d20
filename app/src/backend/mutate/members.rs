//! `member.update_profile`: residents edit their own directory entry.

use super::Failure;
use crate::{backend::groups::Member, model::mutation::ProfileUpdate};
use sqlx::PgConnection;

pub async fn update_profile(conn: &mut PgConnection, member: &Member, args: &ProfileUpdate) -> Result<(), Failure> {
    sqlx::query(&format!(
        "UPDATE {}.members SET display_name = $2, unit = $3 WHERE user_id = $1",
        member.group.schema.ident()
    ))
    .bind(member.user_id)
    .bind(&args.display_name)
    .bind(&args.unit)
    .execute(conn)
    .await?;
    Ok(())
}
