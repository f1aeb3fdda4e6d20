//! The browser's sync (docs/offline.md). Plain Rust, tested natively:
//! `protocol` (Electric's shape protocol as a state machine), `local` (the
//! rows the browser holds, turned into the pages' `GroupData`) and `overlay`
//! (queued writes as the row changes they will make).

pub mod local;
pub mod overlay;
pub mod protocol;
