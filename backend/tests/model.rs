//! The optional model provider.
//!
//! 1. The answer check, on the fixture table `tests/data/model_checks.json`.
//! 2. The real `consoledx serve` process, called over TCP, with a fake
//!    chat-completions server (axum, in this test binary) on a real port:
//!    good answers are used, bad ones and timeouts fall back, and the model is
//!    never called without `--model-url` or for errors a rule matched.

mod common;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use bytes::Bytes;
use consoledx::model::{Rejection, check_answer};
use consoledx_core::{ErrorContext, KnowledgeBase};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

// ---------------------------------------------------------------- the check

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Fixtures {
    contexts: BTreeMap<String, ErrorContext>,
    cases: Vec<CheckCase>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckCase {
    name: String,
    context: String,
    answer: String,
    /// The answer is this many copies of `answer`, joined by spaces.
    #[serde(default)]
    repeat: Option<usize>,
    /// `used`, or the rejection's kind (`Rejection::kind`).
    verdict: String,
    /// For `used`: the exact text kept (default: the answer itself).
    #[serde(default)]
    text: Option<String>,
    /// For a rejection: a phrase its reason must hold.
    #[serde(default)]
    reason_contains: Option<String>,
}

fn fixtures() -> Fixtures {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/model_checks.json");
    let text = std::fs::read_to_string(path).expect("fixture file readable");
    serde_json::from_str(&text).expect("fixture file is valid")
}

/// Every way `check_answer` misses the case's expectation.
fn check(case: &CheckCase, context: &ErrorContext) -> Option<String> {
    let answer = match case.repeat {
        Some(times) => vec![case.answer.as_str(); times].join(" "),
        None => case.answer.clone(),
    };
    let verdict = check_answer(&answer, context);
    match (&verdict, case.verdict.as_str()) {
        (Ok(text), "used") => {
            let expected = case.text.as_deref().unwrap_or(&answer);
            (text != expected).then(|| format!("kept {text:?}, expected {expected:?}"))
        }
        (Err(rejection), expected) if rejection.kind() == expected => {
            let reason = rejection.to_string();
            match &case.reason_contains {
                Some(phrase) if !reason.contains(phrase.as_str()) => {
                    Some(format!("reason {reason:?} lacks {phrase:?}"))
                }
                _ => None,
            }
        }
        (verdict, expected) => Some(format!("{verdict:?} instead of {expected}")),
    }
}

#[test]
fn answers_are_checked_against_the_context() {
    let fixtures = fixtures();
    let failures: Vec<String> = fixtures
        .cases
        .iter()
        .filter_map(|case| {
            let Some(context) = fixtures.contexts.get(&case.context) else {
                return Some(format!("{}: unknown context {}", case.name, case.context));
            };
            check(case, context).map(|failure| format!("{}: {failure}", case.name))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        fixtures.cases.len(),
        failures.join("\n")
    );
}

#[test]
fn the_fixtures_cover_every_verdict() {
    let fixtures = fixtures();
    let kinds = [
        Rejection::Empty,
        Rejection::TooLong,
        Rejection::Markup(""),
        Rejection::Placeholder(String::new()),
        Rejection::MalformedArn(String::new()),
        Rejection::NotInContext {
            kind: "",
            token: String::new(),
        },
    ]
    .map(|r| r.kind());
    for verdict in kinds.iter().chain(["used"].iter()) {
        assert!(
            fixtures.cases.iter().any(|c| c.verdict == *verdict),
            "no fixture for {verdict}"
        );
    }
}

// ------------------------------------------------------- the fake model

#[derive(Clone)]
enum Behaviour {
    Answer(String),
    Slow(Duration, String),
    Status(StatusCode),
    Garbage,
}

struct FakeModelState {
    behaviour: Behaviour,
    calls: AtomicUsize,
    requests: Mutex<Vec<(HeaderMap, Value)>>,
}

struct FakeModel {
    base_url: String,
    state: Arc<FakeModelState>,
}

impl FakeModel {
    async fn start(behaviour: Behaviour) -> FakeModel {
        let state = Arc::new(FakeModelState {
            behaviour,
            calls: AtomicUsize::new(0),
            requests: Mutex::new(Vec::new()),
        });
        let app = Router::new()
            .route("/v1/chat/completions", post(fake_completion))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("fake model binds");
        let addr = listener.local_addr().expect("bound address");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeModel {
            base_url: format!("http://{addr}/v1"),
            state,
        }
    }

    fn calls(&self) -> usize {
        self.state.calls.load(Ordering::SeqCst)
    }
}

async fn fake_completion(
    State(state): State<Arc<FakeModelState>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    state.calls.fetch_add(1, Ordering::SeqCst);
    if let Ok(mut requests) = state.requests.lock() {
        requests.push((headers, body));
    }
    let reply = |content: &str| {
        Json(json!({
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": content}}]
        }))
        .into_response()
    };
    match &state.behaviour {
        Behaviour::Answer(content) => reply(content),
        Behaviour::Slow(delay, content) => {
            tokio::time::sleep(*delay).await;
            reply(content)
        }
        Behaviour::Status(status) => (*status, "model overloaded").into_response(),
        Behaviour::Garbage => "<html>not json</html>".into_response(),
    }
}

// -------------------------------------------------- the backend process

struct Backend {
    child: Child,
    base: String,
    stderr_path: PathBuf,
    _data: tempfile::TempDir,
}

impl Drop for Backend {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const API_KEY_VAR: &str = "CONSOLEDX_TEST_MODEL_KEY";
const API_KEY: &str = "sk-test-4f9a1c2e7b";
const MODEL_NAME: &str = "tiny-test-model";

impl Backend {
    /// `consoledx serve` on a free port, with `extra` flags.
    async fn start(extra: &[String]) -> Backend {
        let data = tempfile::tempdir().expect("temp dir");
        let stderr_path = data.path().join("stderr.log");
        let stderr = std::fs::File::create(&stderr_path).expect("stderr file");
        let mut child = Command::new(env!("CARGO_BIN_EXE_consoledx"))
            .args(["serve", "--addr", "127.0.0.1:0", "--data-dir"])
            .arg(data.path().join("store"))
            .args(extra)
            .env_remove("AWS_ENDPOINT_URL")
            .env(API_KEY_VAR, API_KEY)
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .spawn()
            .expect("backend starts");
        let stdout = child.stdout.take().expect("stdout piped");
        let line = tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            line
        });
        let line = tokio::time::timeout(Duration::from_secs(30), line)
            .await
            .expect("backend announces its address in time")
            .expect("reader thread");
        let base = line
            .trim()
            .strip_prefix("consoledx listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        Backend {
            child,
            base,
            stderr_path,
            _data: data,
        }
    }

    async fn analyze(&self, context: &ErrorContext) -> Value {
        let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
        let body = serde_json::to_vec(&json!({ "context": context })).expect("body");
        let request = axum::http::Request::post(format!("{}/v1/analyze", self.base))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body)))
            .expect("request builds");
        let response = client.request(request).await.expect("backend answers");
        assert_eq!(response.status(), StatusCode::OK);
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        serde_json::from_slice(&bytes).expect("JSON answer")
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }
}

