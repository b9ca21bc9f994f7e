//! The few HTTP calls token validation makes (discovery, JWKS,
//! introspection), on the hyper + rustls(ring) stack the backend already builds.

use axum::http::header;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use serde::de::DeserializeOwned;
use std::time::Duration;

/// Each call, connection to last byte.
const TIMEOUT: Duration = Duration::from_secs(5);
/// Discovery documents and key sets are small; more is not one of them.
const RESPONSE_LIMIT: usize = 1024 * 1024;

use crate::model::{HttpsClient, error_chain};

#[derive(Clone)]
pub(super) struct Client {
    http: HttpsClient,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").finish_non_exhaustive()
    }
}

impl Client {
    pub(super) fn new() -> Client {
        Client {
            http: crate::model::https_client(),
        }
    }

    pub(super) async fn get_json<T: DeserializeOwned>(&self, url: &str) -> Result<T, String> {
        let request = axum::http::Request::get(url)
            .header(header::ACCEPT, "application/json")
            .body(Full::new(Bytes::new()))
            .map_err(|e| e.to_string())?;
        self.json(request).await
    }

    /// A form POST with HTTP Basic client authentication (RFC 6749 2.3.1).
    pub(super) async fn post_form<T: DeserializeOwned>(
        &self,
        url: &str,
        client_id: &str,
        client_secret: &str,
        form: &[(&str, &str)],
    ) -> Result<T, String> {
        let encode =
            |text: &str| url::form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>();
        let credentials =
            STANDARD.encode(format!("{}:{}", encode(client_id), encode(client_secret)));
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form.iter())
            .finish();
        let mut authorization = header::HeaderValue::try_from(format!("Basic {credentials}"))
            .map_err(|e| e.to_string())?;
        authorization.set_sensitive(true);
        let request = axum::http::Request::post(url)
            .header(header::ACCEPT, "application/json")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::AUTHORIZATION, authorization)
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        self.json(request).await
    }

    async fn json<T: DeserializeOwned>(
        &self,
        request: axum::http::Request<Full<Bytes>>,
    ) -> Result<T, String> {
        let call = async {
            let response = self
                .http
                .request(request)
                .await
                .map_err(|e| error_chain(&e))?;
            let status = response.status();
            if !status.is_success() {
                return Err(format!("HTTP {status}"));
            }
            let bytes = Limited::new(response.into_body(), RESPONSE_LIMIT)
                .collect()
                .await
                .map_err(|e| e.to_string())?
                .to_bytes();
            serde_json::from_slice(&bytes).map_err(|e| format!("unexpected answer: {e}"))
        };
        tokio::time::timeout(TIMEOUT, call)
            .await
            .map_err(|_| format!("no answer within {} s", TIMEOUT.as_secs()))?
    }
}
