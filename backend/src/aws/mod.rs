//! Executes resolution reads against AWS (or any endpoint, such as a moto
//! server) with the AWS SDK for Rust. Every read has its own timeout under one
//! overall deadline; a read that fails becomes `Failed(reason)`, never an error.
//! Before a read is sent, the signed-in principal's own policies must allow it
//! (see [`AwsReader::gather`]); one file per service holds its reads.

mod cloudcontrol;
mod cloudformation;
mod ec2;
mod iam;
mod kms;
mod lambda;
mod organizations;
mod s3;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_http_client::tls;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_smithy_types::retry::RetryConfig;
use consoledx_core::{Analysis, ErrorContext};
use consoledx_resolve::{Facts, Read, ReadValue};
use futures_util::future::join_all;
use serde_json::Value;
use std::time::Duration;
use tokio::time::Instant;

pub const NO_CREDENTIALS: &str = "no AWS credentials configured";

/// Rounds of reads at most: identity, its policies, SCPs, resource policies,
/// the plan, then what the plan's answers name.
const MAX_ROUNDS: usize = 7;

/// Where the SDK gets its credentials.
#[derive(Debug, Clone, Default)]
pub enum Credentials {
    /// The SDK's default chain (environment, profile, web identity, container, instance).
    #[default]
    DefaultChain,
    /// Fixed keys (tests against a local endpoint).
    Static {
        access_key_id: String,
        secret_access_key: String,
    },
    /// Assume a (read-only) role in the target account with STS AssumeRole,
    /// signing that call with `source`'s credentials (`--assume-role-arn`).
    AssumeRole {
        role_arn: String,
        /// Session name CloudTrail shows for consoledx's reads.
        session_name: String,
        source: Box<Credentials>,
    },
    /// Reads are not attempted; every read fails with [`NO_CREDENTIALS`].
    None,
    /// The account with `account`, Organizations with `organizations`: only
    /// the management account (or a delegated administrator) may walk the
    /// OU path and read SCPs, so that read goes through a role there.
    WithOrganizations {
        account: Box<Credentials>,
        organizations: Box<Credentials>,
    },
}

#[derive(Debug, Clone)]
pub struct AwsSettings {
    /// Endpoint override for every service (`--aws-endpoint-url`); the SDK also reads `AWS_ENDPOINT_URL`.
    pub endpoint_url: Option<String>,
    pub credentials: Credentials,
    /// Region for global calls when the environment names none.
    pub region: Option<String>,
    pub read_timeout: Duration,
    pub deadline: Duration,
}

impl Default for AwsSettings {
    fn default() -> Self {
        AwsSettings {
            endpoint_url: None,
            credentials: Credentials::DefaultChain,
            region: None,
            read_timeout: Duration::from_secs(2),
            deadline: Duration::from_secs(5),
        }
    }
}

#[derive(Clone, Debug)]
pub struct AwsReader {
    sdk: Option<SdkConfig>,
    /// Organizations reads, when they use other credentials than the account's.
    organizations_sdk: Option<SdkConfig>,
    path_style: bool,
    read_timeout: Duration,
    deadline: Duration,
}

/// Throttling and transient errors are retried with exponential backoff and
/// jitter, inside each read's timeout.
fn retry_config() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(3)
        .with_initial_backoff(Duration::from_millis(50))
        .with_max_backoff(Duration::from_millis(800))
}

impl AwsReader {
    pub async fn load(settings: &AwsSettings) -> AwsReader {
        let endpoint_from_env = std::env::var("AWS_ENDPOINT_URL")
            .ok()
            .filter(|v| !v.is_empty());
        let path_style = settings.endpoint_url.is_some() || endpoint_from_env.is_some();
        let (sdk, organizations_sdk) = match &settings.credentials {
            Credentials::None => (None, None),
            Credentials::WithOrganizations {
                account,
                organizations,
            } => (
                Some(sdk_config(settings, account).await),
                Some(sdk_config(settings, organizations).await),
            ),
            credentials => (Some(sdk_config(settings, credentials).await), None),
        };
        AwsReader {
            sdk,
            organizations_sdk,
            path_style,
            read_timeout: settings.read_timeout,
            deadline: settings.deadline,
        }
    }

