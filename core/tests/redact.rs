//! Redaction rules, checked against `tests/data/redact/*.json`.

mod common;

use consoledx_core::redact::Redactor;
use serde_json::{Value, json};

/// Runs one case: `patterns` (optional extra patterns) and `text`; the result
/// is `{"text", "count"}` or `{"error"}`, compared with `expect` (an `error`
/// expectation is a substring of the message).
fn check(case: &Value) -> Result<(), String> {
    let patterns: Vec<String> =
        serde_json::from_value(case.get("patterns").cloned().unwrap_or(json!([])))
            .map_err(|e| format!("bad patterns: {e}"))?;
    let text = case["text"].as_str().ok_or("case needs `text`")?;
    let expect = &case["expect"];
    match (
        Redactor::new(&patterns),
        expect.get("error").and_then(Value::as_str),
    ) {
        (Ok(redactor), None) => {
            let redacted = redactor.redact(text);
            let actual = json!({"text": redacted.text, "count": redacted.count});
            if &actual != expect {
                return Err(format!("expected {expect}, got {actual}"));
            }
            // Redacting twice changes nothing: the markers are not secrets.
            let again = redactor.redact(&redacted.text);
            if again.text != redacted.text || again.count != 0 {
                return Err(format!(
                    "not idempotent: {} -> {}",
                    redacted.text, again.text
                ));
            }
            Ok(())
        }
        (Err(error), Some(want)) if error.to_string().contains(want) => Ok(()),
        (Err(error), _) => Err(format!("unexpected error: {error}")),
        (Ok(_), Some(want)) => Err(format!("expected an error containing {want}, got none")),
    }
}

#[test]
fn fixtures() {
    let mut failures = Vec::new();
    let mut cases = 0;
    for file in common::json_files(&common::data_dir("redact")) {
        let doc = common::read_json(&file);
        for case in doc["cases"].as_array().into_iter().flatten() {
            cases += 1;
            if let Err(mismatch) = check(case) {
                failures.push(format!("{} / {}: {mismatch}", file.display(), case["name"]));
            }
        }
    }
    println!("{cases} redaction fixture cases");
    assert!(cases > 0, "no redaction fixtures");
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
