//! Server-side logic (feature `ssr`): the Postgres repositories and domain
//! rules that both the JSON HTTP API (in the `server` crate) and the pages'
//! server functions call. SQL and domain rules live here and nowhere else.

pub mod accounts;
pub mod auth;
pub mod calendar;
pub mod closing;
pub mod csp;
mod databases;
pub mod export;
pub mod files;
pub mod groups;
pub mod invites;
pub mod mail;
pub mod membership;
pub mod migrations;
pub mod mutate;
pub mod notify;
pub mod polls;
mod schema_name;
mod state;
pub mod views;

pub use databases::{Databases, GroupDb, Placement, MAIN};
pub use schema_name::SchemaName;
pub use state::{AppState, EmailLimits, LoginLimits, Settings, SignupLimits};
