//! The extension's Rust core, run in the service worker: interprets the page
//! bridge's snapshots, calls the backend, falls back to the local engine and
//! builds the panel's view models. A thin adapter over `consoledx-core`; the
//! only `#[wasm_bindgen]` surface is the [`Core`] handle.

mod backend;
pub mod messages;

use backend::{Backend, BackendError};
use consoledx_core::api::{AnalyzeRequest, FeedbackRequest, Resolution, ResolveRequest};
use consoledx_core::detect::DetectionSpec;
use consoledx_core::view::{DiagnosisView, ResolutionView, Source};
use consoledx_core::{Analysis, KnowledgeBase, Redactor};
use messages::{Reply, Request, Settings};
use serde::Serialize;
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;

#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error("the built-in knowledge base is invalid: {0}")]
    Knowledge(#[from] consoledx_core::knowledge::KnowledgeError),
    #[error("malformed message: {0}")]
    Message(String),
    #[error("malformed settings: {0}")]
    Settings(String),
    #[error("extra redaction pattern rejected: {0}")]
    Redaction(String),
}

impl From<CoreError> for JsValue {
    fn from(error: CoreError) -> JsValue {
        js_sys::Error::new(&error.to_string()).into()
    }
}

/// Opaque handle to the core's state: the knowledge base, loaded once per
/// service-worker start, and the redactor built from the user's patterns.
#[wasm_bindgen(js_name = Core)]
pub struct Core {
    inner: Rc<Inner>,
}

struct Inner {
    knowledge: KnowledgeBase,
    /// Rebuilt only when the user's extra patterns change.
    redactor: RefCell<(Vec<String>, Rc<Redactor>)>,
}

#[wasm_bindgen(js_class = Core)]
impl Core {
    #[wasm_bindgen(constructor)]
    pub fn new() -> Result<Core, JsValue> {
        // The runtime cut: the same analyses as the full packs, a fraction of the wasm.
        let knowledge = KnowledgeBase::builtin_runtime().map_err(CoreError::from)?;
        let redactor = RefCell::new((Vec::new(), Rc::new(Redactor::default())));
        Ok(Core {
            inner: Rc::new(Inner {
                knowledge,
                redactor,
            }),
        })
    }

    /// Handles one tagged message; resolves to the tagged reply. Never rejects
    /// for a failure the user can act on: those come back as `Error` replies.
    #[wasm_bindgen(js_name = handleMessage)]
    pub fn handle_message(&self, message: JsValue, settings: JsValue) -> js_sys::Promise {
        let inner = self.inner.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let reply = match decode(message, settings) {
                Ok((request, settings, headers)) => {
                    inner.handle(request, &settings, &headers).await
                }
                Err(error) => Reply::Error {
                    message: error.to_string(),
                    retryable: false,
                },
            };
            to_js(&reply)
        })
    }
}

// Messages cross the boundary as JSON text (the browser's JSON object on the
// JS side, serde_json here): one serde format in the wasm instead of two.

fn decode(message: JsValue, settings: JsValue) -> Result<(Request, Settings, JsValue), CoreError> {
    let request = json_text(&message)
        .ok_or_else(|| CoreError::Message("not a JSON object".into()))
        .and_then(|text| {
            Request::from_json(&text).map_err(|e| CoreError::Message(e.to_string()))
        })?;
    let (settings, headers) = if settings.is_undefined() || settings.is_null() {
        (Settings::default(), JsValue::UNDEFINED)
    } else {
        let headers = js_sys::Reflect::get(&settings, &"headers".into()).unwrap_or_default();
        let text =
            json_text(&settings).ok_or_else(|| CoreError::Settings("not a JSON object".into()))?;
        let settings =
            serde_json::from_str(&text).map_err(|e| CoreError::Settings(e.to_string()))?;
        (settings, headers)
    };
    Ok((request, settings, headers))
}

/// The value as JSON text, or `None` for what JSON cannot hold (undefined, functions, BigInt).
fn json_text(value: &JsValue) -> Option<String> {
    js_sys::JSON::stringify(value).ok()?.as_string()
}

fn to_js<T: Serialize>(value: &T) -> Result<JsValue, JsValue> {
    // Plain objects, not Maps, so the reply survives chrome.runtime messaging.
    let text = serde_json::to_string(value).map_err(|e| js_sys::Error::new(&e.to_string()))?;
    js_sys::JSON::parse(&text)
}

