//! Executes resolution reads against AWS (or any endpoint, such as a moto
//! server) with the AWS SDK for Rust. Every read has its own timeout under one
//! overall deadline; a read that fails becomes `Failed(reason)`, never an error.

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_s3::types::BucketVersioningStatus;
use aws_smithy_http_client::tls;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_smithy_types::retry::RetryConfig;
use consoledx_policy::NamedPolicy;
use consoledx_resolve::{
    BucketContents, CallerIdentity, Facts, Read, ReadValue, RoleDetails, Versioning,
};
use futures_util::future::join_all;
use serde_json::Value;
use std::time::Duration;
use tokio::time::Instant;

pub const NO_CREDENTIALS: &str = "no AWS credentials configured";

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
    /// Reads are not attempted; every read fails with [`NO_CREDENTIALS`].
    None,
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
    path_style: bool,
    read_timeout: Duration,
    deadline: Duration,
}

impl AwsReader {
    pub async fn load(settings: &AwsSettings) -> AwsReader {
        let endpoint_from_env = std::env::var("AWS_ENDPOINT_URL")
            .ok()
            .filter(|v| !v.is_empty());
        let path_style = settings.endpoint_url.is_some() || endpoint_from_env.is_some();
        let sdk = match &settings.credentials {
            Credentials::None => None,
            credentials => {
                let http_client = aws_smithy_http_client::Builder::new()
                    .tls_provider(tls::Provider::Rustls(
                        tls::rustls_provider::CryptoMode::Ring,
                    ))
                    .build_https();
                // Region from the environment or profile, never from instance metadata (which may hang
                // off EC2); the bucket's own region is set per read anyway.
                let region = aws_config::meta::region::RegionProviderChain::first_try(
                    settings.region.clone().map(Region::new),
                )
                .or_else(aws_config::environment::EnvironmentVariableRegionProvider::new())
                .or_else(aws_config::profile::ProfileFileRegionProvider::new())
                .or_else(Region::new("us-east-1"));
                let mut loader = aws_config::defaults(BehaviorVersion::latest())
                    .http_client(http_client)
                    .region(region)
                    .retry_config(RetryConfig::standard().with_max_attempts(3));
                if let Some(url) = &settings.endpoint_url {
                    loader = loader.endpoint_url(url.clone());
                }
                if let Credentials::Static {
                    access_key_id,
                    secret_access_key,
                } = credentials
                {
                    loader = loader.credentials_provider(aws_sdk_sts::config::Credentials::new(
                        access_key_id.clone(),
                        secret_access_key.clone(),
                        None,
                        None,
                        "consoledx-static",
                    ));
                }
                Some(loader.load().await)
            }
        };
        AwsReader {
            sdk,
            path_style,
            read_timeout: settings.read_timeout,
            deadline: settings.deadline,
        }
    }

    pub fn deadline(&self) -> Duration {
        self.deadline
    }

