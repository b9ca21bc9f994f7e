//! Data-driven tests of the knowledge base and analysis engine:
//! - every rule's embedded fixtures, through the real extraction (`interpret`);
//! - hand-built contexts in `tests/data/knowledge/cases/*.json`;
//! - invalid packs in `tests/data/knowledge/invalid/*.json` and the exact error each must give;
//! - the shared data set (`aws-errors.jsonl`): the class and key facts each record must get,
//!   and that no analysis ever shows a placeholder or a name absent from its input.

mod common;

use consoledx_core::api::{Analysis, Step};
use consoledx_core::context::{AccessDenied, ErrorContext, Identifiers};
use consoledx_core::knowledge::{KnowledgeBase, KnowledgeError};
use consoledx_core::{Redactor, Snapshot, interpret};
use regex::Regex;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::OnceLock;

fn knowledge() -> &'static KnowledgeBase {
    static KB: OnceLock<KnowledgeBase> = OnceLock::new();
    KB.get_or_init(|| match KnowledgeBase::builtin() {
        Ok(kb) => kb,
        Err(err) => panic!("built-in knowledge does not load: {err}"),
    })
}

fn data_dir() -> PathBuf {
    common::data_dir("knowledge")
}

use common::shared_data;

/// What one analysis must (and must not) say.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    /// Rule id, or null for an unknown error.
    rule: Option<String>,
    #[serde(default)]
    phrases: Vec<String>,
    #[serde(default)]
    absent: Vec<String>,
    #[serde(default)]
    min_confidence: Option<f32>,
    #[serde(default)]
    max_confidence: Option<f32>,
    /// The error code the analysis must report (spelled by the message, or implied by the rule and service).
    #[serde(default)]
    code: Option<String>,
    /// Texts that must appear in the rule's steps (titles, details, CLI, links, policies).
    #[serde(default)]
    steps: Vec<String>,
}

/// The one check every test runs: analyze, compare with the expectation, and
/// verify the output's hygiene against everything the input contained.
fn check(
    kb: &KnowledgeBase,
    name: &str,
    context: &ErrorContext,
    role: Option<&str>,
    expect: &Expect,
) -> Vec<String> {
    let analysis = kb.analyze(context);
    let mut failures = Vec::new();
    let mut fail = |problem: String| {
        failures.push(format!(
            "{name}: {problem}\n    analysis: {}",
            analysis.analysis
        ))
    };
    if analysis.rule != expect.rule {
        fail(format!(
            "rule {:?}, expected {:?}",
            analysis.rule, expect.rule
        ));
    }
    if analysis.error.class != analysis.rule {
        fail(format!(
            "error.class {:?} differs from rule {:?}",
            analysis.error.class, analysis.rule
        ));
    }
    if let Some(code) = &expect.code
        && analysis.error.code.as_deref() != Some(code.as_str())
    {
        fail(format!(
            "error.code {:?}, expected {code:?}",
            analysis.error.code
        ));
    }
    for phrase in &expect.phrases {
        if !analysis.analysis.contains(phrase.as_str()) {
            fail(format!("analysis lacks {phrase:?}"));
        }
    }
    for phrase in &expect.absent {
        if analysis.analysis.contains(phrase.as_str()) {
            fail(format!("analysis contains {phrase:?}"));
        }
    }
    if let Some(min) = expect.min_confidence
        && analysis.confidence < min
    {
        fail(format!("confidence {} < {min}", analysis.confidence));
    }
    if let Some(max) = expect.max_confidence
        && analysis.confidence > max
    {
        fail(format!("confidence {} > {max}", analysis.confidence));
    }
    let steps = analysis
        .rule
        .as_deref()
        .map(|rule| kb.steps(rule, context))
        .unwrap_or_default();
    let steps_text = steps_text(&steps);
    for wanted in &expect.steps {
        if !steps_text.contains(wanted.as_str()) {
            fail(format!("steps lack {wanted:?}\n    steps: {steps_text}"));
        }
    }
    let input = input_text(context, role);
    for problem in hygiene(&analysis, &steps, &input) {
        fail(problem);
    }
    failures
}

