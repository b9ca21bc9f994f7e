//! The validation harness (`consoledx eval`): records of real console errors
//! with their account state and ground truth, replayed against a moto
//! endpoint through the real backend API and scored.
//!
//! - [`record`]: the record format, validated at load.
//! - [`run`]: workers (one moto server and one backend each) that replay records.
//! - [`score`]: per-record scores and the summary the baseline gate compares.
//! - [`report`]: `results.json` and `report.html`.

pub mod record;
pub mod report;
pub mod run;
pub mod score;

pub use record::{Record, RecordError, load_dir, load_record};
pub use report::Results;
pub use run::{Endpoint, RecordResult, RunError, run_records};
pub use score::{Score, Summary, regressions};

use consoledx_core::{KnowledgeBase, Redactor, Snapshot};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Debug, Clone)]
pub struct Options {
    pub dir: PathBuf,
    pub workers: usize,
    /// Where `results.json` and `report.html` go; nothing is written when `None`.
    pub out: Option<PathBuf>,
    pub baseline: Option<PathBuf>,
    pub endpoint: Endpoint,
    /// Only records marked `fast = true` (the subset CI gates on).
    pub fast_only: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("{0}")]
    Record(#[from] RecordError),
    #[error("{0}")]
    BadInput(String),
    #[error("{0}")]
    Internal(String),
}

impl From<RunError> for EvalError {
    fn from(err: RunError) -> EvalError {
        match err {
            RunError::BadInput(reason) => EvalError::BadInput(reason),
            RunError::Internal(reason) => EvalError::Internal(reason),
        }
    }
}

/// A finished run and, with a baseline, the metrics that dropped.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub results: Results,
    pub regressions: Vec<String>,
}

/// Reads a baseline: a summary JSON object (`results.json`'s `summary`, or a whole `results.json`).
pub fn load_baseline(path: &Path) -> Result<BTreeMap<String, f64>, EvalError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| EvalError::BadInput(format!("--baseline {}: {e}", path.display())))?;
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        EvalError::BadInput(format!("--baseline {}: not JSON: {e}", path.display()))
    })?;
    let summary = value.get("summary").unwrap_or(&value);
    let metrics: BTreeMap<String, f64> = summary
        .as_object()
        .map(|map| {
            map.iter()
                .filter_map(|(k, v)| v.as_f64().map(|f| (k.clone(), f)))
                .collect()
        })
        .unwrap_or_default();
    let gated = score::GATED_RATIOS.iter().chain(score::GATED_COUNTS);
    if !gated.clone().any(|name| metrics.contains_key(*name)) {
        return Err(EvalError::BadInput(format!(
            "--baseline {}: holds none of the metrics {}",
            path.display(),
            gated.copied().collect::<Vec<_>>().join(", ")
        )));
    }
    Ok(metrics)
}

/// Loads, runs, scores, writes the outputs and compares with the baseline.
pub async fn evaluate(options: &Options) -> Result<Outcome, EvalError> {
    let baseline = options.baseline.as_deref().map(load_baseline).transpose()?;
    let mut records = load_dir(&options.dir)?;
    if options.fast_only {
        records.retain(|r| r.fast);
        if records.is_empty() {
            return Err(EvalError::BadInput(format!(
                "{}: no record is marked fast = true",
                options.dir.display()
            )));
        }
    }
    let started = Instant::now();
    let records = run_records(records, options.workers, &options.endpoint, None).await?;
    let wall_seconds = (started.elapsed().as_secs_f64() * 100.0).round() / 100.0;
    let summary = summarize(&records);
    let results = Results {
        summary,
        workers: options.workers,
        wall_seconds,
        records,
    };
    if let Some(out) = &options.out {
        write_outputs(out, &results)?;
    }
    let regressions = baseline
        .map(|b| regressions(&b, &results.summary))
        .unwrap_or_default();
    Ok(Outcome {
        results,
        regressions,
    })
}

/// The scores of a run, with records that could not run counted as run errors.
pub fn summarize(records: &[RecordResult]) -> Summary {
    let scored: Vec<(&Score, f64, f64)> = records
        .iter()
        .filter_map(|r| r.score.as_ref().map(|s| (s, r.analyze_ms, r.resolve_ms)))
        .collect();
    Summary::from_scores(&scored, records.len() - scored.len())
}

pub fn write_outputs(out: &Path, results: &Results) -> Result<(), EvalError> {
    let fail = |e: std::io::Error| EvalError::BadInput(format!("--out {}: {e}", out.display()));
    std::fs::create_dir_all(out).map_err(fail)?;
    let json =
        serde_json::to_string_pretty(results).map_err(|e| EvalError::Internal(e.to_string()))?;
    std::fs::write(out.join("results.json"), json + "\n").map_err(fail)?;
    std::fs::write(out.join("report.html"), report::html(results)).map_err(fail)?;
    Ok(())
}

