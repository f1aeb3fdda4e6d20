//! The browser's copy of its groups, in IndexedDB: rows, shape states and
//! the outbox. Keys start with a scope (`<user id>/<group slug>/`), so two
//! groups, or two people on one browser, never share a row. A batch of
//! changes and its shape's new offset are written in one transaction.
//!
//! Every request of a transaction is issued before any is awaited:
//! IndexedDB runs them in order, and one await per batch (not per row) is
//! what keeps a 10 000-row snapshot fast (docs/performance.md).

use crate::{
    model::registry,
    sync::{
        local::{LocalRows, Settled},
        outbox::Entry,
        protocol::{Row, ShapeState},
    },
};
use futures::future::{try_join, try_join_all};
use rexie::{KeyRange, ObjectStore, Rexie, TransactionMode};
use wasm_bindgen::JsValue;

const DATABASE: &str = "courtyard";
const ROWS: &str = "rows";
const SHAPES: &str = "shapes";
const OUTBOX: &str = "outbox";
/// Files' bytes this browser fetched or sent (`<scope><sha256>`, and
/// `<scope><sha256>.thumb`), as Blobs: forgotten with the rows.
pub(super) const FILES: &str = "files";
/// The bytes of files queued to upload (`<scope><sha256>`), as Blobs: kept
/// with the outbox until sent.
pub(super) const UPLOADS: &str = "uploads";

pub struct Store {
    db: Rexie,
    scope: String,
}

/// What the browser holds of one group.
pub struct Held {
    pub rows: LocalRows,
    pub shapes: Vec<ShapeState>,
    pub outbox: Vec<Entry>,
}

type Result<T> = std::result::Result<T, String>;

fn err(error: impl std::fmt::Display) -> String {
    format!("local storage: {error}")
}

/// The range of keys starting with `prefix`.
fn prefixed(prefix: &str) -> Result<KeyRange> {
    KeyRange::bound(
        &JsValue::from_str(prefix),
        &JsValue::from_str(&format!("{prefix}\u{ffff}")),
        Some(false),
        Some(false),
    )
    .map_err(err)
}

impl Store {
    /// Opens the database for one scope (`<user id>/<group slug>`).
    pub async fn open(scope: String) -> Result<Self> {
        Ok(Self { db: database().await?, scope: format!("{scope}/") })
    }

    fn row_key(&self, table: &str, pk: &str) -> JsValue {
        JsValue::from_str(&format!("{}{table}/{pk}", self.scope))
    }

    fn shape_key(&self, table: &str) -> JsValue {
        JsValue::from_str(&format!("{}{table}", self.scope))
    }

    pub async fn load(&self) -> Result<Held> {
        let tx = self.db.transaction(&[ROWS, SHAPES, OUTBOX], TransactionMode::ReadOnly).map_err(err)?;
        // Every request at once, one getAll per table: a row's key is the
        // scope, its table and its own primary key, so keys need no reading.
        let stored = tx.store(ROWS).map_err(err)?;
        let tables = registry::tables();
        let ranges = tables
            .iter()
            .map(|table| prefixed(&format!("{}{}/", self.scope, table.name)))
            .collect::<Result<Vec<_>>>()?;
        let (stored_tables, (shapes, outbox)) = try_join(
            try_join_all(ranges.into_iter().map(|range| stored.get_all(Some(range), None))),
            try_join(
                tx.store(SHAPES).map_err(err)?.get_all(Some(prefixed(&self.scope)?), None),
                tx.store(OUTBOX).map_err(err)?.get_all(Some(prefixed(&self.scope)?), None),
            ),
        )
        .await
        .map_err(err)?;
        let mut rows = LocalRows::default();
        for (table, values) in tables.iter().zip(stored_tables) {
            let (pk, held) = (table.pk, rows.table_mut(table.name));
            for row in values.iter().filter_map(|v| serde_json::from_str::<Row>(&v.as_string()?).ok()) {
                if let Some(key) = row.get(pk).and_then(|v| v.as_str()) {
                    held.insert(key.to_owned(), row);
                }
            }
        }
        let (shapes, outbox) = (strings(shapes), strings(outbox));
        tx.done().await.map_err(err)?;
        Ok(Held { rows, shapes, outbox })
    }

