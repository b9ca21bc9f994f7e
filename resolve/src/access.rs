//! Access denied: rebuild the request, evaluate every policy that was read,
//! and point at the policy that actually blocks it.

use crate::arn::{self, console_origin, url_component};
use crate::{Facts, Finding, Principal, Read, identifiers, principal, retry_step, with_retry};
use consoledx_core::api::Step;
use consoledx_core::context::{DenyKind, IdentityKind};
use consoledx_core::{Analysis, ErrorContext};
use consoledx_policy::{
    AccessQuery, Decision, Effect, Explanation, NamedPolicy, PolicyType, StatementRef,
};
use serde_json::Value;
use std::collections::BTreeMap;

/// Everything about the denied request that does not depend on the evaluation.
struct Request<'a> {
    context: &'a ErrorContext,
    principal: Principal,
    principal_arn: String,
    partition: String,
    action: String,
    resource: String,
    bucket: Option<String>,
    region: Option<String>,
}

impl Request<'_> {
    fn who(&self) -> String {
        match self.principal.kind {
            IdentityKind::Role => format!("role {}", self.principal.name),
            IdentityKind::User => format!("user {}", self.principal.name),
            IdentityKind::Root => "the root user".to_string(),
        }
    }

    fn what(&self) -> String {
        format!("{} on {}", self.action, self.resource)
    }

    /// The IAM console page where the principal's permissions are edited.
    fn iam_link(&self) -> Option<String> {
        let origin = console_origin(&self.partition, "iam");
        let name = url_component(&self.principal.name);
        match self.principal.kind {
            IdentityKind::Role => Some(format!(
                "{origin}/iam/home#/roles/details/{name}?section=permissions"
            )),
            IdentityKind::User => Some(format!(
                "{origin}/iam/home#/users/details/{name}?section=permissions"
            )),
            IdentityKind::Root => None,
        }
    }

    fn bucket_permissions_link(&self, bucket: &str) -> String {
        let origin = console_origin(&self.partition, "s3");
        let region = self.region.as_deref().unwrap_or("us-east-1");
        format!(
            "{origin}/s3/buckets/{bucket}?region={}&bucketType=general&tab=permissions",
            url_component(region)
        )
    }
}

/// The identity-based policies read for the principal, or why they are unknown.
pub(crate) struct IdentityPolicies {
    pub(crate) inline: Vec<NamedPolicy>,
    pub(crate) attached: Vec<NamedPolicy>,
}

pub(crate) fn identity_policies(principal: &Principal, facts: &Facts) -> Option<IdentityPolicies> {
    match principal.kind {
        IdentityKind::Role => Some(IdentityPolicies {
            inline: facts.role_inline_policies.ok()?.clone(),
            attached: facts.role_attached_policies.ok()?.clone(),
        }),
        IdentityKind::User => {
            // IAM user policies come back as one list: managed ones are named by ARN.
            let all = facts.user_policies.ok()?;
            let (attached, inline) = all.iter().cloned().partition(|p| p.id.starts_with("arn:"));
            Some(IdentityPolicies { inline, attached })
        }
        IdentityKind::Root => Some(IdentityPolicies {
            inline: Vec::new(),
            attached: Vec::new(),
        }),
    }
}

/// Whether the error message says a service control policy denied.
pub(crate) fn names_scp(context: &ErrorContext, analysis: &Analysis) -> bool {
    use consoledx_core::context::PolicyType as Named;
    context
        .access_denied
        .as_ref()
        .or(analysis.access_denied.as_ref())
        .and_then(|denied| denied.policy_type)
        == Some(Named::Scp)
}

/// The policy type the error message names as the one that denied, if any.
fn named_policy_type(
    context: &ErrorContext,
    analysis: &Analysis,
) -> Option<consoledx_core::context::PolicyType> {
    context
        .access_denied
        .as_ref()
        .or(analysis.access_denied.as_ref())
        .and_then(|denied| denied.policy_type)
}

/// The message's deciding policy type when the evaluation could not see that
/// policy (it was not read, or consoledx never reads that type): its steps
/// then come from the knowledge rule that matched the message.
fn unseen_named_policy(
    request: &Request,
    analysis: &Analysis,
    facts: &Facts,
) -> Option<consoledx_core::context::PolicyType> {
    use consoledx_core::context::PolicyType as Named;
    let named = named_policy_type(request.context, analysis)?;
    let seen = match named {
        Named::Identity => true,
        Named::Scp => facts.service_control_policies.ok().is_some(),
        Named::PermissionsBoundary => {
            request.principal.kind != IdentityKind::Role || facts.role_details.ok().is_some()
        }
        Named::Resource => request.bucket.is_some() && facts.bucket_policy.ok().is_some(),
        Named::Rcp | Named::Session | Named::VpcEndpoint | Named::Trust => false,
    };
    (!seen).then_some(named)
}

