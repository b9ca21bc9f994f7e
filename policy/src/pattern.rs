//! Wildcard patterns (`*`, `?`) with IAM policy variables (`${aws:username}`).
//!
//! A pattern is kept as pieces so that text substituted from a policy variable,
//! and the escapes `${*}`, `${?}`, `${$}`, stay literal: a `*` in a user name
//! must not become a wildcard.

/// Looks up request context values for policy variables.
pub(crate) trait VariableSource {
    /// The single value of a context key (lower-case name), if present and single-valued.
    fn variable(&self, key: &str) -> Option<&str>;
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Piece {
    Literal(String),
    /// `*`: any run of characters, including none.
    AnyRun,
    /// `?`: exactly one character.
    AnyChar,
    /// `${key}` or `${key, 'default'}`; `key` is lower-cased because context keys are case-insensitive.
    Variable {
        key: String,
        default: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Pattern {
    pieces: Vec<Piece>,
    has_variables: bool,
}

/// How to read a policy string.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Syntax {
    /// `*` and `?` are wildcards (Action, Resource, `StringLike`, `ArnLike`…); otherwise literal.
    pub wildcards: bool,
    /// `${…}` is a policy variable (only in `"Version": "2012-10-17"` documents).
    pub variables: bool,
}

impl Pattern {
    pub(crate) fn parse(text: &str, syntax: Syntax) -> Result<Pattern, String> {
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut has_variables = false;
        let mut rest = text;
        while let Some(c) = rest.chars().next() {
            if syntax.variables && rest.starts_with("${") {
                let Some(end) = rest.find('}') else {
                    return Err(format!("unterminated policy variable in `{text}`"));
                };
                let inner = rest[2..end].trim();
                rest = &rest[end + 1..];
                match inner {
                    "*" | "?" | "$" => literal.push_str(inner),
                    _ => {
                        let (key, default) = parse_variable(inner).ok_or_else(|| {
                            format!("malformed policy variable `${{{inner}}}` in `{text}`")
                        })?;
                        flush(&mut literal, &mut pieces);
                        pieces.push(Piece::Variable { key, default });
                        has_variables = true;
                    }
                }
                continue;
            }
            let special = |c: char| {
                (syntax.wildcards && (c == '*' || c == '?')) || (syntax.variables && c == '$')
            };
            if !special(c) {
                // Copy the run of ordinary characters in one go.
                let run = rest.find(special).unwrap_or(rest.len()).max(c.len_utf8());
                literal.push_str(&rest[..run]);
                rest = &rest[run..];
                continue;
            }
            rest = &rest[c.len_utf8()..];
            match c {
                '*' if syntax.wildcards => {
                    flush(&mut literal, &mut pieces);
                    // Consecutive stars mean the same as one; keeping one keeps matching linear-ish.
                    if pieces.last() != Some(&Piece::AnyRun) {
                        pieces.push(Piece::AnyRun);
                    }
                }
                '?' if syntax.wildcards => {
                    flush(&mut literal, &mut pieces);
                    pieces.push(Piece::AnyChar);
                }
                _ => literal.push(c),
            }
        }
        flush(&mut literal, &mut pieces);
        Ok(Pattern {
            pieces,
            has_variables,
        })
    }

    /// `*`: matches everything.
    pub(crate) fn any() -> Pattern {
        Pattern {
            pieces: vec![Piece::AnyRun],
            has_variables: false,
        }
    }

    pub(crate) fn has_variables(&self) -> bool {
        self.has_variables
    }

    /// Substitutes variables and renders the pattern as plain text (wildcards as `*`/`?`).
    /// `None` when a variable has no value and no default.
    pub(crate) fn render(&self, vars: &dyn VariableSource) -> Option<String> {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Literal(text) => out.push_str(text),
                Piece::AnyRun => out.push('*'),
                Piece::AnyChar => out.push('?'),
                Piece::Variable { .. } => out.push_str(resolve(piece, vars)?),
            }
        }
        Some(out)
    }

    /// Whether every variable in the pattern resolves.
    pub(crate) fn resolvable(&self, vars: &dyn VariableSource) -> bool {
        !self.has_variables
            || self.pieces.iter().all(|piece| {
                !matches!(piece, Piece::Variable { .. }) || resolve(piece, vars).is_some()
            })
    }

    /// Glob match of the whole `text`. An unresolvable variable never matches.
    pub(crate) fn matches<'a>(
        &'a self,
        text: &str,
        ignore_ascii_case: bool,
        vars: &'a dyn VariableSource,
    ) -> bool {
        if !self.has_variables {
            return match self.pieces.as_slice() {
                [] => text.is_empty(),
                [Piece::AnyRun] => true,
                [Piece::Literal(lit)] => eq(lit, text, ignore_ascii_case),
                pieces => glob(pieces, None, text, ignore_ascii_case),
            };
        }
        // Resolve each variable once, not at every backtracking step.
        let mut values = Vec::with_capacity(self.pieces.len());
        for piece in &self.pieces {
            match piece {
                Piece::Variable { .. } => match resolve(piece, vars) {
                    Some(value) => values.push(value),
                    None => return false,
                },
                _ => values.push(""),
            }
        }
        glob(&self.pieces, Some(&values), text, ignore_ascii_case)
    }
}

fn flush(literal: &mut String, pieces: &mut Vec<Piece>) {
    if !literal.is_empty() {
        pieces.push(Piece::Literal(std::mem::take(literal)));
    }
}

