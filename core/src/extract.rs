//! Identifier, error-code and access-denied extraction. (Being written.)
use crate::context::{ErrorContext, Snapshot};
use crate::redact::Redactor;

pub fn interpret(snapshot: &Snapshot, redactor: &Redactor) -> ErrorContext {
    let _ = (snapshot, redactor);
    ErrorContext::default()
}
