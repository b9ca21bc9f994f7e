//! Scores one answer (analysis + resolution) against a record's ground
//! truth, and sums many scores into the summary the baseline gate compares.

use super::record::{ExpectedAccessDenied, ExpectedStep, Place, Record, Rendered};
use consoledx_core::Analysis;
use consoledx_core::api::{Resolution, Step};
use regex::Regex;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

/// What one record's answer earned. Ratios are 0.0 ..= 1.0.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Score {
    pub class_correct: bool,
    pub code_correct: bool,
    pub access_denied_correct: bool,
    /// Identifiers the answer reports for a record variable's key, and how many equal the variable.
    pub identifiers_compared: usize,
    pub identifiers_equal: usize,
    /// `key: got (expected)` for each one that differs.
    pub identifier_mismatches: Vec<String>,
    pub facts_expected: usize,
    pub facts_found: usize,
    pub missing_facts: Vec<String>,
    pub steps_expected: usize,
    pub steps_matched: usize,
    /// Answer steps that make a claim (an action or a policy change) and how many match an expected step.
    pub claim_steps: usize,
    pub claim_steps_matched: usize,
    pub missing_steps: Vec<String>,
    pub placeholders: Vec<String>,
    pub invented: Vec<String>,
}

impl Score {
    pub fn fact_recall(&self) -> f64 {
        ratio(self.facts_found, self.facts_expected)
    }
    pub fn step_recall(&self) -> f64 {
        ratio(self.steps_matched, self.steps_expected)
    }
    pub fn step_precision(&self) -> f64 {
        ratio(self.claim_steps_matched, self.claim_steps)
    }
    pub fn identifier_fidelity(&self) -> f64 {
        ratio(self.identifiers_equal, self.identifiers_compared)
    }
}

/// Nothing asked is nothing missed.
fn ratio(hit: usize, of: usize) -> f64 {
    if of == 0 { 1.0 } else { hit as f64 / of as f64 }
}

/// What the answer may name besides the record's variables: the account state
/// (template, setup, the captured error), as text.
#[derive(Debug, Clone, Default)]
pub struct Known {
    pub texts: Vec<String>,
}

/// All the text of an answer that a user reads.
fn answer_texts(analysis: &Analysis, resolution: Option<&Resolution>) -> Vec<String> {
    let mut texts = vec![analysis.title.clone(), analysis.analysis.clone()];
    if let Some(resolution) = resolution {
        texts.push(resolution.cause.clone());
        texts.extend(resolution.evidence.iter().cloned());
        for step in &resolution.steps {
            texts.push(step_text(step));
        }
    }
    texts
}

fn step_text(step: &Step) -> String {
    [
        step.title.as_str(),
        step.detail.as_str(),
        step.cli.as_deref().unwrap_or(""),
        step.policy.as_deref().unwrap_or(""),
        step.link.as_deref().unwrap_or(""),
    ]
    .join("\n")
}

