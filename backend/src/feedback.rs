//! What users said about the diagnoses: `GET /v1/feedback/summary` (JSON) and
//! `GET /ui/feedback`, a page with the helpful rate per rule as a chart.
//!
//! The page is rendered on the server as HTML with inline SVG: no script, no
//! external asset, so it works under a CSP that allows nothing but inline
//! styles. Rule ids, comments and versions come from clients: every one of
//! them passes through `escape` on its way into the page.

use crate::auth::Caller;
use crate::{ApiError, AppState};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::fmt::Write;

/// Sent with the page: nothing may load or run, inline styles excepted.
pub const PAGE_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Rule labels longer than this are cut in the chart (the table shows them whole).
const LABEL_CHARS: usize = 48;

/// `GET /v1/feedback/summary`; the page shows the same numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedbackSummary {
    pub backend_version: String,
    pub votes: u64,
    pub helpful: u64,
    pub not_helpful: u64,
    /// `helpful / votes`; `None` before the first vote.
    pub helpful_rate: Option<f64>,
    /// Most voted rule first.
    pub rules: Vec<RuleFeedback>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleFeedback {
    /// `None` for diagnoses no rule matched.
    pub rule: Option<String>,
    pub votes: u64,
    pub helpful: u64,
    pub not_helpful: u64,
    pub helpful_rate: Option<f64>,
    pub last_vote_at: Option<String>,
    /// Newest first, `store::LATEST_COMMENTS` at most.
    pub latest_comments: Vec<FeedbackComment>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedbackComment {
    pub verdict: String,
    pub comment: String,
    pub client_version: Option<String>,
    pub updated_at: String,
}

impl FeedbackSummary {
    /// One summary of several stores' (the regions' of a backend with
    /// subscriptions): votes add up per rule, and each rule keeps its newest
    /// comments of them all.
    pub fn merge(parts: impl IntoIterator<Item = FeedbackSummary>) -> FeedbackSummary {
        let mut by_rule: BTreeMap<Option<String>, RuleFeedback> = BTreeMap::new();
        for rule in parts.into_iter().flat_map(|part| part.rules) {
            match by_rule.entry(rule.rule.clone()) {
                Entry::Vacant(slot) => {
                    slot.insert(rule);
                }
                Entry::Occupied(mut slot) => {
                    let total = slot.get_mut();
                    total.votes += rule.votes;
                    total.helpful += rule.helpful;
                    total.not_helpful += rule.not_helpful;
                    total.last_vote_at = total.last_vote_at.take().max(rule.last_vote_at);
                    total.latest_comments.extend(rule.latest_comments);
                }
            }
        }
        let mut rules: Vec<RuleFeedback> = by_rule.into_values().collect();
        for rule in &mut rules {
            rule.helpful_rate = helpful_rate(rule.helpful, rule.votes);
            // Timestamps are RFC 3339 in UTC, so text order is time order.
            rule.latest_comments
                .sort_by(|a, b| b.updated_at.cmp(&a.updated_at));
            rule.latest_comments.truncate(crate::store::LATEST_COMMENTS);
        }
        FeedbackSummary::from_rules(rules)
    }

    /// The totals over `rules`, which are put in the page's order.
    pub fn from_rules(mut rules: Vec<RuleFeedback>) -> FeedbackSummary {
        // Sorted here, not in SQL: PostgreSQL would order rule ids by the database's locale.
        rules.sort_by(|a, b| {
            b.votes
                .cmp(&a.votes)
                .then_with(|| a.rule.is_none().cmp(&b.rule.is_none()))
                .then_with(|| a.rule.cmp(&b.rule))
        });
        let votes = rules.iter().map(|r| r.votes).sum();
        let helpful = rules.iter().map(|r| r.helpful).sum();
        FeedbackSummary {
            backend_version: crate::store::BACKEND_VERSION.to_string(),
            votes,
            helpful,
            not_helpful: votes - helpful,
            helpful_rate: helpful_rate(helpful, votes),
            rules,
        }
    }
}

/// `helpful / votes`; `None` before the first vote.
pub fn helpful_rate(helpful: u64, votes: u64) -> Option<f64> {
    (votes > 0).then(|| helpful as f64 / votes as f64)
}

/// The summary the caller may read. With subscriptions, diagnoses and votes
/// live in each profile's region and belong to many subscriptions, so the
/// whole of it is for the backend's administrators only.
async fn summary_for(
    state: &AppState,
    caller: Option<&Caller>,
) -> Result<FeedbackSummary, ApiError> {
    if let Some(service) = state.tenancy()
        && service.directory().await?.is_multi_tenant()
    {
        if !crate::tenancy::api::is_admin(state, caller) {
            return Err(ApiError::Forbidden {
                code: "not_admin",
                message: "This backend serves several subscriptions, so its feedback, which spans all of them, is for the administrators its auth config names.".to_string(),
            });
        }
        return Ok(service.feedback_summary().await?);
    }
    Ok(state.inner.store.feedback_summary().await?)
}

pub(crate) async fn get_summary(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
) -> Result<Json<FeedbackSummary>, ApiError> {
    Ok(Json(summary_for(&state, caller.as_deref()).await?))
}

pub(crate) async fn get_page(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
) -> Result<Response, ApiError> {
    let summary = summary_for(&state, caller.as_deref()).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, PAGE_CSP),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        render_page(&summary),
    )
        .into_response())
}

