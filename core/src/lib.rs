//! consoledx's pure core. No I/O, no web-sys, no async: everything here
//! compiles to `wasm32-unknown-unknown` and native and is tested natively.

#[cfg(target_arch = "wasm32")]
extern crate regex_lite as regex;

pub mod api;
pub mod context;
pub mod detect;
pub mod extract;
pub mod knowledge;
pub mod profile;
pub mod redact;
pub mod template;
pub mod view;

pub use api::Analysis;
pub use context::{ErrorContext, Identifiers, Snapshot};
pub use knowledge::KnowledgeBase;
pub use redact::Redactor;

/// Turns what the page bridge read into the context that may leave the
/// browser: secrets redacted first, then identity and identifiers extracted.
pub fn interpret(snapshot: &Snapshot, redactor: &Redactor) -> ErrorContext {
    extract::interpret(snapshot, redactor)
}
