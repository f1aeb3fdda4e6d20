//! The sync in the browser (WASM only): the IndexedDB `store`, HTTP in
//! `net` (and event streams read as they come: `events`), the `engine` of
//! a group page session with its two tasks (`follow`: keep the rows
//! current; `send`: the outbox, uploading `files` first), the tabs of one group sharing one outbox
//! and one wake stream (`tabs`), and the service worker's side in the page
//! (`shell`).

mod engine;
mod events;
pub mod files;
mod follow;
mod net;
mod send;
pub mod shell;
pub mod store;
mod tabs;

pub use engine::start;