fn steps_text(steps: &[Step]) -> String {
    steps
        .iter()
        .map(|step| {
            [
                Some(&step.title),
                Some(&step.detail),
                step.cli.as_ref(),
                step.link.as_ref(),
                step.policy.as_ref(),
            ]
            .into_iter()
            .flatten()
            .cloned()
            .collect::<Vec<_>>()
            .join(" | ")
        })
        .collect::<Vec<_>>()
        .join(" || ")
}

fn input_text(context: &ErrorContext, role: Option<&str>) -> String {
    let mut input = format!(
        "{} {} {}",
        context.message,
        context.url,
        role.unwrap_or_default()
    );
    for value in context.identifiers.values() {
        input.push(' ');
        input.push_str(value);
    }
    if let Some(identity) = &context.identity {
        input.push_str(&format!(
            " {} {}",
            identity.name,
            identity.session.clone().unwrap_or_default()
        ));
    }
    input
}

/// Placeholders and identifier-shaped tokens (ARNs, resource IDs, account IDs,
/// names after a resource noun) in the prose that do not occur in the input.
fn hygiene(analysis: &Analysis, steps: &[Step], input: &str) -> Vec<String> {
    static SHAPES: OnceLock<Vec<Regex>> = OnceLock::new();
    let shapes = SHAPES.get_or_init(|| {
        [
            r"arn:[a-z0-9-]+:[a-z0-9-]*:[a-z0-9-]*:[0-9]*:[A-Za-z0-9_/:.*@+=,-]+",
            r"(?-u:\b)(?:i|ami|vpc|subnet|sg|vol|eni|igw|nat|rtb|snap)-[0-9a-f]{8,17}(?-u:\b)",
            r"[0-9]{12}",
            r"<[A-Za-z_][A-Za-z0-9_ -]*>",
            r"(?-u:\b)(?:[Bb]ucket|[Rr]ole|[Uu]ser|[Ff]unction|[Tt]able|[Ss]tack|[Kk]ey|[Gg]roup|[Qq]ueue|[Tt]opic|[Ss]ecret|[Ii]nstance|[Cc]luster|AMI|VPC|[Ss]ubnet|[Pp]olicy) ([A-Za-z0-9][A-Za-z0-9._/-]*[A-Za-z0-9])",
        ]
        .iter()
        .map(|pattern| Regex::new(pattern).unwrap_or_else(|err| panic!("{pattern}: {err}")))
        .collect()
    });
    let mut problems = Vec::new();
    let mut texts = vec![
        ("analysis", analysis.analysis.clone()),
        ("title", analysis.title.clone()),
    ];
    for step in steps {
        texts.push(("step title", step.title.clone()));
        texts.push(("step detail", step.detail.clone()));
    }
    for (field, text) in &texts {
        if text.contains("{{") || text.contains("}}") {
            problems.push(format!("{field} contains template braces: {text}"));
        }
        for (index, shape) in shapes.iter().enumerate() {
            for found in shape.captures_iter(text) {
                let token = found
                    .get(1)
                    .or_else(|| found.get(0))
                    .map(|m| m.as_str())
                    .unwrap_or_default();
                // A name after a resource noun only counts when it looks like an identifier.
                let identifier_like = index != 4
                    || token
                        .bytes()
                        .any(|b| b == b'-' || b == b'_' || b == b'.' || b.is_ascii_digit());
                let token = token.trim_end_matches(['.', ',', ':', ';']);
                if identifier_like && !input.contains(token) {
                    problems.push(format!(
                        "{field} names {token:?}, which the input does not contain"
                    ));
                }
            }
        }
    }
    problems
}

