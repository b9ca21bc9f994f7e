//! A Lambda function whose execution role may not decrypt with the function's
//! KMS key: read the function, its role's policies, the key's policy and
//! state, and say which of them must change.

use crate::arn::{console_origin, partition, url_component};
use crate::{Facts, Finding, Read, identifiers, is_access_denied, with_retry};
use consoledx_core::api::Step;
use consoledx_core::{Analysis, ErrorContext, Identifiers};
use consoledx_policy::{AccessQuery, Decision, Effect, NamedPolicy, PolicyType};
use serde_json::Value;
use std::collections::BTreeMap;

pub(crate) const RULE: &str = "lambda.kms_access_denied";

/// Lambda's "unable to decrypt the environment variables because KMS access was denied".
pub(crate) fn is_kms_denied(context: &ErrorContext, analysis: &Analysis) -> bool {
    let ids = identifiers(context, analysis);
    analysis.rule.as_deref() == Some(RULE)
        || ([
            context.error_code.as_deref(),
            analysis.error.code.as_deref(),
        ]
        .contains(&Some("KMSAccessDeniedException"))
            && ids.contains_key("lambda_function_name")
            && !is_access_denied(context, analysis))
}

pub(crate) fn plan(ids: &Identifiers) -> Vec<Read> {
    ids.get("lambda_function_name")
        .filter(|f| !f.is_empty())
        .map(|function| Read::LambdaFunction {
            function: function.clone(),
        })
        .into_iter()
        .collect()
}

/// The role's name from its ARN (`arn:aws:iam::1:role/path/name`).
pub(crate) fn role_name(arn: &str) -> Option<&str> {
    arn.splitn(6, ':')
        .nth(5)?
        .strip_prefix("role/")?
        .rsplit('/')
        .next()
        .filter(|name| !name.is_empty())
}

pub(crate) fn followup(facts: &Facts) -> Vec<Read> {
    let Some(function) = facts.lambda_function.ok() else {
        return Vec::new();
    };
    let mut reads = Vec::new();
    if let Some(role) = role_name(&function.role) {
        reads.push(Read::ExecutionRolePolicies {
            role: role.to_string(),
        });
    }
    if let Some(key) = &function.kms_key_arn {
        reads.push(Read::KeyState { key: key.clone() });
        reads.push(Read::KeyPolicy { key: key.clone() });
    }
    reads
}

fn kms_link(partition: &str, region: &str, key_arn: &str) -> String {
    let key_id = key_arn.rsplit('/').next().unwrap_or(key_arn);
    format!(
        "{}/kms/home?region={}#/kms/keys/{}",
        console_origin(partition, "kms"),
        url_component(region),
        url_component(key_id)
    )
}

