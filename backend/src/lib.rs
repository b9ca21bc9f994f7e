//! consoledx's backend: the HTTP API (analyze, resolve, feedback), the
//! SQLite store and the AWS reads behind "Help me resolve".

pub mod auth;
pub mod aws;
pub mod eval;
pub mod feedback;
pub mod model;
pub mod store;

use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use consoledx_core::api::{
    AnalyzeRequest, ApiError as ErrorBody, FeedbackRequest, Resolution, ResolveRequest,
};
use consoledx_core::{Analysis, ErrorContext, KnowledgeBase};
use consoledx_resolve::Facts;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};

pub use aws::{AwsReader, AwsSettings, Credentials};
pub use model::{ModelClient, ModelSettings};
pub use store::{DiagnosisRecord, Store, StoreError};

/// Requests larger than this are refused with 413.
pub const BODY_LIMIT: usize = 256 * 1024;
/// A feedback comment is a sentence or two, not a document.
pub const COMMENT_LIMIT: usize = 2000;
/// Longest `client_version` accepted (a version string, not a message).
pub const CLIENT_VERSION_LIMIT: usize = 64;
/// Longest diagnosis id looked up; ids the backend hands out are 36 characters.
const DIAGNOSIS_ID_LIMIT: usize = 100;

#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub aws: AwsSettings,
    /// The optional model that phrases errors no rule matched; `None` (the default) calls nothing.
    pub model: Option<ModelSettings>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("built-in knowledge is invalid: {0}")]
    Knowledge(String),
    #[error("opening the store failed: {0}")]
    Task(String),
    #[error("model provider: {0}")]
    Model(#[from] model::ModelError),
}

/// Everything a handler needs; cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState {
    inner: Arc<Inner>,
    /// Bearer-token validation; `None` (no --auth-config) serves everyone, as for local use.
    auth: Option<Arc<auth::Authenticator>>,
}

#[derive(Debug)]
struct Inner {
    kb: KnowledgeBase,
    store: Store,
    aws: AwsReader,
    model: Option<ModelClient>,
}

impl AppState {
    pub async fn open(config: &Config) -> Result<AppState, StartError> {
        let kb = KnowledgeBase::builtin().map_err(|err| StartError::Knowledge(err.to_string()))?;
        let data_dir = config.data_dir.clone();
        let store = tokio::task::spawn_blocking(move || Store::open(&data_dir))
            .await
            .map_err(|err| StartError::Task(err.to_string()))??;
        let aws = AwsReader::load(&config.aws).await;
        let model = config.model.as_ref().map(ModelClient::new).transpose()?;
        Ok(AppState {
            inner: Arc::new(Inner {
                kb,
                store,
                aws,
                model,
            }),
            auth: None,
        })
    }

    /// The same state, requiring a valid bearer token on `/v1/*`.
    pub fn with_authenticator(mut self, authenticator: auth::Authenticator) -> AppState {
        self.auth = Some(Arc::new(authenticator));
        self
    }

    pub fn authenticator(&self) -> Option<&auth::Authenticator> {
        self.auth.as_deref()
    }

    pub fn knowledge(&self) -> &KnowledgeBase {
        &self.inner.kb
    }
}

/// The one error type of the API. Its body never carries internals: those are logged.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("request body is larger than the {} KiB limit", BODY_LIMIT / 1024)]
    TooLarge,
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    NotFound(String),
    #[error("internal error")]
    Internal(String),
    #[error("{0}")]
    Unauthorized(auth::Rejection),
}

impl ApiError {
    fn internal(detail: impl std::fmt::Display) -> ApiError {
        ApiError::Internal(detail.to_string())
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> ApiError {
        match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::TooLarge,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType(
                "expected a JSON body with content-type: application/json".to_string(),
            ),
            _ => ApiError::BadRequest(clip(&rejection.body_text())),
        }
    }
}

