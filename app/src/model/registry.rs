//! The synced tables, each declared once (`synced_tables!` in `rows.rs`):
//! its name, primary key and columns with their types, and the row struct
//! the pages read. Everything else derives from the declaration: the shape
//! catalogue's allowed tables, the browser's stores and keys, the typing
//! of streamed values when no `electric-schema` is at hand, and the test
//! that checks the tenant migrations' tables and capture triggers.
//!
//! Adding a column is one tenant migration plus one field.

use serde::{de::DeserializeOwned, Serialize};
use uuid::Uuid;

pub use super::rows::AnyRow;

/// A column's Postgres type, as far as the synced tables use them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    Uuid,
    Text,
    Bool,
    Int4,
    Timestamptz,
}

impl ColumnType {
    /// The name Postgres gives the type (`pg_type.typname`), as the
    /// `electric-schema` header carries it.
    pub const fn pg_name(self) -> &'static str {
        match self {
            Self::Uuid => "uuid",
            Self::Text => "text",
            Self::Bool => "bool",
            Self::Int4 => "int4",
            Self::Timestamptz => "timestamptz",
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
pub struct Column {
    pub name: &'static str,
    pub ty: ColumnType,
    pub nullable: bool,
}

#[derive(Debug, PartialEq, Eq)]
pub struct Table {
    pub name: &'static str,
    /// The single-column primary key.
    pub pk: &'static str,
    /// The column naming the member a row is by (`owner author_id` in the
    /// declaration): a member who leaves and asks for it has those rows
    /// removed. None: rows nobody in particular wrote.
    pub owner: Option<&'static str>,
    /// The column naming the one member who may see a row (`scope
    /// member_id`): the shape server adds `column = <the asking member>` to
    /// every shape of the table, so each member syncs only their own rows.
    /// None: every member of the group sees every row.
    pub scope: Option<&'static str>,
    pub columns: &'static [Column],
}

impl Table {
    pub fn column(&self, name: &str) -> Option<&'static Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// The synced tables, in the order the browser follows them.
pub fn tables() -> &'static [&'static Table] {
    super::rows::TABLES
}

/// A synced table by name.
pub fn table(name: &str) -> Option<&'static Table> {
    tables().iter().copied().find(|t| t.name == name)
}

/// The synced tables' names.
pub fn table_names() -> impl Iterator<Item = &'static str> {
    tables().iter().map(|t| t.name)
}

/// A Rust type a synced column holds.
pub trait ColumnKind {
    const TYPE: ColumnType;
    const NULLABLE: bool = false;
}

impl ColumnKind for Uuid {
    const TYPE: ColumnType = ColumnType::Uuid;
}

impl ColumnKind for String {
    const TYPE: ColumnType = ColumnType::Text;
}

impl ColumnKind for bool {
    const TYPE: ColumnType = ColumnType::Bool;
}

impl ColumnKind for i32 {
    const TYPE: ColumnType = ColumnType::Int4;
}

impl ColumnKind for chrono::DateTime<chrono::Utc> {
    const TYPE: ColumnType = ColumnType::Timestamptz;
}

impl<T: ColumnKind> ColumnKind for Option<T> {
    const TYPE: ColumnType = T::TYPE;
    const NULLABLE: bool = true;
}

/// A row of a synced table.
pub trait SyncedRow: Serialize + DeserializeOwned + Clone + 'static {
    const TABLE: &'static Table;
    fn key(&self) -> Uuid;
}

/// Declares the synced tables: for each, the row struct (field names are
/// the column names) and its `Table`; and `TABLES`, in declaration order.
macro_rules! synced_tables {
    ($(
        $(#[$meta:meta])*
        pub struct $row:ident in $table:literal key $pk:ident $(owner $owner:ident)? $(scope $scope:ident)? {
            $( $(#[$field_meta:meta])* pub $field:ident : $ty:ty ),* $(,)?
        }
    )*) => {
        $(
            $(#[$meta])*
            #[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
            #[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
            pub struct $row {
                $( $(#[$field_meta])* pub $field: $ty ),*
            }

            impl $crate::model::registry::SyncedRow for $row {
                const TABLE: &'static $crate::model::registry::Table = &$crate::model::registry::Table {
                    name: $table,
                    pk: stringify!($pk),
                    owner: $crate::model::registry::optional_column!($($owner)?),
                    scope: $crate::model::registry::optional_column!($($scope)?),
                    columns: &[$($crate::model::registry::Column {
                        name: stringify!($field),
                        ty: <$ty as $crate::model::registry::ColumnKind>::TYPE,
                        nullable: <$ty as $crate::model::registry::ColumnKind>::NULLABLE,
                    }),*],
                };

                fn key(&self) -> uuid::Uuid {
                    self.$pk
                }
            }
        )*

        /// Every synced table, in declaration order.
        pub const TABLES: &[&$crate::model::registry::Table] =
            &[$(<$row as $crate::model::registry::SyncedRow>::TABLE),*];

        /// A row of any synced table.
        #[derive(Debug, Clone, PartialEq)]
        pub enum AnyRow {
            $($row($row)),*
        }

        impl AnyRow {
            /// A row of `table` from its typed JSON form.
            pub fn from_json(table: &str, value: serde_json::Value) -> Result<Self, String> {
                $(
                    if table == $table {
                        return serde_json::from_value(value).map(Self::$row).map_err(|e| e.to_string());
                    }
                )*
                Err(format!("{table} is not a synced table"))
            }
        }
    };}

pub(crate) use synced_tables;

/// A declaration's `owner` or `scope` column, if it names one.
macro_rules! optional_column {
    () => {
        None
    };
    ($owner:ident) => {
        Some(stringify!($owner))
    };
}

pub(crate) use optional_column;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Announcement, MemberInfo};

    #[test]
    fn each_table_is_named_once_and_keyed_by_a_uuid_column() {
        let mut names: Vec<_> = table_names().collect();
        assert_eq!(names[0], "members", "the directory is followed first");
        names.sort();
        names.dedup();
        assert_eq!(names.len(), tables().len());
        for table in tables() {
            let pk = table.column(table.pk).expect("the key is a column");
            assert_eq!((pk.ty, pk.nullable), (ColumnType::Uuid, false), "{}", table.name);
        }
    }

    #[test]
    fn columns_follow_the_fields() {
        assert_eq!(MemberInfo::TABLE.pk, "user_id");
        let unit = MemberInfo::TABLE.column("unit").unwrap();
        assert!(unit.nullable && unit.ty == ColumnType::Text);
        let pinned = Announcement::TABLE.column("pinned").unwrap();
        assert_eq!(pinned.ty.pg_name(), "bool");
        assert_eq!(table("announcements"), Some(Announcement::TABLE));
        assert_eq!(table("applied_mutations"), None);
        assert_eq!(Announcement::TABLE.owner, Some("author_id"));
        assert_eq!(table("resources").unwrap().owner, None);
        for table in tables() {
            for named in table.owner.iter().chain(&table.scope) {
                let column = table.column(named).expect("the owner and the scope are columns");
                assert_eq!((column.ty, column.nullable), (ColumnType::Uuid, false), "{}", table.name);
            }
        }
        assert_eq!(table("ballots").unwrap().scope, Some("member_id"));
        assert_eq!(Announcement::TABLE.scope, None);
    }
}