/// `consoledx eval new`: a record from a real error, its identifiers
/// templated, the ground truth pre-filled from consoledx's own analysis and
/// marked `review = true`. Returns the file written.
pub fn scaffold(
    url: &str,
    message: &str,
    role: &str,
    account: &str,
    out: &Path,
) -> Result<PathBuf, EvalError> {
    if message.trim().is_empty() {
        return Err(EvalError::BadInput("--message is empty".to_string()));
    }
    let kb = KnowledgeBase::builtin().map_err(|e| EvalError::Internal(e.to_string()))?;
    let snapshot = Snapshot {
        url: url.to_string(),
        content: message.to_string(),
        nav_user_label: Some(role.to_string()),
        ..Snapshot::default()
    };
    let context = consoledx_core::interpret(&snapshot, &Redactor::default());
    let analysis = kb.analyze(&context);
    // Only DESIGN.md's keys are record variables; the account and the role come from their own fields.
    let identifiers: consoledx_core::Identifiers = context
        .identifiers
        .iter()
        .filter(|(k, _)| record::IDENTIFIER_KEYS.contains(&k.as_str()))
        // The partition and service recur in every ARN and host: templating them hides nothing.
        .filter(|(k, _)| {
            !matches!(
                k.as_str(),
                "iam_principal_arn" | "aws_partition" | "aws_service"
            )
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let templated = consoledx_core::template::templatize(message, url, &identifiers)
        .map_err(|e| EvalError::BadInput(format!("cannot template the error: {e}")))?;
    let service = context
        .identifiers
        .get("aws_service")
        .cloned()
        .unwrap_or_else(|| "unknown".to_string());
    let stem = analysis
        .error
        .class
        .clone()
        .or_else(|| analysis.error.code.clone())
        .unwrap_or_else(|| "error".to_string())
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect::<String>();
    let folder = out.join(&service);
    std::fs::create_dir_all(&folder)
        .map_err(|e| EvalError::BadInput(format!("--out {}: {e}", folder.display())))?;
    let mut n = 1;
    let (id, path) = loop {
        let id = format!("{stem}-new-{n}");
        let path = folder.join(format!("{id}.toml"));
        if !path.exists() {
            break (id, path);
        }
        n += 1;
    };
    let mut variables = templated.variables.clone();
    variables.retain(|k, _| {
        k.as_str() != "aws_account_id" || identifiers.get(k).map(String::as_str) == Some(account)
    });
    let steps_of_rule = analysis
        .rule
        .as_deref()
        .map(|rule| kb.steps(rule, &context))
        .unwrap_or_default();
    let facts = scaffold_facts(&analysis, &steps_of_rule, &variables);
    let steps = scaffold_steps(&analysis, &steps_of_rule, &variables);
    let record = Record {
        id,
        service,
        title: analysis.title.clone(),
        review: true,
        fast: false,
        message: templated.message,
        url: templated.url,
        role: role.to_string(),
        account: account.to_string(),
        variables,
        state: None,
        setup: Vec::new(),
        trigger: None,
        expect: record::Expect {
            code: analysis.error.code.clone(),
            class: analysis.error.class.clone(),
            access_denied: analysis
                .access_denied
                .as_ref()
                .map(|d| record::ExpectedAccessDenied {
                    deny: d.deny,
                    policy_type: d.policy_type,
                }),
            facts,
            steps,
        },
    };
    record.validate(&path)?;
    let body = toml::to_string(&record).map_err(|e| EvalError::Internal(e.to_string()))?;
    let body = body
        .replacen(
            "\n[expect]\n",
            "\n# REVIEW: pre-filled from consoledx's own analysis, not from AWS. A human must check\n# code, class, access_denied and facts against AWS's documentation (cite it here).\n[expect]\n",
            1,
        )
        .replacen(
            "\n[[expect.steps]]\n",
            "\n# REVIEW: steps derived from the matched rule and the denied action; confirm each\n# action, resource and place (where) is what AWS's documentation prescribes.\n[[expect.steps]]\n",
            1,
        );
    let text = format!(
        "# Scaffolded by `consoledx eval new`: every expectation below is a guess to review.\n# Add the account state ([state]) and the call that reproduces the error ([trigger],\n# or a one-line `# No [trigger]:` reason), then set review = false.\n{body}"
    );
    std::fs::write(&path, text)
        .map_err(|e| EvalError::BadInput(format!("cannot write {}: {e}", path.display())))?;
    Ok(path)
}

/// Identifier keys that name a resource or principal: worth a fact. The
/// region, partition, service and account recur in every answer and prove nothing.
const FACT_KEYS_SKIPPED: &[&str] = &[
    "aws_region",
    "aws_partition",
    "aws_service",
    "aws_account_id",
    "iam_principal_arn",
    "availability_zone",
];

/// Facts a scaffold expects: the denied action, and each templated identifier
/// the analysis or the rule's steps actually name (so the record starts from
/// what consoledx says, for a human to confirm or correct).
fn scaffold_facts(
    analysis: &consoledx_core::Analysis,
    steps: &[consoledx_core::api::Step],
    variables: &BTreeMap<String, String>,
) -> Vec<String> {
    let mut said = format!("{}\n{}", analysis.title, analysis.analysis);
    for step in steps {
        for part in [
            step.title.as_str(),
            step.detail.as_str(),
            step.cli.as_deref().unwrap_or(""),
        ] {
            said.push('\n');
            said.push_str(part);
        }
    }
    let said = said.to_ascii_lowercase();
    let mut facts = Vec::new();
    if let Some(action) = analysis.identifiers.get("iam_action")
        && said.contains(&action.to_ascii_lowercase())
    {
        facts.push(action.clone());
    }
    for (key, value) in variables {
        if FACT_KEYS_SKIPPED.contains(&key.as_str()) || key == "iam_action" {
            continue;
        }
        if said.contains(&value.to_ascii_lowercase()) {
            facts.push(format!("{{{{{key}}}}}"));
        }
    }
    facts
}

/// Where a policy type's change is made; S3 and KMS name their resource policies.
fn place_for(
    policy_type: Option<consoledx_core::context::PolicyType>,
    action: &str,
) -> Option<record::Place> {
    use consoledx_core::context::PolicyType;
    use record::Place;
    let service = action.split(':').next().unwrap_or("").to_ascii_lowercase();
    Some(match policy_type? {
        PolicyType::Identity => Place::IdentityPolicy,
        PolicyType::Resource if service == "s3" => Place::BucketPolicy,
        PolicyType::Resource if service == "kms" => Place::KeyPolicy,
        PolicyType::Resource => Place::ResourcePolicy,
        PolicyType::Scp => Place::Scp,
        PolicyType::Rcp => Place::Rcp,
        PolicyType::PermissionsBoundary => Place::PermissionsBoundary,
        PolicyType::Session => Place::SessionPolicy,
        PolicyType::VpcEndpoint => Place::VpcEndpointPolicy,
        PolicyType::Trust => Place::TrustPolicy,
    })
}

/// The value's `{{key}}` form when a variable holds it, else the value itself.
fn templated_value(value: &str, variables: &BTreeMap<String, String>) -> String {
    let mut best: Option<(&String, &String)> = None;
    for (key, known) in variables {
        if value.contains(known.as_str()) && best.is_none_or(|(_, b)| known.len() > b.len()) {
            best = Some((key, known));
        }
    }
    match best {
        Some((key, known)) => value.replacen(known.as_str(), &format!("{{{{{key}}}}}"), 1),
        None => value.to_string(),
    }
}

/// Expected steps a scaffold proposes. For an authorization failure: allow the
/// denied action on the denied resource where the message says the policy
/// blocked it (on the signed-in role for identity policies and boundaries).
/// Otherwise: each rule step whose CLI command acts on a templated
/// identifier, as an action on that resource.
fn scaffold_steps(
    analysis: &consoledx_core::Analysis,
    rule_steps: &[consoledx_core::api::Step],
    variables: &BTreeMap<String, String>,
) -> Vec<record::ExpectedStep> {
    use record::{ExpectedStep, Place};
    if let Some(denied) = &analysis.access_denied {
        let Some(action) = analysis.identifiers.get("iam_action") else {
            return Vec::new();
        };
        if !record::is_iam_action(action) {
            return Vec::new();
        }
        let Some(place) = place_for(denied.policy_type, action) else {
            return Vec::new();
        };
        let resource = analysis
            .identifiers
            .get("resource_arn")
            .map(|arn| templated_value(arn, variables))
            .unwrap_or_else(|| "*".to_string());
        let on = match place {
            Place::IdentityPolicy | Place::PermissionsBoundary => analysis
                .identifiers
                .get("iam_role_name")
                .or_else(|| analysis.identifiers.get("iam_user_name"))
                .map(|name| templated_value(name, variables)),
            _ => None,
        };
        return vec![ExpectedStep {
            action: action.clone(),
            action_also: Vec::new(),
            resource,
            place,
            on,
        }];
    }
    let mut steps = Vec::new();
    for step in rule_steps {
        let Some(cli) = step.cli.as_deref() else {
            continue;
        };
        let named = variables
            .iter()
            .filter(|(key, _)| !FACT_KEYS_SKIPPED.contains(&key.as_str()))
            .find(|(_, value)| cli.contains(value.as_str()));
        let Some((key, _)) = named else {
            continue;
        };
        // `aws s3 rm`, `aws rds wait`: the command up to its first option or argument.
        let command: Vec<&str> = cli
            .split(' ')
            .take_while(|word| {
                !word.starts_with('-')
                    && !word.contains(['/', ':', '{'])
                    && !variables.values().any(|v| word.contains(v.as_str()))
            })
            .take(3)
            .collect();
        if command.len() < 2 {
            continue;
        }
        steps.push(ExpectedStep {
            action: command.join(" "),
            action_also: Vec::new(),
            resource: format!("{{{{{key}}}}}"),
            place: Place::Resource,
            on: None,
        });
    }
    steps
}
