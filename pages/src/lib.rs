//! The extension pages' WebAssembly: profile requests from the options page
//! and the popup, answered by `consoledx_core::profile`. JSON text in and out;
//! the page reads and writes `chrome.storage` itself.

use wasm_bindgen::prelude::*;

/// Applies one tagged profile request (JSON text) to the stored set (JSON
/// text, or nothing when none is stored) and returns the tagged reply.
#[wasm_bindgen(js_name = handleProfiles)]
pub fn handle_profiles(request: &str, stored: Option<String>) -> String {
    let reply = consoledx_core::profile::handle(request, stored.as_deref());
    // Only string-keyed maps and plain values: serialising cannot fail.
    serde_json::to_string(&reply).unwrap_or_else(|_| {
        r#"{"type":"Error","message":"The profile reply could not be written."}"#.to_owned()
    })
}
