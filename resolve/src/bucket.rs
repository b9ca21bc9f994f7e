//! Bucket state errors: BucketNotEmpty (what keeps the bucket from being
//! empty, and how to empty it), and Block Public Access or Object Ownership
//! refusing a public policy or an ACL (which setting, at which level).

use crate::arn::{console_origin, partition, url_component};
use crate::{BucketContents, Facts, Finding, PublicAccessBlock, Read, Versioning, identifiers};
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

/// Which Block Public Access setting refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Blocked {
    /// `BlockPublicPolicy`: a bucket policy that grants public access.
    Policy,
    /// `BlockPublicAcls`: a public ACL on the bucket or an object.
    Acl,
}

impl Blocked {
    fn setting(self) -> &'static str {
        match self {
            Blocked::Policy => "BlockPublicPolicy",
            Blocked::Acl => "BlockPublicAcls",
        }
    }

    fn is_on(self, settings: &PublicAccessBlock) -> bool {
        match self {
            Blocked::Policy => settings.block_public_policy,
            Blocked::Acl => settings.block_public_acls,
        }
    }

    fn turned_off(self, settings: &PublicAccessBlock) -> PublicAccessBlock {
        let mut changed = *settings;
        match self {
            Blocked::Policy => changed.block_public_policy = false,
            Blocked::Acl => changed.block_public_acls = false,
        }
        changed
    }
}

fn message_text(context: &ErrorContext) -> String {
    context.message.to_ascii_lowercase()
}

/// A public bucket policy or public ACL refused by S3 Block Public Access,
/// as the console or the API says it.
pub(crate) fn public_access_blocked(
    context: &ErrorContext,
    analysis: &Analysis,
) -> Option<Blocked> {
    let message = message_text(context);
    let mentions_bpa = analysis.rule.as_deref() == Some("s3.block_public_access")
        || [
            "block public access",
            "blockpublicpolicy",
            "blockpublicacls",
            "public policies are blocked",
            "public acls are blocked",
        ]
        .iter()
        .any(|phrase| message.contains(phrase));
    if !mentions_bpa {
        return None;
    }
    let ids = identifiers(context, analysis);
    let action = ids
        .get("iam_action")
        .map(String::as_str)
        .unwrap_or_default();
    let acl = message.contains("blockpublicacls")
        || message.contains("public acl")
        || message.contains("public access control list")
        || matches!(action, "s3:PutBucketAcl" | "s3:PutObjectAcl");
    Some(if acl { Blocked::Acl } else { Blocked::Policy })
}

/// `AccessControlListNotSupported`: a request set an ACL on a bucket whose ACLs are disabled.
pub(crate) fn is_acl_not_supported(context: &ErrorContext, analysis: &Analysis) -> bool {
    analysis.rule.as_deref() == Some("s3.acl_not_supported")
        || [
            context.error_code.as_deref(),
            analysis.error.code.as_deref(),
        ]
        .contains(&Some("AccessControlListNotSupported"))
        || message_text(context).contains("does not allow acls")
}

/// Block Public Access at both levels and Object Ownership: what decides
/// whether a public policy or an ACL is accepted.
pub(crate) fn public_access_plan(
    context: &ErrorContext,
    analysis: &Analysis,
    facts: &Facts,
) -> Vec<Read> {
    let ids = identifiers(context, analysis);
    let Some(bucket) = ids.get("s3_bucket_name").filter(|b| !b.is_empty()) else {
        return Vec::new();
    };
    let mut reads = vec![
        Read::BucketOwnershipControls {
            bucket: bucket.clone(),
        },
        Read::BucketPublicAccessBlock {
            bucket: bucket.clone(),
        },
    ];
    if let Some(account) = crate::account(context, analysis, facts) {
        reads.push(Read::AccountPublicAccessBlock { account });
    }
    reads
}

/// Names the bucket, region, partition and account a public-access answer talks about.
struct Target {
    bucket: String,
    region: String,
    partition: String,
    account: Option<String>,
}