fn request<'a>(
    context: &'a ErrorContext,
    analysis: &Analysis,
    facts: &Facts,
) -> Option<Request<'a>> {
    let ids = identifiers(context, analysis);
    let action = ids.get("iam_action").filter(|a| a.contains(':'))?.clone();
    let principal = principal(context, analysis, facts)?;
    let partition = arn::partition(&ids).to_string();
    let resource = arn::resource_arn(&action, &ids, principal.account.as_deref())?;
    let principal_arn = principal.arn(&partition, facts)?;
    Some(Request {
        context,
        principal_arn,
        partition,
        bucket: ids
            .get("s3_bucket_name")
            .cloned()
            .filter(|_| action.starts_with("s3:")),
        region: ids.get("aws_region").cloned(),
        action,
        resource,
        principal,
    })
}

/// The request with every policy that was read.
fn query(request: &Request, policies: &IdentityPolicies, facts: &Facts) -> AccessQuery {
    let bucket_policy = match &request.bucket {
        Some(_) => facts.bucket_policy.ok().cloned().flatten(),
        None => None,
    };
    let boundary = facts
        .role_details
        .ok()
        .and_then(|details| details.permissions_boundary.clone());
    AccessQuery {
        principal: consoledx_policy::Principal {
            arn: request.principal_arn.clone(),
            tags: BTreeMap::new(),
        },
        action: request.action.clone(),
        resource: request.resource.clone(),
        resource_account: None,
        context: BTreeMap::new(),
        identity_policies: policies
            .attached
            .iter()
            .chain(&policies.inline)
            .cloned()
            .collect(),
        resource_policy: bucket_policy,
        permissions_boundary: boundary,
        session_policies: Vec::new(),
        scps: facts
            .service_control_policies
            .ok()
            .cloned()
            .unwrap_or_default(),
        rcps: Vec::new(),
        vpc_endpoint_policy: None,
    }
}

/// When the account's own policies allow the denied request, the organization's
/// SCPs are the next suspect: read them (where the reader may).
pub(crate) fn followup(context: &ErrorContext, analysis: &Analysis, facts: &Facts) -> Vec<Read> {
    let Some(request) = request(context, analysis, facts) else {
        return Vec::new();
    };
    let Some(account) = request.principal.account.clone() else {
        return Vec::new();
    };
    let Some(policies) = identity_policies(&request.principal, facts) else {
        return Vec::new();
    };
    if request.bucket.is_some() && !facts.bucket_policy.settled() {
        return Vec::new();
    }
    let decision = consoledx_policy::evaluate(&query(&request, &policies, facts))
        .map(|explanation| explanation.decision);
    if decision == Ok(Decision::Allowed) {
        vec![Read::ServiceControlPolicies { account }]
    } else {
        Vec::new()
    }
}

pub(crate) fn resolve(
    context: &ErrorContext,
    analysis: &Analysis,
    facts: &Facts,
    knowledge: &[Step],
) -> Option<Finding> {
    let request = request(context, analysis, facts)?;
    let Some(policies) = identity_policies(&request.principal, facts) else {
        return Some(unverified(&request, analysis, knowledge));
    };
    let query = query(&request, &policies, facts);
    let bucket_policy = query.resource_policy.clone();
    let boundary = query.permissions_boundary.clone();
    let explanation = match consoledx_policy::evaluate(&query) {
        Ok(explanation) => explanation,
        Err(err) => {
            let mut finding = unverified(&request, analysis, knowledge);
            finding
                .evidence
                .push(format!("The policies read could not be evaluated: {err}"));
            return Some(finding);
        }
    };

    // The full evaluation names only what decided; the identity policies' own verdict is evidence too.
    let identity_only = consoledx_policy::evaluate(&AccessQuery {
        resource_policy: None,
        permissions_boundary: None,
        scps: Vec::new(),
        ..query.clone()
    })
    .ok();
    let mut evidence = vec![identity_evidence(
        &request,
        &policies,
        identity_only.as_ref(),
    )];
    if let Some(bucket) = &request.bucket {
        evidence.push(match (&bucket_policy, facts.bucket_policy.ok()) {
            (Some(policy), _) => format!(
                "Bucket {bucket} has a bucket policy with {} statement(s){}",
                statements(&policy.document).len(),
                deciding_note(&explanation, PolicyType::Resource, &request)
            ),
            (None, Some(_)) => format!("Bucket {bucket} has no bucket policy"),
            (None, None) => format!("The bucket policy of {bucket} was not read"),
        });
    }
    if request.principal.kind == IdentityKind::Role && facts.role_details.ok().is_some() {
        evidence.push(match &boundary {
            Some(policy) => format!(
                "Role {} has permissions boundary {}{}",
                request.principal.name,
                policy.id,
                deciding_note(&explanation, PolicyType::PermissionsBoundary, &request)
            ),
            None => format!(
                "Role {} has no permissions boundary",
                request.principal.name
            ),
        });
    }
    if let Some(levels) = facts.service_control_policies.ok() {
        evidence.push(if levels.is_empty() {
            "No service control policy applies: the account is in no organization, or is its management account".to_string()
        } else {
            let names: Vec<String> = levels
                .iter()
                .map(|level| {
                    let ids: Vec<&str> = level.policies.iter().map(|p| p.id.as_str()).collect();
                    format!("{} ({})", level.target, ids.join(", "))
                })
                .collect();
            format!(
                "Service control policies apply on {} level(s): {}{}",
                levels.len(),
                names.join(", "),
                deciding_note(&explanation, PolicyType::Scp, &request)
            )
        });
    }

    let finding = match explanation.decision {
        Decision::ExplicitDeny => {
            explicit_deny(&request, &query, &explanation, &policies, evidence)
        }
        Decision::ImplicitDeny => {
            let unseen = unseen_named_policy(&request, analysis, facts);
            implicit_deny(&request, &query, &explanation, evidence, unseen, knowledge)
        }
        Decision::Allowed => allowed(&request, analysis, knowledge, evidence),
    };
    Some(finding)
}

