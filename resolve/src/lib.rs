//! "Help me resolve", the pure half: which account reads a diagnosis needs
//! ([`plan`], [`followup`]) and what the answers mean ([`resolve`]). The
//! backend executes the reads; nothing here does I/O.

mod access;
pub mod arn;
mod bucket;
mod check;
pub mod facts;
mod inventory;
mod knowledge;
mod lambda;
mod network;
pub mod permission;

pub use facts::{
    BucketContents, CallerIdentity, CloudResource, Facts, Image, Instance, KeyState,
    LambdaFunction, Outcome, PublicAccessBlock, Read, ReadValue, RoleDetails, SecurityGroup, Stack,
    StackEvent, Subnet, Versioning,
};
pub use permission::{Call, Scope, check_read, check_reads, withhold_unpermitted};

use consoledx_core::api::{Resolution, Step};
use consoledx_core::context::IdentityKind;
use consoledx_core::{Analysis, ErrorContext, Identifiers, KnowledgeBase};

/// Error codes that mean "not authorized", whatever the message says about why.
const ACCESS_DENIED_CODES: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "UnauthorizedAccess",
    "AuthorizationError",
    "Forbidden",
];

/// The identifiers of the context, completed by those the analysis found.
pub(crate) fn identifiers(context: &ErrorContext, analysis: &Analysis) -> Identifiers {
    let mut merged = analysis.identifiers.clone();
    for (key, value) in &context.identifiers {
        merged.insert(key.clone(), value.clone());
    }
    merged
}

pub(crate) fn is_access_denied(context: &ErrorContext, analysis: &Analysis) -> bool {
    context.access_denied.is_some()
        || analysis.access_denied.is_some()
        || [
            context.error_code.as_deref(),
            analysis.error.code.as_deref(),
        ]
        .into_iter()
        .flatten()
        .any(|code| ACCESS_DENIED_CODES.contains(&code))
}

/// A public policy or ACL refused by Block Public Access, or an ACL refused
/// because the bucket's ACLs are disabled.
pub(crate) fn is_public_access(context: &ErrorContext, analysis: &Analysis) -> bool {
    bucket::public_access_blocked(context, analysis).is_some()
        || bucket::is_acl_not_supported(context, analysis)
}

pub(crate) fn is_bucket_not_empty(context: &ErrorContext, analysis: &Analysis) -> bool {
    analysis.rule.as_deref() == Some("s3.bucket_not_empty")
        || [
            context.error_code.as_deref(),
            analysis.error.code.as_deref(),
        ]
        .contains(&Some("BucketNotEmpty"))
}

/// Who was denied, as far as the page and the reads tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Principal {
    pub kind: IdentityKind,
    pub name: String,
    pub account: Option<String>,
}

impl Principal {
    /// The IAM ARN policies are evaluated for: IAM reports the role's (with its path) when read.
    pub fn arn(&self, partition: &str, facts: &Facts) -> Option<String> {
        if self.kind == IdentityKind::Role
            && let Some(details) = facts.role_details.ok()
        {
            return Some(details.arn.clone());
        }
        let account = self.account.as_deref()?;
        Some(match self.kind {
            IdentityKind::Role => format!("arn:{partition}:iam::{account}:role/{}", self.name),
            IdentityKind::User => format!("arn:{partition}:iam::{account}:user/{}", self.name),
            IdentityKind::Root => format!("arn:{partition}:iam::{account}:root"),
        })
    }
}

pub(crate) fn account(
    context: &ErrorContext,
    analysis: &Analysis,
    facts: &Facts,
) -> Option<String> {
    let ids = identifiers(context, analysis);
    context
        .identity
        .as_ref()
        .and_then(|identity| identity.account_id.clone())
        .or_else(|| ids.get("aws_account_id").cloned())
        .or_else(|| {
            facts
                .caller_identity
                .ok()
                .map(|caller| caller.account.clone())
        })
        .filter(|account| arn::is_account_id(account))
}

