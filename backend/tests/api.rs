//! The HTTP API through the router (`oneshot`): a table of request/response
//! cases in `tests/data/api_cases.json`, then the stateful flows.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{contains_json, get, offline_state, post_json, send};
use consoledx::app;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    method: String,
    path: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    body: Option<Value>,
    #[serde(default)]
    body_raw: Option<String>,
    /// A JSON body padded to this many bytes.
    #[serde(default)]
    body_size: Option<usize>,
    #[serde(default)]
    content_type: Option<String>,
    status: u16,
    #[serde(default)]
    json: Option<Value>,
    #[serde(default)]
    error_contains: Option<String>,
    #[serde(default)]
    text_contains: Vec<String>,
    #[serde(default)]
    text_absent: Vec<String>,
    /// Header name -> expected value, or null for "absent".
    #[serde(default)]
    expect_headers: BTreeMap<String, Option<String>>,
    /// Name -> JSON pointer into this reply; later cases' paths and bodies say `{{name}}` for the value.
    #[serde(default)]
    capture: BTreeMap<String, String>,
}

/// `text` with every `{{name}}` replaced by its captured value.
fn fill(text: &str, captured: &BTreeMap<String, String>) -> String {
    captured
        .iter()
        .fold(text.to_string(), |text, (name, value)| {
            text.replace(&format!("{{{{{name}}}}}"), value)
        })
}

fn request(case: &Case, captured: &BTreeMap<String, String>) -> Request<Body> {
    let body = if let Some(size) = case.body_size {
        let padding = "x".repeat(size.saturating_sub(r#"{"context": ""}"#.len()));
        format!("{{\"context\": \"{padding}\"}}")
    } else if let Some(raw) = &case.body_raw {
        raw.clone()
    } else if let Some(body) = &case.body {
        fill(&body.to_string(), captured)
    } else {
        String::new()
    };
    let mut builder = Request::builder()
        .method(case.method.as_str())
        .uri(fill(&case.path, captured));
    if case.body.is_some() || case.body_raw.is_some() || case.body_size.is_some() {
        let content_type = case.content_type.as_deref().unwrap_or("application/json");
        builder = builder.header("content-type", content_type);
    }
    for (name, value) in &case.headers {
        builder = builder.header(name, value);
    }
    builder.body(Body::from(body)).expect("request builds")
}

/// Every way the reply to `case` misses its expectations.
fn check(case: &Case, reply: &common::Reply) -> Vec<String> {
    let mut failures = Vec::new();
    if reply.status.as_u16() != case.status {
        failures.push(format!(
            "status {} instead of {}",
            reply.status, case.status
        ));
    }
    if let Some(expected) = &case.json
        && !contains_json(&reply.json, expected)
    {
        failures.push(format!("body lacks {expected}"));
    }
    if let Some(expected) = &case.error_contains {
        match reply.json.get("error").and_then(Value::as_str) {
            Some(error) if error.contains(expected.as_str()) => {}
            other => failures.push(format!(
                "error {:?} lacks {expected:?}",
                other.map(|e| e.chars().take(400).collect::<String>())
            )),
        }
        if reply
            .json
            .get("error")
            .and_then(Value::as_str)
            .is_some_and(|e| e.chars().count() > 400)
        {
            failures.push("error message is not clipped".to_string());
        }
        if reply.json.as_object().is_some_and(|o| o.len() != 1) {
            failures.push("error body has more than the error field".to_string());
        }
    }
    let text = reply.json.to_string();
    for phrase in &case.text_contains {
        if !text.contains(phrase.as_str()) {
            failures.push(format!("body lacks text {phrase:?}"));
        }
    }
    for phrase in &case.text_absent {
        if text.contains(phrase.as_str()) {
            failures.push(format!("body still holds {phrase:?}"));
        }
    }
    for (name, expected) in &case.expect_headers {
        let actual = reply.headers.get(name).and_then(|v| v.to_str().ok());
        if actual != expected.as_deref() {
            failures.push(format!("header {name}: {actual:?} instead of {expected:?}"));
        }
    }
    if !failures.is_empty() {
        failures.push(format!(
            "body: {}",
            text.chars().take(1500).collect::<String>()
        ));
    }
    failures
}

#[tokio::test]
async fn api_cases() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = app(offline_state(dir.path()).await);
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/api_cases.json"
    ))
    .expect("cases readable");
    let cases: Vec<Case> = serde_json::from_str(&text).expect("cases parse");
    assert!(cases.len() >= 15);
    let mut report = Vec::new();
    let mut captured = BTreeMap::new();
    for case in &cases {
        let reply = send(&app, request(case, &captured)).await;
        for failure in check(case, &reply) {
            report.push(format!("{}: {failure}", case.name));
        }
        for (name, pointer) in &case.capture {
            match reply.json.pointer(pointer).and_then(Value::as_str) {
                Some(value) => {
                    captured.insert(name.clone(), value.to_string());
                }
                None => report.push(format!("{}: nothing to capture at {pointer}", case.name)),
            }
        }
    }
    assert!(
        report.is_empty(),
        "{} failure(s):\n{}",
        report.len(),
        report.join("\n")
    );
}

