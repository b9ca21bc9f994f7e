//! The activation gate: a customization version becomes active only when the
//! validation harness, replayed on the built-in dataset with the
//! customization loaded, scores no metric below the built-in knowledge alone.

use crate::eval::{self, Endpoint, Summary};
use consoledx_core::KnowledgeBase;
use serde::Serialize;
use std::path::PathBuf;
use std::sync::Arc;

/// Where the validation harness runs for the gate.
#[derive(Debug, Clone)]
pub struct GateSettings {
    /// The built-in dataset (`eval/records`).
    pub records: PathBuf,
    pub endpoint: Endpoint,
    pub workers: usize,
    /// Only the records marked `fast = true` (tests and small machines).
    pub fast_only: bool,
}

/// What the gate found; stored with the version whatever the verdict.
#[derive(Debug, Clone, Serialize)]
pub struct GateReport {
    pub passed: bool,
    pub records: usize,
    pub fast_only: bool,
    /// Each metric that dropped, `name: before -> after`.
    pub regressions: Vec<String>,
    pub builtin: Summary,
    pub customized: Summary,
}

#[derive(Debug, thiserror::Error)]
pub enum GateError {
    #[error("the validation harness cannot run: {0}")]
    Harness(String),
}

impl From<eval::RecordError> for GateError {
    fn from(err: eval::RecordError) -> GateError {
        GateError::Harness(err.to_string())
    }
}

impl From<eval::RunError> for GateError {
    fn from(err: eval::RunError) -> GateError {
        GateError::Harness(err.to_string())
    }
}

/// Replays the dataset with the candidate and compares every gated metric
/// with the built-in knowledge's run. That run is made once per `baseline`
/// cell: the built-in knowledge and the dataset do not change while the
/// process runs, so later activations replay the dataset only once.
pub async fn run(
    settings: &GateSettings,
    builtin: Arc<KnowledgeBase>,
    baseline: &tokio::sync::OnceCell<Summary>,
    candidate: Arc<KnowledgeBase>,
) -> Result<GateReport, GateError> {
    if !settings.records.is_dir() {
        return Err(GateError::Harness(format!(
            "the built-in dataset {} is not a folder (set --gate-records)",
            settings.records.display()
        )));
    }
    if let Endpoint::MotoServer(program) = &settings.endpoint
        && !program.exists()
    {
        return Err(GateError::Harness(format!(
            "the moto server {} does not exist (set --gate-moto-server, or run `cargo xtask setup`)",
            program.display()
        )));
    }
    let mut records = eval::load_dir(&settings.records)?;
    if settings.fast_only {
        records.retain(|record| record.fast);
    }
    if records.is_empty() {
        return Err(GateError::Harness(format!(
            "{} holds no record to replay",
            settings.records.display()
        )));
    }
    let count = records.len();
    let builtin = baseline
        .get_or_try_init(|| async {
            let before = eval::run_records(
                records.clone(),
                settings.workers,
                &settings.endpoint,
                Some(builtin),
            )
            .await?;
            Ok::<_, GateError>(eval::summarize(&before))
        })
        .await?
        .clone();
    let after = eval::run_records(
        records,
        settings.workers,
        &settings.endpoint,
        Some(candidate),
    )
    .await?;
    let customized = eval::summarize(&after);
    let regressions = eval::regressions(&builtin.metrics(), &customized);
    Ok(GateReport {
        passed: regressions.is_empty(),
        records: count,
        fast_only: settings.fast_only,
        regressions,
        builtin,
        customized,
    })
}