    /// Writes a batch's rows (each touched key's new row, or its removal)
    /// and the shape's new state, atomically.
    pub async fn commit(&self, state: &ShapeState, settled: &Settled) -> Result<()> {
        let tx = self.db.transaction(&[ROWS, SHAPES], TransactionMode::ReadWrite).map_err(err)?;
        let rows = tx.store(ROWS).map_err(err)?;
        let mut puts = Vec::new();
        let mut deletes = Vec::new();
        for (pk, row) in settled {
            let key = self.row_key(&state.table, pk);
            match row {
                Some(row) => puts.push((JsValue::from_str(&serde_json::to_string(row).map_err(err)?), Some(key))),
                None => deletes.push(key),
            }
        }
        // Each key once, so their order does not matter.
        try_join(rows.put_all(puts.into_iter()), try_join_all(deletes.into_iter().map(|key| rows.delete(key))))
            .await
            .map_err(err)?;
        self.put_shape(&tx, state).await?;
        tx.done().await.map_err(err)?;
        Ok(())
    }

    /// Drops a shape's rows and stores its fresh state, atomically.
    pub async fn reset(&self, state: &ShapeState) -> Result<()> {
        let tx = self.db.transaction(&[ROWS, SHAPES], TransactionMode::ReadWrite).map_err(err)?;
        let rows = tx.store(ROWS).map_err(err)?;
        let prefix = format!("{}{}/", self.scope, state.table);
        rows.delete(prefixed(&prefix)?.into()).await.map_err(err)?;
        self.put_shape(&tx, state).await?;
        tx.done().await.map_err(err)?;
        Ok(())
    }

    async fn put_shape(&self, tx: &rexie::Transaction, state: &ShapeState) -> Result<()> {
        let text = serde_json::to_string(state).map_err(err)?;
        let shapes = tx.store(SHAPES).map_err(err)?;
        shapes.put(&JsValue::from_str(&text), Some(&self.shape_key(&state.table))).await.map_err(err)?;
        Ok(())
    }

    /// Queues or updates an outbox entry (keyed so entries sort in order).
    pub async fn put_entry(&self, entry: &Entry) -> Result<()> {
        let tx = self.db.transaction(&[OUTBOX], TransactionMode::ReadWrite).map_err(err)?;
        let text = serde_json::to_string(entry).map_err(err)?;
        let key = JsValue::from_str(&format!("{}{}", self.scope, entry.key()));
        tx.store(OUTBOX).map_err(err)?.put(&JsValue::from_str(&text), Some(&key)).await.map_err(err)?;
        tx.done().await.map_err(err)?;
        Ok(())
    }

    pub async fn delete_entry(&self, entry: &Entry) -> Result<()> {
        let tx = self.db.transaction(&[OUTBOX], TransactionMode::ReadWrite).map_err(err)?;
        let key = JsValue::from_str(&format!("{}{}", self.scope, entry.key()));
        tx.store(OUTBOX).map_err(err)?.delete(key).await.map_err(err)?;
        tx.done().await.map_err(err)?;
        Ok(())
    }

    pub async fn outbox(&self) -> Result<Vec<Entry>> {
        let tx = self.db.transaction(&[OUTBOX], TransactionMode::ReadOnly).map_err(err)?;
        let entries = tx.store(OUTBOX).map_err(err)?.get_all(Some(prefixed(&self.scope)?), None).await.map_err(err)?;
        tx.done().await.map_err(err)?;
        Ok(strings(entries))
    }

