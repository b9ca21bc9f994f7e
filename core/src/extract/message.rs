//! Identifiers named in an error message: ARNs by their role in the sentence,
//! the denied action, EC2 shapes, log groups, and names in the phrasings
//! tools use (`creating IAM Role (name)`, `Role with name X already exists`).

use super::arn::{Arn, find_arns};
use super::found::{Found, keys, rank};
use super::phrases::{Cue, Hit};
use super::shapes::{
    EC2_ID_KINDS, ec2_id_key, is_account_id, is_availability_zone, is_bare_kms_key_id,
    is_bucket_name, is_ec2_id, is_iam_name, is_instance_type, is_kms_key_id,
    is_lambda_function_name, is_log_group_name, is_region, is_simple_name, is_table_name,
};

/// An ARN found in the message and what the sentence makes of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ArnRole {
    Principal,
    Resource,
    Policy,
    Other,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct FoundArn<'a> {
    pub start: usize,
    pub arn: Arn<'a>,
    pub role: ArnRole,
}

impl FoundArn<'_> {
    pub(crate) fn end(&self) -> usize {
        self.start + self.arn.text.len()
    }
}

/// Whatever the other scanners need to know about the message.
pub(crate) struct MessageFacts<'a> {
    pub arns: Vec<FoundArn<'a>>,
}

/// Actions that are checked on behalf of another service's API call and so
/// do not name the service that failed (`iam:PassRole` during `CreateStack`).
const PERMISSION_ONLY_ACTIONS: &[&str] = &["iam:PassRole"];

pub(crate) fn scan_message<'a>(
    text: &'a str,
    lower: &str,
    hits: &[Hit],
    found: &mut Found,
) -> MessageFacts<'a> {
    let arns = classify_arns(text, lower);
    for found_arn in &arns {
        record_arn(found_arn, found);
    }
    let action = find_action(text, &arns);
    if let Some(action) = action {
        found.put(keys::ACTION, rank::MESSAGE_RESOURCE, action);
        if !PERMISSION_ONLY_ACTIONS.contains(&action)
            && let Some((service, _)) = action.split_once(':')
        {
            found.put(keys::SERVICE, rank::ACTION, &service.to_ascii_lowercase());
        }
    }
    scan_tokens(text, found);
    scan_log_groups(text, found);
    scan_phrases(text, lower, hits, found);
    MessageFacts { arns }
}

fn classify_arns<'a>(text: &'a str, lower: &str) -> Vec<FoundArn<'a>> {
    let mut arns = Vec::new();
    for (start, arn_text) in find_arns(text) {
        let Some(arn) = Arn::parse(arn_text) else {
            continue;
        };
        let before = lower[..start].trim_end_matches([' ', '"', '\'', '\t', '\n', '(', '[']);
        let after = lower[start + arn_text.len()..].trim_start_matches(['"', '\'', ' ', ')', ']']);
        let (resource_type, _) = arn.resource_type_and_id();
        let is_policy = resource_type == "policy" && matches!(arn.service, "iam" | "organizations");
        // IAM writes `on resource: policy arn:…` / `on resource: role X`: a type word may sit between.
        let before_type_word = before
            .trim_end_matches(|c: char| c.is_ascii_lowercase() || c == '-')
            .trim_end_matches(' ');
        let role = if before.ends_with("resource:")
            || before.ends_with("resource")
            || before_type_word.ends_with("resource:")
        {
            ArnRole::Resource
        } else if is_policy {
            ArnRole::Policy
        } else if before.ends_with("user:")
            || before.ends_with("user")
            || before.ends_with("principal:")
            || before.ends_with("principal")
            || after.starts_with("is not authorized")
            || (arn.service == "sts" && matches!(resource_type, "assumed-role" | "federated-user"))
        {
            ArnRole::Principal
        } else {
            ArnRole::Other
        };
        arns.push(FoundArn { start, arn, role });
    }
    arns
}

