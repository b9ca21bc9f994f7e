//! Knowledge base and analysis engine. (Being written.)
use crate::api::Analysis;
use crate::context::ErrorContext;

#[derive(Debug)]
pub struct KnowledgeBase;

#[derive(Debug, thiserror::Error)]
pub enum KnowledgeError {
    #[error("{0}")]
    Invalid(String),
}

impl KnowledgeBase {
    pub fn builtin() -> Result<Self, KnowledgeError> {
        Ok(KnowledgeBase)
    }
    pub fn analyze(&self, context: &ErrorContext) -> Analysis {
        let _ = context;
        unimplemented!("being written")
    }
}
