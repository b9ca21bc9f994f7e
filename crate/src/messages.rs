//! Tagged messages between the page bridge and the service worker.

use consoledx_core::api::Verdict;
use consoledx_core::detect::DetectionSpec;
use consoledx_core::view::{DiagnosisView, ResolutionView};
use consoledx_core::{ErrorContext, Snapshot};
use serde::{Deserialize, Serialize};

/// From the page bridge (or an extension page) to the core: a JSON object
/// whose `type` names the variant, read by [`Request::from_json`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all_fields = "camelCase")]
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

/// The variant names, for the error about an unknown `type`.
const REQUEST_TYPES: &[&str] = &[
    "GetSpec",
    "Diagnose",
    "Resolve",
    "Feedback",
    "TestConnection",
];

impl Request {
    /// Reads a message: its `type` first, then the fields of that variant,
    /// rejecting unknown ones. Two passes instead of serde's internally tagged
    /// enums, whose buffering of every variant's content costs wasm size.
    pub fn from_json(text: &str) -> Result<Request, serde_json::Error> {
        use serde::de::{Error, IgnoredAny};
        #[derive(Deserialize)]
        struct Tag {
            #[serde(rename = "type")]
            kind: String,
        }
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct GetSpec {
            #[serde(rename = "type")]
            _kind: IgnoredAny,
        }
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Diagnose {
            #[serde(rename = "type")]
            _kind: IgnoredAny,
            snapshot: Snapshot,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase", deny_unknown_fields)]
        struct Resolve {
            #[serde(rename = "type")]
            _kind: IgnoredAny,
            #[serde(default)]
            diagnosis_id: Option<String>,
            context: ErrorContext,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase", deny_unknown_fields)]
        struct Feedback {
            #[serde(rename = "type")]
            _kind: IgnoredAny,
            diagnosis_id: String,
            verdict: Verdict,
            #[serde(default)]
            comment: Option<String>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase", deny_unknown_fields)]
        struct TestConnection {
            #[serde(rename = "type")]
            _kind: IgnoredAny,
            #[serde(default)]
            backend_url: Option<String>,
        }
        let Tag { kind } = serde_json::from_str(text)?;
        Ok(match kind.as_str() {
            "GetSpec" => {
                let GetSpec { .. } = serde_json::from_str(text)?;
                Request::GetSpec
            }
            "Diagnose" => {
                let body: Diagnose = serde_json::from_str(text)?;
                Request::Diagnose {
                    snapshot: body.snapshot,
                }
            }
            "Resolve" => {
                let body: Resolve = serde_json::from_str(text)?;
                Request::Resolve {
                    diagnosis_id: body.diagnosis_id,
                    context: body.context,
                }
            }
            "Feedback" => {
                let body: Feedback = serde_json::from_str(text)?;
                Request::Feedback {
                    diagnosis_id: body.diagnosis_id,
                    verdict: body.verdict,
                    comment: body.comment,
                }
            }
            "TestConnection" => {
                let body: TestConnection = serde_json::from_str(text)?;
                Request::TestConnection {
                    backend_url: body.backend_url,
                }
            }
            other => return Err(serde_json::Error::unknown_variant(other, REQUEST_TYPES)),
        })
    }
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

/// The user's settings, read from `chrome.storage.sync` by the loader for each
/// message. Its `headers` (the active profile's bearer token, profile id and
/// customization, as the loader built them) are not read here: they go to
/// `fetch` as the browser's own value, so the wasm carries no code for them.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Settings {
    #[serde(default = "default_backend_url")]
    pub backend_url: String,
    #[serde(default)]
    pub redaction_patterns: Vec<String>,
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u32,
    /// The active profile's runbook hosts, whose links the panel may open.
    #[serde(default)]
    pub link_hosts: Vec<String>,
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
            redaction_patterns: Vec::new(),
            timeout_ms: default_timeout_ms(),
            link_hosts: Vec::new(),
        }
    }
}