async fn analyze_seed1(app: &axum::Router) -> String {
    let reply = send(
        app,
        post_json("/v1/analyze", &json!({"context": common::seed1_context()})),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
    let id = reply.json["diagnosis_id"]
        .as_str()
        .expect("diagnosis_id set")
        .to_string();
    assert_eq!(id.len(), 36, "uuid form: {id}");
    id
}

#[tokio::test]
async fn feedback_is_stored_and_replaced() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = app(offline_state(dir.path()).await);
    let id = analyze_seed1(&app).await;
    let other = analyze_seed1(&app).await;
    assert_ne!(id, other, "ids are unique");

    let path = format!("/v1/diagnoses/{id}");
    let before = send(&app, get(&path)).await;
    assert_eq!(before.status, StatusCode::OK);
    assert_eq!(
        before.json,
        json!({"id": id, "rule": "s3.bucket_not_empty", "verdict": null, "comment": null})
    );

    let sequence = [
        (
            json!({"diagnosis_id": id, "verdict": "helpful"}),
            json!("helpful"),
            Value::Null,
        ),
        (
            json!({"diagnosis_id": id, "verdict": "not_helpful", "comment": "named the wrong bucket"}),
            json!("not_helpful"),
            json!("named the wrong bucket"),
        ),
    ];
    for (body, verdict, comment) in sequence {
        let stored = send(&app, post_json("/v1/feedback", &body)).await;
        assert_eq!(stored.status, StatusCode::OK, "{}", stored.json);
        assert_eq!(stored.json, json!({"stored": true}));
        let record = send(&app, get(&path)).await;
        assert_eq!(record.json["verdict"], verdict);
        assert_eq!(record.json["comment"], comment);
    }
    let untouched = send(&app, get(&format!("/v1/diagnoses/{other}"))).await;
    assert_eq!(untouched.json["verdict"], Value::Null);
}

#[tokio::test]
async fn feedback_survives_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let id = {
        let app = app(offline_state(dir.path()).await);
        let id = analyze_seed1(&app).await;
        let stored = send(
            &app,
            post_json(
                "/v1/feedback",
                &json!({"diagnosis_id": id, "verdict": "helpful", "comment": "spot on"}),
            ),
        )
        .await;
        assert_eq!(stored.status, StatusCode::OK);
        id
    };
    assert!(dir.path().join("consoledx.sqlite3").exists());
    let app = app(offline_state(dir.path()).await);
    let record = send(&app, get(&format!("/v1/diagnoses/{id}"))).await;
    assert_eq!(record.status, StatusCode::OK);
    assert_eq!(record.json["verdict"], "helpful");
    assert_eq!(record.json["comment"], "spot on");
}

