//! In-process `consoledx analyze` of seed example 1: interpret the snapshot
//! (redact, extract) and analyze it, with the knowledge base loaded once.
//! Target: median ≤ 100 µs.

use consoledx_core::{KnowledgeBase, Redactor, Snapshot, interpret};
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

fn seed_example_1() -> Snapshot {
    Snapshot {
        url: "https://s3.console.aws.amazon.com/s3/bucket/my-bucket-123456/delete?region=us-west-2".into(),
        content: "Failed to delete bucket my-bucket-123456. This bucket is not empty. Buckets must be empty before they can be deleted. To delete all objects in the bucket, use the empty bucket configuration.".into(),
        ..Snapshot::default()
    }
}

fn analyze(c: &mut Criterion) {
    let kb = KnowledgeBase::builtin().expect("built-in knowledge loads");
    let redactor = Redactor::default();
    let snapshot = seed_example_1();
    let check = kb.analyze(&interpret(&snapshot, &redactor));
    assert_eq!(check.rule.as_deref(), Some("s3.bucket_not_empty"));
    c.bench_function("analyze seed example 1 (interpret + analyze)", |b| {
        b.iter(|| kb.analyze(&interpret(black_box(&snapshot), &redactor)))
    });
}

criterion_group!(benches, analyze);
criterion_main!(benches);