fn model_flags(model: &FakeModel, timeout_ms: u64) -> Vec<String> {
    [
        "--model-url",
        &model.base_url,
        "--model-name",
        MODEL_NAME,
        "--model-api-key-env",
        API_KEY_VAR,
        "--model-timeout-ms",
        &timeout_ms.to_string(),
    ]
    .map(String::from)
    .to_vec()
}

fn unknown_context() -> ErrorContext {
    let fixtures = fixtures();
    fixtures
        .contexts
        .get("s3_replication")
        .cloned()
        .expect("fixture context")
}

fn deterministic(context: &ErrorContext) -> consoledx_core::Analysis {
    KnowledgeBase::builtin()
        .expect("knowledge loads")
        .analyze(context)
}

const GOOD_ANSWER: &str = "The console could not load the replication configuration of bucket my-logs-2024 in us-east-1. Check that replication is configured on the bucket and that role ReadOnly may read it.";

struct Scenario {
    name: &'static str,
    behaviour: Behaviour,
    /// `false`: the backend runs without `--model-url` (the fake model still listens).
    with_model: bool,
    timeout_ms: u64,
    known_error: bool,
    expect_calls: usize,
    expect_model_text: Option<&'static str>,
    expect_log: Option<&'static str>,
}

fn scenarios() -> Vec<Scenario> {
    let fallback = |name, behaviour, timeout_ms, log| Scenario {
        name,
        behaviour,
        with_model: true,
        timeout_ms,
        known_error: false,
        expect_calls: 1,
        expect_model_text: None,
        expect_log: Some(log),
    };
    vec![
        Scenario {
            name: "a good phrasing is used",
            behaviour: Behaviour::Answer(GOOD_ANSWER.to_string()),
            with_model: true,
            timeout_ms: 4000,
            known_error: false,
            expect_calls: 1,
            expect_model_text: Some(GOOD_ANSWER),
            expect_log: None,
        },
        fallback(
            "an invented bucket is rejected",
            Behaviour::Answer(
                "Bucket my-logs-2025 has no replication rule; add one in us-east-1.".to_string(),
            ),
            4000,
            "model answer rejected",
        ),
        fallback(
            "a slow model times out",
            Behaviour::Slow(Duration::from_secs(3), GOOD_ANSWER.to_string()),
            300,
            "timed out after 300 ms",
        ),
        fallback(
            "an HTTP error falls back",
            Behaviour::Status(StatusCode::SERVICE_UNAVAILABLE),
            4000,
            "model answered HTTP 503",
        ),
        fallback(
            "a non-JSON answer falls back",
            Behaviour::Garbage,
            4000,
            "not a chat completion",
        ),
        Scenario {
            name: "without --model-url nothing is called",
            behaviour: Behaviour::Answer(GOOD_ANSWER.to_string()),
            with_model: false,
            timeout_ms: 4000,
            known_error: false,
            expect_calls: 0,
            expect_model_text: None,
            expect_log: None,
        },
        Scenario {
            name: "a known error never calls the model",
            behaviour: Behaviour::Answer(GOOD_ANSWER.to_string()),
            with_model: true,
            timeout_ms: 4000,
            known_error: true,
            expect_calls: 0,
            expect_model_text: None,
            expect_log: None,
        },
    ]
}