fn deciding_note(explanation: &Explanation, policy_type: PolicyType, request: &Request) -> String {
    let deciding: Vec<&StatementRef> = explanation
        .deciding
        .iter()
        .filter(|s| s.policy_type == policy_type)
        .collect();
    if deciding.is_empty() {
        return String::new();
    }
    let verb = match explanation.decision {
        Decision::ExplicitDeny => "denies",
        _ => "allows",
    };
    let names: Vec<String> = deciding.iter().map(|s| statement_name(s)).collect();
    format!("; {} {verb} {}", names.join(", "), request.what())
}

fn statement_name(statement: &StatementRef) -> String {
    match &statement.sid {
        Some(sid) if !sid.is_empty() => format!("statement \"{sid}\""),
        _ => format!("statement #{}", statement.index + 1),
    }
}

fn identity_evidence(
    request: &Request,
    policies: &IdentityPolicies,
    explanation: Option<&Explanation>,
) -> String {
    if request.principal.kind == IdentityKind::Root {
        return "The root user is not limited by identity policies".to_string();
    }
    let ids = |list: &[NamedPolicy]| -> String {
        if list.is_empty() {
            String::new()
        } else {
            format!(
                " ({})",
                list.iter()
                    .map(|p| p.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    };
    let plural = |n: usize, word: &str| {
        if n == 1 {
            format!("{n} {word} policy")
        } else {
            format!("{n} {word} policies")
        }
    };
    let deciding = |effect: Effect| -> Vec<&str> {
        let mut ids: Vec<&str> = explanation
            .map(|e| e.deciding.as_slice())
            .unwrap_or_default()
            .iter()
            .filter(|s| s.policy_type == PolicyType::Identity && s.effect == effect)
            .map(|s| s.policy_id.as_str())
            .collect();
        ids.dedup();
        ids
    };
    let (allowing, denying) = (deciding(Effect::Allow), deciding(Effect::Deny));
    let verdict = match explanation.map(|e| e.decision) {
        Some(Decision::ExplicitDeny) if !denying.is_empty() => {
            format!("{} denies {}", denying.join(", "), request.what())
        }
        Some(Decision::Allowed) if !allowing.is_empty() => {
            format!("{} allows {}", allowing.join(", "), request.what())
        }
        Some(Decision::Allowed) => format!("together they allow {}", request.what()),
        Some(_) => format!("none allows {}", request.what()),
        None => format!("they could not be evaluated for {}", request.what()),
    };
    let who = request.who();
    let mut who = who;
    if let Some(first) = who.get(..1) {
        who = first.to_ascii_uppercase() + &who[1..];
    }
    format!(
        "{who} has {}{} and {}{}; {verdict}",
        plural(policies.attached.len(), "attached"),
        ids(&policies.attached),
        plural(policies.inline.len(), "inline"),
        ids(&policies.inline),
    )
}

/// The statement list of a policy document, whether `Statement` is one object or a list.
fn statements(document: &Value) -> Vec<Value> {
    match document.get("Statement") {
        Some(Value::Array(list)) => list.clone(),
        Some(statement @ Value::Object(_)) => vec![statement.clone()],
        _ => Vec::new(),
    }
}

/// The document without the given statements; `None` when nothing would remain.
fn without_statements(document: &Value, indices: &[usize]) -> Option<Value> {
    let kept: Vec<Value> = statements(document)
        .into_iter()
        .enumerate()
        .filter(|(i, _)| !indices.contains(i))
        .map(|(_, s)| s)
        .collect();
    if kept.is_empty() {
        return None;
    }
    let mut edited = document.clone();
    if let Some(object) = edited.as_object_mut() {
        object.insert("Statement".to_string(), Value::Array(kept));
    }
    Some(edited)
}

fn pretty(document: &Value) -> String {
    serde_json::to_string_pretty(document).unwrap_or_else(|_| document.to_string())
}

/// What remains once the deciding deny statements are gone, to tell whether fixing the deny is enough.
fn decision_without(query: &AccessQuery, denies: &[&StatementRef]) -> Option<Decision> {
    let mut query = query.clone();
    let strip = |policy: &mut NamedPolicy, policy_type: PolicyType| {
        let indices: Vec<usize> = denies
            .iter()
            .filter(|s| s.policy_type == policy_type && s.policy_id == policy.id)
            .map(|s| s.index)
            .collect();
        if !indices.is_empty() {
            policy.document = without_statements(&policy.document, &indices)
                .unwrap_or_else(|| serde_json::json!({"Version": "2012-10-17", "Statement": []}));
        }
    };
    for policy in &mut query.identity_policies {
        strip(policy, PolicyType::Identity);
    }
    if let Some(policy) = &mut query.resource_policy {
        strip(policy, PolicyType::Resource);
    }
    if let Some(policy) = &mut query.permissions_boundary {
        strip(policy, PolicyType::PermissionsBoundary);
    }
    consoledx_policy::evaluate(&query).ok().map(|e| e.decision)
}

fn explicit_deny(
    request: &Request,
    query: &AccessQuery,
    explanation: &Explanation,
    policies: &IdentityPolicies,
    mut evidence: Vec<String>,
) -> Finding {
    let denies: Vec<&StatementRef> = explanation
        .deciding
        .iter()
        .filter(|s| s.effect == Effect::Deny)
        .collect();
    let Some(first) = denies.first() else {
        return implicit_deny(request, query, explanation, evidence, None, &[]);
    };
    let same_policy: Vec<&StatementRef> = denies
        .iter()
        .copied()
        .filter(|s| s.policy_type == first.policy_type && s.policy_id == first.policy_id)
        .collect();
    let names: Vec<String> = same_policy.iter().map(|s| statement_name(s)).collect();
    let names = names.join(", ");
    let after = decision_without(query, &denies);
    let still_needs_allow = matches!(after, Some(Decision::ImplicitDeny));
    let follow_up = if still_needs_allow {
        format!(
            " Removing the deny is not enough on its own: no policy of {} allows {} either; run Help me resolve again once the deny is gone.",
            request.who(),
            request.what()
        )
    } else {
        String::new()
    };
    if still_needs_allow {
        evidence.push(format!(
            "Without the deny, {} would still be implicitly denied {}",
            request.who(),
            request.what()
        ));
    }
    let document = |policy: Option<&NamedPolicy>| {
        policy.and_then(|p| {
            let indices: Vec<usize> = same_policy.iter().map(|s| s.index).collect();
            without_statements(&p.document, &indices)
        })
    };

    let (cause, mut steps) = match first.policy_type {
        PolicyType::Resource if request.bucket.is_some() => {
            let bucket = request.bucket.clone().unwrap_or_default();
            let cause = format!(
                "The bucket policy of {bucket} explicitly denies {} to {} ({names}). An explicit deny overrides every allow, so changing {}'s own policies cannot fix this: the bucket policy must change.",
                request.action,
                request.who(),
                request.who()
            );
            let edited = document(query.resource_policy.as_ref());
            let mut steps = vec![Step {
                title: format!("Edit the bucket policy of {bucket}: remove or narrow {names}"),
                detail: format!(
                    "Open the bucket's Permissions tab, choose Bucket policy > Edit, and remove {names} or add a condition that excludes {} ({}) if the deny is not intended for it. Changing a bucket policy needs s3:PutBucketPolicy on the bucket; ask the bucket owner otherwise.{follow_up}",
                    request.who(),
                    request.principal_arn
                ),
                cli: Some(format!(
                    "aws s3api get-bucket-policy --bucket {bucket} --query Policy --output text > bucket-policy.json"
                )),
                policy: edited.as_ref().map(pretty),
                link: Some(request.bucket_permissions_link(&bucket)),
            }];
            steps.push(Step {
                title: format!("Save the edited bucket policy of {bucket}"),
                detail: if edited.is_some() {
                    "Write the edited policy (as shown above) to bucket-policy.json and apply it.".to_string()
                } else {
                    "The denying statements are the whole policy: delete the bucket policy instead of editing it.".to_string()
                },
                cli: Some(if edited.is_some() {
                    format!("aws s3api put-bucket-policy --bucket {bucket} --policy file://bucket-policy.json")
                } else {
                    format!("aws s3api delete-bucket-policy --bucket {bucket}")
                }),
                policy: None,
                link: None,
            });
            (cause, steps)
        }
        PolicyType::PermissionsBoundary => {
            let boundary = first.policy_id.clone();
            let cause = format!(
                "The permissions boundary {boundary} of {} explicitly denies {} ({names}); a boundary caps what the identity policies can grant.",
                request.who(),
                request.what()
            );
            (cause, boundary_steps(request, &boundary, &follow_up))
        }
        PolicyType::Identity => {
            let policy_id = first.policy_id.clone();
            let inline = policies.inline.iter().find(|p| p.id == policy_id);
            let attached = policies.attached.iter().find(|p| p.id == policy_id);
            let cause = format!(
                "Policy {policy_id} of {} explicitly denies {} ({names}); an explicit deny overrides every allow.",
                request.who(),
                request.what()
            );
            let edited = document(inline.or(attached));
            let (cli, link) = if attached.is_some() {
                (
                    format!(
                        "aws iam create-policy-version --policy-arn {policy_id} --policy-document file://policy.json --set-as-default"
                    ),
                    Some(format!(
                        "{}/iam/home#/policies/details/{}?section=permissions",
                        console_origin(&request.partition, "iam"),
                        url_component(&policy_id)
                    )),
                )
            } else {
                let (flag, verb) = match request.principal.kind {
                    IdentityKind::User => ("--user-name", "put-user-policy"),
                    _ => ("--role-name", "put-role-policy"),
                };
                (
                    format!(
                        "aws iam {verb} {flag} {} --policy-name {policy_id} --policy-document file://policy.json",
                        request.principal.name
                    ),
                    request.iam_link(),
                )
            };
            let steps = vec![Step {
                title: format!("Edit policy {policy_id}: remove or narrow {names}"),
                detail: format!(
                    "The deny in {policy_id} applies to {}. Remove it, or scope it so it no longer matches {}.{follow_up}",
                    request.who(),
                    request.what()
                ),
                cli: Some(cli),
                policy: edited.as_ref().map(pretty),
                link,
            }];
            (cause, steps)
        }
        PolicyType::Scp => {
            let policy_id = first.policy_id.clone();
            let cause = format!(
                "The service control policy {policy_id} explicitly denies {} to {} ({names}).{} An SCP is set by the organization's management account and caps every principal of the account: no IAM change in this account can override it.",
                request.what(),
                request.who(),
                scp_attachment(query, &policy_id)
            );
            (cause, scp_steps(request, &policy_id, &names, &follow_up))
        }
        other => {
            let cause = format!(
                "A {} policy ({}) explicitly denies {} to {} ({names}).",
                other.describe(),
                first.policy_id,
                request.what(),
                request.who()
            );
            let steps = vec![Step {
                title: format!("Ask the owner of {} to change {names}", first.policy_id),
                detail: format!(
                    "{} policies are managed outside this account's IAM console; the deny must be lifted there.{follow_up}",
                    other.describe()
                ),
                cli: None,
                policy: None,
                link: None,
            }];
            (cause, steps)
        }
    };
    steps.push(retry_step(request.context));
    Finding {
        cause,
        steps,
        evidence,
    }
}

/// Where in the OU path an SCP is attached, as a sentence (empty when unknown).
fn scp_attachment(query: &AccessQuery, policy_id: &str) -> String {
    let last = query.scps.len().saturating_sub(1);
    let levels: Vec<String> = query
        .scps
        .iter()
        .enumerate()
        .filter(|(_, level)| level.policies.iter().any(|p| p.id == policy_id))
        .map(|(depth, level)| level_name(&level.target, depth, last))
        .collect();
    if levels.is_empty() {
        String::new()
    } else {
        format!(" It is attached to {}.", levels.join(" and "))
    }
}

/// An OU path level in words: the root, an OU (with its depth), or the account itself.
fn level_name(target: &str, depth: usize, last: usize) -> String {
    if target.starts_with("r-") {
        format!("the organization root {target}")
    } else if target.starts_with("ou-") {
        format!("organizational unit {target} (level {depth} below the root)")
    } else if depth == last {
        format!("the account {target} itself")
    } else {
        target.to_string()
    }
}

/// SCPs are changed in the management account: show the policy, then what to ask for.
fn scp_steps(request: &Request, policy_id: &str, names: &str, follow_up: &str) -> Vec<Step> {
    let id = policy_id.rsplit('/').next().unwrap_or(policy_id);
    let link = format!(
        "{}/organizations/v2/home/policies/service-control-policy/{}",
        console_origin(&request.partition, "organizations"),
        url_component(id)
    );
    vec![Step {
        title: format!(
            "Ask the organization's administrators to exempt {} from {names} of SCP {id}",
            request.who()
        ),
        detail: format!(
            "From the management account (or a delegated administrator), edit SCP {id} so that {names} no longer matches {} for {} ({}), e.g. with a condition on aws:PrincipalArn, or move the account to an OU where the SCP does not apply.{follow_up}",
            request.what(),
            request.who(),
            request.principal_arn
        ),
        cli: Some(format!(
            "aws organizations describe-policy --policy-id {id} --query Policy.Content --output text"
        )),
        policy: None,
        link: Some(link),
    }]
}

fn boundary_steps(request: &Request, boundary: &str, follow_up: &str) -> Vec<Step> {
    vec![Step {
        title: format!(
            "Allow {} in the permissions boundary {boundary}, or remove the boundary from {}",
            request.what(),
            request.who()
        ),
        detail: format!(
            "A permissions boundary is a ceiling: an action is allowed only if both the identity policies and the boundary allow it. Add {} on {} to a new default version of {boundary}, or detach the boundary if it is not required.{follow_up}",
            request.action, request.resource
        ),
        cli: Some(format!(
            "aws iam create-policy-version --policy-arn {boundary} --policy-document file://boundary.json --set-as-default"
        )),
        policy: None,
        link: request.iam_link(),
    }]
}

fn policy_name(request: &Request) -> String {
    let raw = format!("consoledx-allow-{}", request.action.replace(':', "-"));
    let mut name: String = raw
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(*c))
        .collect();
    if let Some(bucket) = &request.bucket {
        name.push('-');
        name.push_str(bucket);
    }
    name.chars().take(128).collect()
}

/// A policy allowing exactly the denied action on exactly the denied resource.
fn least_privilege_document(request: &Request) -> String {
    let capitalised = |part: &str| {
        let mut chars = part.chars();
        chars
            .next()
            .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
            .unwrap_or_default()
    };
    let sid: String = format!(
        "Allow{}",
        request
            .action
            .split(':')
            .map(capitalised)
            .collect::<String>()
    )
    .chars()
    .filter(|c| c.is_ascii_alphanumeric())
    .collect();
    let quote = |s: &str| serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""));
    format!(
        "{{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {{\n      \"Sid\": {},\n      \"Effect\": \"Allow\",\n      \"Action\": {},\n      \"Resource\": {}\n    }}\n  ]\n}}",
        quote(&sid),
        quote(&request.action),
        quote(&request.resource)
    )
}

