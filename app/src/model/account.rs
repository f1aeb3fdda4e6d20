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
    /// The person followed the link sent to `email` (the page asks them to
    /// until they do).
    #[serde(default)]
    pub email_verified: bool,
}

/// `GET /api/me`: who I am and the groups I belong to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    pub user: UserInfo,
    pub groups: Vec<GroupSummary>,
}

/// One of a person's sessions (signed-in browsers and tokens), as their
/// account page lists them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct SessionInfo {
    /// Names the session to end it (not its token).
    pub id: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub expires_at: chrono::DateTime<chrono::Utc>,
    /// The browser it was started from, as it said.
    pub user_agent: String,
    /// The session of the request that listed them.
    pub current: bool,
}

/// The account page's data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountInfo {
    pub user: UserInfo,
    pub sessions: Vec<SessionInfo>,
}

/// `/login?next=<path>`, to come back to `path` after signing in.
pub fn login_then(path: &str) -> String {
    let next: String = form_urlencoded::byte_serialize(path.as_bytes()).collect();
    format!("/login?next={next}")
}