    /// Whether credentials can be had; checked once per resolution, bounded by the read timeout.
    async fn credentials(&self, sdk: &SdkConfig) -> Result<(), String> {
        use aws_credential_types::provider::ProvideCredentials;
        let Some(provider) = sdk.credentials_provider() else {
            return Err(NO_CREDENTIALS.to_string());
        };
        match tokio::time::timeout(self.read_timeout, provider.provide_credentials()).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(err)) => {
                tracing::debug!(error = %aws_smithy_types::error::display::DisplayErrorContext(&err), "no credentials");
                Err(NO_CREDENTIALS.to_string())
            }
            Err(_) => Err(NO_CREDENTIALS.to_string()),
        }
    }

    /// Runs `reads` concurrently and records each outcome in `facts`. Reads
    /// still running at `deadline_at` are recorded as timed out.
    pub async fn read_into(
        &self,
        reads: &[Read],
        bucket_region: Option<&str>,
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
        let clients = Clients::new(sdk, bucket_region, self.path_style);
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

struct Clients {
    sts: aws_sdk_sts::Client,
    iam: aws_sdk_iam::Client,
    s3: aws_sdk_s3::Client,
}

impl Clients {
    fn new(sdk: &SdkConfig, bucket_region: Option<&str>, path_style: bool) -> Clients {
        let mut s3 = aws_sdk_s3::config::Builder::from(sdk).force_path_style(path_style);
        if let Some(region) = bucket_region {
            s3 = s3.region(Region::new(region.to_string()));
        }
        Clients {
            sts: aws_sdk_sts::Client::new(sdk),
            iam: aws_sdk_iam::Client::new(sdk),
            s3: aws_sdk_s3::Client::from_conf(s3.build()),
        }
    }
}

/// `Code: message` of a failed call, or what kept it from reaching AWS.
fn reason<E, R>(err: aws_smithy_runtime_api::client::result::SdkError<E, R>) -> String
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
        Read::CallerIdentity => {
            let out = clients
                .sts
                .get_caller_identity()
                .send()
                .await
                .map_err(reason)?;
            Ok(ReadValue::CallerIdentity(CallerIdentity {
                account: out.account().unwrap_or_default().to_string(),
                arn: out.arn().unwrap_or_default().to_string(),
            }))
        }
        Read::RoleDetails { role } => {
            let out = clients
                .iam
                .get_role()
                .role_name(role)
                .send()
                .await
                .map_err(reason)?;
            let role = out.role().ok_or("GetRole returned no role")?;
            let boundary = match role
                .permissions_boundary()
                .and_then(|b| b.permissions_boundary_arn())
            {
                Some(arn) => Some(managed_policy(&clients.iam, arn).await?),
                None => None,
            };
            Ok(ReadValue::RoleDetails(RoleDetails {
                arn: role.arn().to_string(),
                permissions_boundary: boundary,
            }))
        }
        Read::RoleInlinePolicies { role } => {
            let out = clients
                .iam
                .list_role_policies()
                .role_name(role)
                .send()
                .await
                .map_err(reason)?;
            let policies = join_all(out.policy_names().iter().map(|name| async move {
                let out = clients
                    .iam
                    .get_role_policy()
                    .role_name(role)
                    .policy_name(name)
                    .send()
                    .await
                    .map_err(reason)?;
                Ok::<_, String>(NamedPolicy {
                    id: name.clone(),
                    document: decode_policy(out.policy_document())?,
                })
            }))
            .await;
            Ok(ReadValue::Policies(
                policies.into_iter().collect::<Result<_, _>>()?,
            ))
        }
        Read::RoleAttachedPolicies { role } => {
            let out = clients
                .iam
                .list_attached_role_policies()
                .role_name(role)
                .send()
                .await
                .map_err(reason)?;
            let arns: Vec<&str> = out
                .attached_policies()
                .iter()
                .filter_map(|p| p.policy_arn())
                .collect();
            managed_policies(&clients.iam, &arns)
                .await
                .map(ReadValue::Policies)
        }
        Read::UserPolicies { user } => {
            let (inline, attached) = tokio::join!(
                clients.iam.list_user_policies().user_name(user).send(),
                clients
                    .iam
                    .list_attached_user_policies()
                    .user_name(user)
                    .send()
            );
            let inline = inline.map_err(reason)?;
            let attached = attached.map_err(reason)?;
            let mut policies = join_all(inline.policy_names().iter().map(|name| async move {
                let out = clients
                    .iam
                    .get_user_policy()
                    .user_name(user)
                    .policy_name(name)
                    .send()
                    .await
                    .map_err(reason)?;
                Ok::<_, String>(NamedPolicy {
                    id: name.clone(),
                    document: decode_policy(out.policy_document())?,
                })
            }))
            .await
            .into_iter()
            .collect::<Result<Vec<_>, _>>()?;
            let arns: Vec<&str> = attached
                .attached_policies()
                .iter()
                .filter_map(|p| p.policy_arn())
                .collect();
            policies.extend(managed_policies(&clients.iam, &arns).await?);
            Ok(ReadValue::Policies(policies))
        }
        Read::BucketPolicy { bucket } => {
            match clients.s3.get_bucket_policy().bucket(bucket).send().await {
                Ok(out) => {
                    let document = out.policy().ok_or("GetBucketPolicy returned no policy")?;
                    Ok(ReadValue::BucketPolicy(Some(NamedPolicy {
                        id: format!("bucket policy of {bucket}"),
                        document: decode_policy(document)?,
                    })))
                }
                Err(err) if err.code() == Some("NoSuchBucketPolicy") => {
                    Ok(ReadValue::BucketPolicy(None))
                }
                Err(err) => Err(reason(err)),
            }
        }
        Read::BucketVersioning { bucket } => {
            match clients
                .s3
                .get_bucket_versioning()
                .bucket(bucket)
                .send()
                .await
            {
                Ok(out) => Ok(ReadValue::Versioning(match out.status() {
                    Some(BucketVersioningStatus::Enabled) => Versioning::Enabled,
                    Some(BucketVersioningStatus::Suspended) => Versioning::Suspended,
                    _ => Versioning::Disabled,
                })),
                // moto 5.2 answers with a root element the SDK rejects; object versions
                // with real ids still prove versioning is on.
                Err(err) if err.code().is_none() && matches!(err, SdkError::ServiceError(_)) => {
                    versioning_from_versions(&clients.s3, bucket).await
                }
                Err(err) => Err(reason(err)),
            }
        }
        Read::BucketHasObjects { bucket } => {
            let (current, versions) = tokio::join!(
                clients
                    .s3
                    .list_objects_v2()
                    .bucket(bucket)
                    .max_keys(1)
                    .send(),
                clients
                    .s3
                    .list_object_versions()
                    .bucket(bucket)
                    .max_keys(1)
                    .send()
            );
            let current = current.map_err(reason)?;
            let versions = versions.map_err(reason)?;
            Ok(ReadValue::Contents(BucketContents {
                current_objects: !current.contents().is_empty(),
                versions_or_markers: !versions.versions().is_empty()
                    || !versions.delete_markers().is_empty(),
            }))
        }
    }
}