fn compact(document: &str) -> String {
    serde_json::from_str::<Value>(document)
        .map(|v| v.to_string())
        .unwrap_or_else(|_| document.to_string())
}

fn least_privilege_step(request: &Request) -> Option<Step> {
    let document = least_privilege_document(request);
    let name = policy_name(request);
    let (verb, flag) = match request.principal.kind {
        IdentityKind::Role => ("put-role-policy", "--role-name"),
        IdentityKind::User => ("put-user-policy", "--user-name"),
        IdentityKind::Root => return None,
    };
    let mut detail = format!(
        "Add an inline policy named {name} to {} that allows exactly {} on {} and nothing else.",
        request.who(),
        request.action,
        request.resource
    );
    if let Some(set) = request.principal.name.strip_prefix("AWSReservedSSO_") {
        let set = set.rsplit_once('_').map(|(set, _)| set).unwrap_or(set);
        detail.push_str(&format!(
            " This role belongs to the IAM Identity Center permission set {set}: IAM Identity Center overwrites direct changes, so add the statement to the permission set's inline policy instead."
        ));
    }
    Some(Step {
        title: format!(
            "Allow {} on {} for {}",
            request.action,
            request.resource,
            request.who()
        ),
        detail,
        cli: Some(format!(
            "aws iam {verb} {flag} {} --policy-name {name} --policy-document '{}'",
            request.principal.name,
            compact(&document)
        )),
        policy: Some(document),
        link: request.iam_link(),
    })
}

