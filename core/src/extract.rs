//! Identifier, error-code and access-denied extraction.
//!
//! Everything here is hand-written scanning over ASCII: it runs on every
//! Diagnose click in the extension and on every request in the backend, and
//! must never panic on hostile input.

mod arn;
mod code;
mod console_url;
mod denied;
mod fields;
mod found;
mod identity;
mod message;
mod phrases;
pub(crate) mod shapes;
/// Whether a text is an AWS region code (`us-east-1`), for callers that check configuration.
pub use shapes::is_region;

pub use arn::{Arn, find_arns};
pub use identity::{parse_identity, permission_set};

use crate::context::{AccessDenied, ErrorContext, FormField, Identifiers, IdentityKind, Snapshot};
use crate::redact::Redactor;
use found::{Found, keys, rank};

/// What a message and its page URL say, before identity is added.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Extraction {
    pub identifiers: Identifiers,
    pub error_code: Option<String>,
    pub access_denied: Option<AccessDenied>,
    /// The blob after "Encoded authorization failure message:", which
    /// `aws sts decode-authorization-message` turns into the full reason.
    pub encoded_authorization_message: Option<String>,
}

/// Longest prefix of a message that extraction reads: error banners are a few
/// hundred bytes, and a bound keeps hostile input from costing more.
const MAX_SCANNED: usize = 64 * 1024;

fn bounded(text: &str) -> &str {
    if text.len() <= MAX_SCANNED {
        return text;
    }
    let mut end = MAX_SCANNED;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

struct Scanned {
    found: Found,
    error_code: Option<String>,
    access_denied: Option<AccessDenied>,
    encoded_authorization_message: Option<String>,
}

fn scan(message: &str, url: &str) -> Scanned {
    let message = bounded(message);
    let lower = message.to_ascii_lowercase();
    let mut found = Found::default();
    console_url::scan_url(bounded(url), &mut found);
    let hits = phrases::scan(&lower);
    let facts = message::scan_message(message, &lower, &hits, &mut found);
    let error_code = code::error_code(message, &lower, &hits);
    let access_denied = denied::access_denied(&hits, error_code.as_deref(), &facts.arns);
    let encoded_authorization_message = denied::encoded_message(message, &hits);
    Scanned {
        found,
        error_code,
        access_denied,
        encoded_authorization_message,
    }
}

/// Identifiers (DESIGN.md's keys), error code and access-denied reason named
/// in `message` and shown by the console page at `url`.
/// Fills in what a caller left out of a context (identifiers, error code,
/// access-denied kind) from its own message and URL; what the caller sent
/// wins. API clients other than the extension may send just a message and a
/// URL.
pub fn complete(context: &mut ErrorContext) {
    let found = extract(&context.message, &context.url);
    for (key, value) in found.identifiers {
        context.identifiers.entry(key).or_insert(value);
    }
    context.error_code = context.error_code.take().or(found.error_code);
    context.access_denied = context.access_denied.take().or(found.access_denied);
    context.encoded_authorization_message = context
        .encoded_authorization_message
        .take()
        .or(found.encoded_authorization_message);
}

pub fn extract(message: &str, url: &str) -> Extraction {
    let scanned = scan(message, url);
    Extraction {
        identifiers: scanned.found.into_identifiers(),
        error_code: scanned.error_code,
        access_denied: scanned.access_denied,
        encoded_authorization_message: scanned.encoded_authorization_message,
    }
}

/// Header then content, one per line, leaving out empty parts.
fn join_banner(header: &str, content: &str) -> String {
    let header = header.trim();
    let content = content.trim();
    match (header.is_empty(), content.is_empty()) {
        (true, _) => content.to_owned(),
        (false, true) => header.to_owned(),
        (false, false) => format!("{header}\n{content}"),
    }
}

/// Turns what the page bridge read into the context that may leave the
/// browser: secrets redacted first, then identifiers extracted from the
/// redacted text, then identity added where the message and URL said nothing.
pub fn interpret(snapshot: &Snapshot, redactor: &Redactor) -> ErrorContext {
    let mut redactions: u32 = 0;
    let mut redact = |text: &str| {
        let redacted = redactor.redact(text);
        redactions = redactions.saturating_add(redacted.count);
        redacted.text
    };
    let message = redact(&join_banner(&snapshot.header, &snapshot.content));
    let url = redact(&snapshot.url);
    let fields: Vec<FormField> = snapshot
        .fields
        .iter()
        .map(|field| FormField {
            label: redact(&field.label),
            value: redact(&field.value),
        })
        .collect();

    let Scanned {
        mut found,
        error_code,
        access_denied,
        encoded_authorization_message,
    } = scan(&message, &url);
    fields::scan_fields(&fields, &mut found);

    let identity = parse_identity(
        snapshot.nav_user_label.as_deref(),
        snapshot.nav_user_title.as_deref(),
        snapshot.user_info_cookie.as_deref(),
    );
    if let Some(identity) = &identity {
        match identity.kind {
            IdentityKind::Role => found.put(keys::ROLE, rank::IDENTITY, &identity.name),
            IdentityKind::User => found.put(keys::USER, rank::IDENTITY, &identity.name),
            IdentityKind::Root => {}
        }
        if let Some(account) = &identity.account_id {
            found.put(keys::ACCOUNT, rank::IDENTITY, account);
        }
        if let Some(arn) = &identity.arn {
            found.put(keys::PRINCIPAL_ARN, rank::IDENTITY, arn);
            if let Some(parsed) = Arn::parse(arn) {
                found.put(keys::PARTITION, rank::IDENTITY, parsed.partition);
            }
        }
    }
    if let Some(region) = snapshot.meta_region.as_deref().map(str::trim)
        && shapes::is_region(region)
    {
        found.put(keys::REGION, rank::IDENTITY, region);
    }

    ErrorContext {
        message,
        url,
        identity,
        identifiers: found.into_identifiers(),
        error_code,
        access_denied,
        fields,
        redactions,
        encoded_authorization_message,
    }
}
