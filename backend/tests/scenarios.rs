//! Scenario tests against a real moto server: each scenario creates the
//! account state (CloudFormation CreateStack where moto supports the types,
//! SDK calls otherwise), triggers the error where moto can produce it, runs
//! "Help me resolve" through the backend's own reads, and checks the steps
//! against `tests/data/scenarios.json` (`${name}` stands for an id only known
//! once the state exists). moto's request recorder proves which reads were
//! sent, and that reads the signed-in principal may not make never are.

mod common;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use common::moto::{
    Moto, REGION, config_with_credentials, moto_api, moto_send, seeding_config, start_moto,
    versioned_objects,
};
use consoledx::{AppState, AwsReader, AwsSettings, Credentials};
use consoledx_core::api::Resolution;
use consoledx_core::{ErrorContext, KnowledgeBase, Redactor, Snapshot};
use consoledx_resolve::Facts;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

const ACCOUNT: &str = "123456789012";
const BUCKET: &str = "my-bucket-123456";

/// One request moto received, as its recorder wrote it.
#[derive(Debug, Deserialize)]
struct Recorded {
    method: String,
    url: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    body_encoded: bool,
}

impl Recorded {
    fn body_text(&self) -> String {
        let body = self.body.clone().unwrap_or_default();
        if self.body_encoded {
            aws_smithy_types::base64::decode(&body)
                .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
                .unwrap_or_default()
        } else {
            body
        }
    }

    /// `METHOD url` plus the query-protocol `Action=` or JSON target, to match on.
    fn summary(&self) -> String {
        let target = self
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("x-amz-target"))
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        format!(
            "{} {} {} {}",
            self.method,
            self.url,
            target,
            self.body_text()
        )
    }
}

/// Starts recording afresh; returns when moto records.
async fn record(moto: &Moto) {
    moto_api(moto, "/moto-api/recorder/reset-recording").await;
    moto_api(moto, "/moto-api/recorder/start-recording").await;
}

async fn recorded(moto: &Moto) -> Vec<Recorded> {
    moto_api(moto, "/moto-api/recorder/stop-recording").await;
    std::fs::read_to_string(&moto.recording)
        .unwrap_or_default()
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).expect("a recorded request"))
        .collect()
}

struct Seeder {
    s3: aws_sdk_s3::Client,
    iam: aws_sdk_iam::Client,
    ec2: aws_sdk_ec2::Client,
    lambda: aws_sdk_lambda::Client,
    cloudformation: aws_sdk_cloudformation::Client,
}

