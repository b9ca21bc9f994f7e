//! Runs records: per worker one moto server (its own account state) and one
//! in-process backend on a loopback socket; per record reset, deploy, setup,
//! trigger, then analyze and resolve over HTTP, timed, and scored.

use super::record::{Call, Record, Rendered};
use super::score::{Known, Score, score};
use crate::{AppState, AwsSettings, Config, Credentials, app};
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use bytes::Bytes;
use consoledx_core::api::{AnalyzeRequest, Resolution, ResolveRequest};
use consoledx_core::{Analysis, KnowledgeBase, Redactor, Snapshot};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Where the account state lives.
#[derive(Debug, Clone)]
pub enum Endpoint {
    /// Spawn one `moto_server` per worker from this program.
    MotoServer(PathBuf),
    /// One running endpoint (a single worker, since workers must not share state).
    Url(String),
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{0}")]
    BadInput(String),
    #[error("{0}")]
    Internal(String),
}

/// What happened to a record's triggering action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum TriggerOutcome {
    /// The endpoint returned an error: its text is the message the console shows.
    Captured { code: String, message: String },
    /// The call succeeded, so the templated message was used.
    NoError,
    /// The runner cannot perform this call; the templated message was used.
    Unsupported,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecordResult {
    pub id: String,
    pub service: String,
    pub title: String,
    pub review: bool,
    pub fast: bool,
    pub expected_class: Option<String>,
    /// The banner text the backend was sent.
    pub message: String,
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<TriggerOutcome>,
    /// The trigger captured a different code than the record expects.
    #[serde(default)]
    pub trigger_code_mismatch: bool,
    pub analyze_ms: f64,
    pub resolve_ms: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis: Option<Analysis>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution: Option<Resolution>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<Score>,
    /// Why the record could not be run (state not deployed, backend error).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A running moto server, killed when dropped.
struct Moto {
    child: Child,
    url: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> Result<u16, RunError> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| RunError::Internal(format!("no free port: {e}")))
}

async fn start_moto(binary: &Path) -> Result<Moto, RunError> {
    let port = free_port()?;
    let child = Command::new(binary)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| {
            RunError::BadInput(format!(
                "--moto-server {}: cannot start: {e}",
                binary.display()
            ))
        })?;
    let mut moto = Moto {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = moto.child.try_wait() {
            return Err(RunError::Internal(format!(
                "{} exited ({status}) before listening",
                binary.display()
            )));
        }
        if started.elapsed() > Duration::from_secs(60) {
            return Err(RunError::Internal(format!(
                "{} did not listen on port {port} within 60 s",
                binary.display()
            )));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(moto)
}

type HttpClient = Client<HttpConnector, Full<Bytes>>;

async fn post(
    client: &HttpClient,
    url: &str,
    body: Option<Vec<u8>>,
) -> Result<(u16, Vec<u8>), String> {
    let mut request = axum::http::Request::post(url);
    if body.is_some() {
        request = request.header("content-type", "application/json");
    }
    let request = request
        .body(Full::new(Bytes::from(body.unwrap_or_default())))
        .map_err(|e| format!("POST {url}: {e}"))?;
    let response = tokio::time::timeout(Duration::from_secs(30), client.request(request))
        .await
        .map_err(|_| format!("POST {url}: no answer within 30 s"))?
        .map_err(|e| format!("POST {url}: {e}"))?;
    let status = response.status().as_u16();
    let bytes = response
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("POST {url}: reading the body: {e}"))?
        .to_bytes();
    Ok((status, bytes.to_vec()))
}

async fn post_json<T: serde::de::DeserializeOwned>(
    client: &HttpClient,
    url: &str,
    body: &impl Serialize,
) -> Result<T, String> {
    let body = serde_json::to_vec(body).map_err(|e| e.to_string())?;
    let (status, bytes) = post(client, url, Some(body)).await?;
    if !(200..300).contains(&status) {
        return Err(format!(
            "POST {url}: {status}: {}",
            String::from_utf8_lossy(&bytes)
        ));
    }
    serde_json::from_slice(&bytes).map_err(|e| format!("POST {url}: unexpected body: {e}"))
}

