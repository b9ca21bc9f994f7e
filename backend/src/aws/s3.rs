//! S3 reads: bucket policy, versioning, and whether anything keeps a bucket from being empty.

use super::{Clients, decode_policy, reason};
use aws_sdk_s3::types::BucketVersioningStatus;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use consoledx_policy::NamedPolicy;
use consoledx_resolve::{BucketContents, ReadValue, Versioning};

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
