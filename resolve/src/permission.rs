//! Never beyond the user's own permissions: before a read is sent, the
//! signed-in principal's own policies decide whether that principal may make
//! the call. The principal's policies are read first (they are what decides);
//! every other read maps to IAM actions on resource ARNs and is evaluated.

use crate::access::identity_policies;
use crate::{Facts, Principal, Read, account, identifiers, principal, principal_reads};
use consoledx_core::context::IdentityKind;
use consoledx_core::{Analysis, ErrorContext};
use consoledx_policy::{AccessQuery, Decision};
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
/// action and resource that are not allowed, or why it cannot be told.
pub fn check_read(
    context: &ErrorContext,
    analysis: &Analysis,
    facts: &Facts,
    read: &Read,
) -> Result<(), String> {
    if check_reads(context, analysis, facts).contains(read) {
        return Ok(());
    }
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
    if principal.kind == IdentityKind::Root {
        return Ok(());
    }
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
            resource_policy: None,
            permissions_boundary: boundary.clone(),
            session_policies: Vec::new(),
            scps: Vec::new(),
            rcps: Vec::new(),
            vpc_endpoint_policy: None,
        };
        match consoledx_policy::evaluate(&query) {
            Ok(explanation) if explanation.decision == Decision::Allowed => {}
            Ok(_) => {
                return Err(format!(
                    "Not checked: your {who} cannot read {what} ({} on {})",
                    call.action, call.resource
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