async fn sdk_config(endpoint: &str, region: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(
            aws_smithy_http_client::Builder::new()
                .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                    aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
                ))
                .build_https(),
        )
        .region(Region::new(region.to_string()))
        .endpoint_url(endpoint)
        .credentials_provider(aws_credential_types::Credentials::new(
            "testing",
            "testing",
            None,
            None,
            "consoledx-eval",
        ))
        .load()
        .await
}

/// One worker's endpoint and backend.
struct Worker {
    _moto: Option<Moto>,
    endpoint: String,
    backend: String,
    server: tokio::task::JoinHandle<()>,
    data_dir: PathBuf,
    http: HttpClient,
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.server.abort();
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

async fn start_worker(
    endpoint: &Endpoint,
    index: usize,
    knowledge: Option<Arc<KnowledgeBase>>,
) -> Result<Worker, RunError> {
    let (moto, url) = match endpoint {
        Endpoint::MotoServer(binary) => {
            let moto = start_moto(binary).await?;
            let url = moto.url.clone();
            (Some(moto), url)
        }
        Endpoint::Url(url) => (None, url.trim_end_matches('/').to_string()),
    };
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let data_dir = std::env::temp_dir().join(format!(
        "consoledx-eval-{}-{index}-{nanos}",
        std::process::id()
    ));
    let state = AppState::open(&Config::new(
        data_dir.clone(),
        AwsSettings {
            endpoint_url: Some(url.clone()),
            credentials: Credentials::Static {
                access_key_id: "testing".to_string(),
                secret_access_key: "testing".to_string(),
            },
            region: Some("us-east-1".to_string()),
            read_timeout: Duration::from_secs(5),
            deadline: Duration::from_secs(15),
        },
    ))
    .await
    .map_err(|e| RunError::Internal(format!("backend state: {e}")))?;
    let state = match knowledge {
        Some(knowledge) => state.with_knowledge(knowledge),
        None => state,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| RunError::Internal(format!("cannot listen on loopback: {e}")))?;
    let addr = listener
        .local_addr()
        .map_err(|e| RunError::Internal(e.to_string()))?;
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app(state)).await;
    });
    Ok(Worker {
        _moto: moto,
        endpoint: url,
        backend: format!("http://{addr}"),
        server,
        data_dir,
        http: Client::builder(TokioExecutor::new()).build_http(),
    })
}

/// Runs `records` on `workers` workers; results come back in the records' order.
/// `knowledge` replaces the backend's built-in knowledge (a customization under test).
pub async fn run_records(
    records: Vec<Record>,
    workers: usize,
    endpoint: &Endpoint,
    knowledge: Option<Arc<KnowledgeBase>>,
) -> Result<Vec<RecordResult>, RunError> {
    if workers == 0 {
        return Err(RunError::BadInput(
            "--workers must be at least 1".to_string(),
        ));
    }
    if matches!(endpoint, Endpoint::Url(_)) && workers > 1 {
        return Err(RunError::BadInput(
            "--endpoint is one shared account: use --workers 1, or --moto-server for parallel workers"
                .to_string(),
        ));
    }
    let total = records.len();
    let queue: Arc<Mutex<VecDeque<(usize, Record)>>> =
        Arc::new(Mutex::new(records.into_iter().enumerate().collect()));
    let mut handles = Vec::new();
    for index in 0..workers.min(total.max(1)) {
        let worker = start_worker(endpoint, index, knowledge.clone()).await?;
        let queue = Arc::clone(&queue);
        handles.push(tokio::spawn(async move {
            let mut done = Vec::new();
            loop {
                let next = queue.lock().ok().and_then(|mut q| q.pop_front());
                let Some((position, record)) = next else {
                    break;
                };
                done.push((position, run_record(&worker, &record).await));
            }
            done
        }));
    }
    let mut results: Vec<(usize, RecordResult)> = Vec::with_capacity(total);
    for handle in handles {
        let done = handle
            .await
            .map_err(|e| RunError::Internal(format!("worker failed: {e}")))?;
        results.extend(done);
    }
    results.sort_by_key(|(position, _)| *position);
    Ok(results.into_iter().map(|(_, r)| r).collect())
}

