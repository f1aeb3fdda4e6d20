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
    /// When an admin closed the group (read-only until it is deleted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<DateTime<Utc>>,
    /// Residents may open polls (else only admins).
    #[serde(default)]
    pub residents_open_polls: bool,
}

/// An invite as seen by the person holding its code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteInfo {
    pub code: String,
    pub group_name: String,
    pub expires_at: DateTime<Utc>,
    /// Sent by email: only the account with this (verified) address joins by it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// An invite still open, as the group's admins list it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct OpenInvite {
    pub code: String,
    /// Sent to this address; none: a shareable link.
    pub email: Option<String>,
    /// The name of the admin who made it (none: their account is gone).
    pub created_by: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}
