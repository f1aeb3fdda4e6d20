//! The sync in the browser (WASM only): the IndexedDB `store`, HTTP in
//! `net`, the `engine` that runs a group page session, and the service
//! worker's side in the page (`shell`).

mod engine;
mod net;
pub mod shell;
pub mod store;

pub use engine::start;
