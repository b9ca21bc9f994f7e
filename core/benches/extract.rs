//! Extraction throughput: the labelled AWS errors run through `extract`,
//! `interpret` (redaction included) and `Redactor::redact`. Reports
//! contexts per second (criterion's "elements").

use consoledx_core::context::Snapshot;
use consoledx_core::extract::extract;
use consoledx_core::{Redactor, interpret};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::path::PathBuf;

fn load() -> Vec<(String, String)> {
    let path = match std::env::var_os("CONSOLEDX_SHARED_DATA") {
        Some(path) => PathBuf::from(path),
        None => {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/aws-errors.jsonl")
        }
    };
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {} ({e}); set CONSOLEDX_SHARED_DATA",
            path.display()
        )
    });
    text.lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .map(|record| {
            (
                record["message"].as_str().unwrap_or_default().to_owned(),
                record["url"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let records = load();
    let redactor = Redactor::default();
    let snapshots: Vec<Snapshot> = records
        .iter()
        .map(|(message, url)| Snapshot {
            url: url.clone(),
            content: message.clone(),
            nav_user_label: Some("Admin/alice".to_owned()),
            nav_user_title: Some("Admin/alice @ 1234-5678-9012".to_owned()),
            ..Snapshot::default()
        })
        .collect();
    let mut group = c.benchmark_group("contexts");
    group.throughput(Throughput::Elements(records.len() as u64));
    group.bench_function("extract", |b| {
        b.iter(|| {
            for (message, url) in &records {
                black_box(extract(black_box(message), black_box(url)));
            }
        })
    });
    group.bench_function("interpret", |b| {
        b.iter(|| {
            for snapshot in &snapshots {
                black_box(interpret(black_box(snapshot), &redactor));
            }
        })
    });
    group.bench_function("redact", |b| {
        b.iter(|| {
            for (message, _) in &records {
                black_box(redactor.redact(black_box(message)));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
