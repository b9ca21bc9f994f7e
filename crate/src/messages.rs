//! Tagged messages between the page bridge and the service worker.

use consoledx_core::api::Verdict;
use consoledx_core::detect::DetectionSpec;
use consoledx_core::view::{DiagnosisView, ResolutionView};
use consoledx_core::{ErrorContext, Snapshot};
use serde::{Deserialize, Serialize};

/// From the page bridge (or an extension page) to the core.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(tag = "type", rename_all_fields = "camelCase", deny_unknown_fields)]
pub enum Request {
    GetSpec,
    Diagnose {
        snapshot: Snapshot,
    },
    Resolve {
        #[serde(default)]
        diagnosis_id: Option<String>,
        context: ErrorContext,
    },
    Feedback {
        diagnosis_id: String,
        verdict: Verdict,
        #[serde(default)]
        comment: Option<String>,
    },
    /// From the options page: can the backend at this URL be reached?
    TestConnection {
        #[serde(default)]
        backend_url: Option<String>,
    },
}

/// From the core back to the sender.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all_fields = "camelCase")]
pub enum Reply {
    Spec { spec: DetectionSpec },
    Diagnosis { view: Box<DiagnosisView> },
    Resolution { view: ResolutionView },
    FeedbackStored { diagnosis_id: String },
    Connection { ok: bool, detail: String },
    Error { message: String, retryable: bool },
}

/// The user's settings, read from `chrome.storage.sync` by the loader for each message.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Settings {
    #[serde(default = "default_backend_url")]
    pub backend_url: String,
    #[serde(default)]
    pub access_token: Option<String>,
    #[serde(default)]
    pub redaction_patterns: Vec<String>,
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u32,
}

pub const DEFAULT_BACKEND_URL: &str = "http://127.0.0.1:8787";

fn default_backend_url() -> String {
    DEFAULT_BACKEND_URL.into()
}

fn default_timeout_ms() -> u32 {
    8_000
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            backend_url: default_backend_url(),
            access_token: None,
            redaction_patterns: Vec::new(),
            timeout_ms: default_timeout_ms(),
        }
    }
}