impl Inner {
    async fn handle(&self, request: Request, settings: &Settings, headers: &JsValue) -> Reply {
        let backend = Backend {
            base_url: &settings.backend_url,
            headers,
            timeout_ms: settings.timeout_ms,
        };
        match request {
            Request::GetSpec => Reply::Spec {
                spec: DetectionSpec::builtin(),
            },
            Request::Diagnose { snapshot } => match self.redactor(&settings.redaction_patterns) {
                Ok(redactor) => {
                    let context = consoledx_core::interpret(&snapshot, &redactor);
                    self.diagnose(&backend, context, &settings.link_hosts).await
                }
                Err(error) => Reply::Error {
                    message: error.to_string(),
                    retryable: false,
                },
            },
            Request::Resolve {
                diagnosis_id,
                context,
            } => {
                let body = ResolveRequest {
                    diagnosis_id,
                    context,
                };
                match backend.post::<_, Resolution>("/v1/resolve", &body).await {
                    Ok(resolution) => Reply::Resolution {
                        view: ResolutionView::new(&resolution, &settings.link_hosts),
                    },
                    Err(error) => backend_error(&backend, &error),
                }
            }
            Request::Feedback {
                diagnosis_id,
                verdict,
                comment,
            } => {
                let body = FeedbackRequest {
                    diagnosis_id: diagnosis_id.clone(),
                    verdict,
                    comment,
                    client_version: Some(env!("CARGO_PKG_VERSION").to_owned()),
                };
                match backend
                    .post::<_, serde::de::IgnoredAny>("/v1/feedback", &body)
                    .await
                {
                    Ok(_) => Reply::FeedbackStored { diagnosis_id },
                    Err(error) => backend_error(&backend, &error),
                }
            }
            Request::TestConnection { backend_url } => {
                let url = backend_url.unwrap_or_else(|| settings.backend_url.clone());
                // /healthz needs no sign-in, and the URL may be one typed on the
                // options page: the profile's token goes nowhere but its backend.
                let probe = Backend {
                    base_url: &url,
                    headers: &JsValue::UNDEFINED,
                    ..backend
                };
                match probe.get::<serde_json::Value>("/healthz").await {
                    Ok(health) => Reply::Connection {
                        ok: true,
                        detail: format!(
                            "Connected to consoledx {} at {url}",
                            health
                                .get("version")
                                .and_then(|v| v.as_str())
                                .unwrap_or("(unknown version)")
                        ),
                    },
                    Err(error) => Reply::Connection {
                        ok: false,
                        detail: format!("Cannot reach {url}: {error}"),
                    },
                }
            }
        }
    }

    async fn diagnose(
        &self,
        backend: &Backend<'_>,
        context: consoledx_core::ErrorContext,
        link_hosts: &[String],
    ) -> Reply {
        let body = AnalyzeRequest {
            context: context.clone(),
        };
        match backend.post::<_, Analysis>("/v1/analyze", &body).await {
            Ok(analysis) => Reply::Diagnosis {
                view: Box::new(DiagnosisView::new(
                    &analysis,
                    &context,
                    Source::Backend,
                    None,
                    link_hosts,
                )),
            },
            // Whatever went wrong (down, slow, HTTP error, a malformed answer),
            // the analysis made in the browser is still worth showing.
            Err(error) => {
                let local = self.knowledge.analyze(&context);
                let notice = format!(
                    "{} This analysis was made in your browser; Help me resolve and feedback need the backend.",
                    backend_problem(backend, &error)
                );
                Reply::Diagnosis {
                    view: Box::new(DiagnosisView::new(
                        &local,
                        &context,
                        Source::Local,
                        Some(notice),
                        link_hosts,
                    )),
                }
            }
        }
    }

    fn redactor(&self, patterns: &[String]) -> Result<Rc<Redactor>, CoreError> {
        let mut cached = self.redactor.borrow_mut();
        if cached.0 != patterns {
            let redactor =
                Redactor::new(patterns).map_err(|e| CoreError::Redaction(e.to_string()))?;
            *cached = (patterns.to_vec(), Rc::new(redactor));
        }
        Ok(cached.1.clone())
    }
}

/// One sentence on what went wrong with the backend; its own words are clipped.
fn backend_problem(backend: &Backend<'_>, error: &BackendError) -> String {
    let detail = consoledx_core::view::clip(&error.to_string());
    if let BackendError::Status {
        status: status @ (401 | 403),
        message,
    } = error
    {
        // A refused sign-in or access: the backend's own sentence says why,
        // and the user needs to know where signing in happens.
        let stop = if message.ends_with('.') { "" } else { "." };
        let action = if *status == 401 {
            " To sign in, use the consoledx toolbar button."
        } else {
            ""
        };
        return format!(
            "The consoledx backend at {} refused the request: {}{stop}{action}",
            backend.base_url,
            consoledx_core::view::clip(message)
        );
    }
    if error.is_unreachable() {
        format!(
            "Cannot reach the consoledx backend at {} ({detail}).",
            backend.base_url
        )
    } else {
        format!(
            "The consoledx backend at {} failed ({detail}).",
            backend.base_url
        )
    }
}

fn backend_error(backend: &Backend<'_>, error: &BackendError) -> Reply {
    Reply::Error {
        message: backend_problem(backend, error),
        retryable: true,
    }
}
