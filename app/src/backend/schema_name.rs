//! The name of a group's Postgres schema: generated from the group id, so no
//! request text ever reaches SQL as an identifier.

use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaName(String);

impl SchemaName {
    pub fn for_group(id: Uuid) -> Self {
        Self(format!("g_{}", id.simple()))
    }

    /// Accepts a name read back from `groups.schema_name` only if it has the
    /// generated form (the table's CHECK says the same).
    pub fn parse(text: &str) -> Option<Self> {
        let hex = text.strip_prefix("g_")?;
        let ok = hex.len() == 32 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        ok.then(|| Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The quoted identifier to put in SQL text.
    pub fn ident(&self) -> String {
        format!("\"{}\"", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_name_round_trips_through_parse() {
        let name = SchemaName::for_group(Uuid::new_v4());
        assert_eq!(SchemaName::parse(name.as_str()), Some(name.clone()));
        assert!(name.ident().starts_with("\"g_"));
    }

    #[test]
    fn anything_but_the_generated_form_is_refused() {
        for bad in ["public", "g_", "g_XYZ", "g_0123\"; drop", &format!("g_{}", "a".repeat(33))] {
            assert_eq!(SchemaName::parse(bad), None, "{bad:?}");
        }
    }
}