/// Versioning as the object versions show it: ids other than `null` exist only once versioning was enabled.
async fn versioning_from_versions(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
) -> Result<ReadValue, String> {
    let out = s3
        .list_object_versions()
        .bucket(bucket)
        .max_keys(10)
        .send()
        .await
        .map_err(reason)?;
    let versioned = out
        .versions()
        .iter()
        .filter_map(|v| v.version_id())
        .chain(out.delete_markers().iter().filter_map(|m| m.version_id()))
        .any(|id| id != "null");
    Ok(ReadValue::Versioning(if versioned {
        Versioning::Enabled
    } else {
        Versioning::Disabled
    }))
}

async fn managed_policies(
    iam: &aws_sdk_iam::Client,
    arns: &[&str],
) -> Result<Vec<NamedPolicy>, String> {
    join_all(arns.iter().map(|arn| managed_policy(iam, arn)))
        .await
        .into_iter()
        .collect()
}

/// A managed policy's default version.
async fn managed_policy(iam: &aws_sdk_iam::Client, arn: &str) -> Result<NamedPolicy, String> {
    let policy = iam
        .get_policy()
        .policy_arn(arn)
        .send()
        .await
        .map_err(reason)?;
    let version_id = policy
        .policy()
        .and_then(|p| p.default_version_id())
        .ok_or_else(|| format!("{arn} has no default version"))?;
    let version = iam
        .get_policy_version()
        .policy_arn(arn)
        .version_id(version_id)
        .send()
        .await
        .map_err(reason)?;
    let document = version
        .policy_version()
        .and_then(|v| v.document())
        .ok_or_else(|| format!("{arn} {version_id} has no document"))?;
    Ok(NamedPolicy {
        id: arn.to_string(),
        document: decode_policy(document)?,
    })
}