/// Text made safe for HTML and SVG element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters other than tab and line breaks are not allowed in HTML text.
            c if c.is_control() && !matches!(c, '\t' | '\n' | '\r') => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

fn rule_label(rule: Option<&str>) -> &str {
    rule.unwrap_or("(no rule matched)")
}

fn percent(rate: Option<f64>) -> String {
    rate.map_or_else(|| "–".to_string(), |r| format!("{:.0}%", r * 100.0))
}

fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let head: String = text.chars().take(max.saturating_sub(1)).collect();
    format!("{head}…")
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:2rem;color:#16191f;background:#fff}
main{max-width:64rem}
h1{font-size:1.5rem}
table{border-collapse:collapse;width:100%;margin-top:1.5rem}
th,td{text-align:left;vertical-align:top;padding:.4rem .6rem;border-bottom:1px solid #e9ebed}
td.n{text-align:right;font-variant-numeric:tabular-nums}
ul{margin:0;padding-left:1rem}
li{white-space:pre-wrap;overflow-wrap:anywhere}
.meta{color:#5f6b7a;font-size:.85em}
code{overflow-wrap:anywhere}
svg text{font-size:12px;fill:#16191f}
@media (prefers-color-scheme:dark){body{background:#0f1b2a;color:#d1d5db}svg text{fill:#d1d5db}th,td{border-color:#414d5c}.meta{color:#8d99a8}}";

/// Bar chart geometry, in SVG user units.
const LABEL_WIDTH: usize = 330;
const BAR_WIDTH: usize = 360;
const ROW_HEIGHT: usize = 24;

fn render_chart(out: &mut String, rules: &[RuleFeedback]) {
    let width = LABEL_WIDTH + BAR_WIDTH + 110;
    let height = ROW_HEIGHT * rules.len() + 8;
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" aria-labelledby=\"chart-title\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\">\
         <title id=\"chart-title\">Helpful rate per rule</title>"
    );
    for (index, rule) in rules.iter().enumerate() {
        let label = rule_label(rule.rule.as_deref());
        let y = index * ROW_HEIGHT + 4;
        let text_y = y + 15;
        let rate = rule.helpful_rate.unwrap_or(0.0).clamp(0.0, 1.0);
        let filled = (rate * BAR_WIDTH as f64).round() as usize;
        let _ = write!(
            out,
            "<g><title>{title}: {rate} helpful of {votes}</title>\
             <text x=\"0\" y=\"{text_y}\">{short}</text>\
             <rect x=\"{LABEL_WIDTH}\" y=\"{y}\" width=\"{BAR_WIDTH}\" height=\"16\" fill=\"#d13212\" fill-opacity=\"0.25\"/>\
             <rect x=\"{LABEL_WIDTH}\" y=\"{y}\" width=\"{filled}\" height=\"16\" fill=\"#037f0c\"/>\
             <text x=\"{count_x}\" y=\"{text_y}\">{rate} of {votes}</text></g>",
            title = escape(label),
            short = escape(&shorten(label, LABEL_CHARS)),
            rate = percent(rule.helpful_rate),
            votes = rule.votes,
            count_x = LABEL_WIDTH + BAR_WIDTH + 8,
        );
    }
    out.push_str("</svg>");
}

fn render_table(out: &mut String, rules: &[RuleFeedback]) {
    out.push_str(
        "<table><caption class=\"meta\">Most voted rule first</caption><thead><tr>\
         <th scope=\"col\">Rule</th><th scope=\"col\">Votes</th><th scope=\"col\">Helpful</th>\
         <th scope=\"col\">Not helpful</th><th scope=\"col\">Helpful rate</th><th scope=\"col\">Latest comments</th>\
         </tr></thead><tbody>",
    );
    for rule in rules {
        let _ = write!(
            out,
            "<tr><th scope=\"row\"><code>{}</code></th><td class=\"n\">{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td><td>",
            escape(rule_label(rule.rule.as_deref())),
            rule.votes,
            rule.helpful,
            rule.not_helpful,
            percent(rule.helpful_rate),
        );
        if rule.latest_comments.is_empty() {
            out.push_str("<span class=\"meta\">none</span>");
        } else {
            out.push_str("<ul>");
            for comment in &rule.latest_comments {
                let verdict = if comment.verdict == "helpful" {
                    "helpful"
                } else {
                    "not helpful"
                };
                let version = comment
                    .client_version
                    .as_deref()
                    .map(|v| format!(", extension {}", escape(v)))
                    .unwrap_or_default();
                let _ = write!(
                    out,
                    "<li>{}<br><span class=\"meta\">{verdict}, {}{version}</span></li>",
                    escape(&comment.comment),
                    escape(&comment.updated_at),
                );
            }
            out.push_str("</ul>");
        }
        out.push_str("</td></tr>");
    }
    out.push_str("</tbody></table>");
}

/// The whole page; every client-supplied value is escaped.
pub fn render_page(summary: &FeedbackSummary) -> String {
    let mut out = String::with_capacity(4096 + summary.rules.len() * 1024);
    let _ = write!(
        out,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>consoledx feedback</title><style>{STYLE}</style></head><body><main>\
         <h1>Feedback on diagnoses</h1>"
    );
    if summary.rules.is_empty() {
        out.push_str("<p>No feedback yet.</p>");
    } else {
        let _ = write!(
            out,
            "<p>{} votes on {} rules: {} helpful, {} not helpful ({} helpful).</p><figure>",
            summary.votes,
            summary.rules.len(),
            summary.helpful,
            summary.not_helpful,
            percent(summary.helpful_rate),
        );
        render_chart(&mut out, &summary.rules);
        out.push_str(
            "<figcaption class=\"meta\">Green: share of votes that found the diagnosis helpful.</figcaption></figure>",
        );
        render_table(&mut out, &summary.rules);
    }
    let _ = write!(
        out,
        "<p class=\"meta\">consoledx backend {}</p></main></body></html>",
        escape(&summary.backend_version)
    );
    out
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn escapes_markup_quotes_and_controls() {
        assert_eq!(
            escape("<a href=\"x\" onclick='y'>&\u{0}</a>\n"),
            "&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;\u{FFFD}&lt;/a&gt;\n"
        );
    }
}