async fn run(scenario: &Scenario) -> Vec<String> {
    let model = FakeModel::start(scenario.behaviour.clone()).await;
    let flags = if scenario.with_model {
        model_flags(&model, scenario.timeout_ms)
    } else {
        Vec::new()
    };
    let backend = Backend::start(&flags).await;
    let context = if scenario.known_error {
        common::seed1_context()
    } else {
        unknown_context()
    };
    let expected = deterministic(&context);
    let answer = backend.analyze(&context).await;
    let mut failures = Vec::new();
    let mut expect = |ok: bool, what: String| {
        if !ok {
            failures.push(what);
        }
    };
    expect(
        model.calls() == scenario.expect_calls,
        format!(
            "model called {} times, expected {}",
            model.calls(),
            scenario.expect_calls
        ),
    );
    expect(
        answer["rule"] == json!(expected.rule),
        format!("rule {} instead of {:?}", answer["rule"], expected.rule),
    );
    expect(
        answer["diagnosis_id"].is_string(),
        "no diagnosis_id".to_string(),
    );
    let confidence = answer["confidence"].as_f64().unwrap_or(f64::NAN);
    match scenario.expect_model_text {
        Some(text) => {
            expect(
                answer["source"] == "backend+model",
                format!("source {}", answer["source"]),
            );
            expect(
                answer["analysis"] == text,
                format!("analysis {}", answer["analysis"]),
            );
            expect(
                confidence <= 0.5,
                format!("confidence {confidence} above 0.5"),
            );
        }
        None => {
            expect(
                answer["source"] == "backend",
                format!("source {}", answer["source"]),
            );
            expect(
                answer["analysis"] == expected.analysis.as_str(),
                format!(
                    "analysis {} is not the deterministic one",
                    answer["analysis"]
                ),
            );
            expect(
                (confidence - f64::from(expected.confidence)).abs() < 1e-6,
                format!("confidence {confidence} changed"),
            );
        }
    }
    let stderr = backend.stderr();
    if let Some(phrase) = scenario.expect_log {
        expect(
            stderr.contains(phrase),
            format!("log lacks {phrase:?}: {stderr}"),
        );
    }
    expect(
        !stderr.contains(API_KEY),
        "the API key was logged".to_string(),
    );
    if scenario.expect_calls > 0 {
        let requests = model
            .state
            .requests
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default();
        match requests.first() {
            Some((headers, body)) => failures.extend(request_problems(headers, body, &context)),
            None => failures.push("no request recorded".to_string()),
        }
    }
    failures
}