    /// A reader over a ready SDK configuration (tests: a recorded-response HTTP client).
    pub fn from_sdk_config(
        sdk: SdkConfig,
        read_timeout: Duration,
        deadline: Duration,
    ) -> AwsReader {
        AwsReader {
            sdk: Some(sdk),
            organizations_sdk: None,
            path_style: true,
            read_timeout,
            deadline,
        }
    }

    pub fn deadline(&self) -> Duration {
        self.deadline
    }

    /// Whether credentials can be had; checked once per round, bounded by the read timeout.
    async fn credentials(&self, sdk: &SdkConfig) -> Result<(), String> {
        use aws_credential_types::provider::ProvideCredentials;
        let Some(provider) = sdk.credentials_provider() else {
            return Err(NO_CREDENTIALS.to_string());
        };
        match tokio::time::timeout(self.read_timeout, provider.provide_credentials()).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(err)) => {
                let detail =
                    aws_smithy_types::error::display::DisplayErrorContext(&err).to_string();
                tracing::debug!(error = %detail, "no credentials");
                // An assume-role failure is worth naming; a missing chain is the plain message.
                if detail.contains("AssumeRole") || detail.contains("assume") {
                    Err(format!("{NO_CREDENTIALS}: assuming the read role failed"))
                } else {
                    Err(NO_CREDENTIALS.to_string())
                }
            }
            Err(_) => Err(format!("{NO_CREDENTIALS}: timed out getting credentials")),
        }
    }

    /// Reads what the resolution of `context` needs, in rounds, under the
    /// deadline: first the signed-in principal's identity and own policies,
    /// then every other read that those policies allow the principal to make
    /// (the rest are recorded as skipped and never sent), then what the
    /// answers name. `facts` may hold facts given as input (an SCP the
    /// endpoint cannot hold); their reads are not sent again.
    pub async fn gather(
        &self,
        context: &ErrorContext,
        analysis: &Analysis,
        mut facts: Facts,
    ) -> Facts {
        let deadline_at = Instant::now() + self.deadline;
        let region = context
            .identifiers
            .get("aws_region")
            .or_else(|| analysis.identifiers.get("aws_region"))
            .cloned();
        for _ in 0..MAX_ROUNDS {
            let pending: Vec<Read> = consoledx_resolve::wanted(context, analysis, &facts)
                .into_iter()
                .filter(|read| !facts.settled(read))
                .collect();
            if pending.is_empty() {
                break;
            }
            let for_check = consoledx_resolve::check_reads(context, analysis, &facts);
            let (check, rest): (Vec<Read>, Vec<Read>) = pending
                .into_iter()
                .partition(|read| for_check.contains(read));
            let batch = if !check.is_empty() {
                check
            } else {
                self.permitted(context, analysis, &mut facts, rest)
            };
            if batch.is_empty() {
                continue;
            }
            self.read_into(&batch, region.as_deref(), deadline_at, &mut facts)
                .await;
            consoledx_resolve::withhold_unpermitted(context, analysis, &mut facts);
        }
        facts
    }

    /// The reads of the lowest gate tier that the principal may make now
    /// (SCPs, then resource policies, then the rest: each tier's answers
    /// take part in the checks of the next). Refused reads of that tier are
    /// recorded as skipped; higher tiers wait for the next round.
    fn permitted(
        &self,
        context: &ErrorContext,
        analysis: &Analysis,
        facts: &mut Facts,
        pending: Vec<Read>,
    ) -> Vec<Read> {
        let mut tiers: Vec<u8> = pending.iter().map(Read::gate).collect();
        tiers.sort_unstable();
        tiers.dedup();
        for tier in tiers {
            let mut allowed = Vec::new();
            for read in pending.iter().filter(|read| read.gate() == tier) {
                match consoledx_resolve::check_read(context, analysis, facts, read) {
                    Ok(()) => allowed.push(read.clone()),
                    Err(sentence) => {
                        tracing::info!(read = ?read, %sentence, "read skipped");
                        facts.skip(read, sentence);
                    }
                }
            }
            if !allowed.is_empty() {
                return allowed;
            }
        }
        Vec::new()
    }

    /// Runs `reads` concurrently and records each outcome in `facts`. Reads
    /// still running at `deadline_at` are recorded as timed out. No permission
    /// check happens here: [`AwsReader::gather`] decides what is sent.
    pub async fn read_into(
        &self,
        reads: &[Read],
        region: Option<&str>,
        deadline_at: Instant,
        facts: &mut Facts,
    ) {
        let Some(sdk) = &self.sdk else {
            for read in reads {
                facts.record(read, Err(NO_CREDENTIALS.to_string()));
            }
            return;
        };
        if reads.is_empty() {
            return;
        }
        if let Err(reason) = self.credentials(sdk).await {
            for read in reads {
                facts.record(read, Err(reason.clone()));
            }
            return;
        }
        let clients = Clients::new(
            sdk,
            self.organizations_sdk.as_ref(),
            region,
            self.path_style,
        );
        let timeout = self
            .read_timeout
            .min(deadline_at.saturating_duration_since(Instant::now()));
        let results = join_all(reads.iter().map(|read| {
            let clients = &clients;
            async move {
                match tokio::time::timeout(timeout, execute(clients, read)).await {
                    Ok(result) => result,
                    Err(_) => Err(format!("timed out after {} ms", timeout.as_millis())),
                }
            }
        }))
        .await;
        for (read, result) in reads.iter().zip(results) {
            if let Err(reason) = &result {
                tracing::info!(read = ?read, %reason, "read failed");
            }
            facts.record(read, result);
        }
    }
}

