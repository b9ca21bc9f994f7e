//! The validation harness: every record loads, broken records get specific
//! errors, scoring is checked on hand-made answers, and the fast subset runs
//! end to end against a real moto server without dropping below the baseline.

use consoledx::eval::record::load_record;
use consoledx::eval::score::{Known, score};
use consoledx::eval::{Endpoint, Options, evaluate, load_baseline, load_dir, regressions};
use consoledx_core::Analysis;
use consoledx_core::KnowledgeBase;
use consoledx_core::api::Resolution;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn records_dir() -> PathBuf {
    repo().join("eval/records")
}

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/eval")
        .join(name)
}

#[test]
fn every_record_loads_and_names_a_known_class() {
    let records = load_dir(&records_dir()).unwrap_or_else(|e| panic!("{e}"));
    let kb = KnowledgeBase::builtin().expect("built-in knowledge");
    for record in &records {
        if let Some(class) = &record.expect.class {
            assert!(
                kb.rule(class).is_some(),
                "{}/{}: expect.class `{class}` is not a knowledge rule",
                record.service,
                record.id
            );
        }
    }
    let services: BTreeSet<&str> = records.iter().map(|r| r.service.as_str()).collect();
    assert!(records.len() >= 80, "only {} records", records.len());
    assert!(services.len() >= 10, "only services {services:?}");
    let denials: BTreeSet<String> = records
        .iter()
        .filter_map(|r| {
            let denied = r.expect.access_denied.as_ref()?;
            Some(format!("{:?} {:?}", denied.policy_type?, denied.deny))
        })
        .collect();
    // Both wordings wherever AWS has both. RCPs can only deny (an RCP's only
    // Allow is RCPFullAWSAccess); an AssumeRole that the trust policy merely
    // fails to allow names no policy type, so a trust policy appears only as an explicit deny.
    for wanted in [
        "Identity Implicit",
        "Identity Explicit",
        "Resource Implicit",
        "Resource Explicit",
        "Scp Implicit",
        "Scp Explicit",
        "Rcp Explicit",
        "PermissionsBoundary Implicit",
        "PermissionsBoundary Explicit",
        "Session Implicit",
        "Session Explicit",
        "VpcEndpoint Implicit",
        "VpcEndpoint Explicit",
        "Trust Explicit",
    ] {
        assert!(denials.contains(wanted), "no record denies by {wanted}");
    }
}

#[derive(Deserialize)]
struct BrokenCase {
    file: String,
    error: Vec<String>,
}

