//! Inputs from fuzzing (fuzz/): the seeds it starts from must stay valid
//! requests, and every crash the fuzz targets find is kept here as a test,
//! its input inline, once fixed.

use shape_query::{
    offset::Offset,
    request::ShapeParams,
    where_clause::{self, ColumnType},
};
use std::{collections::HashMap, fs, path::PathBuf};

/// The files of `fuzz/seeds/<target>/`, by name.
fn seeds(target: &str) -> Vec<(String, String)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds").join(target);
    let mut files: Vec<(String, String)> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.unwrap().path();
            (path.file_name().unwrap().to_string_lossy().into_owned(), fs::read_to_string(&path).unwrap())
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no seeds in {}", dir.display());
    files
}

#[test]
fn where_clause_seeds_are_valid_wheres() {
    // The fuzz target's table.
    let types: HashMap<String, ColumnType> = [
        ("id", ColumnType::Uuid),
        ("title", ColumnType::Text),
        ("pinned", ColumnType::Boolean),
        ("n", ColumnType::Integer),
        ("at", ColumnType::Timestamptz),
    ]
    .into_iter()
    .map(|(name, ty)| (name.to_owned(), ty))
    .collect();
    let default_params = ["x", "42", "true", "6a3b5d0e-1f2a-4b3c-8d4e-5f6a7b8c9d0e", "2024-05-01T10:00:00Z"];
    for (name, text) in seeds("where_clause") {
        // As the target reads it: the where, then NUL-separated params.
        let mut parts = text.split('\0');
        let where_text = parts.next().unwrap();
        let mut params: Vec<String> = parts.map(str::to_owned).collect();
        if !text.contains('\0') {
            params = default_params.iter().map(|p| (*p).to_owned()).collect();
        }
        let expr = where_clause::parse(where_text).unwrap_or_else(|e| panic!("{name}: {e}"));
        expr.check(&types, &params).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn shape_params_seeds_are_valid_requests_or_offsets() {
    for (name, text) in seeds("shape_params") {
        let pairs: Vec<(String, String)> = text
            .split('&')
            .map(|pair| pair.split_once('=').map_or((pair.to_owned(), String::new()), |(k, v)| (k.into(), v.into())))
            .collect();
        let valid = ShapeParams::parse(&pairs).is_ok() || Offset::parse(&text).is_some();
        assert!(valid, "{name}: {text:?}");
    }
}