#[tokio::test]
async fn resolve_without_credentials_keeps_the_knowledge_steps() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = app(offline_state(dir.path()).await);
    let reply = send(
        &app,
        post_json("/v1/resolve", &json!({"context": common::seed2_context()})),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
    let resolution: consoledx_core::api::Resolution =
        serde_json::from_value(reply.json.clone()).expect("a Resolution");
    assert!(!resolution.steps.is_empty(), "{}", reply.json);
    assert!(
        resolution
            .not_checked
            .iter()
            .any(|n| n.contains("no AWS credentials configured")),
        "{:?}",
        resolution.not_checked
    );
}

/// A real socket: bind port 0, serve, and call it with an HTTP client.
#[tokio::test]
async fn tcp_smoke() {
    use http_body_util::BodyExt;
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;

    let dir = tempfile::tempdir().expect("tempdir");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server =
        tokio::spawn(axum::serve(listener, app(offline_state(dir.path()).await)).into_future());
    let client: Client<_, Body> = Client::builder(TokioExecutor::new()).build_http();

    let health = client
        .request(get(&format!("http://{addr}/healthz")))
        .await
        .expect("healthz answers");
    assert_eq!(health.status(), StatusCode::OK);
    let body: Value =
        serde_json::from_slice(&health.into_body().collect().await.expect("body").to_bytes())
            .expect("json");
    assert_eq!(body["status"], "ok");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));

    let analyzed = client
        .request(post_json(
            &format!("http://{addr}/v1/analyze"),
            &json!({"context": common::seed1_context()}),
        ))
        .await
        .expect("analyze answers");
    assert_eq!(analyzed.status(), StatusCode::OK);
    let body: Value = serde_json::from_slice(
        &analyzed
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes(),
    )
    .expect("json");
    assert_eq!(body["rule"], "s3.bucket_not_empty");
    assert_eq!(body["identifiers"]["s3_bucket_name"], "my-bucket-123456");
    server.abort();
}

#[tokio::test]
async fn stored_context_is_redacted_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = app(offline_state(dir.path()).await);
    let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    let context = json!({"message": format!("Signature mismatch with aws_secret_access_key={secret}"), "url": "https://console.aws.amazon.com/iam/home"});
    let reply = send(&app, post_json("/v1/analyze", &json!({"context": context}))).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
    let id = reply.json["diagnosis_id"].as_str().expect("id").to_string();
    // Diagnoses are committed behind the answer; a read through the API waits for the commit.
    let read = send(&app, get(&format!("/v1/diagnoses/{id}"))).await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.json);
    let db = rusqlite::Connection::open(dir.path().join("consoledx.sqlite3")).expect("db opens");
    let stored: String = db
        .query_row(
            "SELECT context_json FROM diagnoses WHERE id = ?1",
            [&id],
            |row| row.get(0),
        )
        .expect("diagnosis stored");
    assert!(!stored.contains(secret), "secret stored: {stored}");
    let stored: Value = serde_json::from_str(&stored).expect("stored context is JSON");
    assert!(stored["redactions"].as_u64().unwrap_or(0) >= 1, "{stored}");
}

/// An endpoint that accepts connections and never answers: every read hits its timeout,
/// and the answer still comes, listing what was not checked.
#[tokio::test]
async fn reads_that_hang_time_out() {
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let endpoint = format!("http://{}", silent.local_addr().expect("addr"));
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let state = common::state_with(
        dir.path(),
        consoledx::AwsSettings {
            endpoint_url: Some(endpoint),
            credentials: consoledx::Credentials::Static {
                access_key_id: "testing".into(),
                secret_access_key: "testing".into(),
            },
            region: Some("us-west-2".into()),
            read_timeout: std::time::Duration::from_millis(300),
            deadline: std::time::Duration::from_millis(800),
        },
    )
    .await;
    let app = app(state);
    let reply = send(
        &app,
        post_json("/v1/resolve", &json!({"context": common::seed2_context()})),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
    let resolution: consoledx_core::api::Resolution =
        serde_json::from_value(reply.json.clone()).expect("a Resolution");
    assert!(
        !resolution.not_checked.is_empty()
            && resolution
                .not_checked
                .iter()
                .all(|n| n.contains("timed out")),
        "{:?}",
        resolution.not_checked
    );
    assert!(!resolution.steps.is_empty());
    holder.abort();
}
