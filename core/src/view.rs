//! The panel's view models: what the page bridge renders. Everything here is
//! plain text plus links vetted to https AWS console and documentation hosts,
//! so the bridge never interprets backend output as markup or script.

use crate::api::{Analysis, Link, Resolution, Step};
use crate::context::ErrorContext;
use crate::extract::{Arn, find_arns};
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
    pub steps: Vec<StepView>,
    pub not_checked: Vec<String>,
    pub evidence: Vec<String>,
}

/// One resolution step as the panel shows it: text only, links vetted, and
/// the ARNs it names listed so the panel can offer to copy each.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StepView {
    pub title: String,
    pub detail: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cli: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub arns: Vec<String>,
}

impl StepView {
    fn of(step: &Step, runbook_hosts: &[String]) -> Self {
        let mut arns: Vec<String> = Vec::new();
        for text in [Some(&step.detail), step.cli.as_ref(), step.policy.as_ref()]
            .into_iter()
            .flatten()
        {
            for (_, arn) in find_arns(text) {
                let arn = arn.trim_end_matches(['.', ',', ';']);
                if Arn::parse(arn).is_some() && !arns.iter().any(|known| known == arn) {
                    arns.push(arn.to_owned());
                }
            }
        }
        arns.truncate(MAX_ITEMS);
        StepView {
            title: clip(&step.title),
            detail: clip(&step.detail),
            cli: step.cli.as_deref().map(clip),
            policy: step.policy.as_deref().map(clip),
            link: step
                .link
                .as_deref()
                .and_then(|link| vetted_url(link, runbook_hosts)),
            arns,
        }
    }
}