/// AWS allows a request only if every applicable policy type allows it, so an
/// implicit deny is fixed in each policy type that lacks the allow, and only
/// there: an identity Allow is offered only when the identity policies (also)
/// lack it, never when a boundary, an SCP or a resource policy alone blocks.
fn implicit_deny(
    request: &Request,
    query: &AccessQuery,
    explanation: &Explanation,
    evidence: Vec<String>,
    unseen_named: Option<consoledx_core::context::PolicyType>,
    knowledge: &[Step],
) -> Finding {
    let blocks = |policy_type: PolicyType| explanation.blocked_by.contains(&policy_type);
    let identity_blocks = blocks(PolicyType::Identity);
    let boundary_blocks = blocks(PolicyType::PermissionsBoundary);
    let scp_blocks = blocks(PolicyType::Scp);
    let resource_blocks = blocks(PolicyType::Resource);
    let mut steps = Vec::new();
    let mut causes = Vec::new();
    // The engine always names a blocker for a deny; if it named none, the identity policy is the usual gap.
    if identity_blocks || (explanation.blocked_by.is_empty() && unseen_named.is_none()) {
        causes.push(format!(
            "No policy of {} allows {} (an implicit deny): its identity policies do not grant it{}.",
            request.who(),
            request.what(),
            if request.bucket.is_some() {
                " and the bucket policy does not either"
            } else {
                ""
            }
        ));
        steps.extend(least_privilege_step(request));
    }
    if resource_blocks && !identity_blocks {
        causes.push(resource_cause(request));
        steps.push(resource_policy_step(request));
    }
    if scp_blocks {
        let last = query.scps.len().saturating_sub(1);
        let lacking: Vec<String> = query
            .scps
            .iter()
            .enumerate()
            .filter(|(_, level)| {
                let single = AccessQuery {
                    scps: vec![(*level).clone()],
                    ..query.clone()
                };
                consoledx_policy::evaluate(&single)
                    .is_ok_and(|e| e.blocked_by.contains(&PolicyType::Scp))
            })
            .map(|(depth, level)| level_name(&level.target, depth, last))
            .collect();
        causes.push(if lacking.is_empty() {
            format!(
                "No service control policy at some level of the organization allows {}: with allow-list SCPs, every level from the root to the account must allow it.",
                request.what()
            )
        } else {
            format!(
                "No service control policy attached to {} allows {}: with allow-list SCPs, every level from the root to the account must allow it.",
                lacking.join(" or "),
                request.what()
            )
        });
        if let Some(levels) = query.scps.iter().find(|level| {
            let single = AccessQuery {
                scps: vec![(*level).clone()],
                ..query.clone()
            };
            consoledx_policy::evaluate(&single)
                .is_ok_and(|e| e.blocked_by.contains(&PolicyType::Scp))
        }) {
            let id = levels
                .policies
                .first()
                .map(|p| p.id.clone())
                .unwrap_or_else(|| levels.target.clone());
            steps.extend(scp_steps(
                request,
                &id,
                &format!("the SCPs attached to {}", levels.target),
                "",
            ));
        }
    }
    if boundary_blocks {
        let boundary = query
            .permissions_boundary
            .as_ref()
            .map(|p| p.id.clone())
            .unwrap_or_else(|| "of the role".to_string());
        causes.push(format!(
            "The permissions boundary {boundary} of {} does not allow {}, so no identity policy can grant it.",
            request.who(),
            request.what()
        ));
        steps.extend(boundary_steps(request, &boundary, ""));
    }
    for other in [
        PolicyType::Session,
        PolicyType::VpcEndpoint,
        PolicyType::Rcp,
    ] {
        if blocks(other) {
            causes.push(format!(
                "The {} policy does not allow {} for {}.",
                other.describe(),
                request.what(),
                request.who()
            ));
        }
    }
    // The message names a policy the evaluation could not see: the rule that matched the message knows its fix.
    if let Some(named) = unseen_named {
        causes.push(format!(
            "The error message says the {} decided; consoledx could not read it.",
            named_description(named)
        ));
        let action = request.action.to_ascii_lowercase();
        steps.extend(
            knowledge
                .iter()
                .filter(|step| {
                    let title = step.title.to_ascii_lowercase();
                    // An identity Allow the evaluation did not ask for would not help.
                    identity_blocks || !(title.starts_with("allow") && title.contains(&action))
                })
                .cloned(),
        );
    }
    Finding {
        cause: causes.join(" "),
        steps: with_retry(steps, request.context),
        evidence,
    }
}

