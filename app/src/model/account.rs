//! The signed-in user as the API and pages see them.

use super::GroupSummary;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The request header by which the app's own sync names the user its
/// local copy belongs to. The server refuses (401) a request carrying it
/// under another person's session: a tab left open by one resident never
/// sends their queued writes, or fetches rows, as the next person to sign
/// in on that browser.
pub const EXPECTED_USER_HEADER: &str = "courtyard-user";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfo {
    pub id: Uuid,
    pub email: String,
    pub name: String,
}

/// `GET /api/me`: who I am and the groups I belong to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    pub user: UserInfo,
    pub groups: Vec<GroupSummary>,
}

/// `/login?next=<path>`, to come back to `path` after signing in.
pub fn login_then(path: &str) -> String {
    let next: String = form_urlencoded::byte_serialize(path.as_bytes()).collect();
    format!("/login?next={next}")
}
