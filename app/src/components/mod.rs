//! Widgets the pages share.

mod form;
mod header;

pub use form::{field_error, last_error, Field, FormError};
pub use header::{Header, MeResource};