fn report(failures: Vec<String>) {
    assert!(
        failures.is_empty(),
        "{} failure(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn builtin_knowledge_covers_every_service_and_the_access_family() {
    let kb = knowledge();
    assert!(kb.len() >= 60, "only {} rules", kb.len());
    let mut per_pack: BTreeMap<&str, usize> = BTreeMap::new();
    for rule in kb.rules() {
        *per_pack.entry(rule.pack).or_default() += 1;
    }
    for pack in [
        "s3",
        "ec2",
        "vpc",
        "iam",
        "sts",
        "lambda",
        "cloudformation",
        "kms",
        "dynamodb",
        "rds",
        "ecs",
        "logs",
        "secretsmanager",
        "sns",
        "sqs",
        "access",
    ] {
        assert!(
            per_pack.contains_key(format!("{pack}.toml").as_str()),
            "no rules for {pack}: {per_pack:?}"
        );
    }
}

#[test]
fn every_rule_fixture_is_recognised_through_extraction() {
    let kb = knowledge();
    let mut failures = Vec::new();
    for rule in kb.rules() {
        for (index, fixture) in rule.fixtures.iter().enumerate() {
            let snapshot = Snapshot {
                url: fixture.url.clone(),
                content: fixture.message.clone(),
                nav_user_label: fixture.role.clone(),
                ..Snapshot::default()
            };
            let context = interpret(&snapshot, &Redactor::default());
            let expect = Expect {
                rule: Some(
                    fixture
                        .expect
                        .clone()
                        .unwrap_or_else(|| rule.id.to_string()),
                ),
                phrases: fixture.phrases.clone(),
                min_confidence: Some(0.5),
                ..Expect::default()
            };
            let name = format!("{} fixture {}", rule.id, index + 1);
            failures.extend(check(kb, &name, &context, fixture.role.as_deref(), &expect));
        }
    }
    report(failures);
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    #[serde(default)]
    context: Option<ErrorContext>,
    #[serde(default)]
    snapshot: Option<Snapshot>,
    expect: Expect,
}

#[test]
fn cases_from_data_files() {
    let kb = knowledge();
    let mut failures = Vec::new();
    let mut count = 0;
    for path in common::json_files(&data_dir().join("cases")) {
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|err| panic!("{}: {err}", path.display()));
        let cases: Vec<Case> =
            serde_json::from_str(&text).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
        for case in cases {
            count += 1;
            let (context, role) = match (case.context, case.snapshot) {
                (Some(context), None) => (context, None),
                (None, Some(snapshot)) => {
                    let role = snapshot.nav_user_label.clone();
                    (interpret(&snapshot, &Redactor::default()), role)
                }
                _ => panic!(
                    "{}: case {} needs exactly one of context and snapshot",
                    path.display(),
                    case.name
                ),
            };
            let name = format!(
                "{} / {}",
                path.file_name().unwrap_or_default().to_string_lossy(),
                case.name
            );
            failures.extend(check(kb, &name, &context, role.as_deref(), &case.expect));
        }
    }
    assert!(count >= 10, "only {count} cases");
    report(failures);
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InvalidPack {
    name: String,
    pack: serde_json::Value,
    /// Variant of the error: `Pack`, or the rule problem (`BadRegex`, `UnknownTemplateKey`, ...).
    error: String,
    /// Text the error message must contain (file and rule names, the culprit).
    #[serde(default)]
    message_contains: Vec<String>,
    /// Load on top of the built-in packs with `with_pack` instead of alone.
    #[serde(default)]
    over_builtin: bool,
}

fn error_kind(error: &KnowledgeError) -> String {
    match error {
        KnowledgeError::Rule { problem, .. } => format!("{problem:?}")
            .split(['(', ' ', '{'])
            .next()
            .unwrap_or_default()
            .to_string(),
        other => format!("{other:?}")
            .split(['(', ' ', '{'])
            .next()
            .unwrap_or_default()
            .to_string(),
    }
}

#[test]
fn invalid_packs_fail_with_specific_errors() {
    let mut failures = Vec::new();
    let files = common::json_files(&data_dir().join("invalid"));
    assert!(files.len() >= 5, "only {} invalid packs", files.len());
    for path in files {
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|err| panic!("{}: {err}", path.display()));
        let case: InvalidPack =
            serde_json::from_str(&text).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
        let result = if case.over_builtin {
            let mut kb = knowledge().clone();
            kb.with_pack(&case.name, case.pack.clone())
        } else {
            KnowledgeBase::from_packs(&[(case.name.clone(), case.pack.clone())]).map(|_| ())
        };
        let file = path.display();
        match result {
            Ok(()) => failures.push(format!("{file}: loaded, expected {}", case.error)),
            Err(err) => {
                if error_kind(&err) != case.error {
                    failures.push(format!(
                        "{file}: got {} ({err}), expected {}",
                        error_kind(&err),
                        case.error
                    ));
                }
                let message = err.to_string();
                for wanted in &case.message_contains {
                    if !message.contains(wanted.as_str()) {
                        failures.push(format!("{file}: error {message:?} lacks {wanted:?}"));
                    }
                }
            }
        }
    }
    report(failures);
}

