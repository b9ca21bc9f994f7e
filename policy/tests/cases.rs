//! Data-driven evaluation suite: every `tests/cases/*.json` file is a list of
//! `{name, source, query, expect}` cases; all failures are reported together.

use consoledx_policy::{AccessQuery, Decision, Explanation, PolicyError, PolicyType, evaluate};
use serde::Deserialize;
use std::path::Path;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    /// The AWS documentation page/section the scenario comes from.
    source: String,
    query: AccessQuery,
    expect: Expect,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    decision: Option<Decision>,
    blocked_by: Option<Vec<PolicyType>>,
    /// `"type:policy_id#index"`, in the order the explanation lists them.
    deciding: Option<Vec<String>>,
    /// For bad input: `{"malformed": "policy id", "reason": "substring"}` or `{"bad_request": "substring"}`.
    error: Option<ExpectError>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectError {
    malformed: Option<String>,
    bad_request: Option<String>,
    reason: Option<String>,
}

fn policy_type_name(policy_type: PolicyType) -> String {
    serde_json::to_value(policy_type)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn describe(explanation: &Explanation) -> Vec<String> {
    explanation
        .deciding
        .iter()
        .map(|s| {
            format!(
                "{}:{}#{}",
                policy_type_name(s.policy_type),
                s.policy_id,
                s.index
            )
        })
        .collect()
}

/// Returns a description of every mismatch between `expect` and the evaluation of `query`.
fn check(query: &AccessQuery, expect: &Expect) -> Vec<String> {
    let mut problems = Vec::new();
    match (evaluate(query), &expect.error) {
        (Ok(explanation), None) => {
            if expect.decision.is_none() {
                problems.push("expect has neither decision nor error".into());
            }
            if let Some(decision) = expect.decision
                && decision != explanation.decision
            {
                problems.push(format!(
                    "decision {:?}, expected {decision:?}",
                    explanation.decision
                ));
            }
            if let Some(blocked_by) = &expect.blocked_by
                && *blocked_by != explanation.blocked_by
            {
                problems.push(format!(
                    "blocked_by {:?}, expected {blocked_by:?}",
                    explanation.blocked_by
                ));
            }
            let got = describe(&explanation);
            if let Some(deciding) = &expect.deciding
                && *deciding != got
            {
                problems.push(format!("deciding {got:?}, expected {deciding:?}"));
            }
        }
        (Ok(explanation), Some(_)) => {
            problems.push(format!("expected an error, got {explanation:?}"))
        }
        (Err(error), None) => problems.push(format!("unexpected error: {error}")),
        (Err(error), Some(want)) => {
            let (reason, kind_ok) = match (&error, want) {
                (
                    PolicyError::Malformed { policy, reason },
                    ExpectError {
                        malformed: Some(id),
                        ..
                    },
                ) => (reason.clone(), policy == id),
                (
                    PolicyError::BadRequest(reason),
                    ExpectError {
                        bad_request: Some(part),
                        ..
                    },
                ) => (reason.clone(), reason.contains(part.as_str())),
                _ => (String::new(), false),
            };
            if !kind_ok {
                problems.push(format!("error `{error}` is not the expected kind/policy"));
            }
            if let Some(part) = &want.reason
                && !reason.contains(part.as_str())
            {
                problems.push(format!("error reason `{reason}` lacks `{part}`"));
            }
        }
    }
    problems
}

#[test]
fn policy_cases() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no case files in {}", dir.display());
    let mut failures = Vec::new();
    let mut total = 0;
    for file in &files {
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{name}: {e}"));
        let cases: Vec<Case> =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut seen = std::collections::BTreeSet::new();
        for case in &cases {
            total += 1;
            assert!(
                seen.insert(case.name.as_str()),
                "{name}: duplicate case name `{}`",
                case.name
            );
            assert!(
                !case.source.trim().is_empty(),
                "{name}: `{}` has no source",
                case.name
            );
            for problem in check(&case.query, &case.expect) {
                failures.push(format!("{name} / {}: {problem}", case.name));
            }
        }
    }
    eprintln!("{total} policy cases in {} files", files.len());
    assert!(
        failures.is_empty(),
        "{} of {total} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The README's explain-access example must be what the evaluator prints.
#[test]
fn readme_example_is_accurate() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .unwrap_or_else(|e| panic!("README.md: {e}"));
    let text = readme
        .split("## explain-access: input and output")
        .nth(1)
        .unwrap_or_else(|| panic!("README.md has no explain-access section"));
    let blocks: Vec<&str> = text
        .split("```json\n")
        .skip(1)
        .filter_map(|rest| rest.split("\n```").next())
        .collect();
    assert!(
        blocks.len() >= 2,
        "the README's explain-access section needs an input and an output json block"
    );
    let query: AccessQuery =
        serde_json::from_str(blocks[0]).unwrap_or_else(|e| panic!("input example: {e}"));
    let expected: Explanation =
        serde_json::from_str(blocks[1]).unwrap_or_else(|e| panic!("output example: {e}"));
    let got = evaluate(&query).unwrap_or_else(|e| panic!("input example does not evaluate: {e}"));
    assert_eq!(got, expected);
}

/// Every case's policies, with each statement element replaced by values of the
/// wrong shape, must give an error or a decision: never a panic.
#[test]
fn wrong_shapes_never_panic() {
    let shapes = [
        serde_json::json!(null),
        serde_json::json!(7),
        serde_json::json!(""),
        serde_json::json!("${"),
        serde_json::json!("*"),
        serde_json::json!([]),
        serde_json::json!([null, {}]),
        serde_json::json!({}),
        serde_json::json!({"AWS": [1]}),
        serde_json::json!({"StringLike": {"k": ["${x", "é?*"]}}),
        serde_json::json!({"IpAddress": {"aws:SourceIp": "::/0"}}),
        serde_json::json!({"DateLessThan": {"k": "99999999999999999999999"}}),
    ];
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let mut runs = 0usize;
    for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        let Ok(text) = std::fs::read_to_string(entry.path()) else {
            continue;
        };
        let Ok(cases) = serde_json::from_str::<Vec<serde_json::Value>>(&text) else {
            continue;
        };
        for case in cases.iter().take(6) {
            let Some(identity) = case["query"]["identity_policies"].as_array() else {
                continue;
            };
            let Some(first) = identity
                .first()
                .and_then(|p| p["document"]["Statement"].as_array())
                .and_then(|statements| statements.first())
                .filter(|statement| statement.is_object())
            else {
                continue;
            };
            for element in [
                "Effect",
                "Action",
                "Resource",
                "Condition",
                "Sid",
                "NotAction",
            ] {
                for shape in &shapes {
                    let mut mutated = case["query"].clone();
                    let mut statement = first.clone();
                    statement[element] = shape.clone();
                    mutated["identity_policies"][0]["document"]["Statement"][0] = statement;
                    if let Ok(query) = serde_json::from_value::<AccessQuery>(mutated) {
                        let _ = evaluate(&query);
                        runs += 1;
                    }
                }
            }
        }
    }
    assert!(runs > 100, "only {runs} mutated queries ran");
}
