//! The browser's copy of its groups, in IndexedDB: rows, shape states and
//! the outbox. Keys start with a scope (`<user id>/<group slug>/`), so two
//! groups, or two people on one browser, never share a row. A batch of
//! changes and its shape's new offset are written in one transaction.

use crate::sync::{
    local::LocalRows,
    outbox::Entry,
    protocol::{Change, Operation, Row, RowSet, ShapeState},
};
use rexie::{KeyRange, ObjectStore, Rexie, TransactionMode};
use wasm_bindgen::JsValue;

const DATABASE: &str = "courtyard";
const ROWS: &str = "rows";
const SHAPES: &str = "shapes";
const OUTBOX: &str = "outbox";

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
        let mut rows = LocalRows::default();
        let scanned =
            tx.store(ROWS).map_err(err)?.scan(Some(prefixed(&self.scope)?), None, None, None).await.map_err(err)?;
        for (key, value) in scanned {
            let (Some(key), Some(value)) = (key.as_string(), value.as_string()) else { continue };
            let Some((table, pk)) = key.strip_prefix(&self.scope).and_then(|rest| rest.split_once('/')) else {
                continue;
            };
            if let Ok(row) = serde_json::from_str::<Row>(&value) {
                rows.table_mut(table).insert(pk.to_owned(), row);
            }
        }
        let shapes =
            strings(tx.store(SHAPES).map_err(err)?.get_all(Some(prefixed(&self.scope)?), None).await.map_err(err)?);
        let outbox =
            strings(tx.store(OUTBOX).map_err(err)?.get_all(Some(prefixed(&self.scope)?), None).await.map_err(err)?);
        tx.done().await.map_err(err)?;
        Ok(Held { rows, shapes, outbox })
    }

    /// Applies a batch and stores the shape's new state, atomically.
    /// `table` is the shape's rows with the changes applied.
    pub async fn commit(&self, state: &ShapeState, changes: &[Change], table: &RowSet) -> Result<()> {
        let tx = self.db.transaction(&[ROWS, SHAPES], TransactionMode::ReadWrite).map_err(err)?;
        let rows = tx.store(ROWS).map_err(err)?;
        for change in changes {
            let key = self.row_key(&state.table, &change.pk);
            match (change.operation, table.get(&change.pk)) {
                (Operation::Delete, _) | (_, None) => rows.delete(key).await.map_err(err)?,
                (_, Some(row)) => {
                    let text = serde_json::to_string(row).map_err(err)?;
                    rows.put(&JsValue::from_str(&text), Some(&key)).await.map_err(err)?;
                }
            }
        }
        self.put_shape(&tx, state).await?;
        tx.done().await.map_err(err)?;
        Ok(())
    }

    /// Drops a shape's rows and stores its fresh state, atomically.
    pub async fn reset(&self, state: &ShapeState) -> Result<()> {
        let tx = self.db.transaction(&[ROWS, SHAPES], TransactionMode::ReadWrite).map_err(err)?;
        let rows = tx.store(ROWS).map_err(err)?;
        let prefix = format!("{}{}/", self.scope, state.table);
        for key in rows.get_all_keys(Some(prefixed(&prefix)?), None).await.map_err(err)? {
            rows.delete(key).await.map_err(err)?;
        }
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

    /// Forgets everything of this scope: rows, shapes and queued writes.
    pub async fn wipe(&self) -> Result<()> {
        wipe_prefix(&self.db, &self.scope).await
    }
}

/// Forgets everything stored under `prefix` (`""`: everything).
async fn wipe_prefix(db: &Rexie, prefix: &str) -> Result<()> {
    let tx = db.transaction(&[ROWS, SHAPES, OUTBOX], TransactionMode::ReadWrite).map_err(err)?;
    for name in [ROWS, SHAPES, OUTBOX] {
        let store = tx.store(name).map_err(err)?;
        for key in store.get_all_keys(Some(prefixed(prefix)?), None).await.map_err(err)? {
            store.delete(key).await.map_err(err)?;
        }
    }
    tx.done().await.map_err(err)?;
    Ok(())
}

/// Forgets every group of this browser (at sign-out).
pub async fn wipe_all() -> Result<()> {
    wipe_prefix(&database().await?, "").await
}

/// The database, every version declaring every store (rexie drops
/// undeclared ones on upgrade).
async fn database() -> Result<Rexie> {
    Rexie::builder(DATABASE)
        .version(1)
        .add_object_store(ObjectStore::new(ROWS))
        .add_object_store(ObjectStore::new(SHAPES))
        .add_object_store(ObjectStore::new(OUTBOX))
        .build()
        .await
        .map_err(err)
}

fn strings<T: serde::de::DeserializeOwned>(values: Vec<JsValue>) -> Vec<T> {
    values.into_iter().filter_map(|v| v.as_string()).filter_map(|s| serde_json::from_str(&s).ok()).collect()
}
