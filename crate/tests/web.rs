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