/// The denied principal: the page's signed-in identity, else the identity the backend reads as.
pub(crate) fn principal(
    context: &ErrorContext,
    analysis: &Analysis,
    facts: &Facts,
) -> Option<Principal> {
    let account = account(context, analysis, facts);
    if let Some(identity) = &context.identity
        && !identity.name.is_empty()
    {
        return Some(Principal {
            kind: identity.kind,
            name: identity.name.clone(),
            account,
        });
    }
    let caller = facts.caller_identity.ok()?;
    let resource = caller.arn.splitn(6, ':').nth(5)?;
    let (kind, name) = if let Some(rest) = resource.strip_prefix("assumed-role/") {
        (IdentityKind::Role, rest.split('/').next()?)
    } else if let Some(rest) = resource.strip_prefix("user/") {
        (IdentityKind::User, rest.rsplit('/').next()?)
    } else if resource == "root" {
        (IdentityKind::Root, "root")
    } else {
        return None;
    };
    Some(Principal {
        kind,
        name: name.to_string(),
        account,
    })
}

pub(crate) fn principal_reads(principal: &Principal) -> Vec<Read> {
    let name = principal.name.clone();
    match principal.kind {
        IdentityKind::Role => vec![
            Read::RoleDetails { role: name.clone() },
            Read::RoleInlinePolicies { role: name.clone() },
            Read::RoleAttachedPolicies { role: name },
        ],
        IdentityKind::User => vec![Read::UserPolicies { user: name }],
        IdentityKind::Root => Vec::new(),
    }
}

/// The reads a diagnosis needs, known before anything is read.
pub fn plan(context: &ErrorContext, analysis: &Analysis) -> Vec<Read> {
    let ids = identifiers(context, analysis);
    let bucket = ids.get("s3_bucket_name").filter(|b| !b.is_empty());
    let mut reads = Vec::new();
    if is_public_access(context, analysis) {
        if is_access_denied(context, analysis) {
            reads.push(Read::CallerIdentity);
            if let Some(principal) = principal(context, analysis, &Facts::default()) {
                reads.extend(principal_reads(&principal));
            }
        }
        reads.extend(bucket::public_access_plan(
            context,
            analysis,
            &Facts::default(),
        ));
    } else if is_access_denied(context, analysis) {
        reads.push(Read::CallerIdentity);
        if let Some(principal) = principal(context, analysis, &Facts::default()) {
            reads.extend(principal_reads(&principal));
        }
        let s3_action = ids
            .get("iam_action")
            .is_some_and(|action| action.starts_with("s3:"));
        if let Some(bucket) = bucket.filter(|_| s3_action) {
            reads.push(Read::BucketPolicy {
                bucket: bucket.clone(),
            });
        }
        if access::names_scp(context, analysis)
            && let Some(account) = account(context, analysis, &Facts::default())
        {
            reads.push(Read::ServiceControlPolicies { account });
        }
    } else if is_bucket_not_empty(context, analysis) {
        if let Some(bucket) = bucket {
            reads.push(Read::BucketVersioning {
                bucket: bucket.clone(),
            });
            reads.push(Read::BucketHasObjects {
                bucket: bucket.clone(),
            });
        }
    } else if lambda::is_kms_denied(context, analysis) {
        reads.extend(lambda::plan(&ids));
    } else if network::is_vpc_mismatch(context, analysis) {
        reads.extend(network::plan(&ids));
    } else {
        reads.extend(inventory::plan(&ids));
    }
    reads.dedup();
    reads
}

/// Reads that only earlier answers make possible: when the page named no
/// identity, the caller identity tells whose policies to read; a Lambda
/// function names its role and key; a subnet names its VPC.
pub fn followup(context: &ErrorContext, analysis: &Analysis, facts: &Facts) -> Vec<Read> {
    let planned = plan(context, analysis);
    let mut reads = Vec::new();
    if is_public_access(context, analysis) {
        // The account may only be known from the caller identity.
        reads.extend(bucket::public_access_plan(context, analysis, facts));
    } else if is_access_denied(context, analysis) {
        if context.identity.is_none()
            && let Some(principal) = principal(context, analysis, facts)
        {
            reads.extend(principal_reads(&principal));
        }
        reads.extend(access::followup(context, analysis, facts));
    } else if lambda::is_kms_denied(context, analysis) {
        reads.extend(lambda::followup(facts));
    } else if network::is_vpc_mismatch(context, analysis) {
        reads.extend(network::followup(facts));
    } else if !is_bucket_not_empty(context, analysis) {
        reads.extend(inventory::followup(facts));
    }
    let mut unique: Vec<Read> = Vec::new();
    for read in reads {
        if !planned.contains(&read) && !unique.contains(&read) {
            unique.push(read);
        }
    }
    unique
}