pub fn score(
    record: &Record,
    rendered: &Rendered,
    known: &Known,
    analysis: &Analysis,
    resolution: Option<&Resolution>,
) -> Score {
    let expect = &record.expect;
    let class_correct = analysis.error.class == expect.class;
    let code_correct = match (&expect.code, &analysis.error.code) {
        (Some(want), Some(got)) => want.eq_ignore_ascii_case(got),
        (None, _) => true,
        (Some(_), None) => false,
    };
    let got_denied = analysis
        .access_denied
        .as_ref()
        .map(|d| ExpectedAccessDenied {
            deny: d.deny,
            policy_type: d.policy_type,
        });
    let access_denied_correct = got_denied == expect.access_denied;

    let mut identifiers_compared = 0;
    let mut identifiers_equal = 0;
    let mut identifier_mismatches = Vec::new();
    for (key, want) in &record.variables {
        if let Some(got) = analysis.identifiers.get(key) {
            identifiers_compared += 1;
            if got == want {
                identifiers_equal += 1;
            } else {
                identifier_mismatches.push(format!("{key}: {got} (expected {want})"));
            }
        }
    }

    let texts = answer_texts(analysis, resolution);
    let all_lower = texts.join("\n").to_ascii_lowercase();
    let missing_facts: Vec<String> = rendered
        .facts
        .iter()
        .filter(|fact| !all_lower.contains(&fact.to_ascii_lowercase()))
        .cloned()
        .collect();

    let answer_steps: Vec<&Step> = resolution
        .map(|r| r.steps.iter().collect())
        .unwrap_or_default();
    let mut steps_matched = 0;
    let mut missing_steps = Vec::new();
    for expected in &rendered.steps {
        if answer_steps.iter().any(|step| step_matches(expected, step)) {
            steps_matched += 1;
        } else {
            missing_steps.push(format!(
                "{} on {} in {}{}",
                expected.action,
                expected.resource,
                expected.place.as_str(),
                expected
                    .on
                    .as_deref()
                    .map(|on| format!(" of {on}"))
                    .unwrap_or_default()
            ));
        }
    }
    let claims: Vec<&&Step> = answer_steps
        .iter()
        .filter(|step| makes_claim(step))
        .collect();
    let claim_steps_matched = claims
        .iter()
        .filter(|step| {
            rendered
                .steps
                .iter()
                .any(|expected| step_matches(expected, step))
        })
        .count();

    let mut placeholders = Vec::new();
    let mut invented = Vec::new();
    let known_lower: String = record
        .variables
        .values()
        .map(String::as_str)
        .chain([
            rendered.message.as_str(),
            rendered.url.as_str(),
            record.role.as_str(),
        ])
        .chain(known.texts.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join("\n")
        .to_ascii_lowercase();
    for text in &texts {
        placeholders.extend(find_placeholders(text));
        for candidate in find_identifiers(text) {
            if !is_known(&candidate, record, &known_lower) && !invented.contains(&candidate) {
                invented.push(candidate);
            }
        }
    }
    placeholders.sort();
    placeholders.dedup();

    Score {
        class_correct,
        code_correct,
        access_denied_correct,
        identifiers_compared,
        identifiers_equal,
        identifier_mismatches,
        facts_expected: rendered.facts.len(),
        facts_found: rendered.facts.len() - missing_facts.len(),
        missing_facts,
        steps_expected: rendered.steps.len(),
        steps_matched,
        claim_steps: claims.len(),
        claim_steps_matched,
        missing_steps,
        placeholders,
        invented,
    }
}

static IAM_ACTION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?-u:\b)[a-z][a-z0-9-]*:[A-Z][A-Za-z0-9]*\*?").expect("static regex")
});

/// A step claims something when it names an IAM action or changes a policy;
/// navigation and "retry" steps are neither right nor wrong.
fn makes_claim(step: &Step) -> bool {
    step.policy.is_some()
        || !places_of(step).is_empty()
        || IAM_ACTION.is_match(&format!("{}\n{}", step.title, step.detail))
}

/// The places a step's wording says it changes.
pub fn places_of(step: &Step) -> BTreeSet<Place> {
    let text = step_text(step).to_ascii_lowercase();
    let has = |needles: &[&str]| needles.iter().any(|n| text.contains(n));
    let mut places = BTreeSet::new();
    if has(&[
        "put-role-policy",
        "attach-role-policy",
        "put-user-policy",
        "attach-user-policy",
        "put-group-policy",
        "attach-group-policy",
        "identity-based polic",
        "identity polic",
        "create-policy-version",
        "permissions policy",
        "iam policy",
    ]) {
        places.insert(Place::IdentityPolicy);
    }
    if has(&["bucket policy", "put-bucket-policy"]) {
        places.insert(Place::BucketPolicy);
    }
    if has(&["key policy", "put-key-policy", "create-grant"]) {
        places.insert(Place::KeyPolicy);
    }
    if has(&[
        "resource-based policy",
        "resource policy",
        "add-permission",
        "put-resource-policy",
    ]) {
        places.insert(Place::ResourcePolicy);
    }
    if has(&["service control polic", "scp"]) {
        places.insert(Place::Scp);
    }
    if has(&["resource control polic", "rcp"]) {
        places.insert(Place::Rcp);
    }
    if has(&["permissions boundary", "permissions-boundary"]) {
        places.insert(Place::PermissionsBoundary);
    }
    if has(&["session policy", "session polic"]) {
        places.insert(Place::SessionPolicy);
    }
    if has(&["endpoint policy", "modify-vpc-endpoint"]) {
        places.insert(Place::VpcEndpointPolicy);
    }
    if has(&[
        "trust policy",
        "update-assume-role-policy",
        "assume role policy",
    ]) {
        places.insert(Place::TrustPolicy);
    }
    places
}

