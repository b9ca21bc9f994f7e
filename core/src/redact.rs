//! Secret redaction: what must never leave the browser (keys, tokens,
//! passwords) is replaced by `[REDACTED:kind]` before anything else reads the
//! text. Ordinary identifiers (ARNs, account ids, bucket names, instance ids)
//! are left alone: they are what the analysis needs.

use regex::Regex;
use std::sync::LazyLock;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RedactError {
    #[error("redaction pattern `{pattern}` is not a valid regex: {reason}")]
    InvalidPattern { pattern: String, reason: String },
    #[error(
        "redaction pattern `{pattern}` matches the empty string, so it would redact nothing useful"
    )]
    MatchesEmpty { pattern: String },
}

/// Redacted text and how many secrets were replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redacted {
    pub text: String,
    pub count: u32,
}

/// When a rule is worth running. The workspace's regex build has no DFA, so
/// a rule whose pattern starts case-insensitively (and so has no literal
/// prefilter) would walk every message with the slow engine; a cheap check
/// keeps it off the messages that cannot match.
enum Gate {
    /// The pattern starts with case-sensitive literals: its own prefilter is fast.
    Always,
    /// The word `bearer` or `basic` occurs, in any case.
    AuthScheme,
    /// The word `signature` occurs, in any case.
    Signature,
    /// A `word: value` / `word = value` whose word ends with a credential word.
    Assignment,
}

/// One kind of secret and where in a match it is (`group` 0 for the whole match).
struct Rule {
    kind: &'static str,
    regex: Regex,
    group: usize,
    gate: Gate,
}

/// Words that end the name of a credential in `name: value` / `name=value`.
const ASSIGNED_WORDS: &[&str] = &["password", "passwd", "passphrase", "secret", "token", "key"];

/// What the gates ask about a text, found in one pass over it.
#[derive(Debug, Default, Clone, Copy)]
struct Cues {
    auth_scheme: bool,
    signature: bool,
    assignment: bool,
}

fn starts_with_ignore_case(bytes: &[u8], at: usize, word: &[u8]) -> bool {
    bytes.len() - at >= word.len() && bytes[at..at + word.len()].eq_ignore_ascii_case(word)
}

/// Whether the `:` or `=` at `at` follows (after an optional quote and
/// blanks) a word ending in a credential word.
fn assigns_credential(bytes: &[u8], at: usize) -> bool {
    let mut end = at;
    while end > 0 && matches!(bytes[end - 1], b' ' | b'\t' | b'"' | b'\'') {
        end -= 1;
    }
    let before = &bytes[..end];
    ASSIGNED_WORDS.iter().any(|word| {
        before.len() >= word.len()
            && before[before.len() - word.len()..].eq_ignore_ascii_case(word.as_bytes())
    })
}

fn cues(text: &str) -> Cues {
    let bytes = text.as_bytes();
    let mut cues = Cues::default();
    for (at, byte) in bytes.iter().enumerate() {
        match byte {
            b':' | b'=' if !cues.assignment => cues.assignment = assigns_credential(bytes, at),
            b'b' | b'B' if !cues.auth_scheme => {
                cues.auth_scheme = starts_with_ignore_case(bytes, at, b"bearer")
                    || starts_with_ignore_case(bytes, at, b"basic");
            }
            b's' | b'S' if !cues.signature => {
                cues.signature = starts_with_ignore_case(bytes, at, b"signature");
            }
            _ => {}
        }
    }
    cues
}

/// Keywords whose `: value` / `= value` is a secret.
const CREDENTIAL_WORDS: &str = "password|passwd|passphrase|secret|client_?secret|api_?key|apikey|access_?token|refresh_?token|auth_?token|id_?token|token|private_?key";