async fn run_record(worker: &Worker, record: &Record) -> RecordResult {
    let mut result = RecordResult {
        id: record.id.clone(),
        service: record.service.clone(),
        title: record.title.clone(),
        review: record.review,
        fast: record.fast,
        expected_class: record.expect.class.clone(),
        message: String::new(),
        url: String::new(),
        trigger: None,
        trigger_code_mismatch: false,
        analyze_ms: 0.0,
        resolve_ms: 0.0,
        analysis: None,
        resolution: None,
        score: None,
        error: None,
    };
    if let Err(err) = run_into(worker, record, &mut result).await {
        result.error = Some(err);
    }
    result
}

async fn run_into(
    worker: &Worker,
    record: &Record,
    result: &mut RecordResult,
) -> Result<(), String> {
    let rendered = record.rendered()?;
    let (status, body) = post(
        &worker.http,
        &format!("{}/moto-api/reset", worker.endpoint),
        None,
    )
    .await?;
    if !(200..300).contains(&status) {
        return Err(format!(
            "endpoint reset: {status}: {}",
            String::from_utf8_lossy(&body)
        ));
    }
    let sdk = sdk_config(&worker.endpoint, record.region()).await;
    let mut known = Known::default();
    if let Some(template) = &rendered.template {
        deploy(&sdk, &record.id, template).await?;
        known.texts.push(template.clone());
    }
    for (index, call) in rendered.setup.iter().enumerate() {
        match perform(&sdk, call).await {
            CallResult::Ok => {}
            CallResult::Failed { code, message } => {
                return Err(format!(
                    "setup[{index}] {} {}: {code}: {message}",
                    call.service, call.operation
                ));
            }
            CallResult::Unsupported => {
                return Err(format!(
                    "setup[{index}]: the runner cannot perform {} {}",
                    call.service, call.operation
                ));
            }
        }
        known.texts.extend(call.params.values().cloned());
    }
    let mut message = rendered.message.clone();
    if let Some(call) = &rendered.trigger {
        known.texts.extend(call.params.values().cloned());
        let outcome = match perform(&sdk, call).await {
            CallResult::Ok => TriggerOutcome::NoError,
            CallResult::Unsupported => TriggerOutcome::Unsupported,
            CallResult::Failed { code, message } => TriggerOutcome::Captured { code, message },
        };
        if let TriggerOutcome::Captured {
            code,
            message: text,
        } = &outcome
        {
            message = format!(
                "An error occurred ({code}) when calling the {} operation: {text}",
                call.operation
            );
            known.texts.push(message.clone());
            result.trigger_code_mismatch = record
                .expect
                .code
                .as_ref()
                .is_some_and(|want| !want.eq_ignore_ascii_case(code));
        }
        result.trigger = Some(outcome);
    }
    result.message = message.clone();
    result.url = rendered.url.clone();
    let context = console_context(record, &rendered, &message);
    let started = Instant::now();
    let analysis: Analysis = post_json(
        &worker.http,
        &format!("{}/v1/analyze", worker.backend),
        &AnalyzeRequest {
            context: context.clone(),
        },
    )
    .await?;
    result.analyze_ms = started.elapsed().as_secs_f64() * 1000.0;
    let started = Instant::now();
    let resolution: Resolution = post_json(
        &worker.http,
        &format!("{}/v1/resolve", worker.backend),
        &ResolveRequest {
            diagnosis_id: analysis.diagnosis_id.clone(),
            context,
        },
    )
    .await?;
    result.resolve_ms = started.elapsed().as_secs_f64() * 1000.0;
    result.score = Some(score(
        record,
        &rendered,
        &known,
        &analysis,
        Some(&resolution),
    ));
    result.analysis = Some(analysis);
    result.resolution = Some(resolution);
    Ok(())
}

/// The context the extension would send: the banner, the page and the navigation's identity.
pub fn console_context(
    record: &Record,
    rendered: &Rendered,
    message: &str,
) -> consoledx_core::ErrorContext {
    let account = &record.account;
    let dashed = format!("{}-{}-{}", &account[0..4], &account[4..8], &account[8..12]);
    let snapshot = Snapshot {
        url: rendered.url.clone(),
        content: message.to_string(),
        banner_kind: "flashbar".to_string(),
        nav_user_label: Some(record.role.clone()),
        nav_user_title: Some(format!("{} @ {dashed}", record.role)),
        meta_region: record.variables.get("aws_region").cloned(),
        ..Snapshot::default()
    };
    consoledx_core::interpret(&snapshot, &Redactor::default())
}

