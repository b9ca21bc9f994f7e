//! `{{key}}` templating: a message and URL with each identifier value replaced
//! by its key (the seed's `{{s3_bucket_name}}` naming), and back.
//!
//! Round trip: for any text `templatize` accepts,
//! `render(&templatize(t, ids).text, &variables) == t`.

use crate::context::{ErrorContext, Identifiers};
use std::collections::BTreeMap;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TemplateError {
    #[error("template uses `{{{{{0}}}}}` but no value was given for `{0}`")]
    MissingVariable(String),
    #[error(
        "text already contains the placeholder-like `{{{{{0}}}}}`, so it could not be rendered back unchanged"
    )]
    LiteralPlaceholder(String),
    #[error("the templated text would not render back to the original")]
    NotReversible,
}

/// A message and URL with identifier values replaced by `{{key}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Templated {
    pub message: String,
    pub url: String,
    /// The values the templates use, by key.
    pub variables: BTreeMap<String, String>,
}

fn is_key(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Identifier characters that make a value part of a longer word: a bucket
/// `my-bucket` is not replaced inside `my-bucket-2`, nor a region inside `us-east-1a`.
/// Braces glue too, so a replacement never forms a placeholder with the text around it.
fn glues(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'-' | b'{' | b'}')
}

/// The first `{{key}}` in `text`, if any.
fn find_placeholder(text: &str) -> Option<(usize, usize, &str)> {
    let mut from = 0;
    while let Some(found) = text.get(from..)?.find("{{") {
        let start = from + found;
        let inner_start = start + 2;
        if let Some(close) = text[inner_start..].find("}}") {
            let inner = &text[inner_start..inner_start + close];
            if is_key(inner) {
                return Some((start, inner_start + close + 2, inner));
            }
        }
        from = start + 1;
    }
    None
}

fn replace_values(
    text: &str,
    candidates: &[(&str, &str)],
    used: &mut BTreeMap<String, String>,
) -> Result<String, TemplateError> {
    if let Some((_, _, key)) = find_placeholder(text) {
        return Err(TemplateError::LiteralPlaceholder(key.to_owned()));
    }
    let bytes = text.as_bytes();
    // Claimed byte ranges; longest values were tried first, so an ARN claims
    // its span before the account id or region inside it can.
    let mut claimed: Vec<(usize, usize, &str)> = Vec::new();
    for (key, value) in candidates {
        let mut from = 0;
        while let Some(found) = text.get(from..).and_then(|rest| rest.find(value)) {
            let start = from + found;
            let end = start + value.len();
            from = start + value.len().max(1);
            let glued = (start > 0 && glues(bytes[start - 1]) && glues(value.as_bytes()[0]))
                || (end < bytes.len()
                    && glues(bytes[end])
                    && glues(value.as_bytes()[value.len() - 1]));
            let overlaps = claimed.iter().any(|(s, e, _)| start < *e && *s < end);
            if !glued && !overlaps {
                claimed.push((start, end, key));
            }
        }
    }
    claimed.sort_by_key(|(start, _, _)| *start);
    let mut out = String::with_capacity(text.len());
    let mut cursor = 0;
    for (start, end, key) in claimed {
        out.push_str(&text[cursor..start]);
        out.push_str("{{");
        out.push_str(key);
        out.push_str("}}");
        cursor = end;
        if let Some((_, value)) = candidates.iter().find(|(k, _)| *k == key) {
            used.insert(key.to_owned(), (*value).to_owned());
        }
    }
    out.push_str(&text[cursor..]);
    Ok(out)
}

/// Replaces each identifier value in `message` and `url` by `{{key}}`, longest
/// values first. When two keys share a value, the first key (by name) is used.
/// Fails if the text already contains something `render` would read as a placeholder.
pub fn templatize(
    message_in: &str,
    url_in: &str,
    identifiers: &Identifiers,
) -> Result<Templated, TemplateError> {
    let mut candidates: Vec<(&str, &str)> = Vec::with_capacity(identifiers.len());
    for (key, value) in identifiers {
        if value.is_empty() || !is_key(key) || candidates.iter().any(|(_, v)| *v == value.as_str())
        {
            continue;
        }
        candidates.push((key.as_str(), value.as_str()));
    }
    candidates.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(b.0)));
    let mut variables = BTreeMap::new();
    let message = replace_values(message_in, &candidates, &mut variables)?;
    let url = replace_values(url_in, &candidates, &mut variables)?;
    // The property callers rely on, checked rather than argued.
    for (template, original) in [(&message, message_in), (&url, url_in)] {
        if render(template, &variables).as_deref() != Ok(original) {
            return Err(TemplateError::NotReversible);
        }
    }
    Ok(Templated {
        message,
        url,
        variables,
    })
}

/// `templatize` over an interpreted context's message, URL and identifiers.
pub fn templatize_context(context: &ErrorContext) -> Result<Templated, TemplateError> {
    templatize(&context.message, &context.url, &context.identifiers)
}

/// Fills `{{key}}` placeholders from `variables`. A placeholder is `{{`, a
/// key (lowercase letters, digits, `_`) and `}}`; other braces are text.
/// Every placeholder must have a value: none is ever left in the output.
pub fn render(
    template: &str,
    variables: &BTreeMap<String, String>,
) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(template.len());
    let mut cursor = 0;
    while let Some((start, end, key)) = find_placeholder(&template[cursor..]) {
        let value = variables
            .get(key)
            .ok_or_else(|| TemplateError::MissingVariable(key.to_owned()))?;
        out.push_str(&template[cursor..cursor + start]);
        out.push_str(value);
        cursor += end;
    }
    out.push_str(&template[cursor..]);
    Ok(out)
}