/// Every read wanted now: what the permission check needs, the plan, and the
/// follow-ups the facts so far make possible. The backend sends, in rounds,
/// those not yet settled, until nothing new is wanted.
pub fn wanted(context: &ErrorContext, analysis: &Analysis, facts: &Facts) -> Vec<Read> {
    let mut reads = check_reads(context, analysis, facts);
    for read in plan(context, analysis)
        .into_iter()
        .chain(followup(context, analysis, facts))
    {
        if !reads.contains(&read) {
            reads.push(read);
        }
    }
    reads
}

/// Turns what was read into the cause and ordered steps. Reads that failed or
/// did not run are listed in `not_checked`; the answer then rests on the
/// knowledge rule's steps.
pub fn resolve(
    context: &ErrorContext,
    analysis: &Analysis,
    facts: &Facts,
    kb: &KnowledgeBase,
) -> Resolution {
    let mut reads = plan(context, analysis);
    reads.extend(followup(context, analysis, facts));
    let not_checked: Vec<String> = reads.iter().filter_map(|read| facts.gap(read)).collect();

    let knowledge = knowledge::steps(kb, context, analysis);
    let finding = if is_public_access(context, analysis) {
        bucket::resolve_public_access(context, analysis, facts).or_else(|| {
            is_access_denied(context, analysis)
                .then(|| access::resolve(context, analysis, facts, &knowledge))
                .flatten()
        })
    } else if is_access_denied(context, analysis) {
        access::resolve(context, analysis, facts, &knowledge)
    } else if is_bucket_not_empty(context, analysis) {
        bucket::resolve_not_empty(context, analysis, facts)
    } else if lambda::is_kms_denied(context, analysis) {
        lambda::resolve(context, analysis, facts, &knowledge)
    } else if network::is_vpc_mismatch(context, analysis) {
        network::resolve(context, analysis, facts)
    } else {
        None
    };
    let resolution = match finding {
        Some(finding) => Resolution {
            diagnosis_id: analysis.diagnosis_id.clone(),
            cause: finding.cause,
            steps: finding.steps,
            not_checked,
            evidence: finding.evidence,
        },
        None => Resolution {
            diagnosis_id: analysis.diagnosis_id.clone(),
            cause: analysis.analysis.clone(),
            steps: with_retry(knowledge, context),
            not_checked,
            evidence: inventory::evidence(facts),
        },
    };
    check::sanitize(resolution)
}

/// What the account's state proves, when it proves something.
pub(crate) struct Finding {
    pub cause: String,
    pub steps: Vec<Step>,
    pub evidence: Vec<String>,
}

/// Appends "retry" unless the steps already end with one.
pub(crate) fn with_retry(mut steps: Vec<Step>, context: &ErrorContext) -> Vec<Step> {
    let ends_with_retry = steps.last().is_some_and(|step| {
        let title = step.title.to_ascii_lowercase();
        title.contains("retry") || title.contains("refresh") || title.contains("try again")
    });
    if !ends_with_retry {
        steps.push(retry_step(context));
    }
    steps
}

pub(crate) fn retry_step(context: &ErrorContext) -> Step {
    Step {
        title: "Refresh the page and retry".to_string(),
        detail: "Permission and resource changes take effect within seconds; reload the console page and repeat what failed.".to_string(),
        cli: None,
        policy: None,
        link: context
            .url
            .starts_with("https://")
            .then(|| context.url.clone()),
    }
}
