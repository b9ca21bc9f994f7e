//! Extraction, checked against the shared labelled AWS errors and against this
//! crate's own fixtures (`tests/data/extract/*.json`).

mod common;

use consoledx_core::context::{ErrorContext, Snapshot};
use consoledx_core::extract::{Extraction, extract};
use consoledx_core::{Redactor, interpret};
use serde_json::{Value, json};

use common::shared_data;

fn extraction_json(extraction: &Extraction) -> Value {
    json!({
        "identifiers": extraction.identifiers,
        "error_code": extraction.error_code,
        "access_denied": extraction.access_denied,
        "encoded_authorization_message": extraction.encoded_authorization_message,
    })
}

fn context_json(context: &ErrorContext) -> Value {
    json!({
        "identifiers": context.identifiers,
        "error_code": context.error_code,
        "access_denied": context.access_denied,
        "identity": context.identity,
        "message": context.message,
        "url": context.url,
        "redactions": context.redactions,
        "fields": context.fields,
        "encoded_authorization_message": context.encoded_authorization_message,
    })
}

/// Compares `actual` with the `expected` subset: every key `expected` names
/// must match (objects recursively, `identifiers` key by key), and keys listed
/// under `absent_identifiers` must not be there. Returns the mismatches.
fn check(actual: &Value, expected: &Value) -> Vec<String> {
    let mut mismatches = Vec::new();
    let Some(expected) = expected.as_object() else {
        return vec![format!("expectation is not an object: {expected}")];
    };
    for (key, want) in expected {
        match key.as_str() {
            "identifiers" => {
                let got = &actual["identifiers"];
                for (id_key, id_want) in want.as_object().into_iter().flatten() {
                    if &got[id_key] != id_want {
                        mismatches.push(format!(
                            "identifier {id_key}: expected {id_want}, got {}",
                            got[id_key]
                        ));
                    }
                }
            }
            "absent_identifiers" => {
                for id_key in want
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                {
                    if let Some(value) = actual["identifiers"].get(id_key) {
                        mismatches
                            .push(format!("identifier {id_key} should be absent, got {value}"));
                    }
                }
            }
            "access_denied" if want.is_object() => {
                // Only the fields the expectation names (labels omit policy_arn).
                for (field, field_want) in want.as_object().into_iter().flatten() {
                    if &actual[key][field] != field_want {
                        mismatches.push(format!(
                            "access_denied.{field}: expected {field_want}, got {}",
                            actual[key][field]
                        ));
                    }
                }
            }
            _ => {
                if &actual[key] != want {
                    mismatches.push(format!("{key}: expected {want}, got {}", actual[key]));
                }
            }
        }
    }
    mismatches
}

