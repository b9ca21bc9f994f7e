//! The built `consoledx` binary, run as a user would: a table of cases in
//! `tests/data/cli_cases.json` (arguments → exit code, stdout JSON, stderr line),
//! and `tests/data/cli_export_cases.json` for `feedback export` on a seeded store.

mod common;

use consoledx::store::{FeedbackRow, NewDiagnosis, NewFeedback, Store};
use serde::Deserialize;
use serde_json::Value;
use std::path::Path;
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
    /// Stdout is CSV with a header and this many records.
    #[serde(default)]
    stdout_csv_rows: Option<usize>,
    /// Stdout is a JSON array of this many feedback rows.
    #[serde(default)]
    stdout_json_rows: Option<usize>,
    /// The file `$OUT` is CSV with a header and this many records.
    #[serde(default)]
    output_csv_rows: Option<usize>,
}

/// Parses export CSV strictly: every record has every column and is a whole `FeedbackRow`.
fn csv_rows(text: &str) -> Result<Vec<FeedbackRow>, String> {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader.headers().map_err(|e| e.to_string())?.clone();
    if !text.is_empty() && !headers.iter().eq(consoledx::store::FEEDBACK_COLUMNS) {
        return Err(format!("header {headers:?}"));
    }
    reader
        .deserialize()
        .collect::<Result<Vec<FeedbackRow>, _>>()
        .map_err(|e| e.to_string())
}

/// Runs `case`, with `$NAME` in its arguments replaced from `vars` (longest names first).
fn check(case: &Case, vars: &[(&str, String)]) -> Vec<String> {
    let args: Vec<String> = case
        .args
        .iter()
        .map(|arg| {
            vars.iter()
                .fold(arg.clone(), |arg, (name, value)| arg.replace(name, value))
        })
        .collect();
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
    if let Some(expected) = case.stdout_csv_rows {
        match csv_rows(&stdout) {
            Ok(rows) if rows.len() == expected => {}
            Ok(rows) => failures.push(format!("{} CSV rows, not {expected}", rows.len())),
            Err(err) => failures.push(format!("stdout is not the export's CSV: {err}")),
        }
    }
    if let Some(expected) = case.stdout_json_rows {
        match serde_json::from_str::<Vec<FeedbackRow>>(&stdout) {
            Ok(rows) if rows.len() == expected => {}
            Ok(rows) => failures.push(format!("{} JSON rows, not {expected}", rows.len())),
            Err(err) => failures.push(format!("stdout is not the export's JSON: {err}")),
        }
    }
    if let Some(expected) = case.output_csv_rows {
        let out = vars
            .iter()
            .find(|(name, _)| *name == "$OUT")
            .map(|(_, v)| v);
        match out.map(std::fs::read_to_string) {
            Some(Ok(text)) => match csv_rows(&text) {
                Ok(rows) if rows.len() == expected => {}
                Ok(rows) => {
                    failures.push(format!("{} CSV rows in $OUT, not {expected}", rows.len()))
                }
                Err(err) => failures.push(format!("$OUT is not the export's CSV: {err}")),
            },
            Some(Err(err)) => failures.push(format!("$OUT unreadable: {err}")),
            None => failures.push("no $OUT".to_string()),
        }
    }
    failures
}

