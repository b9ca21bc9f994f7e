//! A real moto server per test, recording the requests it receives, and an
//! SDK configuration that seeds it.

use aws_config::{BehaviorVersion, Region, SdkConfig};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const REGION: &str = "us-west-2";

pub struct Moto {
    child: Child,
    pub url: String,
    /// moto's request recorder file (`MOTO_RECORDER_FILEPATH`).
    pub recording: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn moto_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("MOTO_SERVER").filter(|p| !p.is_empty()) {
        return PathBuf::from(path);
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/moto_server");
    if venv.is_file() {
        return venv;
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("moto_server"))
            .find(|candidate| candidate.is_file())
    });
    on_path.unwrap_or_else(|| {
        panic!(
            "moto_server not found: set MOTO_SERVER, or install moto[server] into {}/../.venv, or put moto_server on PATH",
            env!("CARGO_MANIFEST_DIR")
        )
    })
}

pub fn start_moto() -> Moto {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let dir = tempfile::tempdir().expect("tempdir");
    let recording = dir.path().join("requests.jsonl");
    let binary = moto_binary();
    let child = Command::new(&binary)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .env("MOTO_RECORDER_FILEPATH", &recording)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|err| panic!("cannot start {}: {err}", binary.display()));
    let moto = Moto {
        child,
        url: format!("http://127.0.0.1:{port}"),
        recording,
        _dir: dir,
    };
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "moto_server ({}) did not listen on port {port} within 30 s",
            binary.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    moto
}

/// POSTs to one of moto's own endpoints (`/moto-api/reset`, the recorder's).
pub async fn moto_api(moto: &Moto, path: &str) {
    use http_body_util::Empty;
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;
    let client: Client<_, Empty<axum::body::Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    let request = axum::http::Request::post(format!("{}{path}", moto.url))
        .body(Empty::new())
        .expect("request builds");
    let response = client.request(request).await.expect("moto answers");
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
}

pub async fn seeding_config(url: &str) -> SdkConfig {
    config_with_credentials(
        url,
        aws_sdk_sts::config::Credentials::new("testing", "testing", None, None, "test"),
    )
    .await
}

/// An SDK configuration for moto at `url` signing with `credentials`.
pub async fn config_with_credentials(
    url: &str,
    credentials: aws_sdk_sts::config::Credentials,
) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(
            aws_smithy_http_client::Builder::new()
                .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                    aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
                ))
                .build_https(),
        )
        .region(Region::new(REGION))
        .endpoint_url(url)
        .credentials_provider(credentials)
        .load()
        .await
}

/// Versioning on, and two versions of one object in `bucket`.
pub async fn versioned_objects(s3: &aws_sdk_s3::Client, bucket: &str) {
    use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
    s3.put_bucket_versioning()
        .bucket(bucket)
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .expect("enable versioning");
    for body in ["v1", "v2"] {
        s3.put_object()
            .bucket(bucket)
            .key("reports/2024.csv")
            .body(aws_sdk_s3::primitives::ByteStream::from_static(
                body.as_bytes(),
            ))
            .send()
            .await
            .expect("put object");
    }
}

/// Sends a raw request to moto (calls the SDK cannot address on loopback,
/// such as S3 Control's account host); moto does not check signatures.
pub async fn moto_send(
    moto: &Moto,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: String,
) {
    use http_body_util::Full;
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;
    let client: Client<_, Full<axum::body::Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    let mut request = axum::http::Request::builder()
        .method(method)
        .uri(format!("{}{path}", moto.url));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request
        .body(Full::new(axum::body::Bytes::from(body)))
        .expect("request builds");
    let response = client.request(request).await.expect("moto answers");
    assert!(
        response.status().is_success(),
        "{method} {path}: {}",
        response.status()
    );
}