fn named_description(named: consoledx_core::context::PolicyType) -> &'static str {
    use consoledx_core::context::PolicyType as Named;
    match named {
        Named::Identity => "identity-based policy",
        Named::Resource => "resource-based policy",
        Named::Scp => "service control policy",
        Named::Rcp => "resource control policy",
        Named::PermissionsBoundary => "permissions boundary",
        Named::Session => "session policy",
        Named::VpcEndpoint => "VPC endpoint policy",
        Named::Trust => "role trust policy",
    }
}

/// The resource policy alone lacks the allow: the resource is in another
/// account (both accounts must allow), or it is a KMS key whose key policy
/// must name the principal itself.
fn resource_cause(request: &Request) -> String {
    format!(
        "The identity policies of {} allow {}, but the resource-based policy{} does not, and here it must (the resource is in another account, or it is a key whose key policy must allow the principal): changing {}'s identity policies cannot fix this.",
        request.who(),
        request.what(),
        request
            .bucket
            .as_ref()
            .map(|bucket| format!(" (the bucket policy of {bucket})"))
            .unwrap_or_default(),
        request.who()
    )
}

/// A statement granting exactly the denied request to exactly the principal.
fn resource_statement(request: &Request) -> String {
    let quote = |s: &str| serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""));
    format!(
        "{{\n  \"Effect\": \"Allow\",\n  \"Principal\": {{ \"AWS\": {} }},\n  \"Action\": {},\n  \"Resource\": {}\n}}",
        quote(&request.principal_arn),
        quote(&request.action),
        quote(&request.resource)
    )
}

