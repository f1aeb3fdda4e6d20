//! The shape request language: the query parameters of
//! `GET /g/{slug}/v1/shape` (`request`), stream offsets (`offset`) and the
//! `where` subset a shape may filter by (`where_clause`), which renders to
//! SQL with bound values and evaluates against a row.
//!
//! Pure parsing, no I/O: the server checks the result against a group's
//! catalogue and does the rest. Everything here reads untrusted request
//! text, so it is fuzzed (`fuzz/`, cargo-fuzz) and property-tested
//! (`tests/parsers.rs`).

pub mod offset;
pub mod request;
pub mod where_clause;
