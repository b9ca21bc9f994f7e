//! The backend client: JSON over `fetch`, with a deadline.

use serde::Serialize;
use serde::de::DeserializeOwned;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, Request, RequestInit, Response};

#[wasm_bindgen]
extern "C" {
    /// The global `fetch`, present in windows and workers alike.
    #[wasm_bindgen(js_name = fetch)]
    fn global_fetch(request: &Request) -> js_sys::Promise;
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum BackendError {
    #[error("the backend URL {0:?} is not an http(s) URL")]
    BadUrl(String),
    #[error("no answer within {0} ms")]
    Timeout(u32),
    #[error("the connection failed ({0})")]
    Unreachable(String),
    #[error("HTTP {status}: {message}")]
    Status { status: u16, message: String },
    #[error("the answer was not what consoledx expects ({0})")]
    Malformed(String),
}

impl BackendError {
    /// Whether the backend could not be asked at all (as opposed to answering badly).
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self,
            BackendError::Timeout(_) | BackendError::Unreachable(_)
        )
    }
}

pub struct Backend<'a> {
    pub base_url: &'a str,
    /// Added to every request: any `HeadersInit` (the loader's `[name, value]`
    /// pairs), or undefined for none (see `Settings`).
    pub headers: &'a JsValue,
    pub timeout_ms: u32,
}

impl Backend<'_> {
    pub fn endpoint(&self, path: &str) -> Result<String, BackendError> {
        // The browser's WHATWG URL parser: the url crate's standard, without its code in the wasm.
        let base = web_sys::Url::new(self.base_url.trim())
            .map_err(|_| BackendError::BadUrl(self.base_url.into()))?;
        if !matches!(base.protocol().as_str(), "http:" | "https:") {
            return Err(BackendError::BadUrl(self.base_url.into()));
        }
        Ok(format!("{}{path}", base.href().trim_end_matches('/')))
    }

    pub async fn post<B: Serialize, R: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<R, BackendError> {
        let body =
            serde_json::to_string(body).map_err(|e| BackendError::Malformed(e.to_string()))?;
        let text = self.send("POST", path, Some(body)).await?;
        parse(&text)
    }

    pub async fn get<R: DeserializeOwned>(&self, path: &str) -> Result<R, BackendError> {
        let text = self.send("GET", path, None).await?;
        parse(&text)
    }

    /// Sends one request; an empty success body reads as `null`.
    async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<String>,
    ) -> Result<String, BackendError> {
        let url = self.endpoint(path)?;
        let controller = AbortController::new()
            .map_err(js_reason)
            .map_err(BackendError::Unreachable)?;
        let init = RequestInit::new();
        init.set_method(method);
        init.set_signal(Some(&controller.signal()));
        init.set_headers(self.headers);
        if let Some(body) = &body {
            init.set_body(&JsValue::from_str(body));
        }
        let request = Request::new_with_str_and_init(&url, &init)
            .map_err(|e| BackendError::BadUrl(js_reason(e)))?;
        let headers = request.headers();
        let set = |name: &str, value: &str| {
            headers
                .set(name, value)
                .map_err(|e| BackendError::Malformed(js_reason(e)))
        };
        set("accept", "application/json")?;
        if body.is_some() {
            set("content-type", "application/json")?;
        }

        // Dropping the timer cancels it, so it lives exactly as long as this request.
        let abort = controller.clone();
        let _deadline = gloo_timers::callback::Timeout::new(self.timeout_ms, move || abort.abort());
        let timed_out = |e: JsValue| {
            if controller.signal().aborted() {
                BackendError::Timeout(self.timeout_ms)
            } else {
                BackendError::Unreachable(js_reason(e))
            }
        };
        let response: Response = JsFuture::from(global_fetch(&request))
            .await
            .map_err(timed_out)?
            .unchecked_into();
        let text_promise = response
            .text()
            .map_err(|e| BackendError::Malformed(js_reason(e)))?;
        let text = JsFuture::from(text_promise)
            .await
            .map_err(timed_out)?
            .as_string()
            .unwrap_or_default();
        if !response.ok() {
            return Err(BackendError::Status {
                status: response.status(),
                message: error_message(&text),
            });
        }
        Ok(if text.trim().is_empty() {
            "null".into()
        } else {
            text
        })
    }
}

fn parse<R: DeserializeOwned>(text: &str) -> Result<R, BackendError> {
    serde_json::from_str(text).map_err(|e| BackendError::Malformed(e.to_string()))
}

/// The backend's error body: its sentence for people (`message`, sent with
/// sign-in and access refusals) when there is one, else its `error`, else
/// the start of whatever came back.
fn error_message(body: &str) -> String {
    // `Value`: its code is in the wasm already (health answers), a struct's would not be.
    let value: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    ["message", "error"]
        .iter()
        .find_map(|key| {
            value
                .get(key)?
                .as_str()
                .filter(|text| !text.trim().is_empty())
        })
        .map_or_else(|| body.chars().take(200).collect(), str::to_owned)
}

pub fn js_reason(value: JsValue) -> String {
    value
        .dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| value.as_string())
        .unwrap_or_else(|| "unknown error".into())
}
