//! The knowledge rule's own steps, for errors the account's state cannot explain further.

use consoledx_core::api::Step;
use consoledx_core::{Analysis, ErrorContext, KnowledgeBase};

pub(crate) fn steps(kb: &KnowledgeBase, context: &ErrorContext, analysis: &Analysis) -> Vec<Step> {
    let from_rule = analysis
        .rule
        .as_deref()
        .map(|rule| kb.steps(rule, context))
        .unwrap_or_default();
    if !from_rule.is_empty() {
        return from_rule;
    }
    // Without a rule, the documentation the analysis points at is the next best guide.
    analysis
        .docs
        .iter()
        .map(|link| Step {
            title: format!("Read: {}", link.title),
            detail: String::new(),
            cli: None,
            policy: None,
            link: Some(link.url.clone()),
        })
        .collect()
}
