//! consoledx's backend: the HTTP API (analyze, resolve, feedback), the
//! SQLite store and the AWS reads behind "Help me resolve".

pub mod auth;
pub mod aws;
pub mod db;
pub mod eval;
pub mod feedback;
pub mod model;
pub mod store;
pub mod tenancy;

use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use consoledx_core::api::{
    AnalyzeRequest, ApiError as ErrorBody, FeedbackRequest, Resolution, ResolveRequest,
};
use consoledx_core::{Analysis, ErrorContext, KnowledgeBase};
use consoledx_resolve::Facts;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};

pub use aws::{AwsReader, AwsSettings, Credentials};
pub use model::{ModelClient, ModelSettings};
pub use store::{DiagnosisRecord, Store, StoreError};

/// How long a replica answers from its copy of the directory before reading it again.
pub const DIRECTORY_REFRESH: Duration = Duration::from_secs(2);

/// The profile a request is made under (its id in the backend's directory).
pub const PROFILE_HEADER: &str = "x-consoledx-profile";
/// The customization the profile uses, when it names one.
pub const CUSTOMIZATION_HEADER: &str = "x-consoledx-customization";

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
    /// The main database (`--database-url`); `None`: the SQLite file in `data_dir`.
    pub database_url: Option<db::DatabaseUrl>,
    /// Databases of regions with one of their own (data residency), from `--region-database`.
    pub region_databases: BTreeMap<String, db::DatabaseUrl>,
    /// Where the validation run that gates customizations replays the built-in dataset.
    pub gate: tenancy::GateSettings,
    pub aws: AwsSettings,
    /// The optional model that phrases errors no rule matched; `None` (the default) calls nothing.
    pub model: Option<ModelSettings>,
}

impl Config {
    /// A backend on `data_dir` with the embedded defaults: its SQLite store,
    /// every region's data in a file of its own, no model, and the gate
    /// replaying `eval/records` on `.venv/bin/moto_server`.
    pub fn new(data_dir: PathBuf, aws: AwsSettings) -> Config {
        Config {
            data_dir,
            database_url: None,
            region_databases: BTreeMap::new(),
            gate: tenancy::GateSettings {
                records: PathBuf::from("eval/records"),
                endpoint: eval::Endpoint::MotoServer(PathBuf::from(".venv/bin/moto_server")),
                workers: 1,
                fast_only: false,
            },
            aws,
            model: None,
        }
    }
}

/// Opens the main store and the directory for `consoledx admin`, as `serve` would.
pub async fn open_tenancy(
    data_dir: &std::path::Path,
    database_url: Option<db::DatabaseUrl>,
    region_databases: BTreeMap<String, db::DatabaseUrl>,
    gate: tenancy::GateSettings,
) -> Result<tenancy::TenancyService, StartError> {
    let kb = KnowledgeBase::builtin().map_err(|err| StartError::Knowledge(err.to_string()))?;
    open_tenancy_with(data_dir, database_url, region_databases, gate, Arc::new(kb)).await
}

