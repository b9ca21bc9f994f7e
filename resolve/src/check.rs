//! The last gate before a resolution leaves: malformed ARNs are repaired, and
//! nothing reaches the user with an unfilled placeholder or a non-https link.

use crate::arn::{arn_problem, fix_arn};
use consoledx_core::api::{Resolution, Step};

/// Why a text cannot be shown as is, or `None` when it can.
pub fn text_problem(text: &str) -> Option<String> {
    if text.contains("{{") || text.contains("}}") {
        return Some("unfilled {{placeholder}}".to_string());
    }
    if let Some(placeholder) = angle_placeholder(text) {
        return Some(format!("unfilled placeholder {placeholder}"));
    }
    arns(text).into_iter().find_map(|arn| arn_problem(&arn))
}

/// `<bucket-name>`-style placeholders: `<`, letters, digits, `_` or `-`, `>`.
fn angle_placeholder(text: &str) -> Option<&str> {
    let bytes = text.as_bytes();
    let mut start = None;
    for (i, &b) in bytes.iter().enumerate() {
        match (start, b) {
            (_, b'<') => start = Some(i),
            (Some(s), b'>') if i > s + 1 => return text.get(s..=i),
            (Some(_), b) if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' => {}
            _ => start = None,
        }
    }
    None
}

fn is_arn_end(c: char) -> bool {
    c.is_ascii_whitespace() || "\"'`,()[]{}<>|".contains(c)
}

/// Every ARN mentioned in a text, without sentence punctuation after it.
fn arns(text: &str) -> Vec<String> {
    spans(text)
        .into_iter()
        .map(|(start, end)| text[start..end].to_string())
        .collect()
}

fn spans(text: &str) -> Vec<(usize, usize)> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(offset) = text[from..].find("arn:") {
        let start = from + offset;
        let starts_word = text[..start]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_ascii_alphanumeric());
        let rest = &text[start..];
        let len = rest.find(is_arn_end).unwrap_or(rest.len());
        let end = start + rest[..len].trim_end_matches(['.', ';', ':']).len();
        if starts_word {
            found.push((start, end));
        }
        from = start + len.max(4);
    }
    found
}

/// Repairs every ARN in a text (see [`fix_arn`]).
pub fn fix_arns(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for (start, end) in spans(text) {
        out.push_str(&text[last..start]);
        out.push_str(&fix_arn(&text[start..end]));
        last = end;
    }
    out.push_str(&text[last..]);
    out
}

fn fix_step(step: Step) -> Step {
    Step {
        title: fix_arns(&step.title),
        detail: fix_arns(&step.detail),
        cli: step.cli.as_deref().map(fix_arns),
        policy: step.policy.as_deref().map(fix_arns),
        link: step.link.filter(|link| link.starts_with("https://")),
    }
}

fn step_problem(step: &Step) -> Option<String> {
    [
        Some(&step.title),
        Some(&step.detail),
        step.cli.as_ref(),
        step.policy.as_ref(),
        step.link.as_ref(),
    ]
    .into_iter()
    .flatten()
    .find_map(|text| text_problem(text))
}

fn neutralise(text: &str) -> String {
    text.replace(['{', '}'], "")
        .replace('<', "(")
        .replace('>', ")")
}

/// Text that still fails the check loses the offending part: a step is left
/// out (and said so in `not_checked`), a sentence is replaced.
pub fn sanitize(resolution: Resolution) -> Resolution {
    let mut not_checked = resolution.not_checked;
    let mut steps = Vec::with_capacity(resolution.steps.len());
    for step in resolution.steps.into_iter().map(fix_step) {
        match step_problem(&step) {
            None => steps.push(step),
            Some(problem) => not_checked.push(format!(
                "Left out a step that needs a value the page did not show ({problem})"
            )),
        }
    }
    // Evidence and gaps quote what AWS answered, which may hold braces or
    // angle brackets that are no template placeholder: neutralise them rather than lose the fact.
    let clean = |text: String| {
        let text = fix_arns(&text);
        if text_problem(&text).is_none() {
            return Some(text);
        }
        let text = neutralise(&text);
        text_problem(&text).is_none().then_some(text)
    };
    let cause = clean(resolution.cause).unwrap_or_else(|| {
        "The cause could not be stated with the values the page showed.".to_string()
    });
    Resolution {
        diagnosis_id: resolution.diagnosis_id,
        cause,
        steps,
        // A gap is never dropped: saying less about what was not checked would overstate the answer.
        not_checked: not_checked
            .into_iter()
            .map(|text| clean(text.clone()).unwrap_or_else(|| neutralise(&text)))
            .collect(),
        evidence: resolution.evidence.into_iter().filter_map(clean).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repairs_and_rejects() {
        let cases = [
            (
                "see arn:aws:s3:us-west-2::my-bucket.",
                "see arn:aws:s3:::my-bucket.",
                None,
            ),
            (
                "arn:aws:iam:us-east-1:123456789012:role/R",
                "arn:aws:iam::123456789012:role/R",
                None,
            ),
            (
                "bucket {{s3_bucket_name}}",
                "bucket {{s3_bucket_name}}",
                Some("unfilled"),
            ),
            (
                "--bucket <bucket-name>",
                "--bucket <bucket-name>",
                Some("unfilled placeholder"),
            ),
            (
                "arn:aws:iam::12:role/R",
                "arn:aws:iam::12:role/R",
                Some("12 digits"),
            ),
            (
                "arn:aws-cn:ec2:us-east-1:123456789012:instance/i-1",
                "arn:aws-cn:ec2:us-east-1:123456789012:instance/i-1",
                Some("not in partition"),
            ),
            ("a < b and c > d", "a < b and c > d", None),
        ];
        for (input, fixed, problem) in cases {
            let out = fix_arns(input);
            assert_eq!(out, fixed, "fix of {input}");
            let found = text_problem(&out);
            match problem {
                None => assert_eq!(found, None, "{input}"),
                Some(expected) => assert!(
                    found.as_deref().is_some_and(|p| p.contains(expected)),
                    "{input}: {found:?}"
                ),
            }
        }
    }
}