impl Target {
    fn new(context: &ErrorContext, analysis: &Analysis, facts: &Facts) -> Option<Target> {
        let ids = identifiers(context, analysis);
        let bucket = ids.get("s3_bucket_name").filter(|b| !b.is_empty())?.clone();
        Some(Target {
            bucket,
            region: ids
                .get("aws_region")
                .cloned()
                .unwrap_or_else(|| "us-east-1".to_string()),
            partition: partition(&ids).to_string(),
            account: crate::account(context, analysis, facts),
        })
    }

    fn arn(&self) -> String {
        format!("arn:{}:s3:::{}", self.partition, self.bucket)
    }

    fn permissions_link(&self) -> String {
        format!(
            "{}/s3/buckets/{}?region={}&bucketType=general&tab=permissions",
            console_origin(&self.partition, "s3"),
            self.bucket,
            url_component(&self.region)
        )
    }

    fn account_settings_link(&self) -> String {
        format!(
            "{}/s3/settings?region={}",
            console_origin(&self.partition, "s3"),
            url_component(&self.region)
        )
    }
}

/// The one statement a step needs: exactly `action` on exactly `resource`.
fn allow_document(action: &str, resource: &str) -> String {
    serde_json::to_string_pretty(&serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource}]
    }))
    .unwrap_or_default()
}

fn describe_settings(settings: Option<&PublicAccessBlock>) -> String {
    match settings {
        None => "no Block Public Access configuration (nothing blocked)".to_string(),
        Some(s) => format!(
            "BlockPublicAcls {}, IgnorePublicAcls {}, BlockPublicPolicy {}, RestrictPublicBuckets {}",
            on_off(s.block_public_acls),
            on_off(s.ignore_public_acls),
            on_off(s.block_public_policy),
            on_off(s.restrict_public_buckets)
        ),
    }
}

fn on_off(value: bool) -> &'static str {
    if value { "on" } else { "off" }
}

