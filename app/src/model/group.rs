//! Groups, roles, members and invites.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Resident,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Resident => "resident",
        }
    }

    /// Roles as stored in Postgres (`CHECK (role IN ('admin', 'resident'))`).
    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "admin" => Some(Role::Admin),
            "resident" => Some(Role::Resident),
            _ => None,
        }
    }
}

/// A group as listed for one of its members; also the answer to creating
/// a group and to accepting an invite.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct GroupSummary {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub role: Role,
}

/// An invite as seen by the person holding its code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteInfo {
    pub code: String,
    pub group_name: String,
    pub expires_at: DateTime<Utc>,
}