fn builtin_rules() -> Vec<Rule> {
    let rule = |kind: &'static str, pattern: &str, group: usize, gate: Gate| {
        // The built-in patterns are constants, checked by the unit test below.
        let compiled = Regex::new(pattern);
        debug_assert!(
            compiled.is_ok(),
            "built-in redaction rule {kind}: {compiled:?}"
        );
        compiled.ok().map(|regex| Rule {
            kind,
            regex,
            group,
            gate,
        })
    };
    [
        rule(
            "private_key",
            r"-----BEGIN [A-Z ]*PRIVATE KEY-----(?s:.)*?(?:-----END [A-Z ]*PRIVATE KEY-----|\z)",
            0,
            Gate::Always,
        ),
        rule(
            "access_key_id",
            r"(?-u:\b)(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?-u:\b)",
            0,
            Gate::Always,
        ),
        rule(
            "secret_access_key",
            r#"(?i-u:aws_?secret_?access_?key|secret_?access_?key|aws_?secret_?key|secret_?key)["']?[ \t]*[:=][ \t]*["']?([A-Za-z0-9/+=]{40})"#,
            1,
            Gate::Assignment,
        ),
        rule(
            "session_token",
            r#"(?i-u:aws_?session_?token|session_?token|security_?token|x-amz-security-token)["']?[ \t]*[:=][ \t]*["']?([A-Za-z0-9/+=%]{16,})"#,
            1,
            Gate::Assignment,
        ),
        rule(
            "session_token",
            r"(?-u:\b)(?:FwoGZXIvYXdzE|IQoJb3JpZ2luX2Vj)[A-Za-z0-9/+=]{20,}",
            0,
            Gate::Always,
        ),
        rule(
            "jwt",
            r"eyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*",
            0,
            Gate::Always,
        ),
        rule(
            "api_token",
            // Each token to the end of its run of token characters: stopping at
            // a fixed length would leave a tail whose start becomes a word
            // boundary once the token is replaced (`…IIIBearer x` → `]Bearer x`).
            r"(?-u:\b)(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,}|xox[abprs]-[A-Za-z0-9-]{10,}|glpat-[A-Za-z0-9_-]{20,})",
            0,
            Gate::Always,
        ),
        rule(
            "bearer_token",
            r"(?-u:\b)(?i-u:bearer|basic)[ \t]+([A-Za-z0-9._~+/=-]{8,})",
            1,
            Gate::AuthScheme,
        ),
        rule(
            "signature",
            r"(?-u:\b)(?i-u:x-amz-signature|signature)[ \t]*=[ \t]*([0-9a-fA-F]{64})",
            1,
            Gate::Signature,
        ),
        rule(
            "password",
            &format!(
                r#"(?-u:\b)(?i-u:{CREDENTIAL_WORDS})(?-u:\b)["']?[ \t]*[:=][ \t]*("[^"\r\n]*"|'[^'\r\n]*'|[^ \t\r\n,;&"'<>(){{}}\[\]]+)"#
            ),
            1,
            Gate::Assignment,
        ),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// How often one text is searched again from inside a skipped match.
const MAX_RESCANS: u32 = 16;

static BUILTIN: LazyLock<Vec<Rule>> = LazyLock::new(builtin_rules);

/// Replaces secrets by `[REDACTED:kind]`. The built-in rules are compiled
/// once per process and shared; a `Redactor` holds only an organisation's
/// extra patterns, so `Redactor::default()` costs nothing.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    extra: Vec<Regex>,
}

/// A span to replace; spans are merged so overlapping rules replace once.
struct Span {
    start: usize,
    end: usize,
    kind: &'static str,
}

impl Redactor {
    /// A redactor with the built-in rules and an organisation's own patterns
    /// (each match replaced whole, as `[REDACTED:custom]`).
    pub fn new(extra_patterns: &[String]) -> Result<Redactor, RedactError> {
        let mut extra = Vec::with_capacity(extra_patterns.len());
        for pattern in extra_patterns {
            let regex = Regex::new(pattern).map_err(|error| RedactError::InvalidPattern {
                pattern: pattern.clone(),
                reason: error
                    .to_string()
                    .lines()
                    .last()
                    .unwrap_or_default()
                    .trim()
                    .to_owned(),
            })?;
            if regex.is_match("") {
                return Err(RedactError::MatchesEmpty {
                    pattern: pattern.clone(),
                });
            }
            extra.push(regex);
        }
        Ok(Redactor { extra })
    }

