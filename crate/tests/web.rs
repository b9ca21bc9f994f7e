//! The wasm core in a real browser (headless Chromium through
//! wasm-bindgen-test-runner): messages in, tagged replies out.

use consoledx_wasm::Core;
use serde::Serialize;
use serde_json::{Value, json};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// Nothing listens on the discard port, so the connection is refused at once.
const UNREACHABLE: &str = "http://127.0.0.1:9";

async fn ask(message: Value, settings: Value) -> Value {
    let core = Core::new().expect("the built-in knowledge base loads");
    // Plain objects, as chrome.runtime messaging and chrome.storage deliver them.
    let to_js = |v: &Value| {
        v.serialize(&serde_wasm_bindgen::Serializer::json_compatible())
            .expect("test JSON converts")
    };
    let reply = JsFuture::from(core.handle_message(to_js(&message), to_js(&settings)))
        .await
        .expect("handleMessage never rejects");
    serde_wasm_bindgen::from_value(reply).expect("replies are plain JSON")
}

fn seed_bucket_not_empty() -> Value {
    json!({
        "url": "https://s3.console.aws.amazon.com/s3/bucket/my-bucket-123456/delete?region=us-west-2",
        "header": "Failed to delete bucket",
        "content": "This bucket is not empty. Buckets must be empty before they can be deleted. To delete all objects in the bucket, use the empty bucket configuration.",
        "bannerKind": "flashbar",
        "navUserLabel": "ReadOnly/alice",
        "navUserTitle": "ReadOnly/alice @ 1234-5678-9012",
        "metaRegion": "us-west-2",
        "fields": []
    })
}

#[wasm_bindgen_test]
async fn spec_names_every_banner_kind() {
    let reply = ask(json!({"type": "GetSpec"}), Value::Null).await;
    assert_eq!(reply["type"], "Spec");
    let kinds: Vec<&str> = reply["spec"]["banners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["flashbar", "alert", "field", "legacy-flash", "legacy-alert"]
    );
    assert_eq!(reply["spec"]["fields"]["maxFields"], 20);
}

#[wasm_bindgen_test]
async fn unreachable_backend_gives_local_analysis_with_retry() {
    let reply = ask(
        json!({"type": "Diagnose", "snapshot": seed_bucket_not_empty()}),
        json!({"backendUrl": UNREACHABLE}),
    )
    .await;
    assert_eq!(reply["type"], "Diagnosis", "{reply}");
    let view = &reply["view"];
    assert_eq!(view["source"], "local");
    assert_eq!(view["retryable"], true);
    assert!(
        view["notice"]
            .as_str()
            .unwrap()
            .contains("Cannot reach the consoledx backend at http://127.0.0.1:9"),
        "{view}"
    );
    assert!(
        view["analysis"]
            .as_str()
            .unwrap()
            .contains("my-bucket-123456"),
        "{view}"
    );
    assert_eq!(
        view["context"]["identifiers"]["aws_account_id"],
        "123456789012"
    );
    assert!(
        view["sent"]["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|item| item["label"] == "Page URL")
    );
}

#[wasm_bindgen_test]
async fn resolve_without_backend_is_a_retryable_error() {
    let context = json!({"message": "x", "url": "https://s3.console.aws.amazon.com/s3/buckets"});
    let reply = ask(
        json!({"type": "Resolve", "context": context}),
        json!({"backendUrl": UNREACHABLE}),
    )
    .await;
    assert_eq!(reply["type"], "Error");
    assert_eq!(reply["retryable"], true);
    assert!(
        reply["message"]
            .as_str()
            .unwrap()
            .starts_with("Cannot reach the consoledx backend"),
        "{reply}"
    );
}

#[wasm_bindgen_test]
async fn malformed_messages_get_a_specific_error() {
    let reply = ask(json!({"type": "Explode"}), Value::Null).await;
    assert_eq!(reply["type"], "Error");
    assert!(
        reply["message"]
            .as_str()
            .unwrap()
            .contains("malformed message"),
        "{reply}"
    );
    let reply = ask(
        json!({"type": "Diagnose", "snapshot": seed_bucket_not_empty()}),
        json!({"backendUrl": "ftp://example"}),
    )
    .await;
    // A misconfigured backend still leaves the user an analysis, and says why.
    assert_eq!(reply["type"], "Diagnosis", "{reply}");
    assert_eq!(reply["view"]["source"], "local", "{reply}");
    assert!(
        reply["view"]["notice"]
            .as_str()
            .unwrap()
            .contains("not an http(s) URL"),
        "{reply}"
    );
}

#[wasm_bindgen_test]
async fn a_bad_redaction_pattern_is_named() {
    let settings = json!({"backendUrl": UNREACHABLE, "redactionPatterns": ["(unclosed"]});
    let reply = ask(
        json!({"type": "Diagnose", "snapshot": seed_bucket_not_empty()}),
        settings,
    )
    .await;
    assert_eq!(reply["type"], "Error");
    assert!(
        reply["message"].as_str().unwrap().contains("(unclosed"),
        "{reply}"
    );
}

/// One backend answer (data/backend-answers.json): what the core sends and
/// what the user reads back.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AnswerCase {
    name: String,
    request: String,
    headers: Vec<(String, String)>,
    status: u16,
    body: String,
    /// Header name -> the value sent, or null for not sent.
    sent: std::collections::BTreeMap<String, Option<String>>,
    /// The reply's `type`; the texts below are checked against what the
    /// user reads of it (the panel's notice, the error, the connection line).
    reply_type: String,
    reply_contains: Vec<String>,
    reply_lacks: Vec<String>,
    /// The active profile's runbook hosts (settings `linkHosts`).
    #[serde(default)]
    link_hosts: Vec<String>,
    /// Every link the view offers (docs, then steps), when checked.
    #[serde(default)]
    links: Option<Vec<String>>,
}