#[test]
fn broken_records_get_errors_naming_file_and_field() {
    let text = std::fs::read_to_string(data("broken.json")).expect("broken.json");
    let cases: Vec<BrokenCase> = serde_json::from_str(&text).expect("broken.json parses");
    assert!(!cases.is_empty());
    let mut failures = Vec::new();
    for case in cases {
        let path = data("broken").join(&case.file);
        match load_record(&path) {
            Ok(_) => failures.push(format!("{}: loaded, expected an error", case.file)),
            Err(err) => {
                let message = err.to_string();
                for part in &case.error {
                    if !message.contains(part) {
                        failures.push(format!("{}: `{message}` lacks `{part}`", case.file));
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[derive(Deserialize)]
struct ScoringCase {
    name: String,
    record: String,
    analysis: Analysis,
    resolution: Resolution,
    expect: BTreeMap<String, Value>,
}

#[test]
fn scoring_of_hand_made_answers() {
    let text = std::fs::read_to_string(data("scoring.json")).expect("scoring.json");
    let cases: Vec<ScoringCase> = serde_json::from_str(&text).expect("scoring.json parses");
    let mut failures = Vec::new();
    for case in &cases {
        let record = load_record(&records_dir().join(&case.record))
            .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        let rendered = record.rendered().expect("record renders");
        let got = score(
            &record,
            &rendered,
            &Known::default(),
            &case.analysis,
            Some(&case.resolution),
        );
        let actual = json!({
            "class_correct": got.class_correct,
            "access_denied_correct": got.access_denied_correct,
            "identifier_fidelity": got.identifier_fidelity(),
            "fact_recall": got.fact_recall(),
            "step_recall": got.step_recall(),
            "step_precision": got.step_precision(),
            "missing_steps": got.missing_steps.len(),
            "placeholders": got.placeholders.len(),
            "invented": got.invented.len(),
        });
        for (key, want) in &case.expect {
            let have = &actual[key];
            let equal = match (have.as_f64(), want.as_f64()) {
                (Some(h), Some(w)) => (h - w).abs() < 1e-9,
                _ => have == want,
            };
            if !equal {
                failures.push(format!(
                    "{}: {key} = {have}, expected {want} (score: {got:?})",
                    case.name
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_gate_names_each_metric_that_dropped() {
    let baseline: BTreeMap<String, f64> = [
        ("class_accuracy", 1.0),
        ("step_recall", 0.5),
        ("invented_identifiers", 0.0),
        ("key_fact_recall", 0.5),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let current: consoledx::eval::Summary = serde_json::from_value(json!({
        "records": 3, "run_errors": 0, "class_accuracy": 0.6667, "code_accuracy": 1.0,
        "access_denied_accuracy": 1.0, "identifier_fidelity": 1.0, "key_fact_recall": 0.75,
        "step_precision": 1.0, "step_recall": 0.5, "placeholders": 0, "invented_identifiers": 2,
        "analyze_ms_p50": 1.0, "analyze_ms_p95": 1.0, "resolve_ms_p50": 1.0, "resolve_ms_p95": 1.0
    }))
    .expect("summary");
    let dropped = regressions(&baseline, &current);
    assert_eq!(dropped.len(), 2, "{dropped:?}");
    assert!(
        dropped[0].starts_with("class_accuracy: 1 -> 0.6667"),
        "{dropped:?}"
    );
    assert!(
        dropped[1].starts_with("invented_identifiers: 0 -> 2"),
        "{dropped:?}"
    );
}

fn moto_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("MOTO_SERVER").filter(|p| !p.is_empty()) {
        return PathBuf::from(path);
    }
    repo().join(".venv/bin/moto_server")
}

/// The CI gate: the fast subset, one worker, real moto, compared with eval/baseline.json.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fast_subset_against_moto_holds_the_baseline() {
    let out = tempfile::tempdir().expect("temp dir");
    let options = Options {
        dir: records_dir(),
        workers: 1,
        out: Some(out.path().to_path_buf()),
        baseline: Some(repo().join("eval/baseline.json")),
        endpoint: Endpoint::MotoServer(moto_binary()),
        fast_only: true,
    };
    let outcome = evaluate(&options).await.unwrap_or_else(|e| panic!("{e}"));
    let results = &outcome.results;
    let errors: Vec<String> = results
        .records
        .iter()
        .filter_map(|r| r.error.as_ref().map(|e| format!("{}: {e}", r.id)))
        .collect();
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    assert!(results.records.len() >= 2);
    // The seed's first example is replayed for real: moto refuses the delete.
    let seed = results
        .records
        .iter()
        .find(|r| r.id == "delete-bucket-not-empty")
        .expect("seed example 1 is in the fast subset");
    assert!(
        matches!(&seed.trigger, Some(consoledx::eval::run::TriggerOutcome::Captured { code, .. }) if code == "BucketNotEmpty"),
        "{:?}",
        seed.trigger
    );
    assert!(
        outcome.regressions.is_empty(),
        "dropped below eval/baseline.json: {:?}\nsummary: {:?}",
        outcome.regressions,
        results.summary
    );
    let html = std::fs::read_to_string(out.path().join("report.html")).expect("report.html");
    assert!(html.contains("<svg") && html.contains("delete-bucket-not-empty"));
    let written: Value = serde_json::from_str(
        &std::fs::read_to_string(out.path().join("results.json")).expect("results.json"),
    )
    .expect("results.json parses");
    assert_eq!(written["summary"]["records"], json!(results.records.len()));
    load_baseline(&out.path().join("results.json")).expect("results.json is a valid baseline");
}

#[derive(Deserialize)]
struct ScaffoldCase {
    name: String,
    url: String,
    message: String,
    role: String,
    account: String,
    expect: Value,
}

/// `consoledx eval new`: each real error becomes a loadable record marked for
/// review, its identifiers templated and its expectations pre-filled.
#[test]
fn scaffolded_records_template_their_identifiers_and_prefill_expectations() {
    let text = std::fs::read_to_string(data("scaffold.json")).expect("scaffold.json");
    let cases: Vec<ScaffoldCase> = serde_json::from_str(&text).expect("scaffold.json parses");
    assert!(!cases.is_empty());
    let mut failures = Vec::new();
    for case in &cases {
        let out = tempfile::tempdir().expect("temp dir");
        let path = match consoledx::eval::scaffold(
            &case.url,
            &case.message,
            &case.role,
            &case.account,
            out.path(),
        ) {
            Ok(path) => path,
            Err(err) => {
                failures.push(format!("{}: {err}", case.name));
                continue;
            }
        };
        let written = std::fs::read_to_string(&path).expect("scaffold written");
        let record = match load_record(&path) {
            Ok(record) => record,
            Err(err) => {
                failures.push(format!("{}: does not load: {err}", case.name));
                continue;
            }
        };
        let rendered = record.rendered().expect("renders");
        let want = &case.expect;
        let mut check = |what: &str, ok: bool| {
            if !ok {
                failures.push(format!("{}: {what}\n{written}", case.name));
            }
        };
        check("review must be true", record.review);
        check(
            "the REVIEW comment is missing",
            written.contains("# REVIEW:"),
        );
        check(
            "rendering must give back the message and URL",
            rendered.message == case.message && rendered.url == case.url,
        );
        for (key, value) in want["variables"].as_object().into_iter().flatten() {
            check(
                &format!("variable {key}"),
                record.variables.get(key).map(String::as_str) == value.as_str(),
            );
        }
        for text in want["absent_from_message"].as_array().into_iter().flatten() {
            let text = text.as_str().unwrap_or_default();
            check(
                &format!("message still holds {text}"),
                !record.message.contains(text),
            );
        }
        check(
            "code",
            record.expect.code.as_deref() == want["code"].as_str(),
        );
        check(
            "class",
            record.expect.class.as_deref() == want["class"].as_str(),
        );
        check(
            "access_denied",
            serde_json::to_value(&record.expect.access_denied)
                .ok()
                .as_ref()
                == Some(&want["access_denied"]),
        );
        check(
            "facts",
            serde_json::to_value(&record.expect.facts).ok().as_ref() == Some(&want["facts"]),
        );
        let steps: Vec<Value> = record
            .expect
            .steps
            .iter()
            .map(|step| {
                let mut value = json!({
                    "action": step.action,
                    "resource": step.resource,
                    "where": step.place.as_str(),
                });
                if let Some(on) = &step.on {
                    value["on"] = json!(on);
                }
                value
            })
            .collect();
        check(
            &format!("steps {steps:?}"),
            Value::Array(steps.clone()) == want["steps"],
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