fn resource_policy_step(request: &Request) -> Step {
    match &request.bucket {
        Some(bucket) => Step {
            title: format!(
                "Allow {} for {} in the bucket policy of {bucket}",
                request.what(),
                request.who()
            ),
            detail: format!(
                "The bucket owner adds the statement below to the bucket policy of {bucket} (Permissions tab > Bucket policy > Edit); changing a bucket policy needs s3:PutBucketPolicy on the bucket."
            ),
            cli: Some(format!(
                "aws s3api get-bucket-policy --bucket {bucket} --query Policy --output text > bucket-policy.json"
            )),
            policy: Some(resource_statement(request)),
            link: Some(request.bucket_permissions_link(bucket)),
        },
        None => Step {
            title: format!(
                "Allow {} for {} in the resource-based policy of {}",
                request.what(),
                request.who(),
                request.resource
            ),
            detail: format!(
                "The owner of {} adds the statement below to its resource-based policy (for a KMS key, its key policy).",
                request.resource
            ),
            cli: None,
            policy: Some(resource_statement(request)),
            link: None,
        },
    }
}

fn allowed(
    request: &Request,
    analysis: &Analysis,
    knowledge: &[Step],
    mut evidence: Vec<String>,
) -> Finding {
    use consoledx_core::context::PolicyType as Named;
    evidence.push(format!(
        "Evaluated together, the policies read allow {} for {}",
        request.what(),
        request.who()
    ));
    let denied = request
        .context
        .access_denied
        .as_ref()
        .or(analysis.access_denied.as_ref());
    // The message itself may say which unread policy type denied; that beats a list of suspects.
    let named = denied.and_then(|d| d.policy_type).and_then(|policy_type| {
        let name = match policy_type {
            Named::Scp => "a service control policy (AWS Organizations)",
            Named::Rcp => "a resource control policy (AWS Organizations)",
            Named::Session => "the session policy of the signed-in session",
            Named::VpcEndpoint => "the VPC endpoint policy",
            Named::Identity | Named::Resource | Named::PermissionsBoundary | Named::Trust => {
                return None;
            }
        };
        let arn = denied
            .and_then(|d| d.policy_arn.as_deref())
            .map(|arn| format!(" ({arn})"))
            .unwrap_or_default();
        Some(format!("{name}{arn}"))
    });
    let cause = match named {
        Some(policy) => format!(
            "The policies consoledx could read allow {} for {}, and the error message says {policy} denies it. That policy is managed outside this account's IAM: ask its owner to allow the request or exempt {}.",
            request.what(),
            request.who(),
            request.who()
        ),
        None => format!(
            "The policies consoledx could read allow {} for {}. The denial comes from a policy it cannot read (a service control policy, a resource control policy, a session policy or a VPC endpoint policy), or the permissions changed since the error appeared.",
            request.what(),
            request.who()
        ),
    };
    Finding {
        cause,
        steps: with_retry(knowledge.to_vec(), request.context),
        evidence,
    }
}

