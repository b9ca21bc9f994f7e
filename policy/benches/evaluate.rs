//! Decisions per second on a 10-statement policy set: identity (3 statements),
//! resource (2), permissions boundary (2) and SCPs on two levels (3), with
//! string, IP, date, ARN and Bool conditions and a policy variable.
//!
//! Run: `CARGO_TARGET_DIR=/work/main/target/policy cargo bench -p consoledx-policy`.
//! The `thrpt` line of each benchmark is decisions per second.

use consoledx_policy::{AccessQuery, PolicySet, Request, evaluate};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

fn query() -> AccessQuery {
    let json = serde_json::json!({
        "principal": {
            "arn": "arn:aws:sts::111122223333:assumed-role/AppRole/app-session",
            "tags": {"team": "analytics"}
        },
        "action": "s3:GetObject",
        "resource": "arn:aws:s3:::amzn-s3-demo-bucket/analytics/2024/report.csv",
        "context": {
            "aws:SourceIp": "203.0.113.17",
            "aws:RequestedRegion": "eu-west-1",
            "aws:SecureTransport": true,
            "aws:CurrentTime": "2024-05-05T10:00:00Z",
            "s3:prefix": "analytics/2024/"
        },
        "identity_policies": [{
            "id": "arn:aws:iam::111122223333:policy/AppAccess",
            "document": {"Version": "2012-10-17", "Statement": [
                {"Sid": "ReadTeamPrefix", "Effect": "Allow", "Action": ["s3:GetObject", "s3:GetObjectVersion"],
                 "Resource": "arn:aws:s3:::amzn-s3-demo-bucket/${aws:PrincipalTag/team}/*",
                 "Condition": {"IpAddress": {"aws:SourceIp": ["192.0.2.0/24", "203.0.113.0/24"]}}},
                {"Sid": "List", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::amzn-s3-demo-bucket",
                 "Condition": {"StringLike": {"s3:prefix": ["${aws:PrincipalTag/team}/*"]}}},
                {"Sid": "NoDelete", "Effect": "Deny", "Action": "s3:Delete*", "Resource": "*"}
            ]}
        }],
        "resource_policy": {
            "id": "amzn-s3-demo-bucket",
            "document": {"Version": "2012-10-17", "Statement": [
                {"Sid": "TLSOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
                 "Resource": ["arn:aws:s3:::amzn-s3-demo-bucket", "arn:aws:s3:::amzn-s3-demo-bucket/*"],
                 "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
                {"Sid": "AppRole", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:role/AppRole"},
                 "Action": "s3:GetObject", "Resource": "arn:aws:s3:::amzn-s3-demo-bucket/*"}
            ]}
        },
        "permissions_boundary": {
            "id": "arn:aws:iam::111122223333:policy/Boundary",
            "document": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": ["s3:*", "cloudwatch:*"], "Resource": "*",
                 "Condition": {"DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}}},
                {"Effect": "Deny", "Action": "iam:*", "Resource": "*"}
            ]}
        },
        "scps": [
            {"target": "r-ab12", "policies": [{"id": "p-FullAWSAccess", "document": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "*", "Resource": "*"}]}}]},
            {"target": "ou-ab12-11111111", "policies": [{"id": "p-region", "document": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "*", "Resource": "*"},
                {"Sid": "DenyOutsideEU", "Effect": "Deny", "NotAction": ["iam:*", "sts:*", "organizations:*"], "Resource": "*",
                 "Condition": {"StringNotEquals": {"aws:RequestedRegion": ["eu-central-1", "eu-west-1"]},
                               "ArnNotLike": {"aws:PrincipalARN": "arn:aws:iam::*:role/BreakGlass"}}}
            ]}}]}
        ]
    });
    match serde_json::from_value(json) {
        Ok(query) => query,
        Err(error) => panic!("benchmark query does not parse: {error}"),
    }
}

fn bench(c: &mut Criterion) {
    let query = query();
    let Ok(policies) = PolicySet::from_query(&query) else {
        panic!("benchmark policies do not compile");
    };
    let Ok(request) = Request::from_query(&query) else {
        panic!("benchmark request is invalid");
    };
    let Ok(explanation) = evaluate(&query) else {
        panic!("benchmark query does not evaluate");
    };
    eprintln!("benchmark decision: {:?}", explanation.decision);

    let mut group = c.benchmark_group("decisions");
    group.throughput(Throughput::Elements(1));
    group.bench_function("evaluate(&AccessQuery) (parse + decide)", |b| {
        b.iter(|| evaluate(black_box(&query)))
    });
    group.bench_function("PolicySet::from_query (parse only)", |b| {
        b.iter(|| PolicySet::from_query(black_box(&query)))
    });
    group.bench_function(
        "PolicySet::evaluate (pre-parsed policies, new Request)",
        |b| {
            b.iter(|| {
                Request::from_query(black_box(&query)).map(|request| policies.evaluate(&request))
            })
        },
    );
    group.bench_function(
        "PolicySet::evaluate (pre-parsed policies and request)",
        |b| b.iter(|| policies.evaluate(black_box(&request))),
    );
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