fn record_arn(found_arn: &FoundArn<'_>, found: &mut Found) {
    let arn = &found_arn.arn;
    let part_rank = match found_arn.role {
        ArnRole::Principal => rank::MESSAGE_PRINCIPAL,
        ArnRole::Resource => rank::MESSAGE_RESOURCE,
        ArnRole::Policy | ArnRole::Other => rank::MESSAGE_OTHER,
    };
    if arn.is_real() {
        match found_arn.role {
            ArnRole::Principal => found.put(keys::PRINCIPAL_ARN, part_rank, arn.text),
            ArnRole::Policy => {
                if arn.service == "iam" {
                    found.put(keys::POLICY_ARN, rank::MESSAGE_RESOURCE, arn.text);
                }
            }
            ArnRole::Resource | ArnRole::Other => {
                found.put(keys::RESOURCE_ARN, part_rank, arn.text);
                if arn.service == "iam" && arn.resource.starts_with("policy/") {
                    found.put(keys::POLICY_ARN, part_rank, arn.text);
                }
                if arn.service == "secretsmanager" {
                    found.put(keys::SECRET_ARN, part_rank, arn.text);
                }
            }
        }
        found.put(keys::PARTITION, rank::FALLBACK, arn.partition);
    }
    if is_account_id(arn.account) {
        let account_rank = match found_arn.role {
            ArnRole::Principal => rank::PRINCIPAL_ACCOUNT,
            _ => part_rank,
        };
        found.put(keys::ACCOUNT, account_rank, arn.account);
    }
    if is_region(arn.region) && arn.account_is_real() {
        found.put(keys::REGION, rank::FALLBACK, arn.region);
    }
    if !arn.account_is_real() {
        // A documentation template: its names are as invented as its account.
        return;
    }
    let (resource_type, id) = arn.resource_type_and_id();
    match (arn.service, resource_type) {
        ("s3", _) if arn.region.is_empty() => {
            let bucket = arn.resource.split('/').next().unwrap_or_default();
            if is_bucket_name(bucket) {
                found.put(keys::BUCKET, part_rank, bucket);
            }
        }
        ("iam", "role") | ("sts", "assumed-role") => {
            let name = if arn.service == "iam" {
                id.rsplit('/').next()
            } else {
                id.split('/').next()
            };
            if let Some(name) = name.filter(|name| is_iam_name(name)) {
                found.put(keys::ROLE, part_rank, name);
            }
        }
        ("iam", "user") => {
            if let Some(name) = id.rsplit('/').next().filter(|name| is_iam_name(name)) {
                found.put(keys::USER, part_rank, name);
            }
        }
        ("lambda", "function") => {
            let name = id.split(':').next().unwrap_or_default();
            if is_lambda_function_name(name) {
                found.put(keys::FUNCTION, part_rank, name);
            }
        }
        ("dynamodb", "table") => {
            let name = id.split('/').next().unwrap_or_default();
            if is_table_name(name) {
                found.put(keys::TABLE, part_rank, name);
            }
        }
        ("kms", "key") if is_kms_key_id(id) => found.put(keys::KMS_KEY, part_rank, id),
        ("kms", "alias") => {
            let alias = &arn.resource;
            if is_kms_key_id(alias) {
                found.put(keys::KMS_KEY, part_rank, alias);
            }
        }
        ("cloudformation", "stack") => {
            let name = id.split('/').next().unwrap_or_default();
            if is_simple_name(name, 128) {
                found.put(keys::STACK, part_rank, name);
            }
        }
        ("logs", "log-group") => {
            let name = id.split(':').next().unwrap_or_default();
            if is_log_group_name(name) {
                found.put(keys::LOG_GROUP, part_rank, name);
            }
        }
        ("rds", "db") if is_simple_name(id, 63) => found.put(keys::DB_INSTANCE, part_rank, id),
        ("ecs", "cluster" | "service" | "task" | "container-instance") => {
            let name = id.split('/').next().unwrap_or_default();
            let is_cluster = resource_type == "cluster" || id.contains('/');
            if is_cluster && is_simple_name(name, 255) {
                found.put(keys::ECS_CLUSTER, part_rank, name);
            }
        }
        ("ec2", _) => {
            if let Some(key) = ec2_id_key(id) {
                found.put(key, part_rank, id);
            }
        }
        _ => {}
    }
}

