//! Profile sets, checked against `tests/data/profile/*.json`.
//!
//! Each file has a `start` set (the stored state; `{}` when absent) and
//! `cases`, each one operation on that set: `import` (a profile file, as
//! JSON text or as a JSON value), `save` (`profile` and an optional
//! `source`), `remove` (an id) or `switch` (an id, with `signedIn` issuers).
//! `expect` is either `{"error": substring}`, and then the set must come out
//! unchanged, or `{"set": …, "result": …}` with what the operation returned.

mod common;

use consoledx_core::profile::{IdentitySource, Profile, ProfileFile, ProfileSet};
use serde_json::{Value, json};
use std::path::PathBuf;

fn apply(set: &mut ProfileSet, case: &Value) -> Result<Value, String> {
    let value = |key: &str| case.get(key).cloned().unwrap_or(Value::Null);
    let mut run = || -> Result<Value, consoledx_core::profile::ProfileError> {
        if let Some(file) = case.get("import") {
            let text = match file {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            let file = ProfileFile::parse(&text)?;
            return Ok(json!(set.import(file)?));
        }
        if let Some(save) = case.get("save") {
            let profile: Profile = serde_json::from_value(save["profile"].clone())
                .expect("fixture: save.profile must be a profile");
            let source: Option<IdentitySource> =
                serde_json::from_value(save.get("source").cloned().unwrap_or(Value::Null))
                    .expect("fixture: save.source must be an identity source");
            set.save(profile, source)?;
            return Ok(Value::Null);
        }
        if let Some(Value::String(id)) = case.get("remove") {
            set.remove(id)?;
            return Ok(Value::Null);
        }
        if let Some(Value::String(id)) = case.get("switch") {
            let signed_in: Vec<String> =
                serde_json::from_value(value("signedIn")).unwrap_or_default();
            return Ok(json!(set.switch(id, &signed_in)?));
        }
        panic!("fixture: a case needs import, save, remove or switch");
    };
    run().map_err(|error| error.to_string())
}

fn check(start: &ProfileSet, case: &Value) -> Result<(), String> {
    let mut set = start.clone();
    let outcome = apply(&mut set, case);
    let expect = &case["expect"];
    match (outcome, expect.get("error").and_then(Value::as_str)) {
        (Err(error), Some(want)) => {
            if !error.contains(want) {
                return Err(format!(
                    "expected an error containing “{want}”, got “{error}”"
                ));
            }
            if &set != start {
                return Err("a refused operation changed the set".into());
            }
            Ok(())
        }
        (Err(error), None) => Err(format!("unexpected error: {error}")),
        (Ok(result), Some(want)) => Err(format!("expected error “{want}”, got {result}")),
        (Ok(result), None) => {
            let actual = json!({"set": set, "result": result});
            let mut wanted = expect.clone();
            if wanted.get("result").is_none() {
                wanted["result"] = Value::Null;
            }
            if actual != wanted {
                return Err(format!(
                    "expected {}\n   got {}",
                    serde_json::to_string(&wanted).unwrap_or_default(),
                    serde_json::to_string(&actual).unwrap_or_default()
                ));
            }
            // What is stored reads back as the same set.
            let stored = serde_json::to_string(&set).map_err(|e| e.to_string())?;
            match ProfileSet::parse(&stored) {
                Ok(back) if back == set => Ok(()),
                Ok(_) => Err("the stored set reads back differently".into()),
                Err(error) => Err(format!("the stored set does not read back: {error}")),
            }
        }
    }
}

#[test]
fn fixtures() {
    let (mut cases, mut failures) = (0, Vec::new());
    for file in common::json_files(&common::data_dir("profile")) {
        let doc = common::read_json(&file);
        let start: ProfileSet =
            serde_json::from_value(doc.get("start").cloned().unwrap_or(json!({})))
                .unwrap_or_else(|e| panic!("{}: bad start set: {e}", file.display()));
        for case in doc["cases"].as_array().into_iter().flatten() {
            cases += 1;
            if let Err(mismatch) = check(&start, case) {
                failures.push(format!("{} / {}: {mismatch}", file.display(), case["name"]));
            }
        }
    }
    assert!(cases >= 30, "only {cases} profile cases");
    assert!(
        failures.is_empty(),
        "{} of {cases} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The error a stored set that no longer validates gets, rather than a panic.
#[test]
fn corrupt_stored_sets_are_refused() {
    for text in [
        "",
        "[]",
        "{\"profiles\": 3}",
        "{\"profiles\": [], \"active\": \"gone\"}",
    ] {
        assert!(ProfileSet::parse(text).is_err(), "{text:?} was accepted");
    }
}

/// Whole requests as the pages send them (`requests.json`): the tagged JSON in,
/// the tagged reply out (`expect`), or an error starting with `expectMessage`
/// (serde's line and column depend on the key order the JSON map keeps).
#[test]
fn requests() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/profile/requests.json");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_default())
        .unwrap_or_else(|e| panic!("{}: not JSON: {e}", path.display()));
    let mut failures = Vec::new();
    for case in doc["requests"].as_array().into_iter().flatten() {
        let reply =
            consoledx_core::profile::handle(&case["request"].to_string(), case["stored"].as_str());
        let actual = json!(reply);
        let ok = match (case.get("expect"), case["expectMessage"].as_str()) {
            (Some(expect), _) => &actual == expect,
            (None, Some(start)) => actual["message"]
                .as_str()
                .is_some_and(|m| m.starts_with(start)),
            _ => false,
        };
        if !ok {
            failures.push(format!("{}: got {actual}", case["name"]));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
