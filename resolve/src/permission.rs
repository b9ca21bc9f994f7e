//! Never beyond the user's own permissions: before a read is sent, every
//! policy known at that moment decides whether the signed-in principal may
//! make the call: its identity policies and permissions boundary, the SCPs of
//! its account (read or given), a session policy given as input, and the
//! resource policy of the read's target once that is known (the bucket
//! policy for reads on the bucket, the key policy for reads of the key).
//! The principal's own policies are read first, then the SCPs, then the
//! resource policies ([`Read::gate`]), so each check sees all that can be
//! known before it.
//!
//! KMS: the key policy is the primary authority over a key, yet it is itself
//! behind `kms:GetKeyPolicy`. Before it is read, the check assumes the key
//! policy delegates to IAM (the default key policy does) and decides on the
//! other policies. Once it is read, [`withhold_unpermitted`] evaluates again
//! with the key policy, and a key policy that does not let the principal
//! read it is withheld from the answer, so nothing reaches the user that
//! their own permissions would not have shown them.

use crate::access::identity_policies;
use crate::{Facts, Principal, Read, account, identifiers, principal, principal_reads};
use consoledx_core::context::IdentityKind;
use consoledx_core::{Analysis, ErrorContext};
use consoledx_policy::{AccessQuery, Decision, Explanation, NamedPolicy, PolicyType};
use std::collections::BTreeMap;

/// One API call a read makes, as IAM authorizes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub action: String,
    pub resource: String,
}

impl Call {
    fn new(action: &str, resource: impl Into<String>) -> Call {
        Call {
            action: action.to_string(),
            resource: resource.into(),
        }
    }
}

/// Where a read's resources live: partition, account and region of the context.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    pub partition: &'a str,
    pub account: Option<&'a str>,
    pub region: Option<&'a str>,
}

impl Read {
    /// When this read may be checked: 0 for the SCPs (they cap every other
    /// call), 1 for resource policies (they govern the reads of their
    /// resource), 2 for everything else. Lower tiers are read first.
    pub fn gate(&self) -> u8 {
        match self {
            Read::ServiceControlPolicies { .. } => 0,
            Read::BucketPolicy { .. } | Read::KeyPolicy { .. } => 1,
            _ => 2,
        }
    }

