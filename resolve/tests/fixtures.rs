//! Data-driven resolution tests: each `tests/data/*.json` holds a context (and
//! optionally the analysis), the facts read from the account, and what the
//! resolution must contain. One `check` helper judges them all.

use consoledx_core::api::{ErrorSummary, Resolution, Step};
use consoledx_core::{Analysis, ErrorContext, KnowledgeBase};
use consoledx_resolve::{
    Facts, Outcome, Read, check_read, followup, plan, resolve, withhold_unpermitted,
};
use serde::Deserialize;
use std::path::Path;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Fixture {
    #[allow(dead_code)]
    description: String,
    context: ErrorContext,
    /// Knowledge rule id; the analysis is otherwise derived from the context.
    #[serde(default)]
    rule: Option<String>,
    #[serde(default)]
    analysis: Option<Analysis>,
    #[serde(default)]
    facts: Facts,
    expect: Expect,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Expect {
    /// Exact reads, first round then follow-up.
    plan: Option<Vec<Read>>,
    cause_contains: Vec<String>,
    /// Each expected step must match a later step than the previous one (in order).
    steps_in_order: Vec<StepExpect>,
    /// No step may contain any of these, in any field.
    steps_never_mention: Vec<String>,
    evidence_contains: Vec<String>,
    not_checked_contains: Vec<String>,
    not_checked_empty: bool,
    /// The permission check of single reads against the fixture's facts.
    permissions: Vec<PermissionExpect>,
    /// Whether the key policy read is withheld once it is known (it does not
    /// let the principal read it); `None`: not judged.
    key_policy_withheld: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PermissionExpect {
    read: Read,
    allowed: bool,
    /// For a refused read: a phrase of the "Not checked" sentence.
    #[serde(default)]
    says: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct StepExpect {
    title: Option<String>,
    detail: Option<String>,
    cli: Option<String>,
    policy: Option<String>,
    link: Option<String>,
}

fn field_matches(actual: Option<&str>, expected: &Option<String>) -> bool {
    match expected {
        None => true,
        Some(expected) => actual.is_some_and(|actual| actual.contains(expected.as_str())),
    }
}

impl StepExpect {
    fn matches(&self, step: &Step) -> bool {
        field_matches(Some(&step.title), &self.title)
            && field_matches(Some(&step.detail), &self.detail)
            && field_matches(step.cli.as_deref(), &self.cli)
            && field_matches(step.policy.as_deref(), &self.policy)
            && field_matches(step.link.as_deref(), &self.link)
    }
}

fn analysis_for(fixture: &Fixture) -> Analysis {
    if let Some(analysis) = &fixture.analysis {
        return analysis.clone();
    }
    let context = &fixture.context;
    Analysis {
        identifiers: context.identifiers.clone(),
        error: ErrorSummary {
            code: context.error_code.clone(),
            class: fixture.rule.clone(),
        },
        access_denied: context.access_denied.clone(),
        analysis: "The analysis says so.".to_string(),
        rule: fixture.rule.clone(),
        confidence: 0.9,
        title: String::new(),
        docs: Vec::new(),
        diagnosis_id: Some("d-1".to_string()),
        source: None,
    }
}

fn every_text(resolution: &Resolution) -> Vec<&str> {
    let mut texts = vec![resolution.cause.as_str()];
    texts.extend(resolution.evidence.iter().map(String::as_str));
    texts.extend(resolution.not_checked.iter().map(String::as_str));
    for step in &resolution.steps {
        texts.extend([step.title.as_str(), step.detail.as_str()]);
        texts.extend(step.cli.as_deref());
        texts.extend(step.policy.as_deref());
        texts.extend(step.link.as_deref());
    }
    texts
}

/// Returns every way the resolution of `fixture` misses its expectations.
fn check(fixture: &Fixture, kb: &KnowledgeBase) -> Vec<String> {
    let analysis = analysis_for(fixture);
    let mut failures = Vec::new();
    if let Some(expected) = &fixture.expect.plan {
        let mut reads = plan(&fixture.context, &analysis);
        reads.extend(followup(&fixture.context, &analysis, &fixture.facts));
        if &reads != expected {
            failures.push(format!("plan: expected {expected:?}, got {reads:?}"));
        }
    }
    for expected in &fixture.expect.permissions {
        let verdict = check_read(&fixture.context, &analysis, &fixture.facts, &expected.read);
        match (&verdict, expected.allowed) {
            (Ok(()), true) => {}
            (Err(sentence), false) => {
                if let Some(phrase) = &expected.says
                    && !sentence.contains(phrase.as_str())
                {
                    failures.push(format!(
                        "check of {:?}: {sentence:?} lacks {phrase:?}",
                        expected.read
                    ));
                }
            }
            (verdict, allowed) => failures.push(format!(
                "check of {:?}: expected allowed={allowed}, got {verdict:?}",
                expected.read
            )),
        }
    }
    if let Some(expected) = fixture.expect.key_policy_withheld {
        let mut facts = fixture.facts.clone();
        withhold_unpermitted(&fixture.context, &analysis, &mut facts);
        let withheld = matches!(facts.key_policy, Outcome::Skipped(_));
        if withheld != expected {
            failures.push(format!(
                "key policy withheld: expected {expected}, got {:?}",
                facts.key_policy
            ));
        }
    }
    let resolution = resolve(&fixture.context, &analysis, &fixture.facts, kb);
    if std::env::var_os("CONSOLEDX_DUMP").is_some() {
        println!(
            "{}",
            serde_json::to_string_pretty(&resolution).unwrap_or_default()
        );
    }
    let expect = &fixture.expect;
    for phrase in &expect.cause_contains {
        if !resolution.cause.contains(phrase.as_str()) {
            failures.push(format!("cause lacks {phrase:?}"));
        }
    }
    let mut next = 0;
    for (i, expected) in expect.steps_in_order.iter().enumerate() {
        match resolution.steps[next.min(resolution.steps.len())..]
            .iter()
            .position(|step| expected.matches(step))
        {
            Some(offset) => next += offset + 1,
            None => failures.push(format!(
                "expected step #{i} {expected:?} not found in order"
            )),
        }
    }
    for word in &expect.steps_never_mention {
        for step in &resolution.steps {
            let texts = [
                Some(&step.title),
                Some(&step.detail),
                step.cli.as_ref(),
                step.policy.as_ref(),
                step.link.as_ref(),
            ];
            if texts
                .into_iter()
                .flatten()
                .any(|t| t.contains(word.as_str()))
            {
                failures.push(format!("step {:?} mentions {word:?}", step.title));
            }
        }
    }
    for phrase in &expect.evidence_contains {
        if !resolution
            .evidence
            .iter()
            .any(|e| e.contains(phrase.as_str()))
        {
            failures.push(format!("evidence lacks {phrase:?}"));
        }
    }
    for phrase in &expect.not_checked_contains {
        if !resolution
            .not_checked
            .iter()
            .any(|e| e.contains(phrase.as_str()))
        {
            failures.push(format!("not_checked lacks {phrase:?}"));
        }
    }
    if expect.not_checked_empty && !resolution.not_checked.is_empty() {
        failures.push(format!(
            "not_checked should be empty: {:?}",
            resolution.not_checked
        ));
    }
    // Invariants every resolution keeps, whatever the fixture.
    if resolution.steps.is_empty() {
        failures.push("no steps".to_string());
    }
    for text in every_text(&resolution) {
        if text.contains("{{") || text.contains("}}") {
            failures.push(format!("placeholder left in {text:?}"));
        }
    }
    for step in &resolution.steps {
        if let Some(policy) = &step.policy
            && serde_json::from_str::<serde_json::Value>(policy).is_err()
        {
            failures.push(format!("step {:?}: policy is not JSON", step.title));
        }
        if step
            .link
            .as_ref()
            .is_some_and(|l| !l.starts_with("https://"))
        {
            failures.push(format!("step {:?}: link is not https", step.title));
        }
    }
    if !failures.is_empty() {
        failures.push(format!(
            "resolution: {}",
            serde_json::to_string_pretty(&resolution).unwrap_or_default()
        ));
    }
    failures
}

#[test]
fn fixtures() {
    let kb = KnowledgeBase::builtin().expect("built-in knowledge loads");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/data exists")
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    paths.sort();
    assert!(
        paths.len() >= 10,
        "expected at least 10 fixtures, found {}",
        paths.len()
    );
    let mut report = Vec::new();
    for path in &paths {
        let text = std::fs::read_to_string(path).expect("fixture readable");
        let fixture: Fixture = match serde_json::from_str(&text) {
            Ok(fixture) => fixture,
            Err(err) => {
                report.push(format!("{}: bad fixture: {err}", path.display()));
                continue;
            }
        };
        for failure in check(&fixture, &kb) {
            report.push(format!(
                "{}: {failure}",
                path.file_name().unwrap_or_default().to_string_lossy()
            ));
        }
    }
    assert!(
        report.is_empty(),
        "{} fixture failure(s):\n{}",
        report.len(),
        report.join("\n")
    );
}
