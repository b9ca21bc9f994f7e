//! Secret redaction. (Being written.)
#[derive(Debug, Clone, Default)]
pub struct Redactor;