fn trust(service_or_account: &str) -> String {
    let principal = if service_or_account.ends_with(".amazonaws.com") {
        json!({"Service": service_or_account})
    } else {
        json!({"AWS": format!("arn:aws:iam::{service_or_account}:root")})
    };
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}]}).to_string()
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
            ec2: aws_sdk_ec2::Client::new(config),
            lambda: aws_sdk_lambda::Client::new(config),
            cloudformation: aws_sdk_cloudformation::Client::new(config),
        }
    }

    /// Creates a stack and returns its outputs; panics with the stack's reason if it fails.
    async fn stack(&self, name: &str, template: Value) -> BTreeMap<String, String> {
        self.cloudformation
            .create_stack()
            .stack_name(name)
            .template_body(template.to_string())
            .send()
            .await
            .unwrap_or_else(|err| panic!("create stack {name}: {err:?}"));
        let out = self
            .cloudformation
            .describe_stacks()
            .stack_name(name)
            .send()
            .await
            .expect("describe stack");
        let stack = out.stacks().first().expect("the stack");
        let status = stack.stack_status().map(|s| s.as_str().to_string());
        assert_eq!(status.as_deref(), Some("CREATE_COMPLETE"), "stack {name}");
        stack
            .outputs()
            .iter()
            .filter_map(|o| Some((o.output_key()?.to_string(), o.output_value()?.to_string())))
            .collect()
    }

    async fn bucket(&self) {
        self.stack(
            "bucket",
            json!({"Resources": {"Bucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": BUCKET}}}}),
        )
        .await;
    }

    async fn role(&self, name: &str, boundary: Option<&str>) {
        let mut request = self
            .iam
            .create_role()
            .role_name(name)
            .assume_role_policy_document(trust(ACCOUNT));
        if let Some(boundary) = boundary {
            request = request.permissions_boundary(boundary);
        }
        request.send().await.expect("create role");
    }

    async fn managed_policy(&self, name: &str, document: Value) -> String {
        let out = self
            .iam
            .create_policy()
            .policy_name(name)
            .policy_document(document.to_string())
            .send()
            .await
            .expect("create policy");
        out.policy()
            .and_then(|p| p.arn())
            .expect("policy arn")
            .to_string()
    }

    async fn attach(&self, role: &str, policy_arn: &str) {
        self.iam
            .attach_role_policy()
            .role_name(role)
            .policy_arn(policy_arn)
            .send()
            .await
            .expect("attach policy");
    }

    async fn inline(&self, role: &str, name: &str, statements: Value) {
        self.iam
            .put_role_policy()
            .role_name(role)
            .policy_name(name)
            .policy_document(json!({"Version": "2012-10-17", "Statement": statements}).to_string())
            .send()
            .await
            .expect("put role policy");
    }

    /// Role ReadOnly: managed S3Read allows getting objects only.
    async fn read_only_role(&self, boundary: Option<&str>) {
        self.role("ReadOnly", boundary).await;
        let arn = self
            .managed_policy(
                "S3Read",
                json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                    "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::{BUCKET}/*")}]}),
            )
            .await;
        self.attach("ReadOnly", &arn).await;
    }

    /// What consoledx needs the signed-in role to be allowed to read the bucket's policy.
    async fn may_read_bucket_policy(&self, role: &str) {
        self.inline(
            role,
            "ReadBucketPolicy",
            json!([{"Effect": "Allow", "Action": "s3:GetBucketPolicy", "Resource": format!("arn:aws:s3:::{BUCKET}")}]),
        )
        .await;
    }

    async fn admin_role(&self) {
        self.role("Admin", None).await;
        self.inline(
            "Admin",
            "Everything",
            json!([{"Effect": "Allow", "Action": "*", "Resource": "*"}]),
        )
        .await;
    }

    async fn put_bucket_policy(&self, policy: Value) {
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

fn interpret(url: &str, content: &str, role: &str) -> ErrorContext {
    let mut context = consoledx_core::interpret(
        &Snapshot {
            url: url.into(),
            content: content.into(),
            nav_user_label: Some(format!("{role}/alice")),
            nav_user_title: Some(format!("{role}/alice @ 1234-5678-9012")),
            ..Default::default()
        },
        &Redactor::default(),
    );
    consoledx_core::extract::complete(&mut context);
    context
}

/// What a scenario's resolution must contain; `${name}` is replaced by the seeded id.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Expect {
    cause: Vec<String>,
    steps: Vec<StepExpect>,
    never: Vec<String>,
    evidence: Vec<String>,
    not_checked: Vec<String>,
    not_checked_empty: bool,
    /// Substrings of recorded requests that must (or must not) have reached moto.
    sent: Vec<String>,
    not_sent: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct StepExpect {
    title: Option<String>,
    cli: Option<String>,
    policy: Option<String>,
    link: Option<String>,
}

fn fill(text: &str, ids: &BTreeMap<String, String>) -> String {
    let mut out = text.to_string();
    for (name, value) in ids {
        out = out.replace(&format!("${{{name}}}"), value);
    }
    out
}

fn has(actual: Option<&str>, expected: &Option<String>, ids: &BTreeMap<String, String>) -> bool {
    expected
        .as_ref()
        .is_none_or(|e| actual.is_some_and(|a| a.contains(&fill(e, ids))))
}

fn check(
    name: &str,
    resolution: &Resolution,
    requests: &[Recorded],
    ids: &BTreeMap<String, String>,
) -> Vec<String> {
    let all: BTreeMap<String, Expect> = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/scenarios.json"),
        )
        .expect("scenarios.json"),
    )
    .expect("scenarios.json parses");
    let Some(expect) = all.get(name) else {
        return vec![format!("{name}: no expectations in scenarios.json")];
    };
    let mut failures = Vec::new();
    for phrase in &expect.cause {
        if !resolution.cause.contains(&fill(phrase, ids)) {
            failures.push(format!("cause lacks {:?}", fill(phrase, ids)));
        }
    }
    let mut next = 0;
    for (i, expected) in expect.steps.iter().enumerate() {
        let found = resolution
            .steps
            .iter()
            .enumerate()
            .skip(next)
            .find(|(_, step)| {
                has(Some(&step.title), &expected.title, ids)
                    && has(step.cli.as_deref(), &expected.cli, ids)
                    && has(step.policy.as_deref(), &expected.policy, ids)
                    && has(step.link.as_deref(), &expected.link, ids)
            });
        match found {
            Some((index, _)) => next = index + 1,
            None => failures.push(format!("step #{i} {expected:?} not found in order")),
        }
    }
    for word in &expect.never {
        let word = fill(word, ids);
        for step in &resolution.steps {
            let texts = [
                Some(&step.title),
                Some(&step.detail),
                step.cli.as_ref(),
                step.policy.as_ref(),
            ];
            if texts.into_iter().flatten().any(|t| t.contains(&word)) {
                failures.push(format!("step {:?} mentions {word:?}", step.title));
            }
        }
    }
    for phrase in &expect.evidence {
        let phrase = fill(phrase, ids);
        if !resolution.evidence.iter().any(|e| e.contains(&phrase)) {
            failures.push(format!("evidence lacks {phrase:?}"));
        }
    }
    for phrase in &expect.not_checked {
        let phrase = fill(phrase, ids);
        if !resolution.not_checked.iter().any(|e| e.contains(&phrase)) {
            failures.push(format!("not_checked lacks {phrase:?}"));
        }
    }
    if expect.not_checked_empty && !resolution.not_checked.is_empty() {
        failures.push(format!("reads not checked: {:?}", resolution.not_checked));
    }
    let summaries: Vec<String> = requests.iter().map(Recorded::summary).collect();
    for phrase in &expect.sent {
        let phrase = fill(phrase, ids);
        if !summaries.iter().any(|s| s.contains(&phrase)) {
            failures.push(format!("no request {phrase:?} reached moto"));
        }
    }
    for phrase in &expect.not_sent {
        let phrase = fill(phrase, ids);
        if let Some(sent) = summaries.iter().find(|s| s.contains(&phrase)) {
            failures.push(format!("request {phrase:?} was sent: {sent}"));
        }
    }
    // Invariants: least privilege, no placeholder, https links.
    for step in &resolution.steps {
        if let Some(policy) = &step.policy
            && (policy.contains("\"s3:*\"") || policy.contains("\"Action\": \"*\""))
        {
            failures.push(format!("step {:?}: broad policy {policy}", step.title));
        }
        if step
            .link
            .as_ref()
            .is_some_and(|l| !l.starts_with("https://"))
        {
            failures.push(format!("step {:?}: link is not https", step.title));
        }
    }
    if !failures.is_empty() {
        failures.push(format!(
            "resolution: {}\nrequests: {summaries:#?}",
            serde_json::to_string_pretty(resolution).unwrap_or_default()
        ));
    }
    failures
        .into_iter()
        .map(|f| format!("{name}: {f}"))
        .collect()
}