    /// The IAM action and resource ARN of every call this read makes; `Err`
    /// names what is missing to build an ARN. Calls whose resource is only
    /// known from the answer (a managed policy's versions) are authorized by
    /// the listing call before them and are not listed.
    pub fn calls(&self, scope: Scope) -> Result<Vec<Call>, String> {
        let p = scope.partition;
        let account = || scope.account.ok_or("the account id is unknown");
        let region = || scope.region.ok_or("the region is unknown");
        let regional = |service: &str, resource: &str| -> Result<String, String> {
            Ok(format!(
                "arn:{p}:{service}:{}:{}:{resource}",
                region()?,
                account()?
            ))
        };
        let role_arn = |role: &str| -> Result<String, String> {
            Ok(format!("arn:{p}:iam::{}:role/{role}", account()?))
        };
        let calls = match self {
            // GetCallerIdentity needs no permission: IAM cannot deny it.
            Read::CallerIdentity => Vec::new(),
            Read::RoleDetails { role } => vec![Call::new("iam:GetRole", role_arn(role)?)],
            Read::RoleInlinePolicies { role } => {
                let arn = role_arn(role)?;
                vec![
                    Call::new("iam:ListRolePolicies", arn.clone()),
                    Call::new("iam:GetRolePolicy", arn),
                ]
            }
            Read::RoleAttachedPolicies { role } => {
                vec![Call::new("iam:ListAttachedRolePolicies", role_arn(role)?)]
            }
            Read::ExecutionRolePolicies { role } => {
                let arn = role_arn(role)?;
                vec![
                    Call::new("iam:ListRolePolicies", arn.clone()),
                    Call::new("iam:GetRolePolicy", arn.clone()),
                    Call::new("iam:ListAttachedRolePolicies", arn),
                ]
            }
            Read::UserPolicies { user } => {
                let arn = format!("arn:{p}:iam::{}:user/{user}", account()?);
                vec![
                    Call::new("iam:ListUserPolicies", arn.clone()),
                    Call::new("iam:GetUserPolicy", arn.clone()),
                    Call::new("iam:ListAttachedUserPolicies", arn),
                ]
            }
            Read::BucketPolicy { bucket } => {
                vec![Call::new(
                    "s3:GetBucketPolicy",
                    format!("arn:{p}:s3:::{bucket}"),
                )]
            }
            Read::BucketVersioning { bucket } => vec![Call::new(
                "s3:GetBucketVersioning",
                format!("arn:{p}:s3:::{bucket}"),
            )],
            Read::BucketHasObjects { bucket } => {
                let arn = format!("arn:{p}:s3:::{bucket}");
                vec![
                    Call::new("s3:ListBucket", arn.clone()),
                    Call::new("s3:ListBucketVersions", arn),
                ]
            }
            Read::BucketPublicAccessBlock { bucket } => vec![Call::new(
                "s3:GetBucketPublicAccessBlock",
                format!("arn:{p}:s3:::{bucket}"),
            )],
            Read::BucketOwnershipControls { bucket } => vec![Call::new(
                "s3:GetBucketOwnershipControls",
                format!("arn:{p}:s3:::{bucket}"),
            )],
            // An account-level S3 action: it takes no resource ARN.
            Read::AccountPublicAccessBlock { .. } => {
                vec![Call::new("s3:GetAccountPublicAccessBlock", "*")]
            }
            // EC2 Describe* calls support no resource-level permissions.
            Read::Instance { .. } => vec![Call::new("ec2:DescribeInstances", "*")],
            Read::Image { .. } => vec![Call::new("ec2:DescribeImages", "*")],
            Read::Subnet { .. } => vec![Call::new("ec2:DescribeSubnets", "*")],
            Read::SecurityGroups { .. } | Read::VpcSecurityGroups { .. } => {
                vec![Call::new("ec2:DescribeSecurityGroups", "*")]
            }
            Read::LambdaFunction { function } => {
                let arn = if function.starts_with("arn:") {
                    function.clone()
                } else {
                    regional("lambda", &format!("function:{function}"))?
                };
                vec![Call::new("lambda:GetFunctionConfiguration", arn)]
            }
            Read::KeyPolicy { key } => {
                vec![Call::new("kms:GetKeyPolicy", key_arn(key, &regional)?)]
            }
            Read::KeyState { key } => vec![Call::new("kms:DescribeKey", key_arn(key, &regional)?)],
            Read::Stack { stack } => vec![Call::new(
                "cloudformation:DescribeStacks",
                stack_arn(stack, &regional)?,
            )],
            Read::StackEvents { stack } => vec![Call::new(
                "cloudformation:DescribeStackEvents",
                stack_arn(stack, &regional)?,
            )],
            Read::ServiceControlPolicies { .. } => vec![
                Call::new("organizations:DescribeOrganization", "*"),
                Call::new("organizations:ListParents", "*"),
                Call::new("organizations:ListPoliciesForTarget", "*"),
                Call::new("organizations:DescribePolicy", "*"),
            ],
            // Cloud Control's own actions live under `cloudformation:`.
            Read::CloudControlResource { .. } => vec![Call::new("cloudformation:GetResource", "*")],
            Read::CloudControlList { .. } => vec![Call::new("cloudformation:ListResources", "*")],
        };
        Ok(calls)
    }
}

fn key_arn(
    key: &str,
    regional: &dyn Fn(&str, &str) -> Result<String, String>,
) -> Result<String, String> {
    if key.starts_with("arn:") {
        Ok(key.to_string())
    } else if key.starts_with("alias/") {
        regional("kms", key)
    } else {
        regional("kms", &format!("key/{key}"))
    }
}

fn stack_arn(
    stack: &str,
    regional: &dyn Fn(&str, &str) -> Result<String, String>,
) -> Result<String, String> {
    if stack.starts_with("arn:") {
        Ok(stack.to_string())
    } else {
        regional("cloudformation", &format!("stack/{stack}/*"))
    }
}

/// The reads the permission check itself needs: who the principal is (when
/// the page did not say, or named no account) and its own policies.
pub fn check_reads(context: &ErrorContext, analysis: &Analysis, facts: &Facts) -> Vec<Read> {
    let mut reads = Vec::new();
    let named = context
        .identity
        .as_ref()
        .is_some_and(|identity| !identity.name.is_empty());
    if !named || account(context, analysis, &Facts::default()).is_none() {
        reads.push(Read::CallerIdentity);
    }
    if let Some(principal) = principal(context, analysis, facts) {
        reads.extend(principal_reads(&principal));
    }
    reads
}