async fn deploy(sdk: &SdkConfig, id: &str, template: &str) -> Result<(), String> {
    use aws_sdk_cloudformation::types::{Capability, StackStatus};
    let cfn = aws_sdk_cloudformation::Client::new(sdk);
    let name = format!("eval-{id}");
    cfn.create_stack()
        .stack_name(&name)
        .template_body(template)
        .capabilities(Capability::CapabilityNamedIam)
        .send()
        .await
        .map_err(|e| format!("state: CreateStack: {}", describe(&e)))?;
    let started = Instant::now();
    loop {
        let out = cfn
            .describe_stacks()
            .stack_name(&name)
            .send()
            .await
            .map_err(|e| format!("state: DescribeStacks: {}", describe(&e)))?;
        let stack = out.stacks().first();
        let status = stack.and_then(|s| s.stack_status()).cloned();
        match status {
            Some(StackStatus::CreateComplete) => return Ok(()),
            Some(StackStatus::CreateInProgress) | None
                if started.elapsed() < Duration::from_secs(30) =>
            {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            other => {
                return Err(format!(
                    "state: stack {name} is {}: {}",
                    other.map(|s| s.as_str().to_string()).unwrap_or_default(),
                    stack
                        .and_then(|s| s.stack_status_reason())
                        .unwrap_or("no reason given")
                ));
            }
        }
    }
}

fn describe<E: ProvideErrorMetadata + std::error::Error>(err: &E) -> String {
    match (err.code(), err.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_string(),
        _ => format!("{err}"),
    }
}

enum CallResult {
    Ok,
    Failed { code: String, message: String },
    Unsupported,
}

fn outcome<T, E: ProvideErrorMetadata + std::error::Error>(result: Result<T, E>) -> CallResult {
    match result {
        Ok(_) => CallResult::Ok,
        Err(err) => CallResult::Failed {
            code: err.code().unwrap_or("Unknown").to_string(),
            message: err
                .message()
                .map(str::to_string)
                .unwrap_or_else(|| err.to_string()),
        },
    }
}

/// Performs the calls the runner knows; anything else is `Unsupported`.
async fn perform(sdk: &SdkConfig, call: &Call) -> CallResult {
    let p = |name: &str| call.params.get(name).cloned().unwrap_or_default();
    match (call.service.as_str(), call.operation.as_str()) {
        ("s3", operation) => {
            let s3 = aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(sdk)
                    .force_path_style(true)
                    .build(),
            );
            match operation {
                "CreateBucket" => {
                    use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};
                    let region = sdk.region().map(|r| r.to_string()).unwrap_or_default();
                    let mut request = s3.create_bucket().bucket(p("Bucket"));
                    if region != "us-east-1" {
                        request = request.create_bucket_configuration(
                            CreateBucketConfiguration::builder()
                                .location_constraint(BucketLocationConstraint::from(
                                    region.as_str(),
                                ))
                                .build(),
                        );
                    }
                    outcome(request.send().await)
                }
                "PutObject" => outcome(
                    s3.put_object()
                        .bucket(p("Bucket"))
                        .key(p("Key"))
                        .body(p("Body").into_bytes().into())
                        .send()
                        .await,
                ),
                "DeleteBucket" => outcome(s3.delete_bucket().bucket(p("Bucket")).send().await),
                "ListObjectsV2" => outcome(s3.list_objects_v2().bucket(p("Bucket")).send().await),
                "GetObject" => outcome(
                    s3.get_object()
                        .bucket(p("Bucket"))
                        .key(p("Key"))
                        .send()
                        .await,
                ),
                _ => CallResult::Unsupported,
            }
        }
        ("iam", operation) => {
            let iam = aws_sdk_iam::Client::new(sdk);
            match operation {
                "GetRole" => outcome(iam.get_role().role_name(p("RoleName")).send().await),
                "DeleteRole" => outcome(iam.delete_role().role_name(p("RoleName")).send().await),
                "CreateRole" => outcome(
                    iam.create_role()
                        .role_name(p("RoleName"))
                        .assume_role_policy_document(p("AssumeRolePolicyDocument"))
                        .send()
                        .await,
                ),
                "GetUser" => outcome(iam.get_user().user_name(p("UserName")).send().await),
                "CreateUser" => outcome(iam.create_user().user_name(p("UserName")).send().await),
                "DeleteUser" => outcome(iam.delete_user().user_name(p("UserName")).send().await),
                "GetPolicy" => outcome(iam.get_policy().policy_arn(p("PolicyArn")).send().await),
                "DeletePolicy" => {
                    outcome(iam.delete_policy().policy_arn(p("PolicyArn")).send().await)
                }
                "CreatePolicy" => outcome(
                    iam.create_policy()
                        .policy_name(p("PolicyName"))
                        .policy_document(p("PolicyDocument"))
                        .send()
                        .await,
                ),
                "AttachRolePolicy" => outcome(
                    iam.attach_role_policy()
                        .role_name(p("RoleName"))
                        .policy_arn(p("PolicyArn"))
                        .send()
                        .await,
                ),
                _ => CallResult::Unsupported,
            }
        }
        ("lambda", "GetFunction") => outcome(
            aws_sdk_lambda::Client::new(sdk)
                .get_function()
                .function_name(p("FunctionName"))
                .send()
                .await,
        ),
        ("ec2", "DescribeInstances") => outcome(
            aws_sdk_ec2::Client::new(sdk)
                .describe_instances()
                .instance_ids(p("InstanceId"))
                .send()
                .await,
        ),
        ("kms", "DescribeKey") => outcome(
            aws_sdk_kms::Client::new(sdk)
                .describe_key()
                .key_id(p("KeyId"))
                .send()
                .await,
        ),
        ("ec2", "StopInstances") => outcome(
            aws_sdk_ec2::Client::new(sdk)
                .stop_instances()
                .instance_ids(p("InstanceId"))
                .send()
                .await,
        ),
        ("ec2", "DescribeSubnets") => outcome(
            aws_sdk_ec2::Client::new(sdk)
                .describe_subnets()
                .subnet_ids(p("SubnetId"))
                .send()
                .await,
        ),
        ("ec2", "DescribeSecurityGroups") => outcome(
            aws_sdk_ec2::Client::new(sdk)
                .describe_security_groups()
                .group_ids(p("GroupId"))
                .send()
                .await,
        ),
        ("cloudformation", "CreateStack") => outcome(
            aws_sdk_cloudformation::Client::new(sdk)
                .create_stack()
                .stack_name(p("StackName"))
                .template_body(p("TemplateBody"))
                .send()
                .await,
        ),
        ("sqs", operation) => perform_sqs(sdk, operation, &p).await,
        ("sns", operation) => {
            let sns = aws_sdk_sns::Client::new(sdk);
            match operation {
                "CreateTopic" => outcome(sns.create_topic().name(p("Name")).send().await),
                "GetTopicAttributes" => outcome(
                    sns.get_topic_attributes()
                        .topic_arn(p("TopicArn"))
                        .send()
                        .await,
                ),
                "Publish" => outcome(
                    sns.publish()
                        .topic_arn(p("TopicArn"))
                        .message(p("Message"))
                        .send()
                        .await,
                ),
                "Subscribe" => outcome(
                    sns.subscribe()
                        .topic_arn(p("TopicArn"))
                        .protocol(p("Protocol"))
                        .endpoint(p("Endpoint"))
                        .send()
                        .await,
                ),
                _ => CallResult::Unsupported,
            }
        }
        ("dynamodb", operation) => perform_dynamodb(sdk, operation, &p).await,
        ("organizations", operation) => {
            let org = aws_sdk_organizations::Client::new(sdk);
            match operation {
                "CreateOrganization" => outcome(
                    org.create_organization()
                        .feature_set(aws_sdk_organizations::types::OrganizationFeatureSet::All)
                        .send()
                        .await,
                ),
                "DescribeOrganization" => outcome(org.describe_organization().send().await),
                "DescribePolicy" => {
                    outcome(org.describe_policy().policy_id(p("PolicyId")).send().await)
                }
                "DescribeAccount" => outcome(
                    org.describe_account()
                        .account_id(p("AccountId"))
                        .send()
                        .await,
                ),
                "DescribeOrganizationalUnit" => outcome(
                    org.describe_organizational_unit()
                        .organizational_unit_id(p("OrganizationalUnitId"))
                        .send()
                        .await,
                ),
                _ => CallResult::Unsupported,
            }
        }
        ("cloudformation", "DescribeStacks") => outcome(
            aws_sdk_cloudformation::Client::new(sdk)
                .describe_stacks()
                .stack_name(p("StackName"))
                .send()
                .await,
        ),
        _ => CallResult::Unsupported,
    }
}

