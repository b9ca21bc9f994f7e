//! Helpers shared by the backend's integration tests.
#![allow(dead_code)]

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use consoledx::{AppState, AwsSettings, Config, Credentials};
use http_body_util::BodyExt;
use serde_json::Value;
use std::path::Path;
use tower::ServiceExt;

/// An app on `data_dir` that makes no AWS calls (every read: no credentials).
pub async fn offline_state(data_dir: &Path) -> AppState {
    state_with(
        data_dir,
        AwsSettings {
            credentials: Credentials::None,
            ..AwsSettings::default()
        },
    )
    .await
}

pub async fn state_with(data_dir: &Path, aws: AwsSettings) -> AppState {
    AppState::open(&Config::new(data_dir.to_path_buf(), aws))
        .await
        .expect("app state opens")
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub json: Value,
}

/// Sends one request through the router (no socket).
pub async fn send(app: &Router, request: Request<Body>) -> Reply {
    let response = app.clone().oneshot(request).await.expect("router answers");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body readable")
        .to_bytes();
    let json = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    };
    Reply {
        status,
        headers,
        json,
    }
}

pub fn post_json(path: &str, body: &Value) -> Request<Body> {
    Request::post(path)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .expect("request builds")
}

pub fn get(path: &str) -> Request<Body> {
    Request::get(path)
        .body(Body::empty())
        .expect("request builds")
}

/// Whether `actual` holds everything in `expected`: objects by key, arrays element-wise in order as a subsequence.
pub fn contains_json(actual: &Value, expected: &Value) -> bool {
    match (actual, expected) {
        (Value::Object(actual), Value::Object(expected)) => expected
            .iter()
            .all(|(key, value)| actual.get(key).is_some_and(|a| contains_json(a, value))),
        (Value::Array(actual), Value::Array(expected)) => {
            let mut rest = actual.iter();
            expected.iter().all(|e| rest.any(|a| contains_json(a, e)))
        }
        (Value::String(actual), Value::String(expected)) => actual.contains(expected.as_str()),
        _ => actual == expected,
    }
}

/// The S3 console context of seed example 1 (deleting a non-empty bucket), as the core interprets it.
pub fn seed1_context() -> consoledx_core::ErrorContext {
    consoledx_core::interpret(
        &consoledx_core::Snapshot {
            url: "https://s3.console.aws.amazon.com/s3/bucket/my-bucket-123456/delete?region=us-west-2".into(),
            content: "Failed to delete bucket my-bucket-123456. This bucket is not empty. Buckets must be empty before they can be deleted. To delete all objects in the bucket, use the empty bucket configuration.".into(),
            nav_user_label: Some("Admin/alice".into()),
            nav_user_title: Some("Admin/alice @ 1234-5678-9012".into()),
            ..Default::default()
        },
        &consoledx_core::Redactor::default(),
    )
}

/// Seed example 2 (listing a bucket as role ReadOnly), as the core interprets it.
pub fn seed2_context() -> consoledx_core::ErrorContext {
    consoledx_core::interpret(
        &consoledx_core::Snapshot {
            url: "https://s3.console.aws.amazon.com/s3/buckets/my-bucket-123456?region=us-west-2&bucketType=general&tab=objects".into(),
            header: "Insufficient permissions to list objects".into(),
            content: "After you or your AWS administrator has updated your permissions to allow the s3:ListBucket action, refresh the page. Learn more about Identity and access management in Amazon S3.".into(),
            nav_user_label: Some("ReadOnly/alice".into()),
            nav_user_title: Some("ReadOnly/alice @ 1234-5678-9012".into()),
            ..Default::default()
        },
        &consoledx_core::Redactor::default(),
    )
}
pub mod moto;
pub mod oidc;
pub mod postgres;
