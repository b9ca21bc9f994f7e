//! BucketNotEmpty: what keeps the bucket from being empty, and how to empty it.

use crate::arn::{console_origin, partition, url_component};
use crate::{BucketContents, Facts, Finding, Versioning, identifiers};
use consoledx_core::api::Step;
use consoledx_core::{Analysis, ErrorContext};

/// Spaced so that no `}}` appears, which the placeholder check would reject.
/// Expires current objects, then noncurrent versions, delete markers and unfinished uploads.
const EXPIRE_EVERYTHING: &str = r#"{"Rules":[{"ID":"expire-objects","Filter":{},"Status":"Enabled","Expiration":{"Days":1},"NoncurrentVersionExpiration":{"NoncurrentDays":1},"AbortIncompleteMultipartUpload":{"DaysAfterInitiation":1} },{"ID":"remove-delete-markers","Filter":{},"Status":"Enabled","Expiration":{"ExpiredObjectDeleteMarker":true} }]}"#;

pub(crate) fn resolve_not_empty(
    context: &ErrorContext,
    analysis: &Analysis,
    facts: &Facts,
) -> Option<Finding> {
    let ids = identifiers(context, analysis);
    let bucket = ids.get("s3_bucket_name").filter(|b| !b.is_empty())?;
    let region = ids
        .get("aws_region")
        .map(String::as_str)
        .unwrap_or("us-east-1");
    let origin = console_origin(partition(&ids), "s3");
    let region_q = url_component(region);
    let versioning = facts.bucket_versioning.ok().copied();
    let contents = facts.bucket_contents.ok().copied();
    let versioned = matches!(
        versioning,
        Some(Versioning::Enabled | Versioning::Suspended)
    );

    let mut evidence = Vec::new();
    match versioning {
        Some(Versioning::Disabled) => {
            evidence.push(format!("Versioning on bucket {bucket} has never been enabled"))
        }
        Some(status) => evidence.push(format!(
            "Versioning on bucket {bucket} is {}: deleted objects leave noncurrent versions and delete markers, which also count",
            status.as_str()
        )),
        None => {}
    }
    match contents {
        Some(BucketContents {
            current_objects: true,
            ..
        }) => evidence.push(format!("Bucket {bucket} still holds objects")),
        Some(BucketContents {
            current_objects: false,
            versions_or_markers: true,
        }) => evidence.push(format!(
            "Bucket {bucket} shows no current objects but still holds object versions or delete markers"
        )),
        Some(BucketContents {
            current_objects: false,
            versions_or_markers: false,
        }) => evidence.push(format!(
            "Bucket {bucket} holds no objects, versions or delete markers now"
        )),
        None => {}
    }

    let delete_step = Step {
        title: format!("Retry deleting bucket {bucket}"),
        detail: format!(
            "Once the bucket is empty, delete {bucket} again: choose Delete, type the bucket name to confirm."
        ),
        cli: Some(format!(
            "aws s3api delete-bucket --bucket {bucket} --region {region}"
        )),
        policy: None,
        link: Some(format!(
            "{origin}/s3/bucket/{bucket}/delete?region={region_q}"
        )),
    };
    if let Some(BucketContents {
        current_objects: false,
        versions_or_markers: false,
    }) = contents
    {
        return Some(Finding {
            cause: format!(
                "Bucket {bucket} was not empty when the delete was attempted; it is empty now (objects were removed since, or a lifecycle rule expired them)."
            ),
            steps: vec![delete_step],
            evidence,
        });
    }

    let what = if versioned {
        "every object version and delete marker"
    } else {
        "every object"
    };
    let cause = match (versioned, contents) {
        (
            true,
            Some(BucketContents {
                current_objects: false,
                ..
            }),
        ) => format!(
            "S3 deletes only empty buckets, and bucket {bucket} is versioned: it shows no objects, but noncurrent versions and delete markers remain and must be deleted first."
        ),
        (true, _) => format!(
            "S3 deletes only empty buckets. Bucket {bucket} still holds objects and has versioning {}, so {what} must be deleted before the bucket can be.",
            versioning.map(Versioning::as_str).unwrap_or("on")
        ),
        (false, _) => format!(
            "S3 deletes only empty buckets, and bucket {bucket} still holds objects: delete them (and any versions) first."
        ),
    };
    let empty_cli = if versioned {
        format!(
            "aws s3api delete-objects --bucket {bucket} --delete \"$(aws s3api list-object-versions --bucket {bucket} --max-items 1000 --output json --query '{{Objects: [Versions, DeleteMarkers][][].{{Key: Key, VersionId: VersionId}} }}')\""
        )
    } else {
        format!("aws s3 rm s3://{bucket} --recursive")
    };
    let steps = vec![
        Step {
            title: format!("Open bucket {bucket} in the S3 console"),
            detail: format!("Go to the bucket list and select {bucket} (region {region})."),
            cli: None,
            policy: None,
            link: Some(format!(
                "{origin}/s3/buckets/{bucket}?region={region_q}&bucketType=general&tab=objects"
            )),
        },
        Step {
            title: format!("Choose Empty to delete {what} in {bucket}"),
            detail: if versioned {
                "Empty deletes all current objects, noncurrent versions and delete markers. From a shell, repeat the command until the listing comes back empty (1000 keys per call).".to_string()
            } else {
                "Empty deletes all objects in the bucket.".to_string()
            },
            cli: Some(empty_cli),
            policy: None,
            link: Some(format!("{origin}/s3/bucket/{bucket}/empty?region={region_q}")),
        },
        Step {
            title: "For a very large bucket, add a lifecycle rule that expires everything instead".to_string(),
            detail: format!(
                "Emptying millions of objects from the console is slow. A lifecycle rule on {bucket} that expires current objects{} after 1 day empties it in the background; delete the bucket once it is empty.",
                if versioned { ", noncurrent versions and expired delete markers" } else { "" }
            ),
            cli: Some(format!(
                "aws s3api put-bucket-lifecycle-configuration --bucket {bucket} --lifecycle-configuration '{EXPIRE_EVERYTHING}'"
            )),
            policy: None,
            link: Some(format!(
                "{origin}/s3/buckets/{bucket}?region={region_q}&bucketType=general&tab=management"
            )),
        },
        Step {
            title: "Type \"permanently delete\" to confirm emptying the bucket".to_string(),
            detail: "The Empty bucket page asks for the phrase permanently delete before it deletes anything; this cannot be undone.".to_string(),
            cli: None,
            policy: None,
            link: None,
        },
        delete_step,
    ];
    Some(Finding {
        cause,
        steps,
        evidence,
    })
}
