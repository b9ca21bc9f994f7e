//! "Help me resolve" against a real moto server: the account state is seeded
//! with the AWS SDK, the backend reads it back through its own SDK clients,
//! and the steps must name what the state proves. One server for the file,
//! reset between cases, killed when the test ends.

mod common;

use aws_config::SdkConfig;
use axum::http::StatusCode;
use common::moto::{REGION, moto_api, seeding_config, start_moto, versioned_objects};
use common::{post_json, send, state_with};
use consoledx::{AwsSettings, Credentials, app};
use consoledx_core::api::Resolution;
use serde_json::json;

const ACCOUNT: &str = "123456789012";
const BUCKET: &str = "my-bucket-123456";

struct Seeder {
    s3: aws_sdk_s3::Client,
    iam: aws_sdk_iam::Client,
}

impl Seeder {
    fn new(config: &SdkConfig) -> Seeder {
        Seeder {
            s3: aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(config)
                    .force_path_style(true)
                    .build(),
            ),
            iam: aws_sdk_iam::Client::new(config),
        }
    }

    async fn bucket(&self) {
        use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};
        self.s3
            .create_bucket()
            .bucket(BUCKET)
            .create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(REGION))
                    .build(),
            )
            .send()
            .await
            .expect("create bucket");
    }

    /// Role ReadOnly with one managed policy that allows reading objects, not listing the bucket.
    async fn read_only_role(&self) {
        let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:root")}, "Action": "sts:AssumeRole"}]});
        self.iam
            .create_role()
            .role_name("ReadOnly")
            .assume_role_policy_document(trust.to_string())
            .send()
            .await
            .expect("create role");
        let read = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::{BUCKET}/*")}]});
        let policy = self
            .iam
            .create_policy()
            .policy_name("S3Read")
            .policy_document(read.to_string())
            .send()
            .await
            .expect("create policy");
        let arn = policy
            .policy()
            .and_then(|p| p.arn())
            .expect("policy arn")
            .to_string();
        self.iam
            .attach_role_policy()
            .role_name("ReadOnly")
            .policy_arn(arn)
            .send()
            .await
            .expect("attach policy");
        // consoledx reads only what the signed-in role may read itself: the bucket policy,
        // and the organization's SCPs when the role's own policies allow the request.
        let reads = json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:GetBucketPolicy", "Resource": format!("arn:aws:s3:::{BUCKET}")},
            {"Effect": "Allow", "Action": ["organizations:DescribeOrganization", "organizations:ListParents", "organizations:ListPoliciesForTarget", "organizations:DescribePolicy"], "Resource": "*"}]});
        self.iam
            .put_role_policy()
            .role_name("ReadOnly")
            .policy_name("ConsoledxReads")
            .policy_document(reads.to_string())
            .send()
            .await
            .expect("put read policy");
    }

    /// Role Admin (seed example 1's signed-in role) may do anything.
    async fn admin_role(&self) {
        let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:root")}, "Action": "sts:AssumeRole"}]});
        self.iam
            .create_role()
            .role_name("Admin")
            .assume_role_policy_document(trust.to_string())
            .send()
            .await
            .expect("create role");
        self.iam
            .put_role_policy()
            .role_name("Admin")
            .policy_name("Everything")
            .policy_document(
                json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
                    .to_string(),
            )
            .send()
            .await
            .expect("put admin policy");
    }

    async fn deny_listing_in_bucket_policy(&self) {
        let policy = json!({"Version": "2012-10-17", "Statement": [{"Sid": "DenyListForReadOnly", "Effect": "Deny",
            "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:role/ReadOnly")},
            "Action": "s3:ListBucket", "Resource": format!("arn:aws:s3:::{BUCKET}")}]});
        self.s3
            .put_bucket_policy()
            .bucket(BUCKET)
            .policy(policy.to_string())
            .send()
            .await
            .expect("put bucket policy");
    }

    async fn versioned_objects(&self) {
        versioned_objects(&self.s3, BUCKET).await;
    }
}

/// What one step must contain (all given parts, as substrings).
#[derive(Default)]
struct StepExpect {
    title: &'static str,
    cli: Option<&'static str>,
    link: Option<&'static str>,
}

struct Expect {
    cause: &'static [&'static str],
    /// Matched in order, each after the previous.
    steps: Vec<StepExpect>,
    never: &'static [&'static str],
    evidence: &'static [&'static str],
}

fn check(name: &str, resolution: &Resolution, expect: &Expect) -> Vec<String> {
    let mut failures = Vec::new();
    for phrase in expect.cause {
        if !resolution.cause.contains(phrase) {
            failures.push(format!("cause lacks {phrase:?}"));
        }
    }
    let mut next = 0;
    for expected in &expect.steps {
        let found = resolution
            .steps
            .iter()
            .enumerate()
            .skip(next)
            .find(|(_, step)| {
                step.title.contains(expected.title)
                    && expected
                        .cli
                        .is_none_or(|c| step.cli.as_deref().is_some_and(|s| s.contains(c)))
                    && expected
                        .link
                        .is_none_or(|l| step.link.as_deref().is_some_and(|s| s.contains(l)))
            });
        match found {
            Some((index, _)) => next = index + 1,
            None => failures.push(format!(
                "no step {:?} (cli {:?}) in order",
                expected.title, expected.cli
            )),
        }
    }
    for word in expect.never {
        for step in &resolution.steps {
            let texts = [
                Some(&step.title),
                Some(&step.detail),
                step.cli.as_ref(),
                step.policy.as_ref(),
            ];
            if texts.into_iter().flatten().any(|t| t.contains(word)) {
                failures.push(format!("step {:?} mentions {word:?}", step.title));
            }
        }
    }
    for phrase in expect.evidence {
        if !resolution.evidence.iter().any(|e| e.contains(phrase)) {
            failures.push(format!("evidence lacks {phrase:?}"));
        }
    }
    if !resolution.not_checked.is_empty() {
        failures.push(format!("reads failed: {:?}", resolution.not_checked));
    }
    if !failures.is_empty() {
        failures.push(format!(
            "resolution: {}",
            serde_json::to_string_pretty(resolution).unwrap_or_default()
        ));
    }
    failures
        .into_iter()
        .map(|f| format!("{name}: {f}"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_scenarios_against_moto() {
    let moto = start_moto();
    let seeding = seeding_config(&moto.url).await;
    let seeder = Seeder::new(&seeding);
    let dir = tempfile::tempdir().expect("tempdir");
    let state = state_with(
        dir.path(),
        AwsSettings {
            endpoint_url: Some(moto.url.clone()),
            credentials: Credentials::Static {
                access_key_id: "testing".into(),
                secret_access_key: "testing".into(),
            },
            region: Some(REGION.into()),
            ..AwsSettings::default()
        },
    )
    .await;
    let app = app(state);
    let resolve = |context: consoledx_core::ErrorContext| {
        let app = app.clone();
        async move {
            let reply = send(&app, post_json("/v1/resolve", &json!({"context": context}))).await;
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
            serde_json::from_value::<Resolution>(reply.json).expect("a Resolution")
        }
    };
    let mut report = Vec::new();

    // (a) Seed example 2: nothing allows s3:ListBucket on the bucket.
    moto_api(&moto, "/moto-api/reset").await;
    seeder.bucket().await;
    seeder.read_only_role().await;
    let implicit = resolve(common::seed2_context()).await;
    report.extend(check("implicit deny", &implicit, &Expect {
        cause: &["role ReadOnly", "s3:ListBucket on arn:aws:s3:::my-bucket-123456"],
        steps: vec![
            StepExpect {
                title: "Allow s3:ListBucket on arn:aws:s3:::my-bucket-123456 for role ReadOnly",
                cli: Some("aws iam put-role-policy --role-name ReadOnly"),
                link: Some("https://console.aws.amazon.com/iam/home#/roles/details/ReadOnly?section=permissions"),
            },
            StepExpect { title: "Refresh the page", ..Default::default() },
        ],
        never: &["bucket-policy"],
        evidence: &[
            "Role ReadOnly has 1 attached policy (arn:aws:iam::123456789012:policy/S3Read) and 1 inline policy (ConsoledxReads); none allows s3:ListBucket on arn:aws:s3:::my-bucket-123456",
            "Bucket my-bucket-123456 has no bucket policy",
        ],
    }));

    // (a') Applying the proposed policy makes the readable policies allow the request.
    if let Some(policy) = implicit.steps.first().and_then(|s| s.policy.clone()) {
        seeder
            .iam
            .put_role_policy()
            .role_name("ReadOnly")
            .policy_name("consoledx-fix")
            .policy_document(policy)
            .send()
            .await
            .expect("apply proposed policy");
        let fixed = resolve(common::seed2_context()).await;
        report.extend(check(
            "after the fix",
            &fixed,
            &Expect {
                cause: &["allow s3:ListBucket"],
                steps: vec![StepExpect {
                    title: "Refresh the page",
                    ..Default::default()
                }],
                never: &["put-role-policy"],
                evidence: &[
                    "consoledx-fix allows s3:ListBucket",
                    "No service control policy applies: the account is in no organization",
                ],
            },
        ));
    }

    // (b) The bucket policy denies listing to the role explicitly: fix the bucket policy, not the role.
    moto_api(&moto, "/moto-api/reset").await;
    seeder.bucket().await;
    seeder.read_only_role().await;
    seeder.deny_listing_in_bucket_policy().await;
    let explicit = resolve(common::seed2_context()).await;
    report.extend(check(
        "bucket policy deny",
        &explicit,
        &Expect {
            cause: &[
                "bucket policy of my-bucket-123456",
                "explicitly denies s3:ListBucket",
                "DenyListForReadOnly",
            ],
            steps: vec![
                StepExpect {
                    title: "Edit the bucket policy of my-bucket-123456",
                    cli: Some("aws s3api get-bucket-policy --bucket my-bucket-123456"),
                    link: Some("tab=permissions"),
                },
                StepExpect {
                    title: "Save the edited bucket policy",
                    cli: Some("delete-bucket-policy --bucket my-bucket-123456"),
                    link: None,
                },
            ],
            never: &["put-role-policy", "iam/home#/roles"],
            evidence: &["statement \"DenyListForReadOnly\" denies s3:ListBucket"],
        },
    ));

    // (c) Seed example 1: a versioned bucket with objects cannot be deleted.
    moto_api(&moto, "/moto-api/reset").await;
    seeder.bucket().await;
    seeder.admin_role().await;
    seeder.versioned_objects().await;
    let delete_error = seeder
        .s3
        .delete_bucket()
        .bucket(BUCKET)
        .send()
        .await
        .expect_err("moto refuses to delete a non-empty bucket");
    assert_eq!(
        aws_smithy_types::error::metadata::ProvideErrorMetadata::code(&delete_error),
        Some("BucketNotEmpty")
    );
    let not_empty = resolve(common::seed1_context()).await;
    report.extend(check(
        "bucket not empty",
        &not_empty,
        &Expect {
            cause: &["my-bucket-123456"],
            steps: vec![
                StepExpect {
                    title: "Open bucket my-bucket-123456",
                    cli: None,
                    link: Some("s3/buckets/my-bucket-123456?region=us-west-2"),
                },
                StepExpect {
                    title: "Empty",
                    cli: None,
                    link: Some("/empty?region=us-west-2"),
                },
                StepExpect {
                    title: "lifecycle rule",
                    ..Default::default()
                },
                StepExpect {
                    title: "permanently delete",
                    ..Default::default()
                },
                StepExpect {
                    title: "Retry deleting bucket my-bucket-123456",
                    cli: Some("delete-bucket --bucket my-bucket-123456"),
                    link: None,
                },
            ],
            never: &[],
            evidence: &[
                "Versioning on bucket my-bucket-123456 is Enabled",
                "Bucket my-bucket-123456 still holds objects",
            ],
        },
    ));

    assert!(
        report.is_empty(),
        "{} failure(s):\n{}",
        report.len(),
        report.join("\n")
    );
}