/// The identity's policies could not be read: the message and the knowledge rule are all there is.
fn unverified(request: &Request, analysis: &Analysis, knowledge: &[Step]) -> Finding {
    let explicit = request
        .context
        .access_denied
        .as_ref()
        .or(analysis.access_denied.as_ref())
        .is_some_and(|denied| denied.deny == DenyKind::Explicit);
    // A message naming another policy type (an SCP, a boundary, a session,
    // endpoint or resource policy) says the identity policy is not what is
    // missing: an identity Allow would not help, the rule's steps target that policy.
    let names_other_policy = named_policy_type(request.context, analysis)
        .is_some_and(|named| named != consoledx_core::context::PolicyType::Identity);
    let mut steps = Vec::new();
    let granted = !explicit && !names_other_policy && {
        let before = steps.len();
        steps.extend(least_privilege_step(request));
        steps.len() > before
    };
    // The rule's own "allow the action" step says less than the exact policy above.
    let action = request.action.to_ascii_lowercase();
    steps.extend(
        knowledge
            .iter()
            .filter(|step| {
                let title = step.title.to_ascii_lowercase();
                !(granted && title.starts_with("allow") && title.contains(&action))
            })
            .cloned(),
    );
    Finding {
        cause: format!(
            "{} The policies of {} could not be read, so this rests on the error message.",
            analysis.analysis,
            request.who()
        ),
        steps: with_retry(steps, request.context),
        evidence: Vec::new(),
    }
}
