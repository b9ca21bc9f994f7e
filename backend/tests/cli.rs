//! The built `consoledx` binary, run as a user would: a table of cases in
//! `tests/data/cli_cases.json` (arguments → exit code, stdout JSON, stderr line).

mod common;

use serde::Deserialize;
use serde_json::Value;
use std::process::Command;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    /// `$DATA` stands for this crate's `tests/data` directory.
    args: Vec<String>,
    exit: i32,
    #[serde(default)]
    stdout_json: Option<Value>,
    #[serde(default)]
    stdout_contains: Vec<String>,
    /// Top-level keys that must appear in this order (DESIGN.md's contract).
    #[serde(default)]
    key_order: Vec<String>,
    #[serde(default)]
    stderr_contains: Option<String>,
}

fn check(case: &Case) -> Vec<String> {
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");
    let args: Vec<String> = case.args.iter().map(|a| a.replace("$DATA", data)).collect();
    let output = Command::new(env!("CARGO_BIN_EXE_consoledx"))
        .args(&args)
        .env_remove("AWS_ENDPOINT_URL")
        .output()
        .expect("binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let mut failures = Vec::new();
    if output.status.code() != Some(case.exit) {
        failures.push(format!(
            "exit {:?} instead of {}",
            output.status.code(),
            case.exit
        ));
    }
    if let Some(expected) = &case.stdout_json {
        match serde_json::from_str::<Value>(&stdout) {
            Ok(actual) if common::contains_json(&actual, expected) => {}
            Ok(_) => failures.push(format!("stdout lacks {expected}")),
            Err(err) => failures.push(format!("stdout is not one JSON value: {err}")),
        }
    }
    for phrase in &case.stdout_contains {
        if !stdout.contains(phrase.as_str()) {
            failures.push(format!("stdout lacks {phrase:?}"));
        }
    }
    let positions: Vec<Option<usize>> = case
        .key_order
        .iter()
        .map(|key| stdout.find(&format!("\n  \"{key}\":")))
        .collect();
    if positions.iter().any(Option::is_none) || positions.windows(2).any(|w| w[0] > w[1]) {
        failures.push(format!("top-level keys not in order {:?}", case.key_order));
    }
    if case.exit == 2 {
        if stderr.trim().lines().count() != 1 {
            failures.push(format!("stderr is not one line: {stderr:?}"));
        }
        if stderr.contains("panicked") || stderr.contains("RUST_BACKTRACE") {
            failures.push("panic on bad input".to_string());
        }
        if !stdout.trim().is_empty() {
            failures.push("bad input still printed output".to_string());
        }
    }
    if let Some(expected) = &case.stderr_contains
        && !stderr.contains(expected.as_str())
    {
        failures.push(format!("stderr {stderr:?} lacks {expected:?}"));
    }
    failures
}

#[test]
fn cli_cases() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/cli_cases.json"
    ))
    .expect("cases readable");
    let cases: Vec<Case> = serde_json::from_str(&text).expect("cases parse");
    assert!(cases.len() >= 10);
    let report: Vec<String> = cases
        .iter()
        .flat_map(|case| {
            check(case)
                .into_iter()
                .map(move |f| format!("{}: {f}", case.name))
        })
        .collect();
    assert!(
        report.is_empty(),
        "{} failure(s):\n{}",
        report.len(),
        report.join("\n")
    );
}
