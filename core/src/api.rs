//! Request and response bodies of the backend API, shared by the backend,
//! the wasm core and the CLI. Every body rejects unknown fields.

use crate::context::{AccessDenied, ErrorContext, Identifiers};
use serde::{Deserialize, Serialize};

/// `POST /v1/analyze`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnalyzeRequest {
    pub context: ErrorContext,
}

/// The analysis of one error. Its JSON is DESIGN.md's `consoledx analyze` contract;
/// `diagnosis_id`, `title`, `docs` and `source` are additions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Analysis {
    pub identifiers: Identifiers,
    pub error: ErrorSummary,
    pub access_denied: Option<AccessDenied>,
    /// Plain-language root cause naming the real resources; never a placeholder.
    pub analysis: String,
    /// Id of the knowledge rule that matched; `None` for unknown errors.
    pub rule: Option<String>,
    /// 0.0 ..= 1.0.
    pub confidence: f32,
    /// One-line headline for the panel.
    #[serde(default)]
    pub title: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub docs: Vec<Link>,
    /// Set by the backend when it stores the diagnosis; feedback refers to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diagnosis_id: Option<String>,
    /// Where the analysis was made: `backend` or `local` (the engine in the extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorSummary {
    pub code: Option<String>,
    pub class: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Link {
    pub title: String,
    pub url: String,
}

/// `POST /v1/resolve`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResolveRequest {
    #[serde(default)]
    pub diagnosis_id: Option<String>,
    pub context: ErrorContext,
}

/// Ordered steps that name the real resources, and what could not be checked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resolution {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diagnosis_id: Option<String>,
    /// The cause as proven from the account's state (or as far as it could be).
    pub cause: String,
    pub steps: Vec<Step>,
    /// Reads that failed, timed out or were not allowed, in plain words.
    #[serde(default)]
    pub not_checked: Vec<String>,
    /// The facts read from the account that the cause rests on.
    #[serde(default)]
    pub evidence: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub title: String,
    #[serde(default)]
    pub detail: String,
    /// Equivalent AWS CLI command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cli: Option<String>,
    /// A policy document (pretty JSON) to add or change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// Console deep link (https only) where the step is done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
}

/// `POST /v1/feedback`: one vote per diagnosis; a later vote replaces the earlier one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedbackRequest {
    pub diagnosis_id: String,
    pub verdict: Verdict,
    /// Free text, stored and shown as text only; the backend limits its length.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// The extension's version. Optional so clients from before it still work,
    /// and left out when absent so backends from before it still accept the body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_version: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Helpful,
    NotHelpful,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Helpful => "helpful",
            Verdict::NotHelpful => "not_helpful",
        }
    }
}

/// Body of every non-2xx response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiError {
    pub error: String,
}
