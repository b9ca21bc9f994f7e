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
    let records = run_records(records, options.workers, &options.endpoint).await?;
    let wall_seconds = (started.elapsed().as_secs_f64() * 100.0).round() / 100.0;
    let scored: Vec<(&Score, f64, f64)> = records
        .iter()
        .filter_map(|r| r.score.as_ref().map(|s| (s, r.analyze_ms, r.resolve_ms)))
        .collect();
    let run_errors = records.len() - scored.len();
    let summary = Summary::from_scores(&scored, run_errors);
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
    let facts: Vec<String> = [
        "s3_bucket_name",
        "iam_role_name",
        "lambda_function_name",
        "dynamodb_table_name",
        "kms_key_id",
        "cloudformation_stack_name",
        "ec2_instance_id",
    ]
    .iter()
    .filter(|key| variables.contains_key(**key))
    .map(|key| format!("{{{{{key}}}}}"))
    .collect();
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
            steps: Vec::new(),
        },
    };
    record.validate(&path)?;
    let body = toml::to_string(&record).map_err(|e| EvalError::Internal(e.to_string()))?;
    let text = format!(
        "# Scaffolded by `consoledx eval new` from consoledx's own analysis.\n# Check code, class, access_denied and facts against AWS's documentation,\n# add the account state, trigger and expected steps, then set review = false.\n{body}"
    );
    std::fs::write(&path, text)
        .map_err(|e| EvalError::BadInput(format!("cannot write {}: {e}", path.display())))?;
    Ok(path)
}