/// Action, resource and place must all agree.
pub fn step_matches(expected: &ExpectedStep, step: &Step) -> bool {
    let text = step_text(step);
    let lower = text.to_ascii_lowercase();
    let action_named = lower.contains(&expected.action.to_ascii_lowercase())
        || action_wildcard_covers(&lower, &expected.action)
        || expected
            .action_also
            .iter()
            .any(|also| lower.contains(&also.to_ascii_lowercase()));
    if !action_named {
        return false;
    }
    let resource = expected.resource.to_ascii_lowercase();
    let resource_named = lower.contains(&resource)
        || resource
            .rsplit(['/', ':'])
            .next()
            .is_some_and(|name| !name.is_empty() && name != "*" && lower.contains(name));
    if !resource_named {
        return false;
    }
    if let Some(on) = &expected.on
        && !lower.contains(&on.to_ascii_lowercase())
    {
        return false;
    }
    match expected.place {
        Place::Resource => true,
        Place::ResourcePolicy => {
            let places = places_of(step);
            places.contains(&Place::ResourcePolicy)
                || places.contains(&Place::BucketPolicy)
                || places.contains(&Place::KeyPolicy)
        }
        place => places_of(step).contains(&place),
    }
}

/// `s3:*` or `s3:Get*` in a policy covers `s3:GetObject`.
fn action_wildcard_covers(lower_text: &str, action: &str) -> bool {
    let Some((service, name)) = action
        .to_ascii_lowercase()
        .split_once(':')
        .map(|(s, n)| (s.to_string(), n.to_string()))
    else {
        return false;
    };
    let prefix = format!("\"{service}:");
    let mut rest = lower_text;
    while let Some(at) = rest.find(&prefix) {
        let after = &rest[at + prefix.len()..];
        let pattern: String = after.chars().take_while(|c| *c != '"').collect();
        if let Some(head) = pattern.strip_suffix('*')
            && name.starts_with(head)
        {
            return true;
        }
        rest = after;
    }
    false
}

static PLACEHOLDER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"\{\{[a-z_|#^/ ]*\}\}|<[A-Za-z][A-Za-z0-9_ -]*>|(?i-u:\b(?:your[-_]?(?:bucket|role|account|user|key|function|table|stack)[-_a-z]*|account[-_]?id[-_]?here|replace[-_]?me|example[-_]?(?:bucket|role|account))\b)|(?-u:\b)(?:ACCOUNT_ID|REGION_NAME|BUCKET_NAME|ROLE_NAME|111122223333)(?-u:\b)|arn:aws:[a-z0-9-]*:[a-z0-9-]*:[0-9]{12}:[A-Za-z-]*/?(?:xxx|XXX)",
    )
    .expect("static regex")
});

pub fn find_placeholders(text: &str) -> Vec<String> {
    PLACEHOLDER
        .find_iter(text)
        .map(|m| m.as_str().to_string())
        .collect()
}

static IDENTIFIER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:[0-9]{0,12}:[^ \t\r\n"',;()<>\]\[]+|(?-u:\b)(?:i|vpc|subnet|sg|ami|vol|eni|igw|nat|rtb|snap|vpce)-[0-9a-f]{8,17}(?-u:\b)|(?-u:\b)[0-9]{12}(?-u:\b)"#,
    )
    .expect("static regex")
});

/// ARNs, EC2-style ids and account ids in `text`.
pub fn find_identifiers(text: &str) -> Vec<String> {
    IDENTIFIER
        .find_iter(text)
        .map(|m| m.as_str().trim_end_matches(['.', ':']).to_string())
        .collect()
}

/// An identifier is known when the record or the account state holds it, or
/// it is an ARN in the record's account (or AWS's) whose name the state holds.
fn is_known(candidate: &str, record: &Record, known_lower: &str) -> bool {
    let lower = candidate.to_ascii_lowercase();
    let base = lower.trim_end_matches("/*").trim_end_matches('*');
    if base.is_empty() || known_lower.contains(base) {
        return true;
    }
    if lower == record.account {
        return true;
    }
    let Some(rest) = lower.strip_prefix("arn:") else {
        return false;
    };
    let parts: Vec<&str> = rest.splitn(5, ':').collect();
    if parts.len() < 5 {
        return false;
    }
    let account = parts[3];
    if !(account.is_empty() || account == record.account || account == "aws") {
        return false;
    }
    let resource = parts[4].trim_end_matches("/*").trim_end_matches('*');
    // Every named segment of the resource (`role/ReadOnly`, `assumed-role/ReadOnly/alice`) must be known.
    let segments: Vec<&str> = resource
        .split(['/', ':'])
        .filter(|s| !s.is_empty() && *s != "*")
        .collect();
    let kinds = [
        "role",
        "user",
        "policy",
        "assumed-role",
        "key",
        "alias",
        "function",
        "table",
        "stack",
        "instance",
        "vpc",
        "subnet",
        "security-group",
        "log-group",
        "db",
        "cluster",
        "secret",
        "root",
        "service-role",
        "group",
        "bucket",
        "object",
    ];
    !segments.is_empty()
        && segments
            .iter()
            .all(|segment| kinds.contains(segment) || known_lower.contains(segment))
}

