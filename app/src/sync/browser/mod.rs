//! The sync in the browser (WASM only): the IndexedDB `store`, HTTP in
//! `net`, the `engine` that runs a group page session, and the service
//! worker's side in the page (`shell`), and the tabs of one group sharing
//! one outbox (`tabs`).

mod engine;
mod net;
pub mod shell;
pub mod store;
mod tabs;

pub use engine::start;
