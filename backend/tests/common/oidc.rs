//! The OpenID provider fixture (e2e/oidc/provider.mjs: npm `oidc-provider`
//! on loopback, playing an organization instance, an account instance and
//! an untrusted issuer), started per test and killed when dropped.

use axum::http::{Request, StatusCode};
use bytes::Bytes;
use consoledx::auth::AuthConfig;
use http_body_util::{BodyExt, Full};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The provider fixture, killed when dropped.
pub struct Provider {
    child: Child,
    pub info: ProviderInfo,
    /// The provider's stderr, quoted when it fails to start.
    log: tempfile::NamedTempFile,
}

#[derive(Debug, Deserialize)]
pub struct ProviderInfo {
    pub audience: String,
    pub backend_client_id: String,
    pub backend_client_secret: String,
    pub extension_client_id: String,
    pub issuers: BTreeMap<String, String>,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn e2e_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../e2e")
}

/// CI installs node and e2e/node_modules (`cargo xtask setup`): a missing one is a failure, never a skip.
pub fn start_provider() -> Provider {
    let node = std::env::var_os("NODE")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("node"));
    let module = e2e_dir().join("node_modules/oidc-provider/package.json");
    assert!(
        module.is_file(),
        "{} is missing: run `cargo xtask setup` (or `npm ci` in e2e/) to install the OpenID provider these tests start",
        module.display()
    );
    let log = tempfile::NamedTempFile::new().expect("log file");
    let stderr = log.reopen().expect("log file reopens");
    let mut child = Command::new(&node)
        .arg(e2e_dir().join("oidc/provider.mjs"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(stderr))
        .spawn()
        .unwrap_or_else(|err| {
            panic!(
                "cannot start {} (set NODE to the node binary, or put node on PATH): {err}",
                node.display()
            )
        });
    let stdout = child.stdout.take().expect("piped stdout");
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        let first = lines.next().and_then(Result::ok).unwrap_or_default();
        let _ = sender.send(first);
        // Keep draining: the provider prints notices later, and a closed pipe would kill it.
        for _ in lines {}
    });
    let mut provider = Provider {
        child,
        info: ProviderInfo {
            audience: String::new(),
            backend_client_id: String::new(),
            backend_client_secret: String::new(),
            extension_client_id: String::new(),
            issuers: BTreeMap::new(),
        },
        log,
    };
    let line = receiver
        .recv_timeout(Duration::from_secs(120))
        .unwrap_or_default();
    match serde_json::from_str(&line) {
        Ok(info) => provider.info = info,
        Err(err) => panic!(
            "the OpenID provider fixture did not print its JSON line within 120 s (got {line:?}: {err}); its stderr:\n{}",
            std::fs::read_to_string(provider.log.path()).unwrap_or_default()
        ),
    }
    provider
}

impl Provider {
    pub fn issuer(&self, name: &str) -> &str {
        self.info
            .issuers
            .get(name)
            .unwrap_or_else(|| panic!("the fixture has no issuer {name}"))
    }

    /// Trusts the organization and account instances (not the untrusted one),
    /// introspecting those named in `introspect`.
    pub fn config(&self, extra: &str, introspect: &[&str]) -> AuthConfig {
        self.config_with_admins(extra, introspect, &[])
    }

    /// As [`Provider::config`], with these `user:`/`group:` admins at the organization instance.
    pub fn config_with_admins(
        &self,
        extra: &str,
        introspect: &[&str],
        admins: &[&str],
    ) -> AuthConfig {
        let mut text = format!("{extra}\n");
        for name in ["organization", "account"] {
            text.push_str(&format!(
                "[[issuer]]\nurl = \"{}\"\naudience = \"{}\"\nkind = \"{name}\"\n",
                self.issuer(name),
                self.info.audience,
            ));
            if name == "organization" && !admins.is_empty() {
                let quoted: Vec<String> = admins.iter().map(|a| format!("\"{a}\"")).collect();
                text.push_str(&format!("admins = [{}]\n", quoted.join(", ")));
            }
            if introspect.contains(&name) {
                text.push_str(&format!(
                    "[issuer.introspection]\nclient_id = \"{}\"\nclient_secret_env = \"FIXTURE_SECRET\"\n",
                    self.info.backend_client_id,
                ));
            }
        }
        let secret = self.info.backend_client_secret.clone();
        AuthConfig::parse(&text, |name| {
            (name == "FIXTURE_SECRET").then(|| secret.clone())
        })
        .expect("fixture config is valid")
    }

    pub async fn token(&self, issuer: &str, params: &BTreeMap<String, Value>) -> String {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params.iter().map(|(key, value)| {
                let text = match value {
                    Value::String(text) => text.clone(),
                    other => other.to_string(),
                };
                (key.clone(), text)
            }))
            .finish();
        let url = format!("{}/test/token?{query}", self.issuer(issuer));
        let (status, body) = http(Request::get(url).body(Full::new(Bytes::new())).unwrap()).await;
        assert_eq!(status, StatusCode::OK, "fixture token: {body}");
        body["access_token"]
            .as_str()
            .expect("access_token")
            .to_string()
    }

    /// The extension signing out: its own token revoked at the provider's revocation endpoint.
    pub async fn revoke(&self, issuer: &str, token: &str) {
        let form = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("token", token)
            .append_pair("client_id", &self.info.extension_client_id)
            .finish();
        let request = Request::post(format!("{}/token/revocation", self.issuer(issuer)))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Full::new(Bytes::from(form)))
            .unwrap();
        let (status, body) = http(request).await;
        assert_eq!(status, StatusCode::OK, "revocation: {body}");
    }

    pub async fn rotate(&self, issuer: &str) {
        let request = Request::post(format!("{}/test/rotate", self.issuer(issuer)))
            .body(Full::new(Bytes::new()))
            .unwrap();
        let (status, body) = http(request).await;
        assert_eq!(status, StatusCode::OK, "rotate: {body}");
    }
}

/// One real HTTP/1 request over TCP.
pub async fn http(request: Request<Full<Bytes>>) -> (StatusCode, Value) {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<Bytes>>();
    let response = client
        .request(request)
        .await
        .expect("HTTP request answered");
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (status, body)
}
