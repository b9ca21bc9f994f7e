//! S3 reads: bucket policy, versioning, whether anything keeps a bucket from
//! being empty, Block Public Access (bucket and account) and Object Ownership.

use super::{Clients, decode_policy, reason};
use aws_sdk_s3::types::BucketVersioningStatus;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use consoledx_policy::NamedPolicy;
use consoledx_resolve::{BucketContents, PublicAccessBlock, ReadValue, Versioning};

pub(super) async fn bucket_policy(clients: &Clients, bucket: &str) -> Result<ReadValue, String> {
    match clients.s3.get_bucket_policy().bucket(bucket).send().await {
        Ok(out) => {
            let document = out.policy().ok_or("GetBucketPolicy returned no policy")?;
            Ok(ReadValue::BucketPolicy(Some(NamedPolicy {
                id: format!("bucket policy of {bucket}"),
                document: decode_policy(document)?,
            })))
        }
        Err(err) if err.code() == Some("NoSuchBucketPolicy") => Ok(ReadValue::BucketPolicy(None)),
        Err(err) => Err(reason(err)),
    }
}

pub(super) async fn bucket_versioning(
    clients: &Clients,
    bucket: &str,
) -> Result<ReadValue, String> {
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

pub(super) async fn bucket_contents(clients: &Clients, bucket: &str) -> Result<ReadValue, String> {
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

/// Block Public Access settings of a bucket; no configuration blocks nothing.
pub(super) async fn bucket_public_access_block(
    clients: &Clients,
    bucket: &str,
) -> Result<ReadValue, String> {
    match clients
        .s3
        .get_public_access_block()
        .bucket(bucket)
        .send()
        .await
    {
        Ok(out) => Ok(public_access(out.public_access_block_configuration().map(
            |c| {
                [
                    c.block_public_acls(),
                    c.ignore_public_acls(),
                    c.block_public_policy(),
                    c.restrict_public_buckets(),
                ]
            },
        ))),
        Err(err) => no_public_access_block(err),
    }
}

/// Block Public Access settings of the account (S3 Control).
pub(super) async fn account_public_access_block(
    clients: &Clients,
    account: &str,
) -> Result<ReadValue, String> {
    match clients
        .s3control
        .get_public_access_block()
        .account_id(account)
        .send()
        .await
    {
        Ok(out) => Ok(public_access(out.public_access_block_configuration().map(
            |c| {
                [
                    c.block_public_acls(),
                    c.ignore_public_acls(),
                    c.block_public_policy(),
                    c.restrict_public_buckets(),
                ]
            },
        ))),
        Err(err) => no_public_access_block(err),
    }
}

/// S3 and S3 Control answer with the same four settings, each in its own
/// type: BlockPublicAcls, IgnorePublicAcls, BlockPublicPolicy,
/// RestrictPublicBuckets, in that order; an unset one is off.
fn public_access(settings: Option<[Option<bool>; 4]>) -> ReadValue {
    ReadValue::PublicAccessBlock(settings.map(|[acls, ignore, policy, restrict]| {
        PublicAccessBlock {
            block_public_acls: acls.unwrap_or(false),
            ignore_public_acls: ignore.unwrap_or(false),
            block_public_policy: policy.unwrap_or(false),
            restrict_public_buckets: restrict.unwrap_or(false),
        }
    }))
}

/// No configuration at all is an answer (nothing blocked at that level), not a failure.
fn no_public_access_block<E, R>(err: SdkError<E, R>) -> Result<ReadValue, String>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    if err.code() == Some("NoSuchPublicAccessBlockConfiguration") {
        Ok(ReadValue::PublicAccessBlock(None))
    } else {
        Err(reason(err))
    }
}

/// The bucket's Object Ownership; a bucket without ownership controls has none.
pub(super) async fn bucket_ownership_controls(
    clients: &Clients,
    bucket: &str,
) -> Result<ReadValue, String> {
    match clients
        .s3
        .get_bucket_ownership_controls()
        .bucket(bucket)
        .send()
        .await
    {
        Ok(out) => Ok(ReadValue::ObjectOwnership(
            out.ownership_controls()
                .and_then(|controls| controls.rules().first())
                .map(|rule| rule.object_ownership().as_str().to_string()),
        )),
        Err(err) if err.code() == Some("OwnershipControlsNotFoundError") => {
            Ok(ReadValue::ObjectOwnership(None))
        }
        Err(err) => Err(reason(err)),
    }
}
