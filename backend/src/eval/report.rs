//! `results.json` and a self-contained `report.html` (inline SVG charts, no
//! script, every string HTML-escaped).

use super::run::RecordResult;
use super::score::Summary;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Results {
    pub summary: Summary,
    pub workers: usize,
    pub wall_seconds: f64,
    pub records: Vec<RecordResult>,
}

/// The feedback page's escaping: the report shows record text, which is untrusted too.
pub use crate::feedback::escape;

/// Class accuracy per group (service or expected class): `(correct, total)`.
fn accuracy_by(
    results: &[RecordResult],
    key: impl Fn(&RecordResult) -> String,
) -> BTreeMap<String, (usize, usize)> {
    let mut groups: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for result in results {
        let entry = groups.entry(key(result)).or_default();
        entry.1 += 1;
        if result.score.as_ref().is_some_and(|s| s.class_correct) {
            entry.0 += 1;
        }
    }
    groups
}

/// Horizontal bars, one per group, 0..100 %.
fn bar_chart(title: &str, groups: &BTreeMap<String, (usize, usize)>) -> String {
    let row = 22;
    let label_width = 300;
    let bar_width = 360;
    let height = 30 + row * groups.len();
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{height}" role="img" aria-label="{}"><text x="0" y="16" font-weight="bold">{}</text>"#,
        label_width + bar_width + 80,
        escape(title),
        escape(title)
    );
    for (index, (name, (hit, total))) in groups.iter().enumerate() {
        let y = 26 + row * index;
        let share = if *total == 0 {
            0.0
        } else {
            *hit as f64 / *total as f64
        };
        let width = (share * bar_width as f64).round() as usize;
        let _ = write!(
            svg,
            r##"<text x="0" y="{}" font-size="12">{}</text><rect x="{label_width}" y="{y}" width="{bar_width}" height="16" fill="#eee"/><rect x="{label_width}" y="{y}" width="{width}" height="16" fill="{}"/><text x="{}" y="{}" font-size="12">{:.0}% ({hit}/{total})</text>"##,
            y + 13,
            escape(name),
            if share >= 0.999 { "#2e7d32" } else { "#c62828" },
            label_width + bar_width + 6,
            y + 13,
            share * 100.0
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Latency histogram with fixed buckets (ms).
fn histogram(title: &str, values: &[f64]) -> String {
    const EDGES: [f64; 9] = [5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0];
    let mut counts = [0usize; EDGES.len() + 1];
    for value in values {
        let bucket = EDGES
            .iter()
            .position(|edge| value < edge)
            .unwrap_or(EDGES.len());
        counts[bucket] += 1;
    }
    let max = counts.iter().copied().max().unwrap_or(0).max(1);
    let column = 56;
    let chart_height = 120;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" role="img" aria-label="{}"><text x="0" y="16" font-weight="bold">{}</text>"#,
        column * counts.len() + 10,
        chart_height + 60,
        escape(title),
        escape(title)
    );
    for (index, count) in counts.iter().enumerate() {
        let bar = count * chart_height / max;
        let x = index * column;
        let label = match index {
            0 => format!("<{}", EDGES[0]),
            i if i == EDGES.len() => format!("≥{}", EDGES[i - 1]),
            i => format!("{}–{}", EDGES[i - 1], EDGES[i]),
        };
        let _ = write!(
            svg,
            r##"<rect x="{x}" y="{}" width="{}" height="{bar}" fill="#1565c0"/><text x="{x}" y="{}" font-size="11">{count}</text><text x="{x}" y="{}" font-size="10">{}</text>"##,
            30 + chart_height - bar,
            column - 6,
            26 + chart_height - bar,
            chart_height + 46,
            escape(&label)
        );
    }
    svg.push_str("</svg>");
    svg
}

pub fn html(results: &Results) -> String {
    let summary = &results.summary;
    let mut page = String::new();
    page.push_str("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>consoledx validation report</title><style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 6px;font-size:13px;vertical-align:top}.bad{color:#c62828}.ok{color:#2e7d32}</style></head><body>");
    let _ = write!(
        page,
        "<h1>consoledx validation report</h1><p>{} records, {} workers, {:.1} s wall time.</p><table><tr><th>metric</th><th>value</th></tr>",
        summary.records, results.workers, results.wall_seconds
    );
    for (name, value) in summary.metrics() {
        let _ = write!(
            page,
            "<tr><td>{}</td><td>{}</td></tr>",
            escape(&name),
            value
        );
    }
    page.push_str("</table>");
    page.push_str(&bar_chart(
        "Class accuracy per service",
        &accuracy_by(&results.records, |r| r.service.clone()),
    ));
    page.push_str("<br>");
    page.push_str(&bar_chart(
        "Class accuracy per expected class",
        &accuracy_by(&results.records, |r| {
            r.expected_class
                .clone()
                .unwrap_or_else(|| "(unknown)".to_string())
        }),
    ));
    page.push_str("<br>");
    let analyze: Vec<f64> = results
        .records
        .iter()
        .filter(|r| r.error.is_none())
        .map(|r| r.analyze_ms)
        .collect();
    let resolve: Vec<f64> = results
        .records
        .iter()
        .filter(|r| r.error.is_none())
        .map(|r| r.resolve_ms)
        .collect();
    page.push_str(&histogram("Analyze latency (ms)", &analyze));
    page.push_str(&histogram("Resolve latency (ms)", &resolve));
    page.push_str("<h2>Records</h2><table><tr><th>record</th><th>class</th><th>access denied</th><th>facts</th><th>steps (recall / precision)</th><th>problems</th><th>ms (analyze / resolve)</th></tr>");
    for record in &results.records {
        let mut problems: Vec<String> = Vec::new();
        if let Some(error) = &record.error {
            problems.push(format!("run error: {error}"));
        }
        if record.review {
            problems.push("ground truth not reviewed".to_string());
        }
        if record.trigger_code_mismatch {
            problems.push("trigger captured a different error code".to_string());
        }
        let cells = match &record.score {
            Some(score) => {
                problems.extend(
                    score
                        .identifier_mismatches
                        .iter()
                        .map(|m| format!("identifier {m}")),
                );
                problems.extend(
                    score
                        .missing_facts
                        .iter()
                        .map(|f| format!("missing fact: {f}")),
                );
                problems.extend(
                    score
                        .missing_steps
                        .iter()
                        .map(|s| format!("missing step: {s}")),
                );
                problems.extend(
                    score
                        .placeholders
                        .iter()
                        .map(|p| format!("placeholder: {p}")),
                );
                problems.extend(score.invented.iter().map(|i| format!("invented: {i}")));
                let got = record
                    .analysis
                    .as_ref()
                    .and_then(|a| a.error.class.clone())
                    .unwrap_or_else(|| "(none)".to_string());
                format!(
                    "<td class=\"{}\">{}</td><td class=\"{}\">{}</td><td>{}/{}</td><td>{}/{} / {}/{}</td>",
                    if score.class_correct { "ok" } else { "bad" },
                    escape(&got),
                    if score.access_denied_correct {
                        "ok"
                    } else {
                        "bad"
                    },
                    if score.access_denied_correct {
                        "right"
                    } else {
                        "wrong"
                    },
                    score.facts_found,
                    score.facts_expected,
                    score.steps_matched,
                    score.steps_expected,
                    score.claim_steps_matched,
                    score.claim_steps,
                )
            }
            None => "<td colspan=\"4\" class=\"bad\">not scored</td>".to_string(),
        };
        let _ = write!(
            page,
            "<tr><td>{}/{}<br><small>{}</small></td>{cells}<td>{}</td><td>{:.1} / {:.1}</td></tr>",
            escape(&record.service),
            escape(&record.id),
            escape(&record.title),
            problems
                .iter()
                .map(|p| escape(p))
                .collect::<Vec<_>>()
                .join("<br>"),
            record.analyze_ms,
            record.resolve_ms
        );
    }
    page.push_str("</table></body></html>\n");
    page
}
