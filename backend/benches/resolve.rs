//! Resolve latency against a moto server on loopback: a 6-read plan run
//! concurrently (as "Help me resolve" does) and one read at a time, with
//! p50/p95 and their ratio; and a whole resolution of seed example 2
//! (permission check, rounds, evaluation). Target: concurrent p95 ≤ 300 ms.
//!
//! `MOTO_SERVER=/path/to/moto_server cargo bench -p consoledx --bench resolve`
//! (`BENCH_ITERATIONS` changes the sample count, default 60).

use aws_config::{BehaviorVersion, Region};
use consoledx::{AwsReader, AwsSettings, Credentials};
use consoledx_core::{KnowledgeBase, Redactor, Snapshot};
use consoledx_resolve::{Facts, Read};
use serde_json::json;
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BUCKET: &str = "my-bucket-123456";

fn moto_binary() -> PathBuf {
    std::env::var_os("MOTO_SERVER")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/moto_server")
        })
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

struct Summary {
    p50: Duration,
    p95: Duration,
}

fn summarise(name: &str, mut samples: Vec<Duration>) -> Summary {
    samples.sort();
    let summary = Summary {
        p50: percentile(&samples, 0.50),
        p95: percentile(&samples, 0.95),
    };
    println!(
        "{name:<34} n={:<4} p50 {:>7.1} ms   p95 {:>7.1} ms   max {:>7.1} ms",
        samples.len(),
        ms(summary.p50),
        ms(summary.p95),
        ms(samples[samples.len() - 1])
    );
    summary
}

fn main() {
    let iterations: usize = std::env::var("BENCH_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|err| panic!("no free port: {err}"));
    let binary = moto_binary();
    let mut child = Command::new(&binary)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|err| panic!("cannot start {} (set MOTO_SERVER): {err}", binary.display()));
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "moto did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let url = format!("http://127.0.0.1:{port}");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|err| panic!("runtime: {err}"));
    runtime.block_on(run(&url, iterations));
    let _ = child.kill();
    let _ = child.wait();
}

async fn run(url: &str, iterations: usize) {
    let seeding = aws_config::defaults(BehaviorVersion::latest())
        .http_client(
            aws_smithy_http_client::Builder::new()
                .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                    aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
                ))
                .build_https(),
        )
        .region(Region::new("us-west-2"))
        .endpoint_url(url)
        .credentials_provider(aws_sdk_sts::config::Credentials::new(
            "testing", "testing", None, None, "bench",
        ))
        .load()
        .await;
    seed(&seeding).await;
    let reader = AwsReader::load(&AwsSettings {
        endpoint_url: Some(url.to_string()),
        credentials: Credentials::Static {
            access_key_id: "testing".into(),
            secret_access_key: "testing".into(),
        },
        region: Some("us-west-2".into()),
        ..AwsSettings::default()
    })
    .await;
    let plan = vec![
        Read::CallerIdentity,
        Read::RoleDetails {
            role: "ReadOnly".into(),
        },
        Read::RoleInlinePolicies {
            role: "ReadOnly".into(),
        },
        Read::RoleAttachedPolicies {
            role: "ReadOnly".into(),
        },
        Read::BucketPolicy {
            bucket: BUCKET.into(),
        },
        Read::BucketVersioning {
            bucket: BUCKET.into(),
        },
    ];
    let deadline = || tokio::time::Instant::now() + Duration::from_secs(5);
    // Warm-up: connections, credentials, moto's first-call costs.
    for _ in 0..5 {
        let mut facts = Facts::default();
        reader
            .read_into(&plan, Some("us-west-2"), deadline(), &mut facts)
            .await;
        for read in &plan {
            assert!(
                facts.gap(read).is_none(),
                "warm-up read failed: {:?}",
                facts.gap(read)
            );
        }
    }
    let mut concurrent = Vec::with_capacity(iterations);
    let mut sequential = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let start = Instant::now();
        let mut facts = Facts::default();
        reader
            .read_into(&plan, Some("us-west-2"), deadline(), &mut facts)
            .await;
        concurrent.push(start.elapsed());

        let start = Instant::now();
        let mut facts = Facts::default();
        for read in &plan {
            reader
                .read_into(
                    std::slice::from_ref(read),
                    Some("us-west-2"),
                    deadline(),
                    &mut facts,
                )
                .await;
        }
        sequential.push(start.elapsed());
    }
    let kb = KnowledgeBase::builtin().unwrap_or_else(|err| panic!("knowledge: {err}"));
    let context = consoledx_core::interpret(
        &Snapshot {
            url: format!("https://s3.console.aws.amazon.com/s3/buckets/{BUCKET}?region=us-west-2&bucketType=general&tab=objects"),
            content: "Insufficient permissions to list objects. After you or your AWS administrator has updated your permissions to allow the s3:ListBucket action, refresh the page.".into(),
            nav_user_label: Some("ReadOnly/alice".into()),
            nav_user_title: Some("ReadOnly/alice @ 1234-5678-9012".into()),
            ..Default::default()
        },
        &Redactor::default(),
    );
    let analysis = kb.analyze(&context);
    let mut whole = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let start = Instant::now();
        let facts = reader.gather(&context, &analysis, Facts::default()).await;
        let resolution = consoledx_resolve::resolve(&context, &analysis, &facts, &kb);
        whole.push(start.elapsed());
        assert!(
            resolution.not_checked.is_empty(),
            "{:?}",
            resolution.not_checked
        );
    }
    println!(
        "resolve against moto on loopback ({} reads, {iterations} samples each)",
        plan.len()
    );
    let c = summarise("6-read plan, concurrent", concurrent);
    let s = summarise("6-read plan, sequential", sequential);
    summarise("seed 2 resolution (check + rounds)", whole);
    println!(
        "concurrent/sequential ratio: p50 {:.2}, p95 {:.2}; target concurrent p95 <= 300 ms: {}",
        ms(c.p50) / ms(s.p50),
        ms(c.p95) / ms(s.p95),
        if c.p95 <= Duration::from_millis(300) {
            "met"
        } else {
            "MISSED"
        }
    );
}

