//! The panel's view models: what the page bridge renders. Everything here is
//! plain text plus links vetted to https AWS console and documentation hosts,
//! so the bridge never interprets backend output as markup or script.

use crate::api::{Analysis, Link, Resolution, Step};
use crate::context::ErrorContext;
use serde::{Deserialize, Serialize};

/// Longest text the panel shows in one place; a hostile backend cannot flood the page.
const MAX_TEXT: usize = 4_000;
/// Longest list the panel shows.
const MAX_ITEMS: usize = 30;

/// Where an analysis was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Backend,
    /// The engine compiled into the extension, used when the backend cannot be reached.
    Local,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DiagnosisView {
    pub diagnosis_id: Option<String>,
    pub title: String,
    pub analysis: String,
    pub source: Source,
    /// Shown above the analysis, e.g. why the local analysis is shown.
    pub notice: Option<String>,
    /// Whether a Retry button makes sense (the backend could not be reached).
    pub retryable: bool,
    pub rule: Option<String>,
    pub confidence: f32,
    pub identifiers: Vec<LabelledValue>,
    pub docs: Vec<Link>,
    pub sent: SentDetails,
    /// Handed back with Resolve: the service worker keeps no state between messages.
    pub context: ErrorContext,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelledValue {
    pub label: String,
    pub value: String,
}

/// The "Details sent" disclosure: exactly what left the browser.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SentDetails {
    pub items: Vec<LabelledValue>,
    pub redactions: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResolutionView {
    pub cause: String,
    pub steps: Vec<Step>,
    pub not_checked: Vec<String>,
    pub evidence: Vec<String>,
}

impl DiagnosisView {
    pub fn new(
        analysis: &Analysis,
        context: &ErrorContext,
        source: Source,
        notice: Option<String>,
    ) -> Self {
        let identifiers = analysis
            .identifiers
            .iter()
            .take(MAX_ITEMS)
            .map(|(key, value)| LabelledValue {
                label: key.clone(),
                value: clip(value),
            })
            .collect();
        DiagnosisView {
            diagnosis_id: analysis.diagnosis_id.as_deref().map(clip),
            title: clip(&analysis.title),
            analysis: clip(&analysis.analysis),
            source,
            retryable: source == Source::Local,
            notice,
            rule: analysis.rule.as_deref().map(clip),
            confidence: analysis.confidence.clamp(0.0, 1.0),
            identifiers,
            docs: vetted_links(&analysis.docs),
            sent: SentDetails::of(context),
            context: context.clone(),
        }
    }
}

impl SentDetails {
    pub fn of(context: &ErrorContext) -> Self {
        let mut items = vec![
            LabelledValue {
                label: "Message".into(),
                value: clip(&context.message),
            },
            LabelledValue {
                label: "Page URL".into(),
                value: clip(&context.url),
            },
        ];
        if let Some(identity) = &context.identity {
            let mut who = identity.name.clone();
            if let Some(session) = &identity.session {
                who = format!("{who}/{session}");
            }
            if let Some(account) = &identity.account_id {
                who = format!("{who} @ {account}");
            }
            items.push(LabelledValue {
                label: "Signed in as".into(),
                value: clip(&who),
            });
        }
        for field in context.fields.iter().take(MAX_ITEMS) {
            items.push(LabelledValue {
                label: clip(&field.label),
                value: clip(&field.value),
            });
        }
        SentDetails {
            items,
            redactions: context.redactions,
        }
    }
}

impl ResolutionView {
    pub fn new(resolution: &Resolution) -> Self {
        let steps = resolution
            .steps
            .iter()
            .take(MAX_ITEMS)
            .map(|step| Step {
                title: clip(&step.title),
                detail: clip(&step.detail),
                cli: step.cli.as_deref().map(clip),
                policy: step.policy.as_deref().map(clip),
                link: step.link.as_deref().and_then(vetted_url),
            })
            .collect();
        ResolutionView {
            cause: clip(&resolution.cause),
            steps,
            not_checked: resolution
                .not_checked
                .iter()
                .take(MAX_ITEMS)
                .map(|s| clip(s))
                .collect(),
            evidence: resolution
                .evidence
                .iter()
                .take(MAX_ITEMS)
                .map(|s| clip(s))
                .collect(),
        }
    }
}

fn vetted_links(links: &[Link]) -> Vec<Link> {
    links
        .iter()
        .filter_map(|link| {
            vetted_url(&link.url).map(|url| Link {
                title: clip(&link.title),
                url,
            })
        })
        .take(MAX_ITEMS)
        .collect()
}

/// Hosts a panel link may open: the console of each partition and AWS documentation.
const ALLOWED_HOST_SUFFIXES: &[&str] = &[
    "console.aws.amazon.com",
    "console.amazonaws-us-gov.com",
    "console.amazonaws.cn",
    "docs.aws.amazon.com",
    "aws.amazon.com",
    "docs.amazonaws.cn",
];

/// `Some(normalised url)` when `raw` is an https URL on an AWS console or
/// documentation host, without credentials; `None` for anything else
/// (`javascript:`, `data:`, http, look-alike hosts).
pub fn vetted_url(raw: &str) -> Option<String> {
    let url = url::Url::parse(raw.trim()).ok()?;
    if url.scheme() != "https"
        || !url.username().is_empty()
        || url.password().is_some()
        || url.port().is_some()
    {
        return None;
    }
    let host = url.host_str()?.to_ascii_lowercase();
    let allowed = ALLOWED_HOST_SUFFIXES.iter().any(|suffix| {
        host == *suffix
            || host
                .strip_suffix(suffix)
                .is_some_and(|rest| rest.ends_with('.'))
    });
    if !allowed || url.as_str().len() > MAX_TEXT {
        return None;
    }
    Some(url.into())
}

/// Caps a text at `MAX_TEXT` characters (on a char boundary) and drops control
/// characters other than newlines and tabs.
pub fn clip(text: &str) -> String {
    let mut out: String = text
        .chars()
        .filter(|c| !c.is_control() || *c == '\n' || *c == '\t')
        .take(MAX_TEXT)
        .collect();
    if text.chars().count() > MAX_TEXT {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_url(raw: &str, expected: Option<&str>) {
        assert_eq!(vetted_url(raw).as_deref(), expected, "{raw}");
    }

    #[test]
    fn links_only_open_https_aws_pages() {
        check_url(
            "https://docs.aws.amazon.com/AmazonS3/latest/userguide/empty-bucket.html",
            Some("https://docs.aws.amazon.com/AmazonS3/latest/userguide/empty-bucket.html"),
        );
        check_url(
            "https://s3.console.aws.amazon.com/s3/buckets/b?region=us-west-2",
            Some("https://s3.console.aws.amazon.com/s3/buckets/b?region=us-west-2"),
        );
        check_url(
            "https://console.amazonaws-us-gov.com/iam/home",
            Some("https://console.amazonaws-us-gov.com/iam/home"),
        );
        check_url("javascript:alert(1)", None);
        check_url("data:text/html,<script>alert(1)</script>", None);
        check_url("http://docs.aws.amazon.com/x", None);
        check_url("https://docs.aws.amazon.com.evil.example/x", None);
        check_url("https://evilaws.amazon.com/x", None);
        check_url("https://user:pw@console.aws.amazon.com/", None);
        check_url("https://console.aws.amazon.com:8443/", None);
        check_url("not a url", None);
    }

    #[test]
    fn clip_caps_length_and_strips_controls() {
        assert_eq!(clip("a\u{0}b\nc"), "ab\nc");
        let long = "é".repeat(MAX_TEXT + 10);
        let clipped = clip(&long);
        assert_eq!(clipped.chars().count(), MAX_TEXT + 1);
        assert!(clipped.ends_with('…'));
    }
}
