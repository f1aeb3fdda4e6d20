//! The shape stream (Electric's HTTP Shape API) over a group's change log.
//! Built so far: the `where` subset, parsed into an AST that renders to SQL
//! with bound parameters and evaluates against logged rows.

pub mod where_clause;