/// SQS calls name the queue by `QueueName`: its URL depends on the endpoint's
/// host and port, which a record cannot know. A queue that does not exist gets
/// the URL it would have, so the endpoint answers for the missing queue.
async fn perform_sqs(
    sdk: &SdkConfig,
    operation: &str,
    p: &(dyn Fn(&str) -> String + Sync),
) -> CallResult {
    let sqs = aws_sdk_sqs::Client::new(sdk);
    if operation == "CreateQueue" {
        let mut request = sqs.create_queue().queue_name(p("QueueName"));
        let timeout = p("VisibilityTimeout");
        if !timeout.is_empty() {
            request = request.attributes(
                aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout,
                timeout,
            );
        }
        return outcome(request.send().await);
    }
    let name = p("QueueName");
    let url = match sqs.get_queue_url().queue_name(&name).send().await {
        Ok(found) => found.queue_url().unwrap_or_default().to_string(),
        Err(err) if operation == "GetQueueUrl" => return outcome::<(), _>(Err(err)),
        Err(_) => {
            let endpoint = sdk
                .endpoint_url()
                .unwrap_or("https://sqs.us-east-1.amazonaws.com")
                .trim_end_matches('/');
            format!("{endpoint}/{}/{name}", p("AccountId"))
        }
    };
    match operation {
        "GetQueueUrl" => CallResult::Ok,
        "SendMessage" => outcome(
            sqs.send_message()
                .queue_url(url)
                .message_body(p("MessageBody"))
                .send()
                .await,
        ),
        "PurgeQueue" => outcome(sqs.purge_queue().queue_url(url).send().await),
        "DeleteQueue" => outcome(sqs.delete_queue().queue_url(url).send().await),
        _ => CallResult::Unsupported,
    }
}

