//! One file per page.

mod account;
mod forgot;
pub mod group;
mod home;
mod join;
mod login;
mod new_group;
mod not_found;
mod reset;
mod signup;
mod unsubscribe;
mod verify;

pub use account::AccountPage;
pub use forgot::ForgotPage;
pub use group::{
    AnnouncementsPage, BookingsPage, DocumentsPage, GroupHomePage, GroupLayout, MembersPage, PollsPage, RequestPage,
    RequestsPage,
};
pub use home::HomePage;
pub use join::JoinPage;
pub use login::LoginPage;
pub use new_group::NewGroupPage;
pub use not_found::NotFound;
pub use reset::ResetPage;
pub use signup::SignupPage;
pub use unsubscribe::UnsubscribePage;
pub use verify::VerifyPage;

pub(crate) use crate::model::login_then;