/// Whether the key policy lets IAM policies grant access (the default
/// "Enable IAM User Permissions" statement names the account root).
fn key_policy_delegates_to_iam(policy: &NamedPolicy, account: &str) -> bool {
    let statements = match policy.document.get("Statement") {
        Some(Value::Array(list)) => list.clone(),
        Some(one @ Value::Object(_)) => vec![one.clone()],
        _ => Vec::new(),
    };
    let root_arn = format!(":iam::{account}:root");
    statements.iter().any(|statement| {
        let allows = statement.get("Effect").and_then(Value::as_str) == Some("Allow");
        let principals: Vec<&str> = match statement.get("Principal").and_then(|p| p.get("AWS")) {
            Some(Value::String(one)) => vec![one.as_str()],
            Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        allows
            && principals
                .iter()
                .any(|p| *p == account || p.ends_with(&root_arn))
    })
}

pub(crate) fn resolve(
    context: &ErrorContext,
    analysis: &Analysis,
    facts: &Facts,
    knowledge: &[Step],
) -> Option<Finding> {
    let ids = identifiers(context, analysis);
    let function = facts.lambda_function.ok()?;
    let name = ids.get("lambda_function_name").cloned().unwrap_or_else(|| {
        function
            .function_arn
            .rsplit(':')
            .next()
            .unwrap_or("")
            .to_string()
    });
    let partition = partition(&ids).to_string();
    let region = function
        .function_arn
        .split(':')
        .nth(3)
        .filter(|r| !r.is_empty())
        .or(ids.get("aws_region").map(String::as_str))
        .unwrap_or("us-east-1")
        .to_string();
    let role = role_name(&function.role)?.to_string();
    let account = function
        .role
        .split(':')
        .nth(4)
        .unwrap_or_default()
        .to_string();
    let mut evidence = vec![format!(
        "Function {name} runs as role {role} ({})",
        function.role
    )];
    let Some(key) = function.kms_key_arn.clone() else {
        evidence.push(format!(
            "Function {name} encrypts its environment with Lambda's AWS managed key (aws/lambda), not a customer managed key"
        ));
        return Some(Finding {
            cause: format!(
                "{} Function {name} uses Lambda's AWS managed key, so no key policy or role policy of this account is missing a kms:Decrypt grant; the key grant may have been lost when role {role} was recreated.",
                analysis.analysis
            ),
            steps: with_retry(
                vec![reapply_step(&name, &role, None, &partition, &region)],
                context,
            ),
            evidence,
        });
    };
    evidence.push(format!(
        "Function {name} encrypts its environment with KMS key {key}"
    ));
    let mut steps = Vec::new();
    let mut causes = Vec::new();
    if let Some(state) = facts.key_state.ok() {
        evidence.push(format!("KMS key {key} is {}", state.state));
        if state.state != "Enabled" {
            causes.push(format!(
                "KMS key {key} of function {name} is {}, so nothing can decrypt with it.",
                state.state
            ));
            let (title, cli) = if state.state == "PendingDeletion" {
                (
                    format!("Cancel the deletion of KMS key {key} and enable it"),
                    format!(
                        "aws kms cancel-key-deletion --key-id {key} && aws kms enable-key --key-id {key}"
                    ),
                )
            } else {
                (
                    format!("Enable KMS key {key}"),
                    format!("aws kms enable-key --key-id {key}"),
                )
            };
            steps.push(Step {
                title,
                detail: format!(
                    "Function {name} cannot read its environment variables while its key is {}.",
                    state.state
                ),
                cli: Some(cli),
                policy: None,
                link: Some(kms_link(&partition, &region, &key)),
            });
        }
    }
    let role_policies = facts.execution_role_policies.ok();
    let key_policy = facts.key_policy.ok();
    if let Some(policies) = role_policies {
        let query = AccessQuery {
            principal: consoledx_policy::Principal {
                arn: function.role.clone(),
                tags: BTreeMap::new(),
            },
            action: "kms:Decrypt".to_string(),
            resource: key.clone(),
            resource_account: None,
            context: BTreeMap::new(),
            identity_policies: policies.clone(),
            resource_policy: None,
            permissions_boundary: None,
            session_policies: Vec::new(),
            scps: Vec::new(),
            rcps: Vec::new(),
            vpc_endpoint_policy: None,
        };
        let identity = consoledx_policy::evaluate(&query).ok();
        let with_key = key_policy.and_then(|policy| {
            consoledx_policy::evaluate(&AccessQuery {
                resource_policy: Some(policy.clone()),
                ..query.clone()
            })
            .ok()
        });
        let identity_allows = identity
            .as_ref()
            .is_some_and(|e| e.decision == Decision::Allowed);
        let ids_list: Vec<&str> = policies.iter().map(|p| p.id.as_str()).collect();
        evidence.push(format!(
            "Role {role} has {} polic{} ({}); {}",
            policies.len(),
            if policies.len() == 1 { "y" } else { "ies" },
            ids_list.join(", "),
            if identity_allows {
                format!("they allow kms:Decrypt on {key}")
            } else {
                format!("none allows kms:Decrypt on {key}")
            }
        ));
        let key_denies = with_key.as_ref().and_then(|e| {
            (e.decision == Decision::ExplicitDeny)
                .then(|| {
                    e.deciding
                        .iter()
                        .find(|s| s.effect == Effect::Deny && s.policy_type == PolicyType::Resource)
                })
                .flatten()
                .cloned()
        });
        if let Some(statement) = key_denies {
            let sid = statement
                .sid
                .clone()
                .map(|sid| format!("statement \"{sid}\""))
                .unwrap_or_else(|| format!("statement #{}", statement.index + 1));
            causes.push(format!(
                "The key policy of {key} explicitly denies kms:Decrypt to role {role} ({sid}), the execution role of function {name}."
            ));
            steps.push(Step {
                title: format!("Edit the key policy of {key}: remove or narrow {sid}"),
                detail: format!(
                    "The deny applies to role {role} ({}). An explicit deny in the key policy overrides every allow.",
                    function.role
                ),
                cli: Some(format!(
                    "aws kms get-key-policy --key-id {key} --policy-name default --output text > key-policy.json && aws kms put-key-policy --key-id {key} --policy-name default --policy file://key-policy.json"
                )),
                policy: None,
                link: Some(kms_link(&partition, &region, &key)),
            });
        } else if !identity_allows {
            let delegates = key_policy.is_none_or(|p| key_policy_delegates_to_iam(p, &account));
            causes.push(format!(
                "The execution role {role} of function {name} is not allowed kms:Decrypt on KMS key {key}, so Lambda cannot decrypt the function's environment variables."
            ));
            if delegates {
                steps.push(decrypt_grant_step(&role, &key, &partition));
            } else {
                evidence.push(format!(
                    "The key policy of {key} does not let IAM policies of account {account} grant access"
                ));
                steps.push(key_policy_step(
                    &role,
                    &function.role,
                    &key,
                    &partition,
                    &region,
                ));
            }
        } else if let Some(policy) = key_policy
            && !key_policy_delegates_to_iam(policy, &account)
            && with_key
                .as_ref()
                .is_some_and(|e| e.decision != Decision::Allowed)
        {
            causes.push(format!(
                "The key policy of {key} neither names role {role} nor lets IAM policies grant access, so the role's own kms:Decrypt permission has no effect."
            ));
            steps.push(key_policy_step(
                &role,
                &function.role,
                &key,
                &partition,
                &region,
            ));
        }
    }
    if causes.is_empty() {
        return Some(Finding {
            cause: format!(
                "{} The policies read allow role {role} kms:Decrypt on {key}; if the permissions were fixed recently, update the function so Lambda decrypts with fresh credentials.",
                analysis.analysis
            ),
            steps: with_retry(
                knowledge
                    .iter()
                    .cloned()
                    .chain([reapply_step(&name, &role, Some(&key), &partition, &region)])
                    .collect(),
                context,
            ),
            evidence,
        });
    }
    steps.push(reapply_step(&name, &role, Some(&key), &partition, &region));
    Some(Finding {
        cause: causes.join(" "),
        steps: with_retry(steps, context),
        evidence,
    })
}

fn decrypt_grant_step(role: &str, key: &str, partition: &str) -> Step {
    let document = format!(
        "{{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {{\n      \"Sid\": \"AllowKmsDecrypt\",\n      \"Effect\": \"Allow\",\n      \"Action\": \"kms:Decrypt\",\n      \"Resource\": \"{key}\"\n    }}\n  ]\n}}"
    );
    let compact = serde_json::from_str::<Value>(&document)
        .map(|v| v.to_string())
        .unwrap_or_else(|_| document.clone());
    Step {
        title: format!("Allow kms:Decrypt on {key} for role {role}"),
        detail: format!(
            "Add an inline policy named consoledx-allow-kms-Decrypt to the execution role {role} that allows exactly kms:Decrypt on the function's key and nothing else."
        ),
        cli: Some(format!(
            "aws iam put-role-policy --role-name {role} --policy-name consoledx-allow-kms-Decrypt --policy-document '{compact}'"
        )),
        policy: Some(document),
        link: Some(format!(
            "{}/iam/home#/roles/details/{}?section=permissions",
            console_origin(partition, "iam"),
            url_component(role)
        )),
    }
}

fn key_policy_step(role: &str, role_arn: &str, key: &str, partition: &str, region: &str) -> Step {
    let statement = format!(
        "{{\n  \"Sid\": \"AllowLambdaRoleDecrypt\",\n  \"Effect\": \"Allow\",\n  \"Principal\": {{\n    \"AWS\": \"{role_arn}\"\n  }},\n  \"Action\": \"kms:Decrypt\",\n  \"Resource\": \"*\"\n}}"
    );
    Step {
        title: format!("Add role {role} to the key policy of {key} for kms:Decrypt"),
        detail: format!(
            "Append this statement to the key policy's Statement list (in a key policy, \"Resource\": \"*\" means this key). The key policy must allow role {role}, because it does not let IAM policies grant access."
        ),
        cli: Some(format!(
            "aws kms get-key-policy --key-id {key} --policy-name default --output text > key-policy.json && aws kms put-key-policy --key-id {key} --policy-name default --policy file://key-policy.json"
        )),
        policy: Some(statement),
        link: Some(kms_link(partition, region, key)),
    }
}

fn reapply_step(
    function: &str,
    role: &str,
    key: Option<&str>,
    partition: &str,
    region: &str,
) -> Step {
    let key_flag = key
        .map(|key| format!(" --kms-key-arn {key}"))
        .unwrap_or_default();
    Step {
        title: format!("Update function {function} so Lambda re-encrypts with role {role}'s new access"),
        detail: "Lambda re-creates its KMS grant when the function configuration changes; then invoke the function again.".to_string(),
        cli: Some(format!(
            "aws lambda update-function-configuration --function-name {function}{key_flag} && aws lambda invoke --function-name {function} response.json"
        )),
        policy: None,
        link: Some(format!(
            "{}/lambda/home?region={}#/functions/{}?tab=configure",
            console_origin(partition, "lambda"),
            url_component(region),
            url_component(function)
        )),
    }
}