#[test]
fn labelled_aws_errors() {
    let path = shared_data();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|error| {
        panic!(
            "cannot read the labelled AWS errors at {} ({error}); set CONSOLEDX_SHARED_DATA to the aws-errors.jsonl path",
            path.display()
        )
    });
    let (mut records, mut code_ok, mut denied_ok) = (0usize, 0usize, 0usize);
    let (mut true_positive, mut expected_total, mut wrong_extra) = (0usize, 0usize, 0usize);
    let mut failures = Vec::new();
    for (line_number, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let record: Value = serde_json::from_str(line).unwrap_or_else(|error| {
            panic!("{}:{}: not JSON: {error}", path.display(), line_number + 1)
        });
        let id = record["id"].as_str().unwrap_or("?");
        let message = record["message"].as_str().unwrap_or_default();
        let url = record["url"].as_str().unwrap_or_default();
        let expect = &record["expect"];
        let extraction = extract(message, url);
        let actual = extraction_json(&extraction);
        records += 1;

        if actual["error_code"] == expect["error_code"] {
            code_ok += 1;
        } else {
            failures.push(format!(
                "{id}: error_code expected {}, got {}",
                expect["error_code"], actual["error_code"]
            ));
        }
        let denied_matches = match (&expect["access_denied"], &actual["access_denied"]) {
            (Value::Null, Value::Null) => true,
            (want, got) => want["deny"] == got["deny"] && want["policy_type"] == got["policy_type"],
        };
        if denied_matches {
            denied_ok += 1;
        } else {
            failures.push(format!(
                "{id}: access_denied expected {}, got {}",
                expect["access_denied"], actual["access_denied"]
            ));
        }
        let expected_ids = expect["identifiers"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        for (key, want) in &expected_ids {
            expected_total += 1;
            if &actual["identifiers"][key] == want {
                true_positive += 1;
            } else {
                failures.push(format!(
                    "{id}: identifier {key} expected {want}, got {}",
                    actual["identifiers"][key]
                ));
                if !actual["identifiers"][key].is_null() {
                    wrong_extra += 1;
                }
            }
        }
    }
    let percent = |ok: usize| 100.0 * ok as f64 / records.max(1) as f64;
    let precision = true_positive as f64 / (true_positive + wrong_extra).max(1) as f64;
    let recall = true_positive as f64 / expected_total.max(1) as f64;
    let f1 = if precision + recall > 0.0 {
        2.0 * precision * recall / (precision + recall)
    } else {
        0.0
    };
    println!(
        "aws-errors.jsonl: {records} records; error code {:.1}%; access denied {:.1}%; identifiers precision {precision:.3} recall {recall:.3} F1 {f1:.3}",
        percent(code_ok),
        percent(denied_ok)
    );
    for failure in &failures {
        println!("  MISMATCH {failure}");
    }
    assert!(records > 0, "{} holds no records", path.display());
    assert!(
        percent(code_ok) >= 95.0 && percent(denied_ok) >= 98.0 && f1 >= 0.97 && failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// One fixture case: `message`+`url` run through `extract`, or `snapshot`
/// run through `interpret` (with `redact_patterns` if given).
fn run_case(case: &Value) -> Result<Value, String> {
    if let Some(snapshot) = case.get("snapshot") {
        let snapshot: Snapshot =
            serde_json::from_value(snapshot.clone()).map_err(|e| format!("bad snapshot: {e}"))?;
        let patterns: Vec<String> = case
            .get("redact_patterns")
            .map(|p| serde_json::from_value(p.clone()))
            .transpose()
            .map_err(|e| format!("bad redact_patterns: {e}"))?
            .unwrap_or_default();
        let redactor = Redactor::new(&patterns).map_err(|e| e.to_string())?;
        return Ok(context_json(&interpret(&snapshot, &redactor)));
    }
    let message = case["message"].as_str().unwrap_or_default();
    let url = case["url"].as_str().unwrap_or_default();
    Ok(extraction_json(&extract(message, url)))
}

#[test]
fn fixtures() {
    let mut failures = Vec::new();
    let mut cases = 0;
    for file in common::json_files(&common::data_dir("extract")) {
        let doc = common::read_json(&file);
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        for case in doc["cases"]
            .as_array()
            .unwrap_or_else(|| panic!("{name}: needs a `cases` array"))
        {
            cases += 1;
            let label = format!("{name} / {}", case["name"].as_str().unwrap_or("?"));
            match run_case(case) {
                Ok(actual) => {
                    for mismatch in check(&actual, &case["expect"]) {
                        failures.push(format!("{label}: {mismatch}"));
                    }
                }
                Err(error) => failures.push(format!("{label}: {error}")),
            }
        }
    }
    println!("{cases} extraction fixture cases");
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Cheap deterministic generator (xorshift), so failures reproduce.
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

#[test]
fn hostile_inputs_never_panic() {
    const PIECES: &[&str] = &[
        "arn:",
        "arn:aws:",
        "arn:aws:s3:::",
        "arn:aws:iam::123456789012:role/",
        ":",
        "/",
        "%",
        "%2",
        "%zz",
        "$252F",
        "{{",
        "}}",
        "{{aws_region}}",
        "(",
        ")",
        "\"",
        "'",
        "é",
        "日本",
        "\u{0}",
        "\u{202e}",
        "🙂",
        "i-",
        "i-0123456789abcdef0",
        "us-east-1",
        "us-east-1a",
        "t3.",
        ".micro",
        "User: ",
        " is not authorized to perform: ",
        "s3:",
        "GetObject",
        "An error occurred (",
        "<Code>",
        "\"code\":",
        "Error Code: ",
        "explicit deny",
        "#",
        "?",
        "&",
        "=",
        ";",
        "https://",
        "s3.console.aws.amazon.com",
        "/s3/buckets/",
        "#/roles/details/",
        "logsV2:log-groups/log-group/",
        "password=",
        "AKIA",
        "-----BEGIN RSA PRIVATE KEY-----",
        "eyJ",
        ".",
        "Bearer ",
        " ",
        "\n",
        "\t",
        "creating IAM Role (",
        "Table: ",
        "/aws/",
        "aws-userInfo",
        "@",
        "AWSReservedSSO_",
    ];
    let redactor = Redactor::default();
    let mut noise = Noise(0x9e37_79b9_7f4a_7c15);
    for round in 0..3000 {
        let len = (noise.next() % 60) as usize;
        let mut text = String::new();
        for _ in 0..len {
            text.push_str(noise.pick(PIECES));
        }
        let url = if round % 2 == 0 {
            format!("https://us-east-1.console.aws.amazon.com/{text}")
        } else {
            text.clone()
        };
        let _ = extract(&text, &url);
        let snapshot = Snapshot {
            url,
            header: text.clone(),
            content: text.clone(),
            nav_user_label: Some(text.clone()),
            nav_user_title: Some(format!("{text} @ {text}")),
            meta_region: Some(text.clone()),
            user_info_cookie: Some(text.clone()),
            ..Snapshot::default()
        };
        let context = interpret(&snapshot, &redactor);
        let _ = consoledx_core::template::templatize(
            &context.message,
            &context.url,
            &context.identifiers,
        );
    }
    // Huge inputs: linear time, no panic.
    let huge = "arn:aws:s3:::b/".repeat(20_000)
        + &"é{{(".repeat(50_000)
        + &"creating IAM Role (".repeat(10_000);
    let _ = extract(&huge, &huge);
    let _ = redactor.redact(&huge);
    let colons = "a:".repeat(200_000);
    let _ = extract(&colons, &colons);
}
