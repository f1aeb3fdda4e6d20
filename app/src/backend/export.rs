//! A group's export: every synced table of its schema, in one JSON
//! document written as it is read (from one snapshot), for its admins at
//! any time and while a closed group waits to be deleted.
//!
//! `{"format": 1, "group": {"slug", "name"}, "exported_at", "tables":
//! {"members": [row, ...], "announcements": [...], ...}}`, each row as
//! Postgres' `row_to_json` writes it (timestamps in UTC). A table scoped to
//! one member (ballots) holds only the exporting admin's own rows.

use crate::{backend::groups::Member, error::AppError, model::registry};
use futures::TryStreamExt;
use serde_json::json;
use tokio::sync::mpsc;

/// Bytes gathered before a piece of the document is sent.
const PIECE: usize = 64 * 1024;

/// Exports one server process writes at once (each holds a connection of
/// its group's database and a snapshot while its client reads): more wait
/// for a 503 and try again.
const AT_ONCE: usize = 2;

/// The longest an export waits for its client to take the next piece
/// before it is ended (its connection and snapshot given back).
const STALL: std::time::Duration = std::time::Duration::from_secs(60);

fn permits() -> &'static std::sync::Arc<tokio::sync::Semaphore> {
    static PERMITS: std::sync::OnceLock<std::sync::Arc<tokio::sync::Semaphore>> = std::sync::OnceLock::new();
    PERMITS.get_or_init(|| std::sync::Arc::new(tokio::sync::Semaphore::new(AT_ONCE)))
}

/// The export of the member's group (admins only: 403), as pieces of text
/// to send in order; its snapshot is taken before this returns (503 when
/// the database is away, or while [`AT_ONCE`] exports are being written).
/// An error after the first piece ends the stream with it.
pub async fn stream(member: Member) -> Result<mpsc::Receiver<Result<String, AppError>>, AppError> {
    member.require_admin("export the group's data")?;
    let permit = permits().clone().try_acquire_owned().map_err(|_| AppError::Unavailable)?;
    let mut tx = member.group.db.pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY").execute(&mut *tx).await?;
    sqlx::query("SET LOCAL timezone = 'UTC'").execute(&mut *tx).await?;
    sqlx::query("SET LOCAL statement_timeout = '10min'").execute(&mut *tx).await?;
    let (pieces, receiver) = mpsc::channel(4);
    tokio::spawn(async move {
        let _permit = permit;
        if let Err(error) = write(&member, tx, &pieces).await {
            tracing::warn!(?error, group.slug = %member.group.slug, "export ended early");
            let _ = pieces.try_send(Err(error));
        }
    });
    Ok(receiver)
}

async fn write(
    member: &Member,
    mut tx: sqlx::Transaction<'static, sqlx::Postgres>,
    pieces: &mpsc::Sender<Result<String, AppError>>,
) -> Result<(), AppError> {
    // A client that stops taking pieces for STALL ends the export (its
    // connection and snapshot go back).
    let send = |piece: String| async move {
        match tokio::time::timeout(STALL, pieces.send(Ok(piece))).await {
            Ok(Ok(())) => Ok(()),
            _ => Err(AppError::Unavailable),
        }
    };
    let head = json!({"slug": member.group.slug, "name": member.group.name});
    let mut piece =
        format!("{{\"format\":1,\"group\":{head},\"exported_at\":{},\"tables\":{{", json!(chrono::Utc::now()));
    for (i, table) in registry::tables().iter().enumerate() {
        if i > 0 {
            piece.push(',');
        }
        piece.push_str(&format!("{}:[", json!(table.name)));
        // A table scoped to one member (their ballots) exports the admin's own rows.
        let only = table.scope.map_or("TRUE".to_owned(), |column| format!("t.\"{column}\" = $1"));
        let sql = format!(
            "SELECT row_to_json(t)::text FROM {}.\"{}\" t WHERE {only} ORDER BY t.\"{}\"",
            member.group.schema.ident(),
            table.name,
            table.pk
        );
        let mut query = sqlx::query_scalar::<_, String>(&sql);
        if table.scope.is_some() {
            query = query.bind(member.user_id);
        }
        let mut rows = query.fetch(&mut *tx);
        let mut first = true;
        while let Some(row) = rows.try_next().await? {
            if !first {
                piece.push(',');
            }
            first = false;
            piece.push_str(&row);
            if piece.len() >= PIECE {
                send(std::mem::take(&mut piece)).await?;
            }
        }
        drop(rows);
        piece.push(']');
    }
    piece.push_str("}}");
    send(piece).await?;
    tx.commit().await?;
    Ok(())
}