/// The SDK configuration for `credentials`: one lean rustls(ring) HTTPS
/// client, the region chain, the endpoint override and the retry policy.
async fn sdk_config(settings: &AwsSettings, credentials: &Credentials) -> SdkConfig {
    let http_client = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    // Region from the environment or profile, never from instance metadata (which may hang
    // off EC2); the context's region is set per resolution anyway.
    let region = aws_config::meta::region::RegionProviderChain::first_try(
        settings.region.clone().map(Region::new),
    )
    .or_else(aws_config::environment::EnvironmentVariableRegionProvider::new())
    .or_else(aws_config::profile::ProfileFileRegionProvider::new())
    .or_else(Region::new("us-east-1"));
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client)
        .region(region)
        .retry_config(retry_config());
    if let Some(url) = &settings.endpoint_url {
        loader = loader.endpoint_url(url.clone());
    }
    match credentials {
        Credentials::Static {
            access_key_id,
            secret_access_key,
        } => {
            loader = loader.credentials_provider(aws_sdk_sts::config::Credentials::new(
                access_key_id.clone(),
                secret_access_key.clone(),
                None,
                None,
                "consoledx-static",
            ));
        }
        Credentials::AssumeRole {
            role_arn,
            session_name,
            source,
        } => {
            let base = Box::pin(sdk_config(settings, source)).await;
            let provider = aws_config::sts::AssumeRoleProvider::builder(role_arn.clone())
                .session_name(session_name.clone())
                .configure(&base)
                .build()
                .await;
            loader = loader.credentials_provider(provider);
        }
        Credentials::WithOrganizations { account, .. } => {
            return Box::pin(sdk_config(settings, account)).await;
        }
        Credentials::DefaultChain | Credentials::None => {}
    }
    loader.load().await
}

