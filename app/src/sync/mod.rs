//! The browser's sync (docs/offline.md): `protocol` is Electric's shape
//! protocol as a plain state machine (tested natively).

pub mod protocol;
