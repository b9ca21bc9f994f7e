//! The AWS error code a message shows, in the order of how explicitly each
//! form states it, or the code its wording implies.

use super::phrases::{Cue, Hit};

/// Exception wrappers and SDK field names that look like codes but are not.
const NOT_CODES: &[&str] = &[
    "StatusCode",
    "RequestID",
    "RequestId",
    "HostID",
    "HostId",
    "RequestToken",
    "HandlerErrorCode",
    "ErrorCode",
    "ClientError",
    "WaiterError",
    "ServiceError",
    "RuntimeError",
    "ValueError",
    "TypeError",
    "KeyError",
    "Exception",
    "Error",
];

/// Codes that are a single capitalised word.
const SINGLE_WORD_CODES: &[&str] = &["Unsupported", "Throttling", "Forbidden", "Blocked"];

fn is_code_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'.'
}

/// A code-shaped word: `BucketNotEmpty`, `Client.VolumeLimitExceeded`,
/// `InvalidAMIID.NotFound`. Python module paths keep their last segment.
fn as_code(token: &str) -> Option<&str> {
    let token = token.trim_matches('.');
    let token = match token.as_bytes().first() {
        Some(first) if first.is_ascii_lowercase() => token.rsplit('.').next()?,
        _ => token,
    };
    let bytes = token.as_bytes();
    if bytes.is_empty()
        || !bytes[0].is_ascii_uppercase()
        || token.len() > 100
        || token.contains("..")
    {
        return None;
    }
    if NOT_CODES.contains(&token) {
        return None;
    }
    let uppercase = bytes.iter().filter(|b| b.is_ascii_uppercase()).count();
    let lowercase = bytes.iter().any(|b| b.is_ascii_lowercase());
    let camel = uppercase >= 2 && lowercase;
    (camel || SINGLE_WORD_CODES.contains(&token)).then_some(token)
}

/// The code-shaped token at the start of `rest`.
fn code_at(rest: &str) -> Option<&str> {
    let end = rest
        .bytes()
        .position(|b| !is_code_byte(b))
        .unwrap_or(rest.len());
    as_code(&rest[..end])
}

/// `"Code":"ValidationError"`, `"code": "AccessDenied"` in JSON bodies.
fn json_code(rest: &str) -> Option<&str> {
    let rest = rest.trim_start_matches([' ', '\t']).strip_prefix(':')?;
    let rest = rest.trim_start_matches([' ', '\t']).strip_prefix('"')?;
    code_at(rest)
}

/// The first `Code: message` in running text.
fn leading_code(text: &str) -> Option<&str> {
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(found) = text.get(from..).and_then(|rest| rest.find(':')) {
        let colon = from + found;
        from = colon + 1;
        let followed_by_space = colon + 1 >= bytes.len() || bytes[colon + 1].is_ascii_whitespace();
        if !followed_by_space {
            continue;
        }
        let mut start = colon;
        while start > 0 && is_code_byte(bytes[start - 1]) {
            start -= 1;
        }
        if start > 0 && matches!(bytes[start - 1], b'_' | b'-') {
            continue;
        }
        // A code opens a segment (`X: …`, `… => X: …`, `…, X: …`); a CamelCase
        // word inside a sentence (`quota for RolesPerAccount: 1000`) is not one.
        let before = text[..start].trim_end_matches([' ', '\t']);
        let opens_segment = before.bytes().last().is_none_or(|b| {
            matches!(
                b,
                b':' | b','
                    | b';'
                    | b'>'
                    | b']'
                    | b')'
                    | b'('
                    | b'['
                    | b'\n'
                    | b'\r'
                    | b'.'
                    | b'"'
                    | b'\''
                    | b'|'
            )
        });
        if !opens_segment {
            continue;
        }
        if let Some(code) = as_code(&text[start..colon]) {
            return Some(code);
        }
    }
    None
}

/// `An error occurred (403) when calling the HeadObject operation` is how
/// botocore shows a bodiless HTTP error: the status is the only code there is.
fn botocore_code(rest: &str) -> Option<&str> {
    let end = rest
        .bytes()
        .position(|b| !is_code_byte(b))
        .unwrap_or(rest.len());
    let token = &rest[..end];
    if rest[end..].starts_with(')') && token.len() == 3 && token.bytes().all(|b| b.is_ascii_digit())
    {
        return Some(token);
    }
    as_code(token)
}

pub(crate) fn error_code(text: &str, lower: &str, hits: &[Hit]) -> Option<String> {
    // The most explicit marker that carries a code-shaped token wins; among
    // equals, the first in the text.
    let mut best: Option<(u8, &str)> = None;
    let mut implied: Option<(u8, &'static str)> = None;
    for hit in hits {
        let rest = &text[hit.end..];
        let (rank, code) = match hit.cue {
            Cue::CodeMarker { rank } if text[hit.at..].starts_with(hit.phrase) => {
                let code = if rank == 0 {
                    botocore_code(rest)
                } else {
                    code_at(rest)
                };
                (rank, code)
            }
            Cue::JsonCode => (2, json_code(rest)),
            Cue::ImpliedCode { code, rank, also } => {
                if implied.is_none_or(|(best_rank, _)| rank < best_rank) && lower.contains(also) {
                    implied = Some((rank, code));
                }
                continue;
            }
            _ => continue,
        };
        if let Some(code) = code
            && best.is_none_or(|(best_rank, _)| rank < best_rank)
        {
            best = Some((rank, code));
        }
    }
    best.map(|(_, code)| code)
        .or_else(|| leading_code(text))
        .map(str::to_owned)
        .or_else(|| implied.map(|(_, code)| code.to_owned()))
}