fn who(principal: &Principal) -> String {
    match principal.kind {
        IdentityKind::Role => format!("role {}", principal.name),
        IdentityKind::User => format!("user {}", principal.name),
        IdentityKind::Root => "the root user".to_string(),
    }
}

/// Whether the signed-in principal may make every call of `read`. `Err`
/// holds the "Not checked: …" sentence for the resolution, naming the
/// action and resource that are not allowed and the policy that refuses it,
/// or why it cannot be told.
pub fn check_read(
    context: &ErrorContext,
    analysis: &Analysis,
    facts: &Facts,
    read: &Read,
) -> Result<(), String> {
    if check_reads(context, analysis, facts).contains(read) {
        return Ok(());
    }
    check_against(context, analysis, facts, read, resource_policy(read, facts))
}

/// The resource policy that governs `read`, when it has been read: the
/// bucket policy for the reads of that bucket, the key policy for the reads
/// of that key. A resource policy's own read is decided without it.
fn resource_policy(read: &Read, facts: &Facts) -> Option<NamedPolicy> {
    match read {
        Read::BucketVersioning { bucket }
        | Read::BucketHasObjects { bucket }
        | Read::BucketPublicAccessBlock { bucket }
        | Read::BucketOwnershipControls { bucket } => facts
            .bucket_policy
            .ok()
            .cloned()
            .flatten()
            .filter(|policy| governs_bucket(policy, bucket)),
        Read::KeyState { .. } => facts.key_policy.ok().cloned(),
        _ => None,
    }
}

/// A plan names one bucket, so the bucket policy read is that bucket's; the
/// id the reader gives it says so, and an id that names another bucket is not trusted.
fn governs_bucket(policy: &NamedPolicy, bucket: &str) -> bool {
    match policy.id.strip_prefix("bucket policy of ") {
        Some(named) => named == bucket,
        None => true,
    }
}

/// Withholds what was read but the principal may not read, now that the
/// policy deciding it is known: a key policy that does not let the
/// principal call `kms:GetKeyPolicy` (see the module notes).
pub fn withhold_unpermitted(context: &ErrorContext, analysis: &Analysis, facts: &mut Facts) {
    let Some(key_policy) = facts.key_policy.ok().cloned() else {
        return;
    };
    let key = key_policy
        .id
        .strip_prefix("key policy of ")
        .unwrap_or(&key_policy.id)
        .to_string();
    let read = Read::KeyPolicy { key };
    // Only the key policy's own verdict withholds: when the other policies
    // already refuse or are unknown, the key policy was given, not read on the user's behalf.
    if check_against(context, analysis, facts, &read, None).is_err() {
        return;
    }
    if let Err(sentence) = check_against(context, analysis, facts, &read, Some(key_policy)) {
        facts.skip(&read, sentence);
    }
}

