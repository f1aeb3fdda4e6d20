//! One file per page.

pub mod group;
mod home;
mod join;
mod login;
mod new_group;
mod not_found;
mod signup;

pub use group::{AnnouncementsPage, BookingsPage, GroupHomePage, GroupLayout, MembersPage, RequestPage, RequestsPage};
pub use home::HomePage;
pub use join::JoinPage;
pub use login::LoginPage;
pub use new_group::NewGroupPage;
pub use not_found::NotFound;
pub use signup::SignupPage;

pub(crate) use crate::model::login_then;
