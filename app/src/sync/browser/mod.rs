//! The sync in the browser (WASM only): the IndexedDB `store`, HTTP in
//! `net`, and the `engine` that runs a group page session.

mod engine;
mod net;
pub mod store;

pub use engine::start;