fn check_against(
    context: &ErrorContext,
    analysis: &Analysis,
    facts: &Facts,
    read: &Read,
    resource_policy: Option<NamedPolicy>,
) -> Result<(), String> {
    let what = read.describe();
    let Some(principal) = principal(context, analysis, facts) else {
        let why = facts
            .gap(&Read::CallerIdentity)
            .map(|gap| format!(" ({gap})"))
            .unwrap_or_default();
        return Err(format!(
            "Not checked: the signed-in identity is unknown{why}, so consoledx did not read {what} on its behalf"
        ));
    };
    let who = who(&principal);
    let Some(policies) = identity_policies(&principal, facts) else {
        let reasons: Vec<String> = principal_reads(&principal)
            .iter()
            .filter_map(|r| facts.gap(r))
            .collect();
        return Err(format!(
            "Not checked: the policies of your {who} could not be read ({}), so consoledx cannot tell whether you may read {what} and did not read it",
            reasons.join("; ")
        ));
    };
    let ids = identifiers(context, analysis);
    let partition = crate::arn::partition(&ids).to_string();
    let account = account(context, analysis, facts);
    let scope = Scope {
        partition: &partition,
        account: account.as_deref(),
        region: ids.get("aws_region").map(String::as_str),
    };
    let calls = read.calls(scope).map_err(|missing| {
        format!("Not checked: {what}, because {missing} and the permission of your {who} to read it cannot be evaluated")
    })?;
    let Some(principal_arn) = principal.arn(&partition, facts) else {
        return Err(format!(
            "Not checked: {what}, because the ARN of your {who} is unknown"
        ));
    };
    let boundary = match principal.kind {
        IdentityKind::Role => facts
            .role_details
            .ok()
            .and_then(|details| details.permissions_boundary.clone()),
        _ => None,
    };
    let identity: Vec<_> = policies
        .attached
        .into_iter()
        .chain(policies.inline)
        .collect();
    let scps = facts
        .service_control_policies
        .ok()
        .cloned()
        .unwrap_or_default();
    for call in calls {
        let query = AccessQuery {
            principal: consoledx_policy::Principal {
                arn: principal_arn.clone(),
                tags: BTreeMap::new(),
            },
            action: call.action.clone(),
            resource: call.resource.clone(),
            resource_account: None,
            context: BTreeMap::new(),
            identity_policies: identity.clone(),
            resource_policy: resource_policy.clone(),
            permissions_boundary: boundary.clone(),
            session_policies: facts.session_policies.clone(),
            scps: scps.clone(),
            rcps: Vec::new(),
            vpc_endpoint_policy: None,
        };
        match consoledx_policy::evaluate(&query) {
            Ok(explanation) if explanation.decision == Decision::Allowed => {}
            Ok(explanation) => {
                return Err(format!(
                    "Not checked: your {who} cannot read {what} ({} on {}): {}",
                    call.action,
                    call.resource,
                    refusal(&explanation, &query)
                ));
            }
            Err(err) => {
                return Err(format!(
                    "Not checked: {what}, because the policies of your {who} could not be evaluated ({err})"
                ));
            }
        }
    }
    Ok(())
}

/// Which policy refuses, in words: the deciding deny statements, or the
/// policy types that grant nothing.
fn refusal(explanation: &Explanation, query: &AccessQuery) -> String {
    if explanation.decision == Decision::ExplicitDeny && !explanation.deciding.is_empty() {
        let denies: Vec<String> = explanation
            .deciding
            .iter()
            .map(|statement| {
                let name = match &statement.sid {
                    Some(sid) if !sid.is_empty() => format!("statement \"{sid}\""),
                    _ => format!("statement #{}", statement.index + 1),
                };
                format!(
                    "{name} of {}",
                    policy_label(statement.policy_type, &statement.policy_id, query)
                )
            })
            .collect();
        return format!("explicitly denied by {}", denies.join(" and "));
    }
    let missing: Vec<String> = explanation
        .blocked_by
        .iter()
        .map(|policy_type| match policy_type {
            PolicyType::Identity => "your identity-based policies".to_string(),
            PolicyType::Scp => {
                let levels: Vec<&str> = query
                    .scps
                    .iter()
                    .filter(|level| {
                        let single = AccessQuery {
                            scps: vec![(*level).clone()],
                            ..query.clone()
                        };
                        consoledx_policy::evaluate(&single)
                            .is_ok_and(|e| e.blocked_by.contains(&PolicyType::Scp))
                    })
                    .map(|level| level.target.as_str())
                    .collect();
                if levels.is_empty() {
                    "the service control policies".to_string()
                } else {
                    format!(
                        "the service control policies attached to {}",
                        levels.join(", ")
                    )
                }
            }
            PolicyType::Resource => match &query.resource_policy {
                Some(policy) => policy.id.clone(),
                None => "the resource policy".to_string(),
            },
            PolicyType::PermissionsBoundary => match &query.permissions_boundary {
                Some(policy) => format!("the permissions boundary {}", policy.id),
                None => "the permissions boundary".to_string(),
            },
            other => format!("the {} policy", other.describe()),
        })
        .collect();
    format!("not allowed by {}", missing.join(", nor by "))
}

/// A policy as the sentence names it: SCPs with the level they are attached to.
fn policy_label(policy_type: PolicyType, id: &str, query: &AccessQuery) -> String {
    match policy_type {
        PolicyType::Scp => {
            let levels: Vec<&str> = query
                .scps
                .iter()
                .filter(|level| level.policies.iter().any(|p| p.id == id))
                .map(|level| level.target.as_str())
                .collect();
            format!(
                "service control policy {id} (attached to {})",
                levels.join(", ")
            )
        }
        PolicyType::Identity => format!("policy {id}"),
        PolicyType::Resource => id.to_string(),
        PolicyType::PermissionsBoundary => format!("the permissions boundary {id}"),
        other => format!("the {} policy {id}", other.describe()),
    }
}