async fn open_tenancy_with(
    data_dir: &std::path::Path,
    database_url: Option<db::DatabaseUrl>,
    region_databases: BTreeMap<String, db::DatabaseUrl>,
    gate: tenancy::GateSettings,
    kb: Arc<KnowledgeBase>,
) -> Result<tenancy::TenancyService, StartError> {
    let main = database_url
        .unwrap_or_else(|| db::DatabaseUrl::Sqlite(data_dir.join(store::DATABASE_FILE)));
    let store_url = main.clone();
    let store = tokio::task::spawn_blocking(move || Store::open_url(&store_url))
        .await
        .map_err(|err| StartError::Task(err.to_string()))??;
    // SQLite keeps the directory in a file of its own beside the store, and
    // each region's data in a file of its own; PostgreSQL keeps the directory
    // in the database every replica shares, and regions need their own.
    let (directory_url, sqlite_regions_dir) = match &main {
        db::DatabaseUrl::Sqlite(_) => (
            db::DatabaseUrl::Sqlite(data_dir.join(tenancy::store::DIRECTORY_FILE)),
            Some(data_dir.join("regions")),
        ),
        postgres @ db::DatabaseUrl::Postgres(_) => (postgres.clone(), None),
    };
    let directory = tenancy::DirectoryStore::open(&directory_url).await?;
    let residency = tenancy::Residency::new((store, main), region_databases, sqlite_regions_dir);
    Ok(tenancy::TenancyService::open(directory, residency, kb, gate, DIRECTORY_REFRESH).await?)
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
    #[error("directory: {0}")]
    Directory(#[from] tenancy::DirectoryStoreError),
    #[error("directory: {0}")]
    Tenancy(#[from] tenancy::TenancyError),
}

/// Everything a handler needs; cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState {
    inner: Arc<Inner>,
    /// The knowledge of requests without a customization (tests and the gate may replace it).
    kb: Arc<KnowledgeBase>,
    tenancy: Option<Arc<tenancy::TenancyService>>,
    /// Bearer-token validation; `None` (no --auth-config) serves everyone, as for local use.
    auth: Option<Arc<auth::Authenticator>>,
}

#[derive(Debug)]
struct Inner {
    store: Store,
    aws: AwsReader,
    model: Option<ModelClient>,
}

impl StartError {
    /// Caused by where the data was pointed at (bad path, URL, newer file), not by a failure while running.
    pub fn is_bad_location(&self) -> bool {
        match self {
            StartError::Store(err) => err.is_bad_location(),
            StartError::Directory(tenancy::DirectoryStoreError::Db(err)) => err.is_bad_location(),
            StartError::Directory(tenancy::DirectoryStoreError::NewerSchema { .. }) => true,
            _ => false,
        }
    }
}

impl AppState {
    pub async fn open(config: &Config) -> Result<AppState, StartError> {
        let kb = KnowledgeBase::builtin().map_err(|err| StartError::Knowledge(err.to_string()))?;
        let kb = Arc::new(kb);
        let tenancy = open_tenancy_with(
            &config.data_dir,
            config.database_url.clone(),
            config.region_databases.clone(),
            config.gate.clone(),
            Arc::clone(&kb),
        )
        .await?;
        let store = tenancy.residency().default_store().clone();
        let aws = AwsReader::load(&config.aws).await;
        let model = config.model.as_ref().map(ModelClient::new).transpose()?;
        Ok(AppState {
            inner: Arc::new(Inner { store, aws, model }),
            kb,
            tenancy: Some(Arc::new(tenancy)),
            auth: None,
        })
    }

    /// The same state, requiring a valid bearer token on `/v1/*`.
    pub fn with_authenticator(mut self, authenticator: auth::Authenticator) -> AppState {
        self.auth = Some(Arc::new(authenticator));
        self
    }

    /// The same state answering with other knowledge (the validation run of a customization).
    pub fn with_knowledge(mut self, kb: Arc<KnowledgeBase>) -> AppState {
        self.kb = kb;
        self
    }

    pub fn authenticator(&self) -> Option<&auth::Authenticator> {
        self.auth.as_deref()
    }

    pub fn knowledge(&self) -> &KnowledgeBase {
        &self.kb
    }

    pub fn tenancy(&self) -> Option<&Arc<tenancy::TenancyService>> {
        self.tenancy.as_ref()
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
    /// Signed in, but not allowed this profile, customization or operation.
    #[error("{message}")]
    Forbidden { code: &'static str, message: String },
    #[error("{message}")]
    Conflict {
        code: &'static str,
        message: String,
        /// Structured detail the caller can act on (e.g. a refused activation's scores).
        detail: Option<serde_json::Value>,
    },
    /// A dependency of the operation (e.g. the validation harness) cannot run.
    #[error("{0}")]
    Unavailable(String),
}

impl ApiError {
    pub(crate) fn internal(detail: impl std::fmt::Display) -> ApiError {
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
        match self {
            ApiError::Unauthorized(rejection) => return rejection.into_response(),
            ApiError::Forbidden { code, message } => {
                let body = serde_json::json!({"error": code, "message": message});
                return (StatusCode::FORBIDDEN, Json(body)).into_response();
            }
            ApiError::Conflict {
                code,
                message,
                detail,
            } => {
                let body = serde_json::json!({"error": code, "message": message, "detail": detail});
                return (StatusCode::CONFLICT, Json(body)).into_response();
            }
            _ => {}
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
            ApiError::Forbidden { .. } => StatusCode::FORBIDDEN,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
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
        .allow_headers([
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            HeaderName::from_static(PROFILE_HEADER),
            HeaderName::from_static(CUSTOMIZATION_HEADER),
        ])
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
        .merge(tenancy::api::routes())
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

/// The knowledge, store and tenancy one request runs under.
struct Scope {
    kb: Arc<KnowledgeBase>,
    store: Store,
    tenancy: Option<tenancy::Tenancy>,
}

/// A header's text; absent, or blank, is `None`.
fn header_text(headers: &HeaderMap, name: &str) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get(name) else {
        return Ok(None);
    };
    let text = value
        .to_str()
        .ok()
        .filter(|text| text.len() <= 128)
        .ok_or_else(|| ApiError::BadRequest(format!("header {name} must be a short ASCII id")))?;
    Ok(Some(text.trim().to_string()).filter(|text| !text.is_empty()))
}

/// Decides which profile and customization a request runs under, and so
/// which knowledge answers it and which region's store keeps it. A backend
/// whose directory has no subscription answers everyone alike.
async fn scope_for(
    state: &AppState,
    caller: Option<&auth::Caller>,
    headers: &HeaderMap,
) -> Result<Scope, ApiError> {
    let single = || Scope {
        kb: Arc::clone(&state.kb),
        store: state.inner.store.clone(),
        tenancy: None,
    };
    let Some(service) = state.tenancy() else {
        return Ok(single());
    };
    let directory = service.directory().await?;
    if !directory.is_multi_tenant() {
        return Ok(single());
    }
    let profile = header_text(headers, PROFILE_HEADER)?;
    let customization = header_text(headers, CUSTOMIZATION_HEADER)?;
    let Some(caller) = caller else {
        return Err(ApiError::Forbidden {
            code: "sign_in_unavailable",
            message: "This backend serves subscriptions but runs without sign-in, so it cannot tell who you are. Ask your administrator.".to_string(),
        });
    };
    let Some(profile) = profile else {
        return Err(ApiError::Forbidden {
            code: "missing_profile",
            message: "This backend serves its subscriptions' profiles: choose one of your organisation's profiles in the consoledx toolbar button.".to_string(),
        });
    };
    let tenancy = directory
        .authorize(&caller.claims(), &profile, customization.as_deref())
        .map_err(|denied| ApiError::Forbidden {
            code: denied.code(),
            message: denied.to_string(),
        })?;
    let kb = service.knowledge(&tenancy).await?;
    let store = service
        .residency()
        .store(&tenancy.region)
        .await
        .map_err(tenancy::TenancyError::from)?;
    Ok(Scope {
        kb,
        store,
        tenancy: Some(tenancy),
    })
}

async fn post_analyze(
    State(state): State<AppState>,
    caller: Option<axum::Extension<auth::Caller>>,
    headers: HeaderMap,
    payload: Result<Json<AnalyzeRequest>, JsonRejection>,
) -> Result<Json<Analysis>, ApiError> {
    let Json(request) = payload?;
    let caller = caller.as_deref();
    let scope = scope_for(&state, caller, &headers).await?;
    let mut context = request.context;
    redact_again(&mut context);
    consoledx_core::extract::complete(&mut context);
    let mut analysis = scope.kb.analyze(&context);
    let id = new_diagnosis_id()?;
    analysis.diagnosis_id = Some(id.clone());
    analysis.source = Some("backend".to_string());
    if let Some(model) = &state.inner.model {
        model::refine(model, &context, &mut analysis).await;
    }
    let context_json = serde_json::to_string(&context).map_err(ApiError::internal)?;
    let tenancy = scope.tenancy.as_ref();
    scope.store.insert_diagnosis(store::NewDiagnosis {
        id,
        rule: analysis.rule.clone(),
        error_code: context.error_code.clone(),
        service: context.identifiers.get("aws_service").cloned(),
        region: context.identifiers.get("aws_region").cloned(),
        context_json,
        subscription_id: tenancy.map(|t| t.subscription.clone()),
        profile_id: tenancy.map(|t| t.profile.clone()),
        customization_id: tenancy.and_then(|t| t.customization.as_ref().map(|c| c.0.clone())),
        customization_version: tenancy.and_then(|t| t.customization.as_ref().map(|c| c.1)),
        user_key: caller.map(|c| format!("{}#{}", c.issuer.trim_end_matches('/'), c.subject)),
    })?;
    if let (Some(service), Some(tenancy), Some(caller)) = (state.tenancy(), tenancy, caller)
        && let Err(err) = service.record_usage(&caller.claims(), tenancy)
    {
        // The answer is given either way; a usage row lost is logged, not shown.
        tracing::error!(%err, "usage not recorded");
    }
    Ok(Json(analysis))
}

/// Plans the reads, executes those the signed-in principal may make (in
/// rounds, under the deadline) and resolves.
pub async fn resolve_context(state: &AppState, context: &ErrorContext) -> Resolution {
    resolve_context_with(state, context, Facts::default()).await
}

/// As [`resolve_context_with`], answered with the given knowledge (a customization's).
pub async fn resolve_context_in(
    state: &AppState,
    kb: &KnowledgeBase,
    context: &ErrorContext,
    given: Facts,
) -> Resolution {
    let analysis = kb.analyze(context);
    let facts = state.inner.aws.gather(context, &analysis, given).await;
    consoledx_resolve::resolve(context, &analysis, &facts, kb)
}

/// As [`resolve_context`], starting from facts given as input (e.g. SCPs of
/// an organization the endpoint cannot hold); their reads are not sent.
pub async fn resolve_context_with(
    state: &AppState,
    context: &ErrorContext,
    given: Facts,
) -> Resolution {
    resolve_context_in(state, &state.kb, context, given).await
}

async fn post_resolve(
    State(state): State<AppState>,
    caller: Option<axum::Extension<auth::Caller>>,
    headers: HeaderMap,
    payload: Result<Json<ResolveRequest>, JsonRejection>,
) -> Result<Json<Resolution>, ApiError> {
    let Json(request) = payload?;
    let scope = scope_for(&state, caller.as_deref(), &headers).await?;
    let mut context = request.context;
    redact_again(&mut context);
    consoledx_core::extract::complete(&mut context);
    let mut resolution = resolve_context_in(&state, &scope.kb, &context, Facts::default()).await;
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
    caller: Option<axum::Extension<auth::Caller>>,
    headers: HeaderMap,
    payload: Result<Json<FeedbackRequest>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Json(request) = payload?;
    let scope = scope_for(&state, caller.as_deref(), &headers).await?;
    let feedback = checked_feedback(request)?;
    let diagnosis_id = feedback.diagnosis_id.clone();
    if !scope.store.set_feedback(feedback).await? {
        return Err(ApiError::NotFound(format!(
            "no diagnosis with id {diagnosis_id}"
        )));
    }
    Ok(Json(serde_json::json!({"stored": true})))
}

async fn get_diagnosis(
    State(state): State<AppState>,
    caller: Option<axum::Extension<auth::Caller>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<DiagnosisRecord>, ApiError> {
    let scope = scope_for(&state, caller.as_deref(), &headers).await?;
    scope
        .store
        .diagnosis(&id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no diagnosis with id {id}")))
}