/// Public bucket policy or ACL blocked, or ACLs disabled: which setting, at
/// which level, and how to change it (with what that exposes). `None` when
/// the settings were not read or do not explain the error.
pub(crate) fn resolve_public_access(
    context: &ErrorContext,
    analysis: &Analysis,
    facts: &Facts,
) -> Option<Finding> {
    let target = Target::new(context, analysis, facts)?;
    let mut evidence = Vec::new();
    let bucket_bpa = facts.bucket_public_access_block.ok();
    let account_bpa = facts.account_public_access_block.ok();
    if let Some(settings) = bucket_bpa {
        evidence.push(format!(
            "Bucket {} has {}",
            target.bucket,
            describe_settings(settings.as_ref())
        ));
    }
    if let (Some(settings), Some(account)) = (account_bpa, &target.account) {
        evidence.push(format!(
            "Account {account} has {}",
            describe_settings(settings.as_ref())
        ));
    }
    let ownership = facts.bucket_ownership_controls.ok();
    if let Some(ownership) = ownership {
        evidence.push(match ownership {
            Some(rule) => format!("Bucket {} has Object Ownership {rule}", target.bucket),
            None => format!(
                "Bucket {} has no Object Ownership controls (ACLs enabled, object writer owns objects)",
                target.bucket
            ),
        });
    }
    if is_acl_not_supported(context, analysis) {
        return acls_disabled(
            context,
            &target,
            ownership?,
            bucket_bpa,
            account_bpa,
            evidence,
        );
    }
    let blocked = public_access_blocked(context, analysis)?;
    let bucket_on = bucket_bpa
        .and_then(|s| s.as_ref())
        .filter(|s| blocked.is_on(s))
        .copied();
    let account_on = account_bpa
        .and_then(|s| s.as_ref())
        .filter(|s| blocked.is_on(s))
        .copied();
    if blocked == Blocked::Acl && ownership == Some(&Some("BucketOwnerEnforced".to_string())) {
        return acls_disabled(
            context,
            &target,
            ownership?,
            bucket_bpa,
            account_bpa,
            evidence,
        );
    }
    let setting = blocked.setting();
    let (what, verb) = match blocked {
        Blocked::Policy => (
            "a bucket policy that grants public access",
            "put-bucket-policy",
        ),
        Blocked::Acl => (
            "a public ACL (a grant to AllUsers or AuthenticatedUsers)",
            "put-bucket-acl",
        ),
    };
    let mut levels = Vec::new();
    if bucket_on.is_some() {
        levels.push(format!("for bucket {}", target.bucket));
    }
    if let (Some(_), Some(account)) = (account_on, &target.account) {
        levels.push(format!(
            "for account {account} (every bucket of the account)"
        ));
    }
    if levels.is_empty() {
        // Both levels read and neither blocks: the settings do not explain the denial.
        return None;
    }
    let cause = format!(
        "S3 Block Public Access refused {what} for bucket {}: {setting} is on {}. While it is on, S3 rejects any {} that would make the bucket public.",
        target.bucket,
        levels.join(" and "),
        match blocked {
            Blocked::Policy => "bucket policy",
            Blocked::Acl => "ACL",
        }
    );
    let exposure = match blocked {
        Blocked::Policy => format!(
            "Turning {setting} off lets a bucket policy make the objects of {} readable (or writable) by anyone on the internet.",
            target.bucket
        ),
        Blocked::Acl => format!(
            "Turning {setting} off lets ACLs make {} or its objects readable by anyone on the internet.",
            target.bucket
        ),
    };
    let mut steps = vec![Step {
        title: match blocked {
            Blocked::Policy => format!(
                "Prefer a bucket policy for {} that is not public",
                target.bucket
            ),
            Blocked::Acl => format!("Prefer no public ACL on {}", target.bucket),
        },
        detail: match blocked {
            Blocked::Policy => format!(
                "Block Public Access accepts policies that grant access to named principals: replace Principal \"*\" with the accounts or roles that need access, or serve the objects through CloudFront with origin access control (a condition on aws:SourceArn). Then save the policy of {} again; no setting has to change.",
                target.bucket
            ),
            Blocked::Acl => format!(
                "Remove the public grant (public-read, public-read-write, authenticated-read) and give access with a bucket policy that names the principals, or through CloudFront. Then retry; no setting of {} has to change.",
                target.bucket
            ),
        },
        cli: Some(match blocked {
            Blocked::Policy => format!(
                "aws s3api put-bucket-policy --bucket {} --policy file://policy.json",
                target.bucket
            ),
            Blocked::Acl => format!("aws s3api get-bucket-acl --bucket {}", target.bucket),
        }),
        policy: Some(match blocked {
            Blocked::Policy => allow_document("s3:PutBucketPolicy", &target.arn()),
            Blocked::Acl => allow_document("s3:PutBucketAcl", &target.arn()),
        }),
        link: Some(target.permissions_link()),
    }];
    if let (Some(settings), Some(account)) = (account_on, &target.account) {
        let changed = blocked.turned_off(&settings);
        steps.push(Step {
            title: format!(
                "Or turn off {setting} in the Block Public Access settings of account {account}"
            ),
            detail: format!(
                "The account-level setting overrides every bucket's own: as long as it is on, changing bucket {} does not help. {exposure} It also lifts the block for every other bucket of account {account}: prefer keeping it on and allowing an exception per bucket only where the business requires public data. Now: {}; the command changes {setting} only.",
                target.bucket,
                describe_settings(Some(&settings))
            ),
            cli: Some(format!(
                "aws s3control put-public-access-block --account-id {account} --public-access-block-configuration {}",
                changed.cli_value()
            )),
            // Account-level S3 actions take no resource ARN: "*" is the exact resource.
            policy: Some(allow_document("s3:PutAccountPublicAccessBlock", "*")),
            link: Some(target.account_settings_link()),
        });
    }
    if let Some(settings) = bucket_on {
        let changed = blocked.turned_off(&settings);
        steps.push(Step {
            title: format!(
                "Or turn off {setting} in the Block Public Access settings of bucket {}",
                target.bucket
            ),
            detail: format!(
                "{exposure} Only do this for a bucket meant to be public, and review the policy first. Now {} has {}; the command changes {setting} only.{}",
                target.bucket,
                describe_settings(Some(&settings)),
                if blocked == Blocked::Policy && settings.restrict_public_buckets {
                    " RestrictPublicBuckets stays on: the public statements then only reach AWS services and principals of the bucket's own account."
                } else {
                    ""
                }
            ),
            cli: Some(format!(
                "aws s3api put-public-access-block --bucket {} --public-access-block-configuration {}",
                target.bucket,
                changed.cli_value()
            )),
            policy: Some(allow_document("s3:PutBucketPublicAccessBlock", &target.arn())),
            link: Some(target.permissions_link()),
        });
    }
    steps.push(Step {
        title: format!(
            "Retry saving the {} of {}",
            match blocked {
                Blocked::Policy => "bucket policy",
                Blocked::Acl => "ACL",
            },
            target.bucket
        ),
        detail: "Block Public Access changes apply within seconds; repeat what failed.".to_string(),
        cli: Some(format!(
            "aws s3api {verb} --bucket {} {}",
            target.bucket,
            match blocked {
                Blocked::Policy => "--policy file://policy.json",
                Blocked::Acl => "--acl public-read",
            }
        )),
        policy: None,
        link: Some(target.permissions_link()),
    });
    Some(Finding {
        cause,
        steps,
        evidence,
    })
}

