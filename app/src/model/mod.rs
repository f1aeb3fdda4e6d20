//! Types both sides share: what the server sends and the pages show.

mod account;
mod group;
pub mod validate;

pub use account::{Me, UserInfo};
pub use group::{GroupHome, GroupSummary, InviteInfo, MemberInfo, Role};