struct Harness {
    moto: Moto,
    seeder: Seeder,
    state: AppState,
    _dir: tempfile::TempDir,
}

impl Harness {
    async fn new(credentials: Credentials) -> Harness {
        let moto = start_moto();
        let seeder = Seeder::new(&seeding_config(&moto.url).await);
        let dir = tempfile::tempdir().expect("tempdir");
        let state = common::state_with(
            dir.path(),
            AwsSettings {
                endpoint_url: Some(moto.url.clone()),
                credentials,
                region: Some(REGION.into()),
                ..AwsSettings::default()
            },
        )
        .await;
        Harness {
            moto,
            seeder,
            state,
            _dir: dir,
        }
    }

    async fn reset(&self) {
        moto_api(&self.moto, "/moto-api/reset").await;
    }

    /// Resolves `context` (with facts given as input) while moto records the requests.
    async fn resolve(&self, context: &ErrorContext, given: Facts) -> (Resolution, Vec<Recorded>) {
        record(&self.moto).await;
        let resolution = consoledx::resolve_context_with(&self.state, context, given).await;
        (resolution, recorded(&self.moto).await)
    }

    /// Resolves `context` and checks the answer and the requests sent
    /// against the scenario's expectations: the failures, if any.
    async fn check(
        &self,
        name: &str,
        context: &ErrorContext,
        given: Facts,
        ids: &BTreeMap<String, String>,
    ) -> Vec<String> {
        let (resolution, requests) = self.resolve(context, given).await;
        check(name, &resolution, &requests, ids)
    }
}

fn static_keys() -> Credentials {
    Credentials::Static {
        access_key_id: "testing".into(),
        secret_access_key: "testing".into(),
    }
}