/// ACLs disabled by Object Ownership `BucketOwnerEnforced`.
fn acls_disabled(
    context: &ErrorContext,
    target: &Target,
    ownership: &Option<String>,
    bucket_bpa: Option<&Option<PublicAccessBlock>>,
    account_bpa: Option<&Option<PublicAccessBlock>>,
    evidence: Vec<String>,
) -> Option<Finding> {
    let bucket = &target.bucket;
    if ownership.as_deref() != Some("BucketOwnerEnforced") {
        let now = ownership.as_deref().unwrap_or("not set (ACLs enabled)");
        return Some(Finding {
            cause: format!(
                "Bucket {bucket} accepts ACLs now (Object Ownership {now}): its Object Ownership was changed since the error, or the request went to another bucket."
            ),
            steps: vec![crate::retry_step(context)],
            evidence,
        });
    }
    let public_blocked = [bucket_bpa, account_bpa]
        .into_iter()
        .flatten()
        .flatten()
        .any(|s| s.block_public_acls);
    Some(Finding {
        cause: format!(
            "Bucket {bucket} has Object Ownership set to BucketOwnerEnforced, so ACLs are disabled: S3 rejects every request that sets an ACL other than bucket-owner-full-control with AccessControlListNotSupported."
        ),
        steps: vec![
            Step {
                title: format!("Remove the ACL from the request to {bucket}"),
                detail: format!(
                    "Drop the acl / x-amz-acl / grant setting (or the ACL resource in your infrastructure code). With BucketOwnerEnforced the bucket owner owns every object; give access to {bucket} with its bucket policy instead. This is what AWS recommends and changes nothing on the bucket."
                ),
                cli: None,
                policy: None,
                link: Some(target.permissions_link()),
            },
            Step {
                title: format!("Or enable ACLs on {bucket}: Object Ownership BucketOwnerPreferred"),
                detail: format!(
                    "Only if ACLs are really required (a legacy tool that cannot omit them): ACLs then grant access again, object by object, which is harder to audit than the bucket policy.{}",
                    if public_blocked {
                        " Block Public Access (BlockPublicAcls) stays on, so public ACLs are still refused."
                    } else {
                        " No Block Public Access setting blocks public ACLs here: an ACL could then make objects public."
                    }
                ),
                cli: Some(format!(
                    "aws s3api put-bucket-ownership-controls --bucket {bucket} --ownership-controls 'Rules=[{{ObjectOwnership=BucketOwnerPreferred}}]'"
                )),
                policy: Some(allow_document(
                    "s3:PutBucketOwnershipControls",
                    &target.arn(),
                )),
                link: Some(target.permissions_link()),
            },
            crate::retry_step(context),
        ],
        evidence,
    })
}
