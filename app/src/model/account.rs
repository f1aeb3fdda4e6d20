//! The signed-in user as the API and pages see them.

use super::GroupSummary;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

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