/// `service:Action` outside any ARN: `s3:PutObject`, `waf-regional:GetWebACLForResource`.
fn find_action<'a>(text: &'a str, arns: &[FoundArn<'_>]) -> Option<&'a str> {
    // Condition-key namespaces, URL schemes and log-line prefixes share the shape.
    const NOT_SERVICES: &[&str] = &[
        "arn", "aws", "http", "https", "urn", "mailto", "file", "error", "warning", "info",
        "debug", "code", "message",
    ];
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(found) = text.get(from..).and_then(|rest| rest.find(':')) {
        let colon = from + found;
        from = colon + 1;
        if arns.iter().any(|a| a.start <= colon && colon < a.end()) {
            continue;
        }
        let mut start = colon;
        while start > 0
            && (bytes[start - 1].is_ascii_lowercase()
                || bytes[start - 1].is_ascii_digit()
                || bytes[start - 1] == b'-')
        {
            start -= 1;
        }
        if start == colon {
            // SNS spells its actions in capitals (`perform: SNS:Publish`); only
            // there, so that `ERROR:` and the like stay out.
            let mut upper = colon;
            while upper > 0 && bytes[upper - 1].is_ascii_uppercase() {
                upper -= 1;
            }
            if upper == colon || !text[..upper].ends_with("perform: ") {
                continue;
            }
            start = upper;
        } else if !bytes[start].is_ascii_lowercase() {
            continue;
        }
        if start > 0
            && (bytes[start - 1].is_ascii_alphanumeric()
                || matches!(bytes[start - 1], b'_' | b'.' | b':' | b'/'))
        {
            continue;
        }
        let mut end = colon + 1;
        if end >= bytes.len() || !(bytes[end].is_ascii_uppercase() || bytes[end] == b'*') {
            continue;
        }
        while end < bytes.len() && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'*') {
            end += 1;
        }
        if end < bytes.len() && (matches!(bytes[end], b'_' | b':' | b'/' | b'-')) {
            continue;
        }
        if NOT_SERVICES.contains(&&text[start..colon]) {
            continue;
        }
        return Some(&text[start..end]);
    }
    None
}

fn is_token_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-')
}

/// EC2 ids, instance types and Availability Zones: shapes that say what they are.
fn scan_tokens(text: &str, found: &mut Found) {
    let bytes = text.as_bytes();
    let mut index = 0;
    while index < bytes.len() {
        if !is_token_byte(bytes[index]) {
            index += 1;
            continue;
        }
        let start = index;
        while index < bytes.len() && is_token_byte(bytes[index]) {
            index += 1;
        }
        let token = text[start..index].trim_end_matches(['.', '-', '_']);
        let Some(first) = token.bytes().next() else {
            continue;
        };
        if !first.is_ascii_lowercase() || token.len() < 4 {
            continue;
        }
        if let Some((prefix, _)) = token.split_once('-') {
            if let Some(&(_, key)) = EC2_ID_KINDS.iter().find(|(known, _)| *known == prefix) {
                if is_ec2_id(token, prefix) {
                    found.put(key, rank::MESSAGE_PHRASE, token);
                }
                continue;
            }
            if is_availability_zone(token) {
                found.put(keys::ZONE, rank::MESSAGE_PHRASE, token);
                continue;
            }
        }
        if token.contains('.') && is_instance_type(token) {
            found.put(keys::INSTANCE_TYPE, rank::MESSAGE_PHRASE, token);
        }
    }
}

fn is_log_group_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'-' | b'_' | b'/' | b'#')
}

/// `/aws/…` paths are log groups (Lambda, EKS, API Gateway, … all log there).
fn scan_log_groups(text: &str, found: &mut Found) {
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(found_at) = text.get(from..).and_then(|rest| rest.find("/aws/")) {
        let start = from + found_at;
        from = start + 5;
        if start > 0 && is_log_group_byte(bytes[start - 1]) {
            continue;
        }
        let mut end = start;
        while end < bytes.len() && is_log_group_byte(bytes[end]) {
            end += 1;
        }
        let name = text[start..end].trim_end_matches('.');
        // Public SSM parameters live under `/aws/service/` and `/aws/reference/`.
        let parameter = name.starts_with("/aws/service/") || name.starts_with("/aws/reference/");
        if name.len() > 5 && !parameter && is_log_group_name(name) {
            found.put(keys::LOG_GROUP, rank::MESSAGE_PHRASE, name);
        }
        from = end.max(from);
    }
}

pub(crate) fn valid_for(key: &str, value: &str) -> bool {
    match key {
        keys::BUCKET => is_bucket_name(value),
        keys::ROLE | keys::USER => is_iam_name(value),
        keys::FUNCTION => is_lambda_function_name(value),
        keys::TABLE => is_table_name(value),
        keys::DB_INSTANCE => is_simple_name(value, 63),
        keys::KMS_KEY => is_kms_key_id(value),
        keys::LOG_GROUP => is_log_group_name(value),
        keys::STACK => is_simple_name(value, 128),
        keys::ECS_CLUSTER => is_simple_name(value, 255),
        keys::INSTANCE => is_ec2_id(value, "i"),
        keys::VPC => is_ec2_id(value, "vpc"),
        keys::SUBNET => is_ec2_id(value, "subnet"),
        keys::SECURITY_GROUP => is_ec2_id(value, "sg"),
        _ => false,
    }
}

/// The longest name any key allows, and so how far to look for a closing mark.
const NAME_WINDOW: usize = 520;