/// Summary metrics over many records; what the baseline compares.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub records: usize,
    pub run_errors: usize,
    pub class_accuracy: f64,
    pub code_accuracy: f64,
    pub access_denied_accuracy: f64,
    pub identifier_fidelity: f64,
    pub key_fact_recall: f64,
    pub step_precision: f64,
    pub step_recall: f64,
    pub placeholders: usize,
    pub invented_identifiers: usize,
    pub analyze_ms_p50: f64,
    pub analyze_ms_p95: f64,
    pub resolve_ms_p50: f64,
    pub resolve_ms_p95: f64,
}

/// Higher-is-better metrics the gate guards, by name.
pub const GATED_RATIOS: &[&str] = &[
    "class_accuracy",
    "code_accuracy",
    "access_denied_accuracy",
    "identifier_fidelity",
    "key_fact_recall",
    "step_precision",
    "step_recall",
];
/// Counts that must not grow.
pub const GATED_COUNTS: &[&str] = &["run_errors", "placeholders", "invented_identifiers"];

impl Summary {
    pub fn from_scores(scores: &[(&Score, f64, f64)], run_errors: usize) -> Summary {
        let n = scores.len();
        let mean = |f: &dyn Fn(&Score) -> f64| {
            if n == 0 {
                0.0
            } else {
                round4(scores.iter().map(|(s, _, _)| f(s)).sum::<f64>() / n as f64)
            }
        };
        let flag = |b: bool| if b { 1.0 } else { 0.0 };
        let mut analyze: Vec<f64> = scores.iter().map(|(_, a, _)| *a).collect();
        let mut resolve: Vec<f64> = scores.iter().map(|(_, _, r)| *r).collect();
        Summary {
            records: n + run_errors,
            run_errors,
            class_accuracy: mean(&|s| flag(s.class_correct)),
            code_accuracy: mean(&|s| flag(s.code_correct)),
            access_denied_accuracy: mean(&|s| flag(s.access_denied_correct)),
            identifier_fidelity: mean(&Score::identifier_fidelity),
            key_fact_recall: mean(&Score::fact_recall),
            step_precision: mean(&Score::step_precision),
            step_recall: mean(&Score::step_recall),
            placeholders: scores.iter().map(|(s, _, _)| s.placeholders.len()).sum(),
            invented_identifiers: scores.iter().map(|(s, _, _)| s.invented.len()).sum(),
            analyze_ms_p50: percentile(&mut analyze, 0.50),
            analyze_ms_p95: percentile(&mut analyze, 0.95),
            resolve_ms_p50: percentile(&mut resolve, 0.50),
            resolve_ms_p95: percentile(&mut resolve, 0.95),
        }
    }

    /// The summary as `name → value`, for the gate and the report.
    pub fn metrics(&self) -> BTreeMap<String, f64> {
        let value = serde_json::to_value(self).unwrap_or_default();
        value
            .as_object()
            .map(|map| {
                map.iter()
                    .filter_map(|(k, v)| v.as_f64().map(|f| (k.clone(), f)))
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn round4(value: f64) -> f64 {
    (value * 10_000.0).round() / 10_000.0
}

fn percentile(values: &mut [f64], q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let index = ((values.len() - 1) as f64 * q).round() as usize;
    round4(values[index.min(values.len() - 1)])
}

/// Each gated metric that is worse than in `baseline`, as `name: was → now`.
/// Latency is reported, not gated: it depends on the machine's load.
pub fn regressions(baseline: &BTreeMap<String, f64>, current: &Summary) -> Vec<String> {
    let now = current.metrics();
    let mut dropped = Vec::new();
    for name in GATED_RATIOS {
        if let (Some(was), Some(is)) = (baseline.get(*name), now.get(*name))
            && *is + 1e-9 < *was
        {
            dropped.push(format!("{name}: {was} -> {is}"));
        }
    }
    for name in GATED_COUNTS {
        if let (Some(was), Some(is)) = (baseline.get(*name), now.get(*name))
            && *is > *was + 1e-9
        {
            dropped.push(format!("{name}: {was} -> {is} (must not grow)"));
        }
    }
    dropped
}