pub(crate) struct Clients {
    pub sts: aws_sdk_sts::Client,
    pub iam: aws_sdk_iam::Client,
    pub s3: aws_sdk_s3::Client,
    pub s3control: aws_sdk_s3control::Client,
    pub ec2: aws_sdk_ec2::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub kms: aws_sdk_kms::Client,
    pub cloudformation: aws_sdk_cloudformation::Client,
    pub organizations: aws_sdk_organizations::Client,
    pub cloudcontrol: aws_sdk_cloudcontrol::Client,
}

impl Clients {
    fn new(
        sdk: &SdkConfig,
        organizations: Option<&SdkConfig>,
        region: Option<&str>,
        path_style: bool,
    ) -> Clients {
        let mut regional = sdk.to_builder();
        if let Some(region) = region {
            regional = regional.region(Region::new(region.to_string()));
        }
        let regional = regional.build();
        let s3 = aws_sdk_s3::config::Builder::from(&regional).force_path_style(path_style);
        let mut s3control = aws_sdk_s3control::config::Builder::from(&regional);
        if path_style {
            s3control = s3control.endpoint_resolver(AccountlessHost::default());
        }
        Clients {
            sts: aws_sdk_sts::Client::new(sdk),
            iam: aws_sdk_iam::Client::new(sdk),
            s3: aws_sdk_s3::Client::from_conf(s3.build()),
            s3control: aws_sdk_s3control::Client::from_conf(s3control.build()),
            ec2: aws_sdk_ec2::Client::new(&regional),
            lambda: aws_sdk_lambda::Client::new(&regional),
            kms: aws_sdk_kms::Client::new(&regional),
            cloudformation: aws_sdk_cloudformation::Client::new(&regional),
            organizations: aws_sdk_organizations::Client::new(organizations.unwrap_or(sdk)),
            cloudcontrol: aws_sdk_cloudcontrol::Client::new(&regional),
        }
    }
}

/// S3 Control addresses `{account}.s3-control.{region}.amazonaws.com`, and
/// puts the account in front of an overridden endpoint's host too; a local
/// endpoint (moto) has no such hosts, so the account label is taken off again.
#[derive(Debug, Default)]
struct AccountlessHost(aws_sdk_s3control::config::endpoint::DefaultResolver);

impl aws_sdk_s3control::config::endpoint::ResolveEndpoint for AccountlessHost {
    fn resolve_endpoint<'a>(
        &'a self,
        params: &'a aws_sdk_s3control::config::endpoint::Params,
    ) -> aws_smithy_runtime_api::client::endpoint::EndpointFuture<'a> {
        let resolved = self.0.resolve_endpoint(params);
        aws_smithy_runtime_api::client::endpoint::EndpointFuture::new(async move {
            let endpoint = resolved.await?;
            let Some(account) = params.account_id() else {
                return Ok(endpoint);
            };
            let url = endpoint.url();
            let labelled = |scheme: &str| format!("{scheme}{account}.");
            let rewritten = ["https://", "http://"].iter().find_map(|scheme| {
                url.strip_prefix(&labelled(scheme))
                    .map(|rest| format!("{scheme}{rest}"))
            });
            let Some(url) = rewritten else {
                return Ok(endpoint);
            };
            let mut builder = aws_smithy_types::endpoint::Endpoint::builder().url(url);
            for (name, value) in endpoint.properties() {
                builder = builder.property(name.clone(), value.clone());
            }
            for (name, values) in endpoint.headers() {
                for value in values {
                    builder = builder.header(name.to_string(), value.to_string());
                }
            }
            Ok(builder.build())
        })
    }
}