/// serde quotes the offending value in its messages: keep a reason readable, however large the input.
fn clip(reason: &str) -> String {
    const MAX: usize = 300;
    if reason.chars().count() <= MAX {
        return reason.to_string();
    }
    let head: String = reason.chars().take(MAX / 2).collect();
    let tail: String = {
        let mut tail: Vec<char> = reason.chars().rev().take(MAX / 2).collect();
        tail.reverse();
        tail.into_iter().collect()
    };
    format!("{head}…{tail}")
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> ApiError {
        ApiError::internal(err)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Unauthorized(rejection) = self {
            return rejection.into_response();
        }
        let status = match &self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                StatusCode::INTERNAL_SERVER_ERROR
            }
            ApiError::Unauthorized(rejection) => rejection.status(),
        };
        let body = ErrorBody {
            error: self.to_string(),
        };
        (status, Json(body)).into_response()
    }
}

/// A random (version 4) UUID.
fn new_diagnosis_id() -> Result<String, ApiError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(ApiError::internal)?;
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    ))
}

pub fn app(state: AppState) -> Router {
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(
            |origin: &HeaderValue, _request: &axum::http::request::Parts| {
                let origin = origin.as_bytes();
                origin.starts_with(b"chrome-extension://")
                    || origin.starts_with(b"moz-extension://")
            },
        ))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::CONTENT_TYPE, header::AUTHORIZATION])
        .expose_headers([header::WWW_AUTHENTICATE])
        .max_age(Duration::from_secs(600));
    Router::new()
        .route("/healthz", get(get_health))
        .route("/v1/analyze", post(post_analyze))
        .route("/v1/resolve", post(post_resolve))
        .route("/v1/feedback", post(post_feedback))
        .route("/v1/feedback/summary", get(feedback::get_summary))
        .route("/ui/feedback", get(feedback::get_page))
        .route("/v1/diagnoses/{id}", get(get_diagnosis))
        .route("/v1/whoami", get(auth::get_whoami))
        .fallback(fallback_route)
        .method_not_allowed_fallback(fallback_method)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_caller,
        ))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(cors)
        .layer(CatchPanicLayer::custom(panic_response))
        .with_state(state)
}

fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let detail = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("panic");
    ApiError::internal(format!("handler panicked: {detail}")).into_response()
}

async fn fallback_route(method: Method, uri: axum::http::Uri) -> ApiError {
    ApiError::NotFound(format!("no route for {method} {}", uri.path()))
}

async fn fallback_method(method: Method, uri: axum::http::Uri) -> Response {
    let body = ErrorBody {
        error: format!("method {method} is not allowed on {}", uri.path()),
    };
    (StatusCode::METHOD_NOT_ALLOWED, Json(body)).into_response()
}

async fn get_health() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")}))
}

/// Contexts are redacted in the browser; the backend redacts again before it
/// stores or reads anything, since any client can call it.
fn redact_again(context: &mut ErrorContext) {
    let redactor = consoledx_core::Redactor::default();
    let scrub = |text: &mut String| {
        let redacted = redactor.redact(text);
        if redacted.count > 0 {
            *text = redacted.text;
        }
        redacted.count
    };
    let mut count = scrub(&mut context.message) + scrub(&mut context.url);
    for field in &mut context.fields {
        count += scrub(&mut field.value);
    }
    context.redactions = context.redactions.saturating_add(count);
}

async fn post_analyze(
    State(state): State<AppState>,
    payload: Result<Json<AnalyzeRequest>, JsonRejection>,
) -> Result<Json<Analysis>, ApiError> {
    let Json(request) = payload?;
    let mut context = request.context;
    redact_again(&mut context);
    consoledx_core::extract::complete(&mut context);
    let mut analysis = state.inner.kb.analyze(&context);
    let id = new_diagnosis_id()?;
    analysis.diagnosis_id = Some(id.clone());
    analysis.source = Some("backend".to_string());
    if let Some(model) = &state.inner.model {
        model::refine(model, &context, &mut analysis).await;
    }
    let context_json = serde_json::to_string(&context).map_err(ApiError::internal)?;
    state.inner.store.insert_diagnosis(store::NewDiagnosis {
        id,
        rule: analysis.rule.clone(),
        error_code: context.error_code.clone(),
        service: context.identifiers.get("aws_service").cloned(),
        region: context.identifiers.get("aws_region").cloned(),
        context_json,
    })?;
    Ok(Json(analysis))
}

