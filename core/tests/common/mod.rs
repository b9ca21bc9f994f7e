//! What the data-driven tests share: their fixture files.
#![allow(dead_code)]

use serde_json::Value;
use std::path::{Path, PathBuf};

/// `tests/data/<name>` of this crate.
pub fn data_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// The `.json` files of a fixture folder, sorted; a missing or empty folder fails the test.
pub fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|err| panic!("cannot list {}: {err}", dir.display()))
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no fixtures in {}", dir.display());
    files
}

/// One fixture file as JSON.
pub fn read_json(path: &Path) -> Value {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|err| panic!("{}: not JSON: {err}", path.display()))
}

/// The labelled real AWS errors beside the checkout (`../shared/data`), or
/// the file `CONSOLEDX_SHARED_DATA` names.
pub fn shared_data() -> PathBuf {
    match std::env::var_os("CONSOLEDX_SHARED_DATA") {
        Some(path) => PathBuf::from(path),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/aws-errors.jsonl"),
    }
}
