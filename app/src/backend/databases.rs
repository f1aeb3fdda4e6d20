//! Where things live: the registry (users, sessions, groups, memberships,
//! invites) in one database, and each group's schema on one of the group
//! databases, named in `groups.database`. A single-machine install has one
//! group database, `main`: the registry's own.

use crate::error::AppError;
use sqlx::PgPool;
use std::{fmt, sync::Arc};

/// The name of the registry's own database as a group database (the
/// default, and every group's before group databases were configurable).
pub const MAIN: &str = "main";

/// A group database: its configured name and its pool.
#[derive(Clone)]
pub struct GroupDb {
    name: Arc<str>,
    pub pool: PgPool,
    /// New groups may be placed here (`new_groups` in the configuration).
    accepts_new_groups: bool,
    /// It is the registry's own database (on the registry's pool).
    is_registry: bool,
    /// Set once this process has brought the database itself up to date
    /// (`migrations::prepare`).
    pub(crate) prepared: Arc<tokio::sync::OnceCell<()>>,
}

impl fmt::Debug for GroupDb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

impl GroupDb {
    pub fn new(name: &str, pool: PgPool, accepts_new_groups: bool, is_registry: bool) -> Self {
        Self { name: name.into(), pool, accepts_new_groups, is_registry, prepared: Arc::default() }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether it is the registry's own database.
    pub fn is_registry(&self) -> bool {
        self.is_registry
    }
}

/// How a new group's database is chosen among those taking new groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Placement {
    /// The one holding the fewest groups (the first listed on a tie).
    #[default]
    FewestGroups,
    /// Any of them, at random (spreads a burst of new groups made by
    /// several servers at once, which all see the same counts).
    Random,
}

impl std::str::FromStr for Placement {
    type Err = ();

    fn from_str(text: &str) -> Result<Self, ()> {
        match text {
            "fewest_groups" => Ok(Self::FewestGroups),
            "random" => Ok(Self::Random),
            _ => Err(()),
        }
    }
}

/// The registry's pool and the group databases, in configuration order.
pub struct Databases {
    pub registry: PgPool,
    groups: Vec<GroupDb>,
    placement: Placement,
}

impl fmt::Debug for Databases {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Databases").field("groups", &self.groups).field("placement", &self.placement).finish()
    }
}

impl Databases {
    /// `groups` must be non-empty, with distinct names, and at least one
    /// taking new groups (the configuration checks it).
    pub fn new(registry: PgPool, groups: Vec<GroupDb>, placement: Placement) -> Self {
        Self { registry, groups, placement }
    }

    /// One group database, `main`, on the registry's pool.
    pub fn single(registry: PgPool) -> Self {
        let main = GroupDb::new(MAIN, registry.clone(), true, true);
        Self::new(registry, vec![main], Placement::default())
    }

    pub fn all(&self) -> &[GroupDb] {
        &self.groups
    }

    /// The group database named `name`. A group recorded on one this
    /// server does not know (its configuration lags the registry's) cannot
    /// be served here: 503, and the log says why.
    pub fn get(&self, name: &str) -> Result<&GroupDb, AppError> {
        self.find(name).ok_or_else(|| {
            tracing::error!(database = name, "a group lives on a database this server is not configured with");
            AppError::Unavailable
        })
    }

    /// The group database named `name`, if configured.
    pub fn find(&self, name: &str) -> Option<&GroupDb> {
        self.groups.iter().find(|db| *db.name == *name)
    }

    /// Where a new group goes, by the placement policy, given how many
    /// groups each database holds now.
    pub async fn place(&self) -> Result<&GroupDb, AppError> {
        let open: Vec<&GroupDb> = self.groups.iter().filter(|db| db.accepts_new_groups).collect();
        if open.len() == 1 {
            return Ok(open[0]);
        }
        let chosen = match self.placement {
            Placement::Random => {
                use argon2::password_hash::rand_core::{OsRng, RngCore};
                open.get(OsRng.next_u32() as usize % open.len().max(1)).copied()
            }
            Placement::FewestGroups => {
                let counts: Vec<(String, i64)> =
                    sqlx::query_as("SELECT database, count(*) FROM groups GROUP BY database")
                        .fetch_all(&self.registry)
                        .await?;
                let count = |db: &GroupDb| counts.iter().find(|(name, _)| **name == *db.name).map_or(0, |(_, n)| *n);
                open.iter().copied().min_by_key(|db| count(db))
            }
        };
        chosen.ok_or_else(|| {
            tracing::error!("no group database takes new groups");
            AppError::Unavailable
        })
    }
}
