//! A shape: one synced table of one group, with its columns, `where` and
//! replica mode, checked against the group's catalogue, and its handle.

use super::{
    catalog::{Catalog, Table},
    request::{FieldErrors, Replica, ShapeParams},
    where_clause::{CmpOp, Expr, Operand, Row},
};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use uuid::Uuid;

#[derive(Debug)]
pub struct Shape {
    catalog: Arc<Catalog>,
    table: String,
    /// The shape's columns, in table order.
    columns: Vec<String>,
    pub(super) filter: Option<Expr>,
    params: Vec<String>,
    replica: Replica,
    handle: String,
}

impl Shape {
    /// The shape `viewer` asks for. A table the registry scopes to one
    /// member (`scope` in `model::rows`) is narrowed to the viewer's rows,
    /// whatever the request's `where`, and its handle is the viewer's own.
    pub fn new(
        catalog: Arc<Catalog>,
        group_id: Uuid,
        viewer: Uuid,
        request: &ShapeParams,
    ) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let Some(table) = catalog.tables.get(&request.table) else {
            errors.insert("table".into(), vec![format!("{} is not a table this group syncs", request.table)]);
            return Err(errors);
        };
        let columns: Vec<String> = match &request.columns {
            None => table.columns.iter().map(|c| c.name.clone()).collect(),
            Some(wanted) => {
                if let Some(unknown) = wanted.iter().find(|w| table.column(w).is_none()) {
                    let shown: String = unknown.chars().take(64).collect();
                    errors.entry("columns".into()).or_default().push(format!("unknown column {shown:?}"));
                }
                if !wanted.contains(&table.pk) {
                    errors
                        .entry("columns".into())
                        .or_default()
                        .push(format!("must include the primary key {}", table.pk));
                }
                table.columns.iter().filter(|c| wanted.contains(&c.name)).map(|c| c.name.clone()).collect()
            }
        };
        let mut filter = request.where_clause.as_ref().map(|(_, expr)| expr.clone());
        if let Some(expr) = &filter {
            if let Err(error) = expr.check(&table.types, &request.params) {
                errors.entry("where".into()).or_default().push(error.to_string());
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let scope = app::model::registry::table(&table.name).and_then(|t| t.scope);
        if let Some(column) = scope {
            let own =
                Expr::Compare { column: column.to_owned(), op: CmpOp::Eq, value: Operand::Literal(viewer.to_string()) };
            filter = Some(match filter {
                Some(asked) => Expr::And(Box::new(own), Box::new(asked)),
                None => own,
            });
        }
        let handle = handle(&catalog, group_id, scope.map(|_| viewer), request, &columns);
        let table = table.name.clone();
        Ok(Self { catalog, table, columns, filter, params: request.params.clone(), replica: request.replica, handle })
    }

    pub fn table(&self) -> &Table {
        &self.catalog.tables[&self.table]
    }

    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    pub fn replica(&self) -> Replica {
        self.replica
    }

    pub fn handle(&self) -> &str {
        &self.handle
    }

    pub fn electric_schema(&self) -> String {
        self.table().electric_schema(&self.columns)
    }

    /// Whether a row (Postgres text values) is in the shape.
    pub fn matches(&self, row: &impl Row) -> bool {
        self.filter.as_ref().is_none_or(|expr| expr.matches(&self.table().types, &self.params, row))
    }

    /// The `where` as SQL over the table's columns, its values appended to
    /// `binds` as parameters; `TRUE` without one.
    pub fn where_sql(&self, binds: &mut Vec<String>) -> String {
        match &self.filter {
            None => "TRUE".into(),
            Some(expr) => expr.to_sql(&self.table().types, &self.params, binds),
        }
    }
}

/// The same definition on the same group schema (for the same viewer, if
/// the table is scoped) gives the same handle, in every server process;
/// anything different (a migrated schema included) gives another one.
fn handle(
    catalog: &Catalog,
    group_id: Uuid,
    viewer: Option<Uuid>,
    request: &ShapeParams,
    columns: &[String],
) -> String {
    let mut hasher = Sha256::new();
    hasher.update(group_id.as_bytes());
    if let Some(viewer) = viewer {
        hasher.update(viewer.as_bytes());
    }
    hasher.update(catalog.digest);
    let where_text = request.where_clause.as_ref().map_or("", |(text, _)| text.as_str());
    let definition =
        serde_json::json!([request.table, columns, where_text, request.params, request.replica == Replica::Full]);
    hasher.update(definition.to_string().as_bytes());
    let digest = hasher.finalize();
    format!("{}-{}", catalog.version, hex::encode(&digest[..10]))
}