fn window(text: &str) -> &str {
    let mut end = NAME_WINDOW.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

fn scan_phrases(text: &str, lower: &str, hits: &[Hit], found: &mut Found) {
    for hit in hits {
        let rest = &text[hit.end..];
        match hit.cue {
            Cue::Named { key, close } => {
                let Some(end) = window(rest).bytes().position(|b| b == close) else {
                    continue;
                };
                let value = &rest[..end];
                if valid_for(key, value) {
                    found.put(key, rank::MESSAGE_PHRASE, value);
                }
            }
            Cue::NameAfter { key, confirm } => {
                let end = rest
                    .bytes()
                    .position(|b| {
                        b.is_ascii_whitespace() || matches!(b, b'\'' | b'"' | b')' | b',')
                    })
                    .unwrap_or(rest.len());
                if !lower[hit.end + end..].starts_with(confirm) {
                    continue;
                }
                let value = rest[..end].trim_end_matches(['.', ':', ';']);
                if !value.starts_with("arn:") && valid_for(key, value) {
                    found.put(key, rank::MESSAGE_PHRASE, value);
                }
            }
            Cue::Quoted { key } => {
                let Some(quote) = rest
                    .bytes()
                    .next()
                    .filter(|b| matches!(b, b'\'' | b'"' | b'`'))
                else {
                    continue;
                };
                let inner = &rest[1..];
                let Some(end) = window(inner).bytes().position(|b| b == quote) else {
                    continue;
                };
                let value = &inner[..end];
                if valid_for(key, value) {
                    found.put(key, rank::MESSAGE_PHRASE, value);
                }
            }
            Cue::BareBucket => {
                // An unquoted name after "bucket": only when it looks like no
                // English word can (a digit, dot or hyphen) and is no region.
                let end = rest
                    .bytes()
                    .position(|b| {
                        !(b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
                    })
                    .unwrap_or(rest.len());
                let value = rest[..end].trim_end_matches('.');
                let distinctive = value
                    .bytes()
                    .any(|b| b.is_ascii_digit() || b == b'.' || b == b'-');
                let followed_by_word = rest[end..]
                    .bytes()
                    .next()
                    .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_');
                if distinctive && !followed_by_word && !is_region(value) && is_bucket_name(value) {
                    found.put(keys::BUCKET, rank::MESSAGE_OTHER, value);
                }
            }
            Cue::KmsKey => {
                let end = rest
                    .bytes()
                    .position(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'/')))
                    .unwrap_or(rest.len());
                let value = rest[..end].trim_end_matches(['/', '-']);
                if is_bare_kms_key_id(value) {
                    found.put(keys::KMS_KEY, rank::MESSAGE_PHRASE, value);
                }
            }
            Cue::KmsAlias => {
                let end = rest
                    .bytes()
                    .position(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'/')))
                    .unwrap_or(rest.len());
                let name = rest[..end].trim_end_matches('/');
                let alias = &text[hit.at..hit.end + name.len()];
                if !name.is_empty() && is_kms_key_id(alias) {
                    found.put(keys::KMS_KEY, rank::MESSAGE_PHRASE, alias);
                }
            }
            Cue::ServiceHint => {
                let end = rest.find([';', ',', ':', ')']).unwrap_or(rest.len());
                // `get`: byte 40 may fall inside a character; no service name is that long anyway.
                if let Some(service) = rest.get(..end.min(40)).and_then(service_for_sdk_name) {
                    found.put(keys::SERVICE, rank::MESSAGE_HINT, service);
                }
            }
            _ => {}
        }
    }
}

/// SDK exception names and `(Service: …)` fields that name the service.
fn service_for_sdk_name(name: &str) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase().replace([' ', '-'], "");
    let trimmed = lower
        .strip_prefix("amazon")
        .or_else(|| lower.strip_prefix("aws"))
        .unwrap_or(&lower);
    Some(match trimmed {
        "s3" => "s3",
        "ec2" => "ec2",
        "autoscaling" => "autoscaling",
        "lambda" => "lambda",
        "kms" => "kms",
        "rds" => "rds",
        "dynamodb" | "dynamodbv2" => "dynamodb",
        "identitymanagement" | "iam" => "iam",
        "securitytokenservice" | "sts" => "sts",
        "cloudformation" => "cloudformation",
        "cloudwatchlogs" | "logs" => "logs",
        "cloudwatch" => "cloudwatch",
        "ecs" => "ecs",
        "secretsmanager" => "secretsmanager",
        "sns" => "sns",
        "sqs" => "sqs",
        _ => return None,
    })
}