/// What is wrong with the chat-completions request the backend sent.
fn request_problems(headers: &HeaderMap, body: &Value, context: &ErrorContext) -> Vec<String> {
    let mut problems = Vec::new();
    let authorization = headers.get("authorization").and_then(|v| v.to_str().ok());
    if authorization != Some(&format!("Bearer {API_KEY}")) {
        problems.push(format!("authorization header {authorization:?}"));
    }
    if body["model"] != MODEL_NAME || body["temperature"] != 0 {
        problems.push(format!("model/temperature wrong in {body}"));
    }
    let roles: Vec<&str> = body["messages"]
        .as_array()
        .map(|m| m.iter().filter_map(|m| m["role"].as_str()).collect())
        .unwrap_or_default();
    if roles != ["system", "user"] {
        problems.push(format!("message roles {roles:?}"));
    }
    let user = body["messages"][1]["content"].as_str().unwrap_or("");
    if !user.contains(&context.message) {
        problems.push("the user message does not quote the error".to_string());
    }
    for value in context.identifiers.values() {
        if !user.contains(value.as_str()) {
            problems.push(format!("the user message lacks identifier {value}"));
        }
    }
    if user.contains(&context.url) {
        problems.push("the page URL was sent to the model".to_string());
    }
    problems
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_backend_uses_the_model_only_when_safe() {
    assert!(
        deterministic(&unknown_context()).rule.is_none(),
        "the fixture context must be an unknown error"
    );
    assert!(deterministic(&common::seed1_context()).rule.is_some());
    let mut failures = Vec::new();
    for scenario in scenarios() {
        for failure in run(&scenario).await {
            failures.push(format!("{}: {failure}", scenario.name));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn bad_model_flags_are_refused() {
    let cases: [(&[&str], &str); 5] = [
        (
            &["--model-url", "http://127.0.0.1:9/v1"],
            "--model-url needs --model-name",
        ),
        (&["--model-name", "m"], "need --model-url"),
        (
            &["--model-url", "ftp://host/v1", "--model-name", "m"],
            "expected http:// or https://",
        ),
        (
            &[
                "--model-url",
                "http://127.0.0.1:9/v1",
                "--model-name",
                "m",
                "--model-api-key-env",
                "CONSOLEDX_TEST_UNSET_VARIABLE",
            ],
            "CONSOLEDX_TEST_UNSET_VARIABLE: that environment variable is not set",
        ),
        (
            &[
                "--model-url",
                "http://127.0.0.1:9/v1",
                "--model-name",
                "m",
                "--model-timeout-ms",
                "0",
            ],
            "--model-timeout-ms must be above 0",
        ),
    ];
    let data = tempfile::tempdir().expect("temp dir");
    let mut failures = Vec::new();
    for (flags, expected) in cases {
        let mut child = Command::new(env!("CARGO_BIN_EXE_consoledx"))
            .args(["serve", "--addr", "127.0.0.1:0", "--data-dir"])
            .arg(data.path())
            .args(flags)
            .env_remove("CONSOLEDX_TEST_UNSET_VARIABLE")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("binary runs");
        // A flag that were wrongly accepted would start a server: stop it rather than hang.
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while child.try_wait().ok().flatten().is_none() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let output = child.wait_with_output().expect("binary exits");
        let stderr = String::from_utf8_lossy(&output.stderr);
        if output.status.code() != Some(2) || !stderr.contains(expected) {
            failures.push(format!(
                "{flags:?}: exit {:?}, stderr {stderr:?}, expected {expected:?}",
                output.status.code()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
