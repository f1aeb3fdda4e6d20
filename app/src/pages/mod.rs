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

/// `/login?next=<path>`, to come back here after signing in.
pub(crate) fn login_then(path: &str) -> String {
    let next: String = form_urlencoded::byte_serialize(path.as_bytes()).collect();
    format!("/login?next={next}")
}