/// DynamoDB items are given as `{"attribute": "string value"}` JSON, enough
/// for the string keys records use.
async fn perform_dynamodb(
    sdk: &SdkConfig,
    operation: &str,
    p: &(dyn Fn(&str) -> String + Sync),
) -> CallResult {
    use aws_sdk_dynamodb::types::AttributeValue;
    let ddb = aws_sdk_dynamodb::Client::new(sdk);
    let item = |name: &str| -> Result<std::collections::HashMap<String, AttributeValue>, String> {
        let text = p(name);
        if text.is_empty() {
            return Ok(Default::default());
        }
        let map: std::collections::BTreeMap<String, String> = serde_json::from_str(&text)
            .map_err(|e| format!("{name} must be a JSON object of strings: {e}"))?;
        Ok(map
            .into_iter()
            .map(|(k, v)| (k, AttributeValue::S(v)))
            .collect())
    };
    let bad = |reason: String| CallResult::Failed {
        code: "InvalidRecordParameter".to_string(),
        message: reason,
    };
    match operation {
        "DescribeTable" => outcome(ddb.describe_table().table_name(p("TableName")).send().await),
        "PutItem" => {
            let item = match item("Item") {
                Ok(item) => item,
                Err(reason) => return bad(reason),
            };
            let condition = p("ConditionExpression");
            let mut request = ddb
                .put_item()
                .table_name(p("TableName"))
                .set_item(Some(item));
            if !condition.is_empty() {
                request = request.condition_expression(condition);
            }
            outcome(request.send().await)
        }
        "GetItem" => {
            let key = match item("Key") {
                Ok(key) => key,
                Err(reason) => return bad(reason),
            };
            outcome(
                ddb.get_item()
                    .table_name(p("TableName"))
                    .set_key(Some(key))
                    .send()
                    .await,
            )
        }
        _ => CallResult::Unsupported,
    }
}