#[test]
fn an_organisation_pack_overrides_and_adds_rules() {
    let mut kb = knowledge().clone();
    let before = kb.len();
    let pack = serde_json::json!({
        "service": "s3",
        "runbook_hosts": ["wiki.acme.example"],
        "rule": [{
            "id": "s3.bucket_not_empty",
            "title": "Ask the storage team",
            "codes": ["BucketNotEmpty"],
            "analysis": "Bucket {{s3_bucket_name|}} is not empty; our retention policy forbids emptying it yourself.",
            "steps": [{"title": "Follow the retention runbook", "link": "https://wiki.acme.example/runbooks/s3-retention?bucket={{s3_bucket_name}}"}],
            "docs": [{"title": "Retention policy", "url": "https://wiki.acme.example/policies/retention"}],
            "fixtures": [{"message": "BucketNotEmpty", "url": "https://s3.console.aws.amazon.com/s3/buckets?region=us-east-1"}]
        }, {
            "id": "acme.legacy_quota",
            "title": "ACME quota",
            "patterns": ["acme quota exceeded"],
            "analysis": "Internal quota reached.",
            "fixtures": [{"message": "ACME quota exceeded", "url": "https://console.aws.amazon.com/"}]
        }]
    });
    if let Err(err) = kb.with_pack("acme", pack) {
        panic!("pack does not load: {err}");
    }
    assert_eq!(kb.len(), before + 1);
    let mut context = ErrorContext {
        message: "BucketNotEmpty: nope".into(),
        ..ErrorContext::default()
    };
    context.error_code = Some("BucketNotEmpty".into());
    context
        .identifiers
        .insert("s3_bucket_name".into(), "logs-123".into());
    let analysis = kb.analyze(&context);
    assert_eq!(analysis.rule.as_deref(), Some("s3.bucket_not_empty"));
    let steps = kb.steps("s3.bucket_not_empty", &context);
    assert_eq!(
        steps.first().and_then(|step| step.link.as_deref()),
        Some("https://wiki.acme.example/runbooks/s3-retention?bucket=logs-123"),
        "the runbook link of the pack's own host is kept"
    );
    assert_eq!(
        analysis.docs.first().map(|doc| doc.url.as_str()),
        Some("https://wiki.acme.example/policies/retention")
    );
    assert!(
        analysis.analysis.contains("retention policy"),
        "{}",
        analysis.analysis
    );
    assert_eq!(
        kb.rule("s3.bucket_not_empty").map(|rule| rule.pack),
        Some("acme")
    );
}

#[derive(Debug, Deserialize)]
struct Record {
    id: String,
    message: String,
    url: String,
    expect: Labels,
}

#[derive(Debug, Deserialize)]
struct Labels {
    error_code: Option<String>,
    access_denied: Option<serde_json::Value>,
    identifiers: Identifiers,
}

fn records() -> Vec<Record> {
    let path = shared_data();
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            serde_json::from_str(line)
                .unwrap_or_else(|err| panic!("{}: {err}: {line}", path.display()))
        })
        .collect()
}

/// The context a perfect extraction would produce: the data set's own labels.
fn labelled_context(record: &Record) -> ErrorContext {
    let access_denied = record.expect.access_denied.as_ref().map(|value| {
        let mut value = value.clone();
        if let Some(object) = value.as_object_mut() {
            object
                .entry("policy_arn")
                .or_insert(serde_json::Value::Null);
        }
        serde_json::from_value::<AccessDenied>(value)
            .unwrap_or_else(|err| panic!("{}: {err}", record.id))
    });
    ErrorContext {
        message: record.message.clone(),
        url: record.url.clone(),
        identifiers: record.expect.identifiers.clone(),
        error_code: record.expect.error_code.clone(),
        access_denied,
        ..ErrorContext::default()
    }
}