fn run_cases(file: &str, vars: &[(&str, String)]) {
    let text = std::fs::read_to_string(format!("{}/tests/data/{file}", env!("CARGO_MANIFEST_DIR")))
        .expect("cases readable");
    let cases: Vec<Case> = serde_json::from_str(&text).expect("cases parse");
    assert!(cases.len() >= 10);
    let report: Vec<String> = cases
        .iter()
        .flat_map(|case| {
            check(case, vars)
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

#[test]
fn cli_cases() {
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");
    run_cases("cli_cases.json", &[("$DATA", data.to_string())]);
}

/// `consoledx admin` steps, run in order on one data directory.
#[test]
fn admin_cases() {
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");
    let dir = tempfile::tempdir().expect("tempdir");
    run_cases(
        "cli_admin_cases.json",
        &[
            ("$DATA", data.to_string()),
            ("$DIR", dir.path().display().to_string()),
        ],
    );
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedVote {
    id: String,
    rule: Option<String>,
    verdict: String,
    comment: Option<String>,
    client_version: Option<String>,
}

fn seed_votes() -> Vec<SeedVote> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/store/export_seed.json"
    ))
    .expect("seed readable");
    serde_json::from_str(&text).expect("seed parses")
}

/// A store in `dir` holding a diagnosis for every seed vote, and the votes unless `without_votes`.
async fn seed_store(dir: &Path, votes: &[SeedVote], without_votes: bool) {
    let store = Store::open(dir).expect("store opens");
    for vote in votes {
        store
            .insert_diagnosis(NewDiagnosis {
                id: vote.id.clone(),
                rule: vote.rule.clone(),
                error_code: None,
                service: None,
                region: None,
                context_json: "{}".to_string(),
                subscription_id: None,
                profile_id: None,
                customization_id: None,
                customization_version: None,
                user_key: None,
            })
            .expect("queued");
        if without_votes {
            continue;
        }
        let stored = store
            .set_feedback(NewFeedback {
                diagnosis_id: vote.id.clone(),
                verdict: vote.verdict.clone(),
                comment: vote.comment.clone(),
                client_version: vote.client_version.clone(),
            })
            .await
            .expect("stored");
        assert!(stored, "{}", vote.id);
    }
    store.flush().await.expect("flushed");
}

fn export(format: &str, dir: &Path) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_consoledx"))
        .args(["feedback", "export", "--format", format, "--data-dir"])
        .arg(dir)
        .env_remove("CONSOLEDX_DATA_DIR")
        .output()
        .expect("binary runs");
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8 output")
}

#[tokio::test]
async fn feedback_export_cases() {
    let root = tempfile::tempdir().expect("tempdir");
    let path = |name: &str| root.path().join(name);
    let votes = seed_votes();
    seed_store(&path("store"), &votes, false).await;
    seed_store(&path("novotes"), &votes, true).await;
    std::fs::create_dir_all(path("empty")).expect("dir");
    std::fs::create_dir_all(path("notdb")).expect("dir");
    std::fs::write(
        path("notdb").join(consoledx::store::DATABASE_FILE),
        "a,b\n1,2\n".repeat(300),
    )
    .expect("written");
    let shown = |name: &str| path(name).display().to_string();
    run_cases(
        "cli_export_cases.json",
        &[
            ("$NOVOTES", shown("novotes")),
            ("$STORE", shown("store")),
            ("$EMPTY", shown("empty")),
            ("$NOTDB", shown("notdb")),
            ("$OUT", shown("out.csv")),
        ],
    );
}

/// Whatever the comments hold (commas, quotes, line breaks), the CSV reads back to exactly
/// what was stored, and agrees with the JSON export.
#[tokio::test]
async fn feedback_export_round_trips_every_value() {
    let dir = tempfile::tempdir().expect("tempdir");
    let votes = seed_votes();
    seed_store(dir.path(), &votes, false).await;
    let from_csv = csv_rows(&export("csv", dir.path())).expect("valid CSV");
    let from_json: Vec<FeedbackRow> =
        serde_json::from_str(&export("json", dir.path())).expect("valid JSON");
    assert_eq!(from_csv, from_json);
    assert_eq!(from_csv.len(), votes.len());
    for vote in &votes {
        let row = from_csv
            .iter()
            .find(|row| row.diagnosis_id == vote.id)
            .unwrap_or_else(|| panic!("{} missing", vote.id));
        assert_eq!(row.rule, vote.rule, "{}", vote.id);
        assert_eq!(row.verdict, vote.verdict, "{}", vote.id);
        assert_eq!(row.comment, vote.comment, "{}", vote.id);
        assert_eq!(row.client_version, vote.client_version, "{}", vote.id);
        assert_eq!(
            row.backend_version.as_deref(),
            Some(env!("CARGO_PKG_VERSION"))
        );
        assert_eq!(row.created_at, row.updated_at, "voted once");
    }
}