impl DiagnosisView {
    /// `runbook_hosts`: the organisation's own hosts the active profile trusts
    /// besides AWS's, for its customization's runbook links.
    pub fn new(
        analysis: &Analysis,
        context: &ErrorContext,
        source: Source,
        notice: Option<String>,
        runbook_hosts: &[String],
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
            notice: notice.as_deref().map(clip),
            rule: analysis.rule.as_deref().map(clip),
            confidence: analysis.confidence.clamp(0.0, 1.0),
            identifiers,
            docs: vetted_links(&analysis.docs, runbook_hosts),
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
        if !context.identifiers.is_empty() {
            let found: Vec<String> = context
                .identifiers
                .iter()
                .map(|(key, value)| format!("{key}={value}"))
                .collect();
            items.push(LabelledValue {
                label: "Identifiers".into(),
                value: clip(&found.join(", ")),
            });
        }
        for field in context.fields.iter().take(MAX_ITEMS) {
            items.push(LabelledValue {
                label: clip(&format!("Form field \u{201c}{}\u{201d}", field.label)),
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
    pub fn new(resolution: &Resolution, runbook_hosts: &[String]) -> Self {
        let steps = resolution
            .steps
            .iter()
            .take(MAX_ITEMS)
            .map(|step| StepView::of(step, runbook_hosts))
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

fn vetted_links(links: &[Link], runbook_hosts: &[String]) -> Vec<Link> {
    links
        .iter()
        .filter_map(|link| {
            vetted_url(&link.url, runbook_hosts).map(|url| Link {
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
/// documentation host, or on exactly one of `runbook_hosts`, without
/// credentials; `None` for anything else (`javascript:`, `data:`, http,
/// look-alike hosts, subdomains of a runbook host).
pub fn vetted_url(raw: &str, runbook_hosts: &[String]) -> Option<String> {
    // The url crate natively; in the extension's wasm, where it would be a
    // sixth of the code, a parser for the plain subset such links are written in.
    #[cfg(not(target_arch = "wasm32"))]
    let url = whatwg_https(raw)?;
    #[cfg(target_arch = "wasm32")]
    let url = plain_https(raw)?;
    let host = url.host.as_str();
    let allowed = runbook_hosts.iter().any(|allowed| allowed == host)
        || ALLOWED_HOST_SUFFIXES.iter().any(|suffix| {
            host == *suffix
                || host
                    .strip_suffix(suffix)
                    .is_some_and(|rest| rest.ends_with('.'))
        });
    if !allowed || url.serialized.len() > MAX_TEXT {
        return None;
    }
    Some(url.serialized)
}

/// A runbook host is a plain lower-case DNS name (no scheme, port or path)
/// outside AWS: AWS hosts are allowed already, and an organisation's list
/// must not widen them. Returns the reason it is refused.
pub fn check_runbook_host(host: &str) -> Result<(), String> {
    let labels_ok = !host.is_empty()
        && host.len() <= 253
        && host.contains('.')
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        });
    if !labels_ok {
        return Err(format!(
            "`{}` is not a lower-case host name such as wiki.example.com",
            host.chars().take(80).collect::<String>()
        ));
    }
    let aws = ALLOWED_HOST_SUFFIXES
        .iter()
        .chain(&["amazon.com", "amazonaws.com", "aws"])
        .any(|suffix| host == *suffix || host.ends_with(&format!(".{suffix}")));
    if aws {
        return Err(format!(
            "`{host}` is an AWS host; AWS links are allowed already"
        ));
    }
    Ok(())
}

/// An https URL without credentials or a port other than 443, as the WHATWG
/// URL standard serialises it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HttpsUrl {
    pub(crate) serialized: String,
    /// Lower-cased.
    pub(crate) host: String,
}

#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn whatwg_https(raw: &str) -> Option<HttpsUrl> {
    let url = url::Url::parse(raw.trim()).ok()?;
    if url.scheme() != "https"
        || !url.username().is_empty()
        || url.password().is_some()
        || url.port().is_some()
    {
        return None;
    }
    let host = url.host_str()?.to_ascii_lowercase();
    Some(HttpsUrl {
        serialized: url.into(),
        host,
    })
}

/// [`whatwg_https`] for the plain subset: `https://` + an ASCII host name
/// (optionally `:443`) + a path, query and fragment of characters the standard
/// leaves as they are, without dot segments. Returns what `whatwg_https`
/// returns for such input and `None` for anything else (stricter, never looser).
#[cfg(any(target_arch = "wasm32", test))]
pub(crate) fn plain_https(raw: &str) -> Option<HttpsUrl> {
    // The standard drops leading and trailing C0 controls and spaces, and every tab and newline.
    let text: String = raw
        .trim()
        .trim_matches(|c: char| c <= ' ')
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect();
    let scheme = text.get(..8)?;
    if !scheme.eq_ignore_ascii_case("https://") {
        return None;
    }
    let rest = &text[8..];
    let authority_end = rest.find(['/', '?', '#', '\\']).unwrap_or(rest.len());
    let (authority, rest) = rest.split_at(authority_end);
    let (host, port) = match authority.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    };
    // An empty port or 443 is the default and disappears; others are not vetted.
    if port.is_some_and(|port| !(port.is_empty() || port.trim_start_matches('0') == "443")) {
        return None;
    }
    let plain_label = |label: &str| {
        !label.is_empty()
            && !label
                .get(..4)
                .is_some_and(|start| start.eq_ignore_ascii_case("xn--"))
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    // Only names: a numeric last label would be an IPv4 address.
    let last_label_numeric = host
        .rsplit('.')
        .next()
        .is_some_and(|label| label.bytes().all(|b| b.is_ascii_digit()));
    if !host.split('.').all(plain_label) || last_label_numeric {
        return None;
    }
    let host = host.to_ascii_lowercase();
    let (rest, fragment) = match rest.split_once('#') {
        Some((rest, fragment)) => (rest, Some(fragment)),
        None => (rest, None),
    };
    let (path, query) = match rest.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (rest, None),
    };
    // Characters each part keeps as they are (other printable ASCII is percent-encoded).
    let kept = |text: &str, encoded: &[u8]| {
        text.bytes()
            .all(|b| b.is_ascii_graphic() && !encoded.contains(&b))
    };
    let dot_segment = |segment: &str| {
        let segment = segment.to_ascii_lowercase().replace("%2e", ".");
        segment == "." || segment == ".."
    };
    if !kept(path, b"\"<>`{}\\") || path.split('/').any(dot_segment) {
        return None;
    }
    if query.is_some_and(|query| !kept(query, b"\"<>'")) {
        return None;
    }
    if fragment.is_some_and(|fragment| !kept(fragment, b"\"<>`")) {
        return None;
    }
    let mut serialized = format!("https://{host}");
    serialized.push_str(if path.is_empty() { "/" } else { path });
    if let Some(query) = query {
        serialized.push('?');
        serialized.push_str(query);
    }
    if let Some(fragment) = fragment {
        serialized.push('#');
        serialized.push_str(fragment);
    }
    Some(HttpsUrl { serialized, host })
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

    #[test]
    fn steps_list_each_arn_they_name_once() {
        let step = Step {
            title: "Allow the action".into(),
            detail: "Add s3:ListBucket on arn:aws:s3:::my-bucket-123456. to role arn:aws:iam::123456789012:role/ReadOnly, not arn:aws:s3:<region>::x".into(),
            cli: Some("aws iam put-role-policy --role-name ReadOnly".into()),
            policy: Some(r#"{"Resource": "arn:aws:s3:::my-bucket-123456"}"#.into()),
            link: Some("javascript:alert(1)".into()),
        };
        let view = StepView::of(&step, &[]);
        assert_eq!(
            view.arns,
            [
                "arn:aws:s3:::my-bucket-123456",
                "arn:aws:iam::123456789012:role/ReadOnly"
            ]
        );
        assert_eq!(view.link, None);
    }

    fn check_url(raw: &str, expected: Option<&str>) {
        assert_eq!(vetted_url(raw, &[]).as_deref(), expected, "{raw}");
    }

    #[test]
    fn runbook_links_open_only_on_the_hosts_the_profile_trusts() {
        let hosts = vec!["wiki.acme.example".to_string()];
        for (raw, expected) in [
            (
                "https://wiki.acme.example/runbooks/q",
                Some("https://wiki.acme.example/runbooks/q"),
            ),
            (
                "https://WIKI.acme.example/x",
                Some("https://wiki.acme.example/x"),
            ),
            ("https://evil.wiki.acme.example/x", None),
            ("https://wiki.acme.example.evil.com/x", None),
            ("http://wiki.acme.example/x", None),
            ("https://user@wiki.acme.example/x", None),
            (
                "https://docs.aws.amazon.com/x",
                Some("https://docs.aws.amazon.com/x"),
            ),
        ] {
            assert_eq!(vetted_url(raw, &hosts).as_deref(), expected, "{raw}");
        }
        assert_eq!(vetted_url("https://wiki.acme.example/x", &[]), None);
        for (host, ok) in [
            ("wiki.acme.example", true),
            ("runbooks.corp", true),
            ("https://wiki.acme.example", false),
            ("wiki.acme.example:8443", false),
            ("Wiki.acme.example", false),
            ("localhost", false),
            ("evil.console.aws.amazon.com", false),
            ("s3.amazonaws.com", false),
            ("", false),
        ] {
            assert_eq!(check_runbook_host(host).is_ok(), ok, "{host}");
        }
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

    /// The wasm's parser must agree with the url crate wherever it answers, and
    /// answer for the links consoledx writes.
    #[test]
    fn the_plain_parser_agrees_with_the_url_crate() {
        let plain_links = [
            "https://docs.aws.amazon.com/AmazonS3/latest/userguide/empty-bucket.html",
            "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html#policy-eval-denyallow",
            "https://s3.console.aws.amazon.com/s3/buckets/b?region=us-west-2&tab=objects",
            "https://console.aws.amazon.com/iam/home#/roles/details/my-role",
            "https://us-east-1.console.aws.amazon.com/ec2/home?region=us-east-1#Instances:instanceId=i-0123",
            "https://console.amazonaws-us-gov.com/iam/home",
            "HTTPS://Docs.AWS.Amazon.com/x%20y?a=%27b%27",
            "  https://docs.aws.amazon.com:443/x  ",
            "https://docs.aws.amazon.com:/x",
            "https://docs.aws.amazon.com",
            "https://docs.aws.amazon.com?q",
            "https://docs.aws.amazon.com/#",
            "https://docs.aws.amazon.com/a?#",
            "https://docs.aws.amazon.com/a/b.c/..d/%2/~!$&()*+,;=:@[]^|",
            "https://docs.aws.amazon.com/p?q=!$&()*+,;=:@/?[]^{}|`~#f!$&'()*+,;=:@/?#[]^{}|~",
            "https://docs.aws.amazon.com/\tx\ny",
        ];
        for link in plain_links {
            assert_eq!(plain_https(link), whatwg_https(link), "{link}");
            assert!(plain_https(link).is_some(), "{link}");
        }
        let others = [
            "https://docs.aws.amazon.com/a b",
            "https://docs.aws.amazon.com/a/../b",
            "https://docs.aws.amazon.com/a/%2E%2e/b",
            "https://docs.aws.amazon.com/a/./b",
            "https://docs.aws.amazon.com\\a",
            "https://docs.aws.amazon.com/a\\b",
            "https://docs.aws.amazon.com/\"x\"",
            "https://docs.aws.amazon.com/<x>",
            "https://docs.aws.amazon.com/`{x}`",
            "https://docs.aws.amazon.com/?a'b",
            "https://docs.aws.amazon.com/#a`b",
            "https://docs.aws.amazon.com/é",
            "https://dócs.aws.amazon.com/",
            "https://xn--dcs-5na.aws.amazon.com/",
            "https://docs..aws.amazon.com/",
            "https://docs.aws.amazon.com./",
            "https://.docs.aws.amazon.com/",
            "https://docs.aws.amazon.com:8443/",
            "https://docs.aws.amazon.com:0443/",
            "https://docs.aws.amazon.com:99999/",
            "https://docs.aws.amazon.com:x/",
            "https://user@docs.aws.amazon.com/",
            "https://:pw@docs.aws.amazon.com/",
            "https://@docs.aws.amazon.com/",
            "https://[::1]/",
            "https://1.2.3.4/",
            "https://0x7f.1/",
            "https:/docs.aws.amazon.com/",
            "https:docs.aws.amazon.com/",
            "https:///docs.aws.amazon.com/",
            "http://docs.aws.amazon.com/",
            "javascript:alert(1)",
            "https://",
            "https://docs.aws.amazon.com/%zz%",
            "\u{1}https://docs.aws.amazon.com/x\u{1f}",
            "https://do_cs.aws.amazon.com/",
        ];
        for link in others {
            let plain = plain_https(link);
            assert!(
                plain.is_none() || plain == whatwg_https(link),
                "{link}: {plain:?} but the url crate says {:?}",
                whatwg_https(link)
            );
        }
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