#[test]
fn data_set_records_get_their_class_and_key_facts() {
    let kb = knowledge();
    let path = data_dir().join("dataset-expectations.json");
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
    let expectations: BTreeMap<String, Expect> =
        serde_json::from_str(&text).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
    let records = records();
    assert!(records.len() >= 56, "only {} records", records.len());
    let mut failures = Vec::new();
    for record in &records {
        let Some(expect) = expectations.get(&record.id) else {
            failures.push(format!(
                "{}: no expectation in {}",
                record.id,
                path.display()
            ));
            continue;
        };
        // Once with the labels (a perfect extraction), once through the real extraction.
        failures.extend(check(
            kb,
            &format!("{} (labelled)", record.id),
            &labelled_context(record),
            None,
            expect,
        ));
        let snapshot = Snapshot {
            url: record.url.clone(),
            content: record.message.clone(),
            ..Snapshot::default()
        };
        let extracted = interpret(&snapshot, &Redactor::default());
        failures.extend(check(
            kb,
            &format!("{} (extracted)", record.id),
            &extracted,
            None,
            expect,
        ));
    }
    report(failures);
}

#[test]
fn no_analysis_shows_a_placeholder_or_an_invented_name() {
    let kb = knowledge();
    let mut failures = Vec::new();
    let mut inputs: Vec<(String, ErrorContext, Option<String>)> = Vec::new();
    for record in records() {
        let snapshot = Snapshot {
            url: record.url.clone(),
            content: record.message.clone(),
            ..Snapshot::default()
        };
        inputs.push((
            format!("{} (extracted)", record.id),
            interpret(&snapshot, &Redactor::default()),
            None,
        ));
        inputs.push((
            format!("{} (labelled)", record.id),
            labelled_context(&record),
            None,
        ));
    }
    for rule in kb.rules() {
        for fixture in rule.fixtures {
            let snapshot = Snapshot {
                url: fixture.url.clone(),
                content: fixture.message.clone(),
                nav_user_label: fixture.role.clone(),
                ..Snapshot::default()
            };
            inputs.push((
                rule.id.to_string(),
                interpret(&snapshot, &Redactor::default()),
                fixture.role.clone(),
            ));
            // The bare message, without any identifier: fallbacks must read well and name nothing.
            let bare = ErrorContext {
                message: fixture.message.clone(),
                url: fixture.url.clone(),
                ..ErrorContext::default()
            };
            inputs.push((format!("{} (bare)", rule.id), bare, None));
        }
    }
    for (name, context, role) in &inputs {
        let analysis = kb.analyze(context);
        let steps = analysis
            .rule
            .as_deref()
            .map(|rule| kb.steps(rule, context))
            .unwrap_or_default();
        let input = input_text(context, role.as_deref());
        failures.extend(
            hygiene(&analysis, &steps, &input)
                .into_iter()
                .map(|problem| format!("{name}: {problem}")),
        );
        if analysis.analysis.trim().is_empty() || analysis.title.trim().is_empty() {
            failures.push(format!("{name}: empty analysis or title"));
        }
        for step in &steps {
            if let Some(link) = &step.link
                && !link.starts_with("https://")
            {
                failures.push(format!("{name}: step link {link} is not https"));
            }
        }
    }
    report(failures);
}