async fn seed(config: &aws_config::SdkConfig) {
    let iam = aws_sdk_iam::Client::new(config);
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(config)
            .force_path_style(true)
            .build(),
    );
    s3.create_bucket()
        .bucket(BUCKET)
        .create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(
                    "us-west-2",
                ))
                .build(),
        )
        .send()
        .await
        .unwrap_or_else(|err| panic!("create bucket: {err:?}"));
    s3.put_bucket_policy()
        .bucket(BUCKET)
        .policy(
            json!({"Version": "2012-10-17", "Statement": [{"Sid": "ReadObjects", "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::123456789012:role/ReadOnly"},
                "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::{BUCKET}/*")}]})
            .to_string(),
        )
        .send()
        .await
        .unwrap_or_else(|err| panic!("bucket policy: {err:?}"));
    iam.create_role()
        .role_name("ReadOnly")
        .assume_role_policy_document(
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "sts:AssumeRole"}]})
            .to_string(),
        )
        .send()
        .await
        .unwrap_or_else(|err| panic!("create role: {err:?}"));
    let policy = iam
        .create_policy()
        .policy_name("S3Read")
        .policy_document(
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject",
                "Resource": format!("arn:aws:s3:::{BUCKET}/*")}]})
            .to_string(),
        )
        .send()
        .await
        .unwrap_or_else(|err| panic!("create policy: {err:?}"));
    let arn = policy
        .policy()
        .and_then(|p| p.arn())
        .unwrap_or_default()
        .to_string();
    iam.attach_role_policy()
        .role_name("ReadOnly")
        .policy_arn(arn)
        .send()
        .await
        .unwrap_or_else(|err| panic!("attach: {err:?}"));
    iam.put_role_policy()
        .role_name("ReadOnly")
        .policy_name("ConsoledxReads")
        .policy_document(
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:GetBucketPolicy", "s3:GetBucketVersioning"],
                "Resource": format!("arn:aws:s3:::{BUCKET}")}]})
            .to_string(),
        )
        .send()
        .await
        .unwrap_or_else(|err| panic!("inline: {err:?}"));
}