    /// Forgets everything of this scope: rows, shapes, files and queued writes.
    pub async fn wipe(&self) -> Result<()> {
        wipe_prefix(&self.db, &self.scope, &[ROWS, SHAPES, FILES, OUTBOX, UPLOADS]).await
    }
}

/// Forgets what `stores` hold under `prefix`.
async fn wipe_prefix(db: &Rexie, prefix: &str, stores: &[&str]) -> Result<()> {
    let tx = db.transaction(stores, TransactionMode::ReadWrite).map_err(err)?;
    for name in stores {
        tx.store(name).map_err(err)?.delete(prefixed(prefix)?.into()).await.map_err(err)?;
    }
    tx.done().await.map_err(err)?;
    Ok(())
}

/// At sign-out: forgets the rows of every group `user` follows here. Their
/// unsent writes stay, under their own scope, to be sent when they sign in
/// here again; nobody else's session ever opens that scope.
pub async fn wipe_rows_of(user: uuid::Uuid) -> Result<()> {
    wipe_prefix(&database().await?, &format!("{user}/"), &[ROWS, SHAPES, FILES]).await
}

/// When `user`'s account is deleted: forgets everything of theirs here,
/// their unsent writes included (no one can send them any more).
pub async fn wipe_user(user: uuid::Uuid) -> Result<()> {
    wipe_prefix(&database().await?, &format!("{user}/"), &[ROWS, SHAPES, FILES, OUTBOX, UPLOADS]).await
}

/// When `user` leaves the group `slug`: forgets it here, rows, shapes and
/// queued writes.
pub async fn wipe_group(user: uuid::Uuid, slug: &str) -> Result<()> {
    wipe_prefix(&database().await?, &format!("{user}/{slug}/"), &[ROWS, SHAPES, FILES, OUTBOX, UPLOADS]).await
}

/// The value under `key` in `store` (a file's Blob), if any.
pub(super) async fn get_value(store: &str, key: &str) -> Result<Option<JsValue>> {
    let db = database().await?;
    let tx = db.transaction(&[store], TransactionMode::ReadOnly).map_err(err)?;
    let value = tx.store(store).map_err(err)?.get(JsValue::from_str(key)).await.map_err(err)?;
    tx.done().await.map_err(err)?;
    Ok(value.filter(|v| !v.is_undefined() && !v.is_null()))
}

/// Puts `value` under `key` in `store`.
pub(super) async fn put_value(store: &str, key: &str, value: &JsValue) -> Result<()> {
    let db = database().await?;
    let tx = db.transaction(&[store], TransactionMode::ReadWrite).map_err(err)?;
    tx.store(store).map_err(err)?.put(value, Some(&JsValue::from_str(key))).await.map_err(err)?;
    tx.done().await.map_err(err)?;
    Ok(())
}

pub(super) async fn delete_value(store: &str, key: &str) -> Result<()> {
    let db = database().await?;
    let tx = db.transaction(&[store], TransactionMode::ReadWrite).map_err(err)?;
    tx.store(store).map_err(err)?.delete(JsValue::from_str(key)).await.map_err(err)?;
    tx.done().await.map_err(err)?;
    Ok(())
}

/// The database, every version declaring every store (rexie drops
/// undeclared ones on upgrade).
async fn database() -> Result<Rexie> {
    Rexie::builder(DATABASE)
        .version(2)
        .add_object_store(ObjectStore::new(ROWS))
        .add_object_store(ObjectStore::new(SHAPES))
        .add_object_store(ObjectStore::new(OUTBOX))
        .add_object_store(ObjectStore::new(FILES))
        .add_object_store(ObjectStore::new(UPLOADS))
        .build()
        .await
        .map_err(err)
}

fn strings<T: serde::de::DeserializeOwned>(values: Vec<JsValue>) -> Vec<T> {
    values.into_iter().filter_map(|v| v.as_string()).filter_map(|s| serde_json::from_str(&s).ok()).collect()
}