/// `Code: message` of a failed call, or what kept it from reaching AWS.
pub(crate) fn reason<E, R>(err: SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    if let Some(code) = err.code() {
        return match err.message() {
            Some(message) if !message.is_empty() => format!("{code}: {message}"),
            _ => code.to_string(),
        };
    }
    match &err {
        SdkError::TimeoutError(_) => "timed out".to_string(),
        SdkError::ServiceError(_) | SdkError::ResponseError(_) => {
            tracing::debug!(error = %aws_smithy_types::error::display::DisplayErrorContext(&err), "unparsable answer");
            "the endpoint's answer could not be parsed".to_string()
        }
        SdkError::DispatchFailure(failure) if failure.is_io() => {
            "could not connect to the AWS endpoint".to_string()
        }
        _ => aws_smithy_types::error::display::DisplayErrorContext(&err).to_string(),
    }
}

/// IAM returns policy documents URL-encoded (RFC 3986); some endpoints return them raw.
pub fn decode_policy(document: &str) -> Result<Value, String> {
    if let Ok(value) = serde_json::from_str(document) {
        return Ok(value);
    }
    let decoded = percent_encoding::percent_decode_str(document)
        .decode_utf8()
        .map_err(|err| format!("policy document is not UTF-8: {err}"))?;
    serde_json::from_str(&decoded).map_err(|err| format!("policy document is not JSON: {err}"))
}

async fn execute(clients: &Clients, read: &Read) -> Result<ReadValue, String> {
    match read {
        Read::CallerIdentity => iam::caller_identity(clients).await,
        Read::RoleDetails { role } => iam::role_details(clients, role).await,
        Read::RoleInlinePolicies { role } => iam::role_inline_policies(clients, role)
            .await
            .map(ReadValue::Policies),
        Read::RoleAttachedPolicies { role } => iam::role_attached_policies(clients, role)
            .await
            .map(ReadValue::Policies),
        Read::ExecutionRolePolicies { role } => {
            let (inline, attached) = tokio::join!(
                iam::role_inline_policies(clients, role),
                iam::role_attached_policies(clients, role)
            );
            let mut policies = attached?;
            policies.extend(inline?);
            Ok(ReadValue::Policies(policies))
        }
        Read::UserPolicies { user } => iam::user_policies(clients, user).await,
        Read::BucketPolicy { bucket } => s3::bucket_policy(clients, bucket).await,
        Read::BucketVersioning { bucket } => s3::bucket_versioning(clients, bucket).await,
        Read::BucketHasObjects { bucket } => s3::bucket_contents(clients, bucket).await,
        Read::BucketPublicAccessBlock { bucket } => {
            s3::bucket_public_access_block(clients, bucket).await
        }
        Read::AccountPublicAccessBlock { account } => {
            s3::account_public_access_block(clients, account).await
        }
        Read::BucketOwnershipControls { bucket } => {
            s3::bucket_ownership_controls(clients, bucket).await
        }
        Read::Instance { instance_id } => ec2::instance(clients, instance_id).await,
        Read::Image { image_id } => ec2::image(clients, image_id).await,
        Read::Subnet { subnet_id } => ec2::subnet(clients, subnet_id).await,
        Read::SecurityGroups { group_ids } => ec2::security_groups(clients, group_ids).await,
        Read::VpcSecurityGroups { vpc_id } => ec2::vpc_security_groups(clients, vpc_id).await,
        Read::LambdaFunction { function } => lambda::function(clients, function).await,
        Read::KeyPolicy { key } => kms::key_policy(clients, key).await,
        Read::KeyState { key } => kms::key_state(clients, key).await,
        Read::Stack { stack } => cloudformation::stack(clients, stack).await,
        Read::StackEvents { stack } => cloudformation::stack_events(clients, stack).await,
        Read::ServiceControlPolicies { account } => {
            organizations::service_control_policies(clients, account).await
        }
        Read::CloudControlResource {
            type_name,
            identifier,
        } => cloudcontrol::resource(clients, type_name, identifier).await,
        Read::CloudControlList { type_name } => cloudcontrol::list(clients, type_name).await,
    }
}