/// `aws:username` or `aws:username, 'default'`.
fn parse_variable(inner: &str) -> Option<(String, Option<String>)> {
    let (key, default) = match inner.split_once(',') {
        None => (inner, None),
        Some((key, default)) => {
            let default = default.trim();
            let quoted = default.strip_prefix('\'')?.strip_suffix('\'')?;
            (key, Some(quoted.to_string()))
        }
    };
    let key = key.trim();
    let valid = !key.is_empty()
        && key.chars().all(|c| {
            c.is_ascii_alphanumeric()
                || matches!(c, ':' | '/' | '-' | '_' | '.' | '@' | '+' | '=' | ' ')
        });
    valid.then(|| (key.to_ascii_lowercase(), default))
}

fn resolve<'a>(piece: &'a Piece, vars: &'a dyn VariableSource) -> Option<&'a str> {
    match piece {
        Piece::Variable { key, default } => vars.variable(key).or(default.as_deref()),
        Piece::Literal(text) => Some(text),
        Piece::AnyRun | Piece::AnyChar => None,
    }
}

fn eq(a: &str, b: &str, ignore_ascii_case: bool) -> bool {
    if ignore_ascii_case {
        a.eq_ignore_ascii_case(b)
    } else {
        a == b
    }
}

fn starts_with(text: &str, prefix: &str, ignore_ascii_case: bool) -> bool {
    text.len() >= prefix.len()
        && if ignore_ascii_case {
            // Byte-wise compare is boundary-safe: non-ASCII bytes must be equal exactly.
            text.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
        } else {
            text.as_bytes().starts_with(prefix.as_bytes())
        }
}

fn next_char_len(text: &str, at: usize) -> usize {
    text[at..].chars().next().map_or(1, char::len_utf8)
}

/// Iterative glob with backtracking to the last `*` only: enough because every
/// piece between stars has a fixed length. Linear in practice, never exponential.
/// `values[i]` holds the resolved text of variable piece `i`.
fn glob(pieces: &[Piece], values: Option<&[&str]>, text: &str, ignore_ascii_case: bool) -> bool {
    let (mut p, mut t) = (0usize, 0usize);
    let mut last_star: Option<(usize, usize)> = None;
    loop {
        if p < pieces.len() {
            let literal = match &pieces[p] {
                Piece::AnyRun => {
                    last_star = Some((p + 1, t));
                    p += 1;
                    continue;
                }
                Piece::AnyChar => None,
                Piece::Literal(lit) => Some(lit.as_str()),
                Piece::Variable { .. } => {
                    Some(values.and_then(|v| v.get(p).copied()).unwrap_or(""))
                }
            };
            let advanced = match literal {
                None => (t < text.len()).then(|| next_char_len(text, t)),
                Some(lit) => starts_with(&text[t..], lit, ignore_ascii_case).then_some(lit.len()),
            };
            if let Some(len) = advanced {
                t += len;
                p += 1;
                continue;
            }
        } else if t == text.len() {
            return true;
        }
        match last_star {
            Some((star_p, star_t)) if star_t < text.len() => {
                let next = star_t + next_char_len(text, star_t);
                last_star = Some((star_p, next));
                p = star_p;
                t = next;
            }
            _ => return false,
        }
    }
}

/// Splits on `:` outside `${…}`, into at most `limit` parts (ARN segments).
pub(crate) fn split_arn_pattern(text: &str, limit: usize) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut start = 0usize;
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'$' if bytes.get(i + 1) == Some(&b'{') => {
                depth += 1;
                i += 1;
            }
            b'}' if depth > 0 => depth -= 1,
            b':' if depth == 0 && parts.len() + 1 < limit => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    parts.push(&text[start..]);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    struct NoVars;
    impl VariableSource for NoVars {
        fn variable(&self, key: &str) -> Option<&str> {
            (key == "aws:username").then_some("a*b")
        }
    }

    fn glob_match(pattern: &str, text: &str) -> bool {
        let syntax = Syntax {
            wildcards: true,
            variables: true,
        };
        Pattern::parse(pattern, syntax)
            .map(|p| p.matches(text, false, &NoVars))
            .unwrap_or(false)
    }

    #[test]
    fn wildcard_table() {
        let cases = [
            ("*", "", true),
            ("a*", "abc", true),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("*b*", "abc", true),
            ("a*c*e", "abcde", true),
            ("a*c*e", "abcd", false),
            (
                "arn:aws:s3:::b/${aws:username}/*",
                "arn:aws:s3:::b/a*b/x",
                true,
            ),
            (
                "arn:aws:s3:::b/${aws:username}/*",
                "arn:aws:s3:::b/axxb/x",
                false,
            ),
            ("${*}", "*", true),
            ("${*}", "x", false),
            ("${aws:missing, 'dflt'}", "dflt", true),
            ("${aws:missing}", "", false),
            ("é?x", "éyx", true),
            ("**a", "bba", true),
        ];
        let failures: Vec<_> = cases
            .iter()
            .filter(|(p, t, want)| glob_match(p, t) != *want)
            .collect();
        assert!(failures.is_empty(), "{failures:?}");
    }

    #[test]
    fn arn_split_keeps_variables_whole() {
        assert_eq!(
            split_arn_pattern("arn:aws:s3:::${aws:username}:x:y", 6),
            vec!["arn", "aws", "s3", "", "", "${aws:username}:x:y"]
        );
    }
}
