//! Templating, checked against `tests/data/template/*.json`, plus the round
//! trip `render(templatize(x)) == x` over the labelled AWS errors and noise.

mod common;

use consoledx_core::context::Identifiers;
use consoledx_core::extract::extract;
use consoledx_core::template::{TemplateError, render, templatize};
use serde_json::{Value, json};
use std::collections::BTreeMap;

fn error_or(expect: &Value, result: Result<Value, String>) -> Result<(), String> {
    match (result, expect.get("error").and_then(Value::as_str)) {
        (Ok(actual), None) if &actual == expect => Ok(()),
        (Ok(actual), None) => Err(format!("expected {expect}, got {actual}")),
        (Err(error), Some(want)) if error.contains(want) => Ok(()),
        (Err(error), _) => Err(format!("unexpected error: {error}")),
        (Ok(actual), Some(want)) => {
            Err(format!("expected an error containing {want}, got {actual}"))
        }
    }
}

/// One case of either kind: `templatize` cases have `message`, `url` and
/// `identifiers`; `render` cases have `template` and `variables`.
fn check(case: &Value) -> Result<(), String> {
    let expect = &case["expect"];
    if let Some(template) = case.get("template").and_then(Value::as_str) {
        let variables: BTreeMap<String, String> = serde_json::from_value(case["variables"].clone())
            .map_err(|e| format!("bad variables: {e}"))?;
        let result = render(template, &variables)
            .map(|text| json!({"text": text}))
            .map_err(|e| e.to_string());
        return error_or(expect, result);
    }
    let identifiers: Identifiers = serde_json::from_value(case["identifiers"].clone())
        .map_err(|e| format!("bad identifiers: {e}"))?;
    let message = case["message"].as_str().unwrap_or_default();
    let url = case["url"].as_str().unwrap_or_default();
    let result = templatize(message, url, &identifiers)
        .map(|t| json!({"message": t.message, "url": t.url, "variables": t.variables}))
        .map_err(|e| e.to_string());
    error_or(expect, result)
}

#[test]
fn fixtures() {
    let dir = common::data_dir("template");
    let mut failures = Vec::new();
    let mut cases = 0;
    for path in common::json_files(&dir) {
        let doc = common::read_json(&path);
        for case in ["templatize", "render"]
            .iter()
            .flat_map(|kind| doc[kind].as_array().into_iter().flatten())
        {
            cases += 1;
            if let Err(mismatch) = check(case) {
                failures.push(format!("{} / {}: {mismatch}", path.display(), case["name"]));
            }
        }
    }
    println!("{cases} template fixture cases");
    assert!(cases > 0, "no template fixtures in {}", dir.display());
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn round_trips(message: &str, url: &str, identifiers: &Identifiers) -> Result<(), String> {
    let templated = match templatize(message, url, identifiers) {
        Ok(templated) => templated,
        // Refusing text that already holds a placeholder is the contract;
        // any other refusal means templatize built a template it had to discard.
        Err(TemplateError::LiteralPlaceholder(_)) => return Ok(()),
        Err(error) => return Err(format!("{message:?}: {error}")),
    };
    for (template, original) in [(&templated.message, message), (&templated.url, url)] {
        let rendered = render(template, &templated.variables).map_err(|e| e.to_string())?;
        if rendered != original {
            return Err(format!("{original:?} -> {template:?} -> {rendered:?}"));
        }
    }
    Ok(())
}

#[test]
fn round_trip_over_labelled_errors() {
    let path = common::shared_data();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {} ({e}); set CONSOLEDX_SHARED_DATA",
            path.display()
        )
    });
    let mut templated_values = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let record: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("bad line: {e}"));
        let message = record["message"].as_str().unwrap_or_default();
        let url = record["url"].as_str().unwrap_or_default();
        let identifiers = extract(message, url).identifiers;
        round_trips(message, url, &identifiers).unwrap_or_else(|e| panic!("{}: {e}", record["id"]));
        if let Ok(t) = templatize(message, url, &identifiers) {
            templated_values += t.variables.len();
        }
    }
    assert!(
        templated_values > 100,
        "templatize replaced only {templated_values} values"
    );
}

#[test]
fn round_trip_over_noise() {
    const PIECES: &[&str] = &[
        "{", "}", "{{", "}}", "a", "ab", "x-1", "-", "_", "é", " ", "{{a}}", "1", "b{", "}b",
    ];
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..5000 {
        let mut text = String::new();
        for _ in 0..(next() % 12) {
            text.push_str(PIECES[(next() % PIECES.len() as u64) as usize]);
        }
        let mut identifiers = Identifiers::new();
        for key in ["a", "b", "c"] {
            let value: String = (0..(next() % 4))
                .map(|_| PIECES[(next() % PIECES.len() as u64) as usize])
                .collect();
            identifiers.insert(key.to_owned(), value);
        }
        round_trips(&text, "", &identifiers).unwrap_or_else(|e| panic!("{e} with {identifiers:?}"));
    }
}