const SEED2_URL: &str = "https://s3.console.aws.amazon.com/s3/buckets/my-bucket-123456?region=us-west-2&bucketType=general&tab=objects";
const SEED2_MESSAGE: &str = "Insufficient permissions to list objects. After you or your AWS administrator has updated your permissions to allow the s3:ListBucket action, refresh the page.";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenarios_against_moto() {
    let h = Harness::new(static_keys()).await;
    let mut report = Vec::new();
    let no_ids = BTreeMap::new();
    let seed2 = interpret(SEED2_URL, SEED2_MESSAGE, "ReadOnly");

    // The signed-in role may not read the bucket policy: the read is never sent.
    h.reset().await;
    h.seeder.bucket().await;
    h.seeder.read_only_role(None).await;
    report.extend(
        h.check("read_not_permitted", &seed2, Facts::default(), &no_ids)
            .await,
    );

    // Missing allow on the role (the role may read the bucket policy, which is empty).
    h.reset().await;
    h.seeder.bucket().await;
    h.seeder.read_only_role(None).await;
    h.seeder.may_read_bucket_policy("ReadOnly").await;
    report.extend(
        h.check("missing_allow", &seed2, Facts::default(), &no_ids)
            .await,
    );

    // Explicit deny in the bucket policy.
    h.reset().await;
    h.seeder.bucket().await;
    h.seeder.read_only_role(None).await;
    h.seeder.may_read_bucket_policy("ReadOnly").await;
    h.seeder
        .put_bucket_policy(json!({"Version": "2012-10-17", "Statement": [{"Sid": "DenyListForReadOnly", "Effect": "Deny",
            "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:role/ReadOnly")},
            "Action": "s3:ListBucket", "Resource": format!("arn:aws:s3:::{BUCKET}")}]}))
        .await;
    report.extend(
        h.check("bucket_policy_deny", &seed2, Facts::default(), &no_ids)
            .await,
    );

    // Explicit deny in the role's permissions boundary.
    h.reset().await;
    h.seeder.bucket().await;
    let boundary = h
        .seeder
        .managed_policy(
            "DevBoundary",
            json!({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "*", "Resource": "*"},
                {"Sid": "NoListing", "Effect": "Deny", "Action": "s3:ListBucket", "Resource": format!("arn:aws:s3:::{BUCKET}")}]}),
        )
        .await;
    h.seeder.read_only_role(Some(&boundary)).await;
    h.seeder.may_read_bucket_policy("ReadOnly").await;
    h.seeder
        .inline("ReadOnly", "ListIt", json!([{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": format!("arn:aws:s3:::{BUCKET}")}]))
        .await;
    report.extend(
        h.check("boundary_deny", &seed2, Facts::default(), &no_ids)
            .await,
    );

    // SCP deny: moto holds no organization for this account, so the SCPs are given as input.
    h.reset().await;
    h.seeder.bucket().await;
    h.seeder.read_only_role(None).await;
    h.seeder.may_read_bucket_policy("ReadOnly").await;
    h.seeder
        .inline("ReadOnly", "ListIt", json!([{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": format!("arn:aws:s3:::{BUCKET}")}]))
        .await;
    let scp_context = interpret(
        SEED2_URL,
        "User: arn:aws:sts::123456789012:assumed-role/ReadOnly/alice is not authorized to perform: s3:ListBucket on resource: arn:aws:s3:::my-bucket-123456 with an explicit deny in a service control policy",
        "ReadOnly",
    );
    let given = Facts {
        service_control_policies: consoledx_resolve::Outcome::Ok(
            serde_json::from_value(json!([
                {"target": "r-ab12", "policies": [{"id": "p-FullAWSAccess", "document": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}}]},
                {"target": ACCOUNT, "policies": [
                    {"id": "p-FullAWSAccess", "document": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}},
                    {"id": "p-7fr4h3k1", "document": {"Version": "2012-10-17", "Statement": [{"Sid": "DenyS3Listing", "Effect": "Deny", "Action": "s3:ListBucket", "Resource": "*"}]}}]}
            ]))
            .expect("SCP levels"),
        ),
        ..Facts::default()
    };
    report.extend(h.check("scp_deny", &scp_context, given, &no_ids).await);

    // Non-empty bucket with versioning on; moto refuses the delete.
    h.reset().await;
    h.seeder.bucket().await;
    h.seeder.admin_role().await;
    h.seeder.versioned_objects().await;
    let delete = h.seeder.s3.delete_bucket().bucket(BUCKET).send().await;
    let code = delete
        .as_ref()
        .err()
        .and_then(aws_smithy_types::error::metadata::ProvideErrorMetadata::code);
    assert_eq!(code, Some("BucketNotEmpty"));
    let context = interpret(
        "https://s3.console.aws.amazon.com/s3/bucket/my-bucket-123456/delete?region=us-west-2",
        "Failed to delete bucket my-bucket-123456. This bucket is not empty. Buckets must be empty before they can be deleted.",
        "Admin",
    );
    report.extend(
        h.check(
            "bucket_not_empty_versioned",
            &context,
            Facts::default(),
            &no_ids,
        )
        .await,
    );

    // Lambda role without kms:Decrypt on the function's key: the role by CloudFormation,
    // the key and the function by the SDK (moto's CloudFormation keys answer DescribeKey
    // with a server error, and moto cannot run the function: the error comes from the
    // console message).
    h.reset().await;
    h.seeder.admin_role().await;
    let outputs = h
        .seeder
        .stack(
            "orders",
            json!({"Resources": {
                "Role": {"Type": "AWS::IAM::Role", "Properties": {"RoleName": "orders-role",
                    "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
                    "Policies": [{"PolicyName": "logs", "PolicyDocument": json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": "*"}]}).to_string()}]}}},
              "Outputs": {"RoleArn": {"Value": {"Fn::GetAtt": ["Role", "Arn"]}}}}),
        )
        .await;
    let role_arn = outputs.get("RoleArn").cloned().expect("role output");
    let key = aws_sdk_kms::Client::new(&seeding_config(&h.moto.url).await)
        .create_key()
        .policy(
            json!({"Version": "2012-10-17", "Statement": [
                {"Sid": "Enable IAM User Permissions", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:root")}, "Action": "kms:*", "Resource": "*"}]})
            .to_string(),
        )
        .send()
        .await
        .expect("create key");
    let key_arn = key
        .key_metadata()
        .and_then(|m| m.arn())
        .expect("key arn")
        .to_string();
    // An empty zip archive: the end-of-central-directory record alone.
    let mut empty_zip = b"PK\x05\x06".to_vec();
    empty_zip.extend([0u8; 18]);
    h.seeder
        .lambda
        .create_function()
        .function_name("orders-processor")
        .runtime(aws_sdk_lambda::types::Runtime::Python312)
        .handler("index.handler")
        .role(&role_arn)
        .kms_key_arn(&key_arn)
        .environment(
            aws_sdk_lambda::types::Environment::builder()
                .variables("TABLE", "orders")
                .build(),
        )
        .code(
            aws_sdk_lambda::types::FunctionCode::builder()
                .zip_file(aws_smithy_types::Blob::new(empty_zip))
                .build(),
        )
        .send()
        .await
        .expect("create function");
    let context = interpret(
        "https://us-west-2.console.aws.amazon.com/lambda/home?region=us-west-2#/functions/orders-processor?tab=testing",
        "Calling the invoke API action failed with this message: Lambda was unable to decrypt the environment variables because KMS access was denied. Please check the function's KMS key settings. KMS Exception: AccessDeniedException KMS Message: The ciphertext refers to a customer master key that does not exist, does not exist in this region, or you are not allowed to access.",
        "Admin",
    );
    let ids = BTreeMap::from([("key".to_string(), key_arn.clone())]);
    report.extend(
        h.check("lambda_kms_decrypt", &context, Facts::default(), &ids)
            .await,
    );

    // EC2 launch into a subnet of another VPC than its security group, all by CloudFormation.
    h.reset().await;
    h.seeder.admin_role().await;
    let outputs = h
        .seeder
        .stack(
            "network",
            json!({"Resources": {
                "VpcA": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.1.0.0/16"}},
                "VpcB": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.2.0.0/16"}},
                "SubnetB": {"Type": "AWS::EC2::Subnet", "Properties": {"VpcId": {"Ref": "VpcB"}, "CidrBlock": "10.2.1.0/24", "AvailabilityZone": "us-west-2a"}},
                "WebA": {"Type": "AWS::EC2::SecurityGroup", "Properties": {"GroupDescription": "web in A", "GroupName": "web-a", "VpcId": {"Ref": "VpcA"}}}},
              "Outputs": {"VpcA": {"Value": {"Ref": "VpcA"}}, "VpcB": {"Value": {"Ref": "VpcB"}},
                "SubnetB": {"Value": {"Ref": "SubnetB"}}, "WebA": {"Value": {"Fn::GetAtt": ["WebA", "GroupId"]}}}}),
        )
        .await;
    let id = |name: &str| outputs.get(name).cloned().unwrap_or_default();
    let launch = h
        .seeder
        .ec2
        .run_instances()
        .image_id("ami-12c6146b")
        .min_count(1)
        .max_count(1)
        .subnet_id(id("SubnetB"))
        .security_group_ids(id("WebA"))
        .send()
        .await;
    // moto may or may not refuse the launch; the console's message is what the user sees either way.
    let message = match &launch {
        Err(err) => aws_smithy_types::error::metadata::ProvideErrorMetadata::message(err)
            .unwrap_or_default()
            .to_string(),
        Ok(_) => String::new(),
    };
    let message = if message.contains("different networks") {
        format!("Failed to launch instance: {message}")
    } else {
        format!(
            "Failed to launch instance: Security group {} and subnet {} belong to different networks.",
            id("WebA"),
            id("SubnetB")
        )
    };
    let context = interpret(
        "https://us-west-2.console.aws.amazon.com/ec2/home?region=us-west-2#LaunchInstances:",
        &message,
        "Admin",
    );
    let ids: BTreeMap<String, String> = ["VpcA", "VpcB", "SubnetB", "WebA"]
        .into_iter()
        .map(|name| (name.to_string(), id(name)))
        .collect();
    report.extend(
        h.check("ec2_subnet_other_vpc", &context, Facts::default(), &ids)
            .await,
    );

    assert!(
        report.is_empty(),
        "{} failure(s):\n{}",
        report.len(),
        report.join("\n")
    );
}

/// The account's Block Public Access settings, through S3 Control's REST path on moto.
async fn account_public_access_block(
    moto: &Moto,
    account: &str,
    block_public_policy: bool,
    block_public_acls: bool,
) {
    let body = format!(
        r#"<PublicAccessBlockConfiguration xmlns="http://awss3control.amazonaws.com/doc/2018-08-20/"><BlockPublicAcls>{block_public_acls}</BlockPublicAcls><IgnorePublicAcls>false</IgnorePublicAcls><BlockPublicPolicy>{block_public_policy}</BlockPublicPolicy><RestrictPublicBuckets>false</RestrictPublicBuckets></PublicAccessBlockConfiguration>"#
    );
    moto_send(
        moto,
        "PUT",
        "/v20180820/configuration/publicAccessBlock",
        &[
            ("x-amz-account-id", account),
            (
                "authorization",
                "AWS4-HMAC-SHA256 Credential=testing/20260101/us-west-2/s3/aws4_request, SignedHeaders=host, Signature=0",
            ),
        ],
        body,
    )
    .await;
}

async fn bucket_public_access_block(s3: &aws_sdk_s3::Client, block_public_policy: bool) {
    use aws_sdk_s3::types::PublicAccessBlockConfiguration;
    s3.put_public_access_block()
        .bucket(BUCKET)
        .public_access_block_configuration(
            PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .ignore_public_acls(true)
                .block_public_policy(block_public_policy)
                .restrict_public_buckets(true)
                .build(),
        )
        .send()
        .await
        .expect("put public access block");
}

async fn object_ownership(s3: &aws_sdk_s3::Client, ownership: aws_sdk_s3::types::ObjectOwnership) {
    use aws_sdk_s3::types::{OwnershipControls, OwnershipControlsRule};
    s3.put_bucket_ownership_controls()
        .bucket(BUCKET)
        .ownership_controls(
            OwnershipControls::builder()
                .rules(
                    OwnershipControlsRule::builder()
                        .object_ownership(ownership)
                        .build()
                        .expect("rule"),
                )
                .build()
                .expect("controls"),
        )
        .send()
        .await
        .expect("put ownership controls");
}

const BPA_POLICY_URL: &str = "https://s3.console.aws.amazon.com/s3/bucket/my-bucket-123456/property/policy/edit?region=us-west-2";
const BPA_POLICY_MESSAGE: &str = "User: arn:aws:sts::123456789012:assumed-role/Admin/alice is not authorized to perform: s3:PutBucketPolicy on resource: \"arn:aws:s3:::my-bucket-123456\" because public policies are blocked by the BlockPublicPolicy block public access setting.";

/// Block Public Access and Object Ownership as the cause (moto stores the
/// settings but does not enforce them: the error comes from the console
/// message), and reads refused by an SCP or a bucket policy never sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_access_and_policy_gates_against_moto() {
    use aws_sdk_s3::types::ObjectOwnership;
    let h = Harness::new(static_keys()).await;
    let mut report = Vec::new();
    let no_ids = BTreeMap::new();
    let public_policy = json!({"Version": "2012-10-17", "Statement": [{"Sid": "PublicRead", "Effect": "Allow",
        "Principal": "*", "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::{BUCKET}/*")}]});

    // A public bucket policy refused by BlockPublicPolicy on the account (S3 Control) and the bucket.
    h.reset().await;
    h.seeder.bucket().await;
    h.seeder.admin_role().await;
    bucket_public_access_block(&h.seeder.s3, true).await;
    account_public_access_block(&h.moto, ACCOUNT, true, false).await;
    // moto accepts it; real S3 answers with the message below.
    let _ = h
        .seeder
        .s3
        .put_bucket_policy()
        .bucket(BUCKET)
        .policy(public_policy.to_string())
        .send()
        .await;
    let context = interpret(BPA_POLICY_URL, BPA_POLICY_MESSAGE, "Admin");
    report.extend(
        h.check("bpa_public_policy", &context, Facts::default(), &no_ids)
            .await,
    );

    // Only the bucket blocks public policies: the account step is not offered.
    h.reset().await;
    h.seeder.bucket().await;
    h.seeder.admin_role().await;
    bucket_public_access_block(&h.seeder.s3, true).await;
    account_public_access_block(&h.moto, ACCOUNT, false, false).await;
    report.extend(
        h.check(
            "bpa_public_policy_bucket_only",
            &context,
            Facts::default(),
            &no_ids,
        )
        .await,
    );

    // A read that moto answers with an error: the bucket is gone, the account's settings
    // are still read, and the answer says exactly which reads failed and why.
    h.reset().await;
    h.seeder.admin_role().await;
    account_public_access_block(&h.moto, ACCOUNT, true, false).await;
    let gone = interpret(
        &BPA_POLICY_URL.replace(BUCKET, "gone-bucket-123456"),
        &BPA_POLICY_MESSAGE.replace(BUCKET, "gone-bucket-123456"),
        "Admin",
    );
    report.extend(
        h.check("bpa_bucket_read_fails", &gone, Facts::default(), &no_ids)
            .await,
    );

    // An ACL on a bucket whose ACLs are disabled (BucketOwnerEnforced).
    h.reset().await;
    h.seeder.bucket().await;
    h.seeder.admin_role().await;
    object_ownership(&h.seeder.s3, ObjectOwnership::BucketOwnerEnforced).await;
    bucket_public_access_block(&h.seeder.s3, true).await;
    let context = interpret(
        "https://s3.console.aws.amazon.com/s3/buckets/my-bucket-123456?region=us-west-2&bucketType=general&tab=objects",
        "Failed to edit access control list. AccessControlListNotSupported: The bucket does not allow ACLs",
        "Admin",
    );
    report.extend(
        h.check("acl_not_supported", &context, Facts::default(), &no_ids)
            .await,
    );

    // SCPs given as input deny reading bucket policies: the read is never sent.
    h.reset().await;
    h.seeder.bucket().await;
    h.seeder.read_only_role(None).await;
    h.seeder.may_read_bucket_policy("ReadOnly").await;
    let seed2 = interpret(SEED2_URL, SEED2_MESSAGE, "ReadOnly");
    let full = json!({"id": "p-FullAWSAccess", "document": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}});
    let given = Facts {
        service_control_policies: consoledx_resolve::Outcome::Ok(
            serde_json::from_value(json!([
                {"target": "r-ab12", "policies": [full]},
                {"target": "ou-ab12-aaaaaaaa", "policies": [full, {"id": "p-denyread1", "document": {"Version": "2012-10-17", "Statement": [
                    {"Sid": "NoPolicyReads", "Effect": "Deny", "Action": "s3:GetBucketPolicy", "Resource": "*"}]}}]},
                {"target": ACCOUNT, "policies": [full]}
            ]))
            .expect("SCP levels"),
        ),
        ..Facts::default()
    };
    report.extend(h.check("read_refused_by_scp", &seed2, given, &no_ids).await);

    // A bucket policy already read denies reading versioning: that read is never sent, the rest is.
    h.reset().await;
    h.seeder.bucket().await;
    h.seeder.admin_role().await;
    h.seeder.versioned_objects().await;
    let given = Facts {
        bucket_policy: consoledx_resolve::Outcome::Ok(Some(consoledx_policy::NamedPolicy {
            id: format!("bucket policy of {BUCKET}"),
            document: json!({"Version": "2012-10-17", "Statement": [{"Sid": "HideVersioning", "Effect": "Deny", "Principal": "*",
                "Action": "s3:GetBucketVersioning", "Resource": format!("arn:aws:s3:::{BUCKET}")}]}),
        })),
        ..Facts::default()
    };
    let context = interpret(
        "https://s3.console.aws.amazon.com/s3/bucket/my-bucket-123456/delete?region=us-west-2",
        "Failed to delete bucket my-bucket-123456. This bucket is not empty. Buckets must be empty before they can be deleted.",
        "Admin",
    );
    report.extend(
        h.check("read_refused_by_bucket_policy", &context, given, &no_ids)
            .await,
    );

    assert!(
        report.is_empty(),
        "{} failure(s):\n{}",
        report.len(),
        report.join("\n")
    );
}

/// An SDK configuration signing as `account` (moto switches accounts on AssumeRole).
async fn config_in(url: &str, account: &str) -> SdkConfig {
    let sts = aws_sdk_sts::Client::new(&seeding_config(url).await);
    let out = sts
        .assume_role()
        .role_arn(format!("arn:aws:iam::{account}:role/seeder"))
        .role_session_name("seeder")
        .send()
        .await
        .expect("assume role in the member account");
    let keys = out.credentials().expect("credentials");
    config_with_credentials(
        url,
        aws_sdk_sts::config::Credentials::new(
            keys.access_key_id(),
            keys.secret_access_key(),
            Some(keys.session_token().to_string()),
            None,
            "member",
        ),
    )
    .await
}

/// The organization: root → ou-a → ou-b → the member account; returns (member, ou-a, ou-b).
async fn organization(org: &aws_sdk_organizations::Client) -> (String, String, String) {
    org.create_organization()
        .feature_set(aws_sdk_organizations::types::OrganizationFeatureSet::All)
        .send()
        .await
        .expect("create organization");
    let roots = org.list_roots().send().await.expect("list roots");
    let root = roots
        .roots()
        .first()
        .and_then(|r| r.id())
        .expect("root")
        .to_string();
    let ou = |parent: String, name: &'static str| async move {
        org.create_organizational_unit()
            .parent_id(parent)
            .name(name)
            .send()
            .await
            .expect("create OU")
            .organizational_unit()
            .and_then(|ou| ou.id())
            .expect("OU id")
            .to_string()
    };
    let ou_a = ou(root.clone(), "a").await;
    let ou_b = ou(ou_a.clone(), "b").await;
    let created = org
        .create_account()
        .account_name("workloads")
        .email("workloads@example.com")
        .send()
        .await
        .expect("create account");
    let member = created
        .create_account_status()
        .and_then(|s| s.account_id())
        .expect("account id")
        .to_string();
    org.move_account()
        .account_id(&member)
        .source_parent_id(&root)
        .destination_parent_id(&ou_b)
        .send()
        .await
        .expect("move account");
    (member, ou_a, ou_b)
}

/// SCPs read from moto's Organizations along root → ou-a → ou-b → account,
/// through a role in the management account, while the account's own state
/// is read through a role in the member account.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scps_along_the_ou_path() {
    let moto = start_moto();
    let management = seeding_config(&moto.url).await;
    let org = aws_sdk_organizations::Client::new(&management);
    let (member, ou_a, ou_b) = organization(&org).await;
    let deny = org
        .create_policy()
        .name("NoS3Listing")
        .description("no listing")
        .r#type(aws_sdk_organizations::types::PolicyType::ServiceControlPolicy)
        .content(json!({"Version": "2012-10-17", "Statement": [{"Sid": "DenyS3Listing", "Effect": "Deny", "Action": "s3:ListBucket", "Resource": "*"}]}).to_string())
        .send()
        .await
        .expect("create SCP");
    let deny_id = deny
        .policy()
        .and_then(|p| p.policy_summary())
        .and_then(|s| s.id())
        .expect("policy id")
        .to_string();
    org.attach_policy()
        .policy_id(&deny_id)
        .target_id(&ou_a)
        .send()
        .await
        .expect("attach SCP");

    let seeder = Seeder::new(&config_in(&moto.url, &member).await);
    seeder.bucket().await;
    seeder.read_only_role(None).await;
    seeder.may_read_bucket_policy("ReadOnly").await;
    seeder
        .inline("ReadOnly", "ListIt", json!([{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": format!("arn:aws:s3:::{BUCKET}")}]))
        .await;
    seeder
        .inline("ReadOnly", "ReadOrganization", json!([{"Effect": "Allow", "Action": ["organizations:Describe*", "organizations:List*"], "Resource": "*"}]))
        .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let state = common::state_with(
        dir.path(),
        AwsSettings {
            endpoint_url: Some(moto.url.clone()),
            credentials: Credentials::WithOrganizations {
                account: Box::new(Credentials::AssumeRole {
                    role_arn: format!("arn:aws:iam::{member}:role/consoledx-read"),
                    session_name: "consoledx".into(),
                    source: Box::new(static_keys()),
                }),
                organizations: Box::new(static_keys()),
            },
            region: Some(REGION.into()),
            ..AwsSettings::default()
        },
    )
    .await;
    let grouped = format!("{}-{}-{}", &member[..4], &member[4..8], &member[8..]);
    let context = |message: String| {
        let mut context = consoledx_core::interpret(
            &Snapshot {
                url: SEED2_URL.into(),
                content: message,
                nav_user_label: Some("ReadOnly/alice".into()),
                nav_user_title: Some(format!("ReadOnly/alice @ {grouped}")),
                ..Default::default()
            },
            &Redactor::default(),
        );
        consoledx_core::extract::complete(&mut context);
        context
    };
    let ids = BTreeMap::from([
        ("member".to_string(), member.clone()),
        ("ou_a".to_string(), ou_a.clone()),
        ("ou_b".to_string(), ou_b.clone()),
        ("deny".to_string(), deny_id.clone()),
    ]);
    let mut report = Vec::new();

    let explicit = context(format!(
        "User: arn:aws:sts::{member}:assumed-role/ReadOnly/alice is not authorized to perform: s3:ListBucket on resource: arn:aws:s3:::{BUCKET} with an explicit deny in a service control policy"
    ));
    moto_api(&moto, "/moto-api/recorder/reset-recording").await;
    moto_api(&moto, "/moto-api/recorder/start-recording").await;
    let resolution = consoledx::resolve_context_with(&state, &explicit, Facts::default()).await;
    report.extend(check(
        "scp_deny_at_ou",
        &resolution,
        &recorded(&moto).await,
        &ids,
    ));

    // The deny is gone, and ou-b lost its FullAWSAccess: no allow at that level.
    for (policy, target) in [
        (deny_id.as_str(), ou_a.as_str()),
        ("p-FullAWSAccess", ou_b.as_str()),
    ] {
        org.detach_policy()
            .policy_id(policy)
            .target_id(target)
            .send()
            .await
            .expect("detach SCP");
    }
    let implicit = context(format!(
        "User: arn:aws:sts::{member}:assumed-role/ReadOnly/alice is not authorized to perform: s3:ListBucket on resource: arn:aws:s3:::{BUCKET} because no service control policy allows the s3:ListBucket action"
    ));
    moto_api(&moto, "/moto-api/recorder/reset-recording").await;
    moto_api(&moto, "/moto-api/recorder/start-recording").await;
    let resolution = consoledx::resolve_context_with(&state, &implicit, Facts::default()).await;
    report.extend(check(
        "scp_implicit_at_ou",
        &resolution,
        &recorded(&moto).await,
        &ids,
    ));

    assert!(
        report.is_empty(),
        "{} failure(s):\n{}",
        report.len(),
        report.join("\n")
    );
}

/// `--assume-role-arn`: the backend assumes the read role with STS AssumeRole and reads with its keys.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_with_an_assumed_read_only_role() {
    let h = Harness::new(Credentials::AssumeRole {
        role_arn: format!("arn:aws:iam::{ACCOUNT}:role/consoledx-read"),
        session_name: "consoledx".into(),
        source: Box::new(static_keys()),
    })
    .await;
    h.reset().await;
    h.seeder.bucket().await;
    h.seeder.role("consoledx-read", None).await;
    h.seeder.read_only_role(None).await;
    h.seeder.may_read_bucket_policy("ReadOnly").await;
    let seed2 = interpret(SEED2_URL, SEED2_MESSAGE, "ReadOnly");
    let (resolution, requests) = h.resolve(&seed2, Facts::default()).await;
    let failures = check("missing_allow", &resolution, &requests, &BTreeMap::new());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let assumed = requests.iter().any(|r| {
        r.summary().contains("Action=AssumeRole") && r.summary().contains("consoledx-read")
    });
    assert!(assumed, "no AssumeRole request reached moto");
    // Every read after AssumeRole is signed with the temporary keys, not the source keys.
    let reads_signed_with_source = requests
        .iter()
        .filter(|r| !r.summary().contains("Action=AssumeRole"))
        .filter(|r| {
            r.headers.iter().any(|(k, v)| {
                k.eq_ignore_ascii_case("authorization") && v.contains("Credential=testing/")
            })
        })
        .count();
    assert_eq!(
        reads_signed_with_source, 0,
        "reads signed with the source keys"
    );
}

/// Cloud Control (absent from moto) against recorded answers: a throttled
/// GetResource is retried with backoff, and a missing resource lists the type.
#[tokio::test]
async fn cloud_control_replayed() {
    use aws_smithy_http_client::test_util::{ReplayEvent, StaticReplayClient};
    fn answer(status: u16, body: &str) -> axum::http::Response<aws_smithy_types::body::SdkBody> {
        axum::http::Response::builder()
            .status(status)
            .header("content-type", "application/x-amz-json-1.0")
            .body(aws_smithy_types::body::SdkBody::from(body.to_string()))
            .expect("response")
    }
    fn request() -> axum::http::Request<aws_smithy_types::body::SdkBody> {
        axum::http::Request::builder()
            .uri("https://cloudcontrolapi.us-west-2.amazonaws.com/")
            .body(aws_smithy_types::body::SdkBody::empty())
            .expect("request")
    }
    let cases = [
        (
            "found after a throttle",
            vec![
                answer(
                    400,
                    r#"{"__type":"ThrottlingException","Message":"Rate exceeded"}"#,
                ),
                answer(
                    200,
                    r#"{"TypeName":"AWS::DynamoDB::Table","ResourceDescription":{"Identifier":"orders","Properties":"{\"TableName\":\"orders\",\"TableStatus\":\"ACTIVE\",\"BillingMode\":\"PAY_PER_REQUEST\"}"}}"#,
                ),
            ],
            vec!["GetResource", "GetResource"],
            "AWS::DynamoDB::Table orders exists (TableStatus ACTIVE, BillingMode PAY_PER_REQUEST)",
        ),
        (
            "missing, others listed",
            vec![
                answer(
                    400,
                    r#"{"__type":"ResourceNotFoundException","Message":"not found"}"#,
                ),
                answer(
                    200,
                    r#"{"TypeName":"AWS::DynamoDB::Table","ResourceDescriptions":[{"Identifier":"orders-v2"},{"Identifier":"invoices"}]}"#,
                ),
            ],
            vec!["GetResource", "ListResources"],
            "Cloud Control found no AWS::DynamoDB::Table orders; existing ones: orders-v2, invoices",
        ),
    ];
    let kb = KnowledgeBase::builtin().expect("knowledge");
    for (name, answers, targets, evidence) in cases {
        let client = StaticReplayClient::new(
            answers
                .into_iter()
                .map(|a| ReplayEvent::new(request(), a))
                .collect(),
        );
        let sdk = aws_config::defaults(BehaviorVersion::latest())
            .http_client(client.clone())
            .region(Region::new(REGION))
            .credentials_provider(aws_sdk_sts::config::Credentials::new(
                "k", "s", None, None, "test",
            ))
            .retry_config(
                aws_smithy_types::retry::RetryConfig::standard()
                    .with_max_attempts(3)
                    .with_initial_backoff(Duration::from_millis(10)),
            )
            .load()
            .await;
        let reader =
            AwsReader::from_sdk_config(sdk, Duration::from_secs(2), Duration::from_secs(5));
        let context: ErrorContext = serde_json::from_value(json!({
            "message": "Requested resource not found: Table: orders not found",
            "url": "https://us-west-2.console.aws.amazon.com/dynamodbv2/home?region=us-west-2#table?name=orders",
            "identity": {"kind": "role", "name": "Admin", "session": "alice", "accountId": ACCOUNT},
            "identifiers": {"aws_partition": "aws", "aws_region": REGION, "aws_service": "dynamodb", "dynamodb_table_name": "orders"},
            "error_code": "ResourceNotFoundException"
        }))
        .expect("context");
        let analysis = kb.analyze(&context);
        // The signed-in role's own policies are given, so only Cloud Control is called.
        let given: Facts = serde_json::from_value(json!({
            "role_details": {"ok": {"arn": format!("arn:aws:iam::{ACCOUNT}:role/Admin")}},
            "role_inline_policies": {"ok": [{"id": "ReadAll", "document": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": ["cloudformation:GetResource", "cloudformation:ListResources", "dynamodb:Describe*"], "Resource": "*"}]}}]},
            "role_attached_policies": {"ok": []}
        }))
        .expect("facts");
        let facts = reader.gather(&context, &analysis, given).await;
        let resolution = consoledx_resolve::resolve(&context, &analysis, &facts, &kb);
        let sent: Vec<String> = client
            .actual_requests()
            .map(|r| {
                r.headers()
                    .get("x-amz-target")
                    .unwrap_or_default()
                    .rsplit('.')
                    .next()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect();
        assert_eq!(sent, targets, "{name}: requests");
        assert!(
            resolution.evidence.iter().any(|e| e.contains(evidence)),
            "{name}: evidence {:?}",
            resolution.evidence
        );
    }
}