/// Replaces `fetch` with one that records each request's headers and answers
/// `status` / `body`; returns the recorder's list.
fn stub_fetch(status: u16, body: &str) -> js_sys::Array {
    let seen = js_sys::Array::new();
    let install = js_sys::Function::new_with_args(
        "seen, status, body",
        "globalThis.__realFetch ??= globalThis.fetch;
         globalThis.fetch = async (request) => {
           seen.push(Object.fromEntries(request.headers));
           return new Response(body, { status });
         };",
    );
    install
        .call3(
            &wasm_bindgen::JsValue::NULL,
            &seen,
            &status.into(),
            &body.into(),
        )
        .expect("the stub installs");
    seen
}

fn restore_fetch() {
    js_sys::Function::new_no_args("globalThis.fetch = globalThis.__realFetch ?? globalThis.fetch;")
        .call0(&wasm_bindgen::JsValue::NULL)
        .expect("fetch restores");
}

async fn check(case: &AnswerCase) -> Vec<String> {
    let mut problems = Vec::new();
    let seen = stub_fetch(case.status, &case.body);
    let message = match case.request.as_str() {
        "Diagnose" => json!({"type": "Diagnose", "snapshot": seed_bucket_not_empty()}),
        "Resolve" => {
            json!({"type": "Resolve", "context": {"message": "x", "url": "https://s3.console.aws.amazon.com/s3/buckets"}})
        }
        other => json!({"type": other}),
    };
    let reply = ask(
        message,
        json!({"backendUrl": UNREACHABLE, "headers": case.headers, "linkHosts": case.link_hosts}),
    )
    .await;
    restore_fetch();
    if let Some(expected) = &case.links {
        let view = &reply["view"];
        let links: Vec<&str> = view["docs"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|doc| doc["url"].as_str())
            .chain(
                view["steps"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|step| step["link"].as_str()),
            )
            .collect();
        if links != *expected {
            problems.push(format!(
                "{}: links {links:?}, expected {expected:?}",
                case.name
            ));
        }
    }
    if reply["type"] != case.reply_type.as_str() {
        problems.push(format!(
            "{}: reply type {}, expected {}",
            case.name, reply["type"], case.reply_type
        ));
    }
    let text = [
        &reply["view"]["notice"],
        &reply["message"],
        &reply["detail"],
    ]
    .into_iter()
    .filter_map(Value::as_str)
    .collect::<Vec<_>>()
    .join("\n");
    for wanted in &case.reply_contains {
        if !text.contains(wanted.as_str()) {
            problems.push(format!("{}: reply lacks {wanted:?}: {text}", case.name));
        }
    }
    for unwanted in &case.reply_lacks {
        if text.contains(unwanted.as_str()) {
            problems.push(format!("{}: reply has {unwanted:?}: {text}", case.name));
        }
    }
    let sent: Vec<Value> = serde_wasm_bindgen::from_value(seen.into()).unwrap_or_default();
    if sent.len() != 1 {
        problems.push(format!(
            "{}: {} requests sent, expected 1",
            case.name,
            sent.len()
        ));
    }
    for request in &sent {
        for (name, expected) in &case.sent {
            let actual = request.get(name).and_then(Value::as_str);
            if actual != expected.as_deref() {
                problems.push(format!(
                    "{}: header {name} sent as {actual:?}, expected {expected:?}",
                    case.name
                ));
            }
        }
    }
    problems
}

#[wasm_bindgen_test]
async fn backend_answers_and_headers() {
    let cases: Vec<AnswerCase> = serde_json::from_str(include_str!("data/backend-answers.json"))
        .expect("data/backend-answers.json is valid");
    let mut problems = Vec::new();
    for case in &cases {
        problems.extend(check(case).await);
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
