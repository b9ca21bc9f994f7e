//! Bearer-token validation against a real OpenID provider: `oidc-provider`
//! from npm (e2e/oidc/provider.mjs) on loopback, playing an IAM Identity
//! Center organization instance, an account instance and an untrusted
//! issuer. Cases are tables in `tests/data/auth/`.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use bytes::Bytes;
use common::oidc::{Provider, http, start_provider};
use common::{contains_json, offline_state, send};
use consoledx::auth::{AuthConfig, Authenticator};
use consoledx::{AppState, app};
use http_body_util::Full;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

async fn state_with_auth(config: AuthConfig) -> (AppState, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = offline_state(dir.path())
        .await
        .with_authenticator(Authenticator::new(config));
    (state, dir)
}

fn request(path: &str, authorization: Option<&str>) -> Request<Body> {
    let mut builder = Request::get(path);
    if let Some(value) = authorization {
        builder = builder.header("authorization", value);
    }
    builder.body(Body::empty()).expect("request builds")
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenCase {
    name: String,
    /// Which fixture issuer mints the token (none: the header alone is the case).
    #[serde(default)]
    issuer: Option<String>,
    /// Query of the fixture's /test/token.
    #[serde(default)]
    token: BTreeMap<String, Value>,
    /// Authorization header; `{token}` stands for the minted token, null for no header.
    #[serde(default = "bearer_header")]
    header: Option<String>,
    #[serde(default = "whoami")]
    path: String,
    #[serde(default)]
    revoke: bool,
    #[serde(default)]
    revoke_after_first_use: bool,
    status: u16,
    #[serde(default)]
    error: Option<String>,
    /// Expected subset of the /v1/whoami answer; `{issuer name}` stands for that issuer's URL.
    #[serde(default)]
    caller: Option<Value>,
}

fn bearer_header() -> Option<String> {
    Some("Bearer {token}".to_string())
}

fn whoami() -> String {
    "/v1/whoami".to_string()
}

fn fill_issuers(value: &Value, provider: &Provider) -> Value {
    match value {
        Value::String(text) => Value::String(
            provider
                .info
                .issuers
                .iter()
                .fold(text.clone(), |text, (name, url)| {
                    text.replace(&format!("{{{name}}}"), url)
                }),
        ),
        Value::Array(items) => {
            Value::Array(items.iter().map(|v| fill_issuers(v, provider)).collect())
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), fill_issuers(v, provider)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Checks one 401 the way a client sees it: code, a plain message, and the challenge header.
fn check_rejection(name: &str, reply: &common::Reply, code: &str) {
    assert_eq!(reply.json["error"], json!(code), "{name}: {}", reply.json);
    let message = reply.json["message"].as_str().unwrap_or_default();
    assert!(
        message.ends_with('.')
            && message.len() > 20
            && !message.contains("Error")
            && !message.contains("::"),
        "{name}: message should be a plain sentence, got {message:?}"
    );
    let challenge = reply
        .headers
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(
        challenge.starts_with("Bearer "),
        "{name}: WWW-Authenticate {challenge:?}"
    );
    if code != "missing_token" {
        assert!(
            challenge.contains(r#"error="invalid_token""#)
                && challenge.contains("error_description="),
            "{name}: WWW-Authenticate {challenge:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_cases() {
    let provider = start_provider();
    // No introspection cache, so a revocation shows on the next request; the
    // account instance is not introspected (its revocations go unseen until expiry).
    let (state, _dir) =
        state_with_auth(provider.config("introspection_cache_seconds = 0", &["organization"]))
            .await;
    let router = app(state);
    let text = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/auth/token_cases.json"),
    )
    .expect("token cases");
    let cases: Vec<TokenCase> = serde_json::from_str(&text).expect("token cases parse");
    let mut failures = Vec::new();
    for case in &cases {
        let token = match &case.issuer {
            Some(issuer) => provider.token(issuer, &case.token).await,
            None => String::new(),
        };
        let header = case.header.as_ref().map(|h| h.replace("{token}", &token));
        if case.revoke_after_first_use {
            let first = send(&router, request(&case.path, header.as_deref())).await;
            if first.status != StatusCode::OK {
                failures.push(format!(
                    "{}: before revocation {} {}",
                    case.name, first.status, first.json
                ));
                continue;
            }
        }
        if case.revoke || case.revoke_after_first_use {
            let issuer = case
                .issuer
                .as_deref()
                .expect("a revoked case names its issuer");
            provider.revoke(issuer, &token).await;
        }
        let reply = send(&router, request(&case.path, header.as_deref())).await;
        if reply.status.as_u16() != case.status {
            failures.push(format!(
                "{}: status {} (wanted {}), {}",
                case.name, reply.status, case.status, reply.json
            ));
            continue;
        }
        if let Some(code) = &case.error {
            check_rejection(&case.name, &reply, code);
        }
        if let Some(expected) = &case.caller {
            let expected = fill_issuers(expected, &provider);
            // Groups exactly: a forged extra group must never slip through as a superset.
            let groups_match = expected
                .get("groups")
                .is_none_or(|groups| reply.json["groups"] == *groups);
            if !contains_json(&reply.json, &expected) || !groups_match {
                failures.push(format!(
                    "{}: caller {} (wanted {expected})",
                    case.name, reply.json
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// The provider rotates its key: the backend picks up the new one without a
/// restart, and an unknown kid refetches at most once per interval.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_rotation_is_picked_up() {
    let provider = start_provider();
    let (eager, _dir1) =
        state_with_auth(provider.config("jwks_refetch_interval_seconds = 0", &[])).await;
    let (patient, _dir2) =
        state_with_auth(provider.config("jwks_refetch_interval_seconds = 3600", &[])).await;
    let (eager, patient) = (app(eager), app(patient));
    let user: BTreeMap<String, Value> = [
        ("sub".to_string(), json!("u-orange-1")),
        ("groups".to_string(), json!("orange")),
    ]
    .into_iter()
    .collect();
    for issuer in ["organization", "account"] {
        let before = format!("Bearer {}", provider.token(issuer, &user).await);
        for router in [&eager, &patient] {
            let reply = send(router, request("/v1/whoami", Some(&before))).await;
            assert_eq!(
                reply.status,
                StatusCode::OK,
                "{issuer} before rotation: {}",
                reply.json
            );
        }
        provider.rotate(issuer).await;
        let after = format!("Bearer {}", provider.token(issuer, &user).await);
        assert_ne!(
            before.split('.').next(),
            after.split('.').next(),
            "{issuer}: the rotated token names a new kid"
        );
        let reply = send(&eager, request("/v1/whoami", Some(&after))).await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "{issuer} new key: {}",
            reply.json
        );
        assert_eq!(reply.json["groups"], json!(["orange"]));
        let reply = send(&eager, request("/v1/whoami", Some(&before))).await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "{issuer} old key still published: {}",
            reply.json
        );
        let reply = send(&patient, request("/v1/whoami", Some(&after))).await;
        assert_eq!(
            reply.status,
            StatusCode::UNAUTHORIZED,
            "{issuer}: refetch is rate-limited"
        );
        check_rejection("rate-limited refetch", &reply, "bad_signature");
    }
}

/// The real server over TCP: the token travels in a real header, the 401 and its challenge come back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_tcp_request() {
    let provider = start_provider();
    let (state, _dir) = state_with_auth(provider.config("", &["organization", "account"])).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let server = tokio::spawn(async move { axum::serve(listener, app(state)).await });
    let user: BTreeMap<String, Value> = [
        ("sub".to_string(), json!("u-blue-1")),
        ("username".to_string(), json!("blair")),
        ("groups".to_string(), json!("blue,charlie-users")),
    ]
    .into_iter()
    .collect();
    let token = provider.token("account", &user).await;
    let url = format!("http://{address}/v1/whoami");
    let (status, body) = http(
        Request::get(&url)
            .header("authorization", format!("Bearer {token}"))
            .body(Full::new(Bytes::new()))
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["identity_source_kind"], json!("account"));
    assert_eq!(body["username"], json!("blair"));
    assert_eq!(body["groups"], json!(["blue", "charlie-users"]));
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<Bytes>>();
    let response = client
        .request(Request::get(&url).body(Full::new(Bytes::new())).unwrap())
        .await
        .expect("answered");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.headers().contains_key("www-authenticate"));
    server.abort();
}

/// Without an auth config the backend serves everyone, as before.
#[tokio::test]
async fn no_auth_config_serves_everyone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let router = app(offline_state(dir.path()).await);
    let reply = send(&router, request("/v1/feedback/summary", None)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
    let reply = send(&router, request("/v1/whoami", None)).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "{}", reply.json);
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigCase {
    name: String,
    toml: String,
    #[serde(default)]
    ok: bool,
    #[serde(default)]
    error: Option<String>,
}

fn check_config(case: &ConfigCase) -> Result<(), String> {
    let outcome = AuthConfig::parse(&case.toml, |name| {
        (name == "SECRET_SET").then(|| "s3cret".to_string())
    });
    match (outcome, &case.error) {
        (Ok(_), None) if case.ok => Ok(()),
        (Err(err), Some(expected)) if err.to_string().contains(expected.as_str()) => Ok(()),
        (Ok(_), _) => Err(format!(
            "{}: accepted, wanted error {:?}",
            case.name, case.error
        )),
        (Err(err), _) => Err(format!(
            "{}: error {err:?} (wanted {:?})",
            case.name, case.error
        )),
    }
}

#[test]
fn config_cases() {
    let text = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/auth/config_cases.json"),
    )
    .expect("config cases");
    let cases: Vec<ConfigCase> = serde_json::from_str(&text).expect("config cases parse");
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|case| check_config(case).err())
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Within `introspection_cache_seconds` the issuer's last answer stands: a
/// revocation shows once it runs out, not on every request's round trip.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn introspection_answers_are_cached_briefly() {
    let provider = start_provider();
    let (state, _dir) =
        state_with_auth(provider.config("introspection_cache_seconds = 1", &["organization"]))
            .await;
    let router = app(state);
    let user: BTreeMap<String, Value> = [("sub".to_string(), json!("u-alpha-9"))]
        .into_iter()
        .collect();
    let token = provider.token("organization", &user).await;
    let header = format!("Bearer {token}");
    let reply = send(&router, request("/v1/whoami", Some(&header))).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
    provider.revoke("organization", &token).await;
    let reply = send(&router, request("/v1/whoami", Some(&header))).await;
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "cached answer: {}",
        reply.json
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let reply = send(&router, request("/v1/whoami", Some(&header))).await;
    check_rejection("after the cache ran out", &reply, "token_revoked");
}

/// `consoledx serve --auth-config`: a bad file stops the start with exit 2
/// and the reason; a good one makes the real server demand tokens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_flag() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[[issuer]]\nurl = \"http://id.example.com\"\naudience = \"x\"\nkind = \"oidc\"\n",
    )
    .expect("write");
    let output = Command::new(env!("CARGO_BIN_EXE_consoledx"))
        .args(["serve", "--addr", "127.0.0.1:0", "--auth-config"])
        .arg(&bad)
        .arg("--data-dir")
        .arg(dir.path().join("store"))
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("must use https"), "{stderr}");

    let provider = start_provider();
    let good = dir.path().join("auth.toml");
    std::fs::write(
        &good,
        format!(
            "[[issuer]]\nurl = \"{}\"\naudience = \"{}\"\nkind = \"organization\"\n\
             [issuer.introspection]\nclient_id = \"{}\"\nclient_secret_env = \"CONSOLEDX_TEST_INTROSPECTION\"\n",
            provider.issuer("organization"),
            provider.info.audience,
            provider.info.backend_client_id,
        ),
    )
    .expect("write");
    let mut child = Command::new(env!("CARGO_BIN_EXE_consoledx"))
        .args(["serve", "--addr", "127.0.0.1:0", "--auth-config"])
        .arg(&good)
        .arg("--data-dir")
        .arg(dir.path().join("store"))
        .env(
            "CONSOLEDX_TEST_INTROSPECTION",
            &provider.info.backend_client_secret,
        )
        .env_remove("AWS_ENDPOINT_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("backend starts");
    let stdout = child.stdout.take().expect("stdout");
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        line
    })
    .await
    .expect("reader");
    let base = line
        .trim()
        .strip_prefix("consoledx listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    let user: BTreeMap<String, Value> = [
        ("sub".to_string(), json!("u-grey-5")),
        ("groups".to_string(), json!("grey,bravo-users")),
    ]
    .into_iter()
    .collect();
    let token = provider.token("organization", &user).await;
    let whoami = |authorization: Option<String>| {
        let mut builder = Request::get(format!("{base}/v1/whoami"));
        if let Some(value) = authorization {
            builder = builder.header("authorization", value);
        }
        builder.body(Full::new(Bytes::new())).expect("request")
    };
    let (status, body) = http(whoami(Some(format!("Bearer {token}")))).await;
    let (anonymous, anonymous_body) = http(whoami(None)).await;
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["groups"], json!(["grey", "bravo-users"]));
    assert_eq!(anonymous, StatusCode::UNAUTHORIZED, "{anonymous_body}");
    assert_eq!(anonymous_body["error"], json!("missing_token"));
}