/// Plans the reads, executes those the signed-in principal may make (in
/// rounds, under the deadline) and resolves.
pub async fn resolve_context(state: &AppState, context: &ErrorContext) -> Resolution {
    resolve_context_with(state, context, Facts::default()).await
}

/// As [`resolve_context`], starting from facts given as input (e.g. SCPs of
/// an organization the endpoint cannot hold); their reads are not sent.
pub async fn resolve_context_with(
    state: &AppState,
    context: &ErrorContext,
    given: Facts,
) -> Resolution {
    let kb = &state.inner.kb;
    let analysis = kb.analyze(context);
    let facts = state.inner.aws.gather(context, &analysis, given).await;
    consoledx_resolve::resolve(context, &analysis, &facts, kb)
}

async fn post_resolve(
    State(state): State<AppState>,
    payload: Result<Json<ResolveRequest>, JsonRejection>,
) -> Result<Json<Resolution>, ApiError> {
    let Json(request) = payload?;
    let mut context = request.context;
    redact_again(&mut context);
    consoledx_core::extract::complete(&mut context);
    let mut resolution = resolve_context(&state, &context).await;
    resolution.diagnosis_id = request.diagnosis_id;
    Ok(Json(resolution))
}

/// A blank optional text is an absent one.
fn non_blank(text: Option<String>) -> Option<String> {
    text.map(|t| t.trim().to_string()).filter(|t| !t.is_empty())
}

/// Checks a vote and turns it into what the store keeps; nothing is stored unless all of it is valid.
fn checked_feedback(request: FeedbackRequest) -> Result<store::NewFeedback, ApiError> {
    let id_length = request.diagnosis_id.chars().count();
    if id_length == 0 || id_length > DIAGNOSIS_ID_LIMIT {
        return Err(ApiError::BadRequest(format!(
            "diagnosis_id must be 1 to {DIAGNOSIS_ID_LIMIT} characters (it has {id_length})"
        )));
    }
    let comment = non_blank(request.comment);
    if let Some(comment) = &comment {
        let length = comment.chars().count();
        if length > COMMENT_LIMIT {
            return Err(ApiError::BadRequest(format!(
                "comment is longer than {COMMENT_LIMIT} characters (it has {length})"
            )));
        }
        if comment
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
        {
            return Err(ApiError::BadRequest(
                "comment contains control characters: send plain text".to_string(),
            ));
        }
    }
    let client_version = non_blank(request.client_version);
    if let Some(version) = &client_version
        && (version.len() > CLIENT_VERSION_LIMIT
            || !version.bytes().all(|b| b.is_ascii_graphic() || b == b' '))
    {
        return Err(ApiError::BadRequest(format!(
            "client_version must be at most {CLIENT_VERSION_LIMIT} printable ASCII characters"
        )));
    }
    Ok(store::NewFeedback {
        diagnosis_id: request.diagnosis_id,
        verdict: request.verdict.as_str().to_string(),
        comment,
        client_version,
    })
}

async fn post_feedback(
    State(state): State<AppState>,
    payload: Result<Json<FeedbackRequest>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Json(request) = payload?;
    let feedback = checked_feedback(request)?;
    let diagnosis_id = feedback.diagnosis_id.clone();
    if !state.inner.store.set_feedback(feedback).await? {
        return Err(ApiError::NotFound(format!(
            "no diagnosis with id {diagnosis_id}"
        )));
    }
    Ok(Json(serde_json::json!({"stored": true})))
}

async fn get_diagnosis(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<DiagnosisRecord>, ApiError> {
    state
        .inner
        .store
        .diagnosis(&id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no diagnosis with id {id}")))
}
