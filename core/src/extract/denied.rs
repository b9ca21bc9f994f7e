//! Why an authorization failure was denied, from the wordings of the IAM User
//! Guide's "Troubleshoot access denied error messages".

use super::message::{ArnRole, FoundArn};
use super::phrases::{Cue, Hit};
use crate::context::{AccessDenied, DenyKind};

fn is_denial_code(code: &str) -> bool {
    let code = code.rsplit('.').next().unwrap_or(code);
    code.contains("AccessDenied")
        || code.starts_with("Unauthorized")
        || code.starts_with("AuthorizationError")
        || code == "Forbidden"
        || code == "403"
        || code == "AllAccessDisabled"
}

pub(crate) fn access_denied(
    hits: &[Hit],
    code: Option<&str>,
    arns: &[FoundArn<'_>],
) -> Option<AccessDenied> {
    let denied = code.is_some_and(is_denial_code) || hits.iter().any(|hit| hit.cue == Cue::Denial);
    if !denied {
        return None;
    }
    let deny = if hits.iter().any(|hit| hit.cue == Cue::Explicit) {
        DenyKind::Explicit
    } else {
        DenyKind::Implicit
    };
    // The first policy type the message names is the one its reason clause gives.
    let named = hits.iter().find_map(|hit| match hit.cue {
        Cue::Policy(policy_type) => Some((hit.at, policy_type)),
        _ => None,
    });
    let policy_arn = named.and_then(|(at, _)| {
        arns.iter()
            .find(|found| found.role == ArnRole::Policy && found.start > at && found.arn.is_real())
            .map(|found| found.arn.text.to_owned())
    });
    Some(AccessDenied {
        deny,
        policy_type: named.map(|(_, policy_type)| policy_type),
        policy_arn,
    })
}

/// The blob after "Encoded authorization failure message:", for `sts decode-authorization-message`.
pub(crate) fn encoded_message(text: &str, hits: &[Hit]) -> Option<String> {
    let hit = hits.iter().find(|hit| hit.cue == Cue::Encoded)?;
    let blob = text[hit.end..]
        .split_ascii_whitespace()
        .next()?
        .trim_end_matches(['"', '\'', ')', ',', ';']);
    (!blob.is_empty()).then(|| blob.to_owned())
}
