//! The browser's sync (docs/offline.md). Plain Rust, tested natively:
//! `protocol` (Electric's shape protocol as a state machine), `local` (the
//! rows the browser holds, turned into the pages' `GroupData`), `overlay`
//! (queued writes as the row changes they will make), `outbox` (the
//! queue of writes) and `wakes` (what was heard of the group's log
//! moving). `browser` (WASM only) runs them against IndexedDB and the
//! network; `ui` is what the pages see of it.

#[cfg(feature = "hydrate")]
pub mod browser;
pub mod local;
pub mod outbox;
pub mod overlay;
pub mod protocol;
pub mod ui;
pub mod wakes;