#[test]
fn the_hygiene_check_catches_placeholders_and_invented_names() {
    let analysis = Analysis {
        identifiers: Identifiers::new(),
        error: consoledx_core::api::ErrorSummary { code: None, class: None },
        access_denied: None,
        analysis: "Empty bucket other-bucket-1, then ask role Admin-2 to edit arn:aws:iam::111122223333:role/x \
                   for instance i-0123456789abcdef0 using <bucket-name> and {{s3_bucket_name}}."
            .to_string(),
        rule: None,
        confidence: 0.1,
        title: String::new(),
        docs: Vec::new(),
        diagnosis_id: None,
        source: None,
    };
    let problems = hygiene(&analysis, &[], "the input names my-bucket-123456 only");
    for culprit in [
        "other-bucket-1",
        "Admin-2",
        "arn:aws:iam::111122223333:role/x",
        "i-0123456789abcdef0",
        "<bucket-name>",
        "template braces",
    ] {
        assert!(
            problems.iter().any(|problem| problem.contains(culprit)),
            "{culprit} not caught: {problems:?}"
        );
    }
    let clean = Analysis {
        analysis: "Empty bucket my-bucket-123456 first.".to_string(),
        ..analysis
    };
    assert!(hygiene(&clean, &[], "the input names my-bucket-123456 only").is_empty());
}

#[test]
fn rule_metadata_serves_help_me_resolve() {
    let kb = knowledge();
    assert!(
        kb.needs("s3.bucket_not_empty")
            .iter()
            .any(|need| need == "s3.bucket_versioning")
    );
    assert!(kb.needs("no.such_rule").is_empty());
    assert!(
        kb.steps("no.such_rule", &ErrorContext::default())
            .is_empty()
    );
    let info = kb
        .rule("access.scp_explicit")
        .map(|rule| (rule.pack, rule.needs.to_vec()));
    assert_eq!(
        info,
        Some(("access.toml", vec!["organizations.scps".to_string()]))
    );
    // Every rule's steps render for an empty context without a placeholder.
    for rule in kb.rules() {
        for step in kb.steps(rule.id, &ErrorContext::default()) {
            assert!(
                !step.title.trim().is_empty(),
                "{}: empty step title",
                rule.id
            );
            for text in [
                Some(&step.title),
                Some(&step.detail),
                step.cli.as_ref(),
                step.link.as_ref(),
                step.policy.as_ref(),
            ]
            .into_iter()
            .flatten()
            {
                assert!(
                    !text.contains("{{") && !text.contains("}}"),
                    "{}: {text}",
                    rule.id
                );
            }
        }
    }
}

/// The extension's wasm build matches with regex-lite, the native build with
/// regex: every pack pattern must compile under both and match the same spans
/// on every message the tests know.
#[test]
fn pack_patterns_behave_alike_under_both_regex_engines() {
    let blob: serde_json::Value = match serde_json::from_str(KnowledgeBase::builtin_packs_json()) {
        Ok(blob) => blob,
        Err(err) => panic!("blob: {err}"),
    };
    let mut patterns = Vec::new();
    let mut messages: Vec<String> = records()
        .iter()
        .map(|record| record.message.to_ascii_lowercase())
        .collect();
    for pack in blob.as_array().into_iter().flatten() {
        for rule in pack["pack"]["rule"].as_array().into_iter().flatten() {
            for field in ["patterns", "captures", "unless"] {
                for pattern in rule[field]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|p| p.as_str())
                {
                    patterns.push(pattern.to_string());
                }
            }
            for fixture in rule["fixtures"].as_array().into_iter().flatten() {
                if let Some(message) = fixture["message"].as_str() {
                    messages.push(message.to_ascii_lowercase());
                }
            }
        }
    }
    assert!(patterns.len() > 150, "only {} patterns", patterns.len());
    let mut failures = Vec::new();
    for pattern in &patterns {
        let native = Regex::new(pattern).unwrap_or_else(|err| panic!("{pattern}: {err}"));
        let lite = match regex_lite::Regex::new(pattern) {
            Ok(lite) => lite,
            Err(err) => {
                failures.push(format!("regex-lite rejects {pattern}: {err}"));
                continue;
            }
        };
        for message in &messages {
            let spans_native: Option<Vec<_>> = native
                .captures(message)
                .map(|found| found.iter().map(|group| group.map(|g| g.range())).collect());
            let spans_lite: Option<Vec<_>> = lite
                .captures(message)
                .map(|found| found.iter().map(|group| group.map(|g| g.range())).collect());
            if spans_native != spans_lite {
                failures.push(format!(
                    "{pattern} differs on {message:?}: {spans_native:?} vs {spans_lite:?}"
                ));
            }
        }
    }
    report(failures);
}