    pub fn redact(&self, text: &str) -> Redacted {
        let mut found_cues: Option<Cues> = None;
        let mut spans: Vec<Span> = Vec::new();
        for rule in BUILTIN.iter() {
            let mut cues = || *found_cues.get_or_insert_with(|| cues(text));
            let worth_running = match rule.gate {
                Gate::Always => true,
                Gate::AuthScheme => cues().auth_scheme,
                Gate::Signature => cues().signature,
                Gate::Assignment => cues().assignment,
            };
            if !worth_running {
                continue;
            }
            let mut from = 0;
            let mut rescans = 0;
            while let Some(captures) = rule.regex.captures_at(text, from) {
                let (Some(whole), Some(secret)) = (captures.get(0), captures.get(rule.group))
                else {
                    break;
                };
                from = whole.end();
                // `…:secret:name` inside an ARN is a resource name, not a
                // credential; but the value this match swallowed may hold one
                // (`…/token:x.password=…`), so search on from the value. A
                // few times only: each search may read to the end of the text.
                if rule.kind == "password"
                    && whole.start() > 0
                    && matches!(text.as_bytes()[whole.start() - 1], b':' | b'/')
                {
                    if rescans < MAX_RESCANS {
                        rescans += 1;
                        from = secret.start();
                    }
                    continue;
                }
                if secret.is_empty() || is_already_redacted(secret.as_str()) {
                    continue;
                }
                spans.push(Span {
                    start: secret.start(),
                    end: secret.end(),
                    kind: rule.kind,
                });
            }
        }
        url_password_spans(text, &mut spans);
        for regex in &self.extra {
            for found in regex.find_iter(text) {
                if !found.is_empty() {
                    spans.push(Span {
                        start: found.start(),
                        end: found.end(),
                        kind: "custom",
                    });
                }
            }
        }
        if spans.is_empty() {
            return Redacted {
                text: text.to_owned(),
                count: 0,
            };
        }
        spans.sort_by(|a, b| a.start.cmp(&b.start).then(b.end.cmp(&a.end)));
        let mut out = String::with_capacity(text.len());
        let mut count: u32 = 0;
        let mut cursor = 0;
        for span in spans {
            if span.start < cursor {
                // Overlaps a span already replaced: extend it rather than count twice.
                if span.end > cursor {
                    cursor = span.end;
                }
                continue;
            }
            out.push_str(&text[cursor..span.start]);
            out.push_str("[REDACTED:");
            out.push_str(span.kind);
            out.push(']');
            cursor = span.end;
            count = count.saturating_add(1);
        }
        out.push_str(&text[cursor..]);
        Redacted { text: out, count }
    }
}

/// Passwords in URLs (`postgres://user:PASSWORD@host`). Hand-written: a
/// pattern for it has no literal to start from, so the regex engine would
/// walk every URL byte by byte.
fn url_password_spans(text: &str, spans: &mut Vec<Span>) {
    let mut from = 0;
    while let Some(found) = text.get(from..).and_then(|rest| rest.find("://")) {
        let authority_start = from + found + 3;
        from = authority_start;
        let rest = &text[authority_start..];
        let authority_end = rest
            .find(['/', '?', '#', ' ', '\t', '\r', '\n', '"', '\'', '<', '>'])
            .unwrap_or(rest.len());
        let authority = &rest[..authority_end];
        let Some(at) = authority.rfind('@') else {
            continue;
        };
        let Some(colon) = authority[..at].find(':') else {
            continue;
        };
        // A marker in the user info means another rule already replaced part
        // of it: it is no plain `user:password@`, and a second pass over
        // redacted text, where a replaced `#`, `/` or `?` no longer ends the
        // authority, must not find one.
        if authority[..at].contains("[REDACTED") {
            continue;
        }
        let password = &authority[colon + 1..at];
        if !password.is_empty() && !is_already_redacted(password) {
            spans.push(Span {
                start: authority_start + colon + 1,
                end: authority_start + at,
                kind: "password",
            });
        }
    }
}

fn is_already_redacted(value: &str) -> bool {
    value.trim_matches(['"', '\'']).starts_with("[REDACTED")
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_builtin_rule_compiles() {
        assert_eq!(super::BUILTIN.len(), 10);
    }
}
