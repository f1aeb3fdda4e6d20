//! Types both sides share: what the server sends and the pages show.

mod account;
pub mod files;
mod group;
mod group_data;
mod mail;
pub mod mutation;
pub mod registry;
mod rows;
#[cfg(feature = "ssr")]
mod sql;
pub mod validate;
pub mod views;

pub use account::{login_then, AccountInfo, Me, SessionInfo, UserInfo, EXPECTED_USER_HEADER};
pub use group::{GroupSummary, InviteInfo, OpenInvite, Role};
pub use group_data::{GroupData, PAGE};
pub use mail::{MailChoices, MailKind, Unsubscribe};
pub use mutation::{MutateRequest, MutateResponse, Mutation, MutationEnvelope, MutationOutcome, MutationStatus};
pub use rows::{
    Announcement, Ballot, Booking, FileInfo, MaintenanceRequest, MemberInfo, Poll, PollOption, ReadMark,
    RequestComment, RequestStatus, Resource,
};
