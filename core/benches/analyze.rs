//! Speed of the analysis engine on the seed example (S3 "bucket is not empty"
//! on the bucket's delete page). Target: median <= 100 µs, aim <= 10 µs.

use consoledx_core::context::ErrorContext;
use consoledx_core::knowledge::KnowledgeBase;
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

fn seed_context() -> ErrorContext {
    let mut context = ErrorContext {
        message: "This bucket is not empty. Buckets must be empty before they can be deleted. To delete all objects \
                  in the bucket, use the empty bucket configuration."
            .to_string(),
        url: "https://s3.console.aws.amazon.com/s3/bucket/my-bucket-123456/delete?region=us-west-2".to_string(),
        error_code: Some("BucketNotEmpty".to_string()),
        ..ErrorContext::default()
    };
    for (key, value) in [
        ("aws_partition", "aws"),
        ("aws_region", "us-west-2"),
        ("aws_service", "s3"),
        ("s3_bucket_name", "my-bucket-123456"),
    ] {
        context
            .identifiers
            .insert(key.to_string(), value.to_string());
    }
    context
}

fn bench_analyze(c: &mut Criterion) {
    let kb = match KnowledgeBase::builtin() {
        Ok(kb) => kb,
        Err(err) => panic!("built-in knowledge does not load: {err}"),
    };
    println!(
        "embedded knowledge blob: {} bytes, {} rules",
        KnowledgeBase::builtin_blob_len(),
        kb.len()
    );
    let context = seed_context();
    c.bench_function("analyze seed bucket_not_empty", |b| {
        b.iter(|| kb.analyze(black_box(&context)))
    });
    c.bench_function("steps seed bucket_not_empty", |b| {
        b.iter(|| kb.steps(black_box("s3.bucket_not_empty"), black_box(&context)))
    });
    let unknown = ErrorContext {
        message: "An error occurred (WidgetJammed) when calling the FrobnicateWidget operation: the widget is jammed"
            .to_string(),
        ..ErrorContext::default()
    };
    c.bench_function("analyze unknown error", |b| {
        b.iter(|| kb.analyze(black_box(&unknown)))
    });
    c.bench_function("load builtin knowledge", |b| b.iter(KnowledgeBase::builtin));
}

criterion_group!(benches, bench_analyze);
criterion_main!(benches);
