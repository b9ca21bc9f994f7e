//! What a console URL says: partition (host), region (query, host, fragment),
//! service (host or first path segment) and the resource the page shows.

use super::arn::Arn;
use super::found::{Found, keys, rank};
use super::shapes::{
    ec2_id_key, is_availability_zone, is_bucket_name, is_iam_name, is_instance_type, is_kms_key_id,
    is_lambda_function_name, is_log_group_name, is_region, is_simple_name, is_table_name,
    percent_decode,
};
use std::borrow::Cow;

const CONSOLE_HOSTS: &[(&str, &str)] = &[
    ("console.aws.amazon.com", "aws"),
    ("console.amazonaws-us-gov.com", "aws-us-gov"),
    ("console.amazonaws.cn", "aws-cn"),
];

/// Console slugs whose service (as IAM and the APIs name it) differs.
fn service_for_slug(slug: &str) -> Option<&'static str> {
    Some(match slug {
        "dynamodbv2" | "dynamodb" => "dynamodb",
        "ec2autoscaling" | "autoscaling" => "autoscaling",
        // The VPC console drives the EC2 API.
        "ec2" | "ec2sp" | "vpc" | "vpcconsole" => "ec2",
        "iam" | "iamv2" => "iam",
        "systems-manager" | "ssm" => "ssm",
        "cloudwatch" => "cloudwatch",
        "logs" => "logs",
        "s3" => "s3",
        "lambda" => "lambda",
        "kms" => "kms",
        "rds" => "rds",
        "ecs" => "ecs",
        "cloudformation" => "cloudformation",
        "sns" => "sns",
        "sqs" => "sqs",
        "secretsmanager" => "secretsmanager",
        "route53" => "route53",
        "singlesignon" => "sso",
        "states" => "states",
        "events" => "events",
        _ => return None,
    })
}

const NOT_SERVICES: &[&str] = &[
    "console",
    "home",
    "signin",
    "oauth",
    "favicon.ico",
    "codesuite",
];

/// A slug taken as its own service name when the table doesn't know it.
fn plain_slug(slug: &str) -> Option<&str> {
    let ok = (2..=40).contains(&slug.len())
        && slug.as_bytes()[0].is_ascii_lowercase()
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    (ok && !NOT_SERVICES.contains(&slug)).then_some(slug)
}

/// Key/value pairs of a query-like string (`a=1&b=2`, `a=1;b=2`).
fn pairs(text: &str) -> impl Iterator<Item = (&str, &str)> + Clone {
    text.split(['&', ';'])
        .filter_map(|pair| pair.split_once('='))
}

pub(crate) fn scan_url(raw: &str, found: &mut Found) {
    let raw = raw.trim();
    let Some(rest) = raw
        .strip_prefix("https://")
        .or_else(|| raw.strip_prefix("http://"))
    else {
        return;
    };
    let host_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..host_end];
    let host = authority
        .rsplit('@')
        .next()
        .unwrap_or(authority)
        .split(':')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let after_host = &rest[host_end..];
    let (before_fragment, fragment) = match after_host.split_once('#') {
        Some((before, fragment)) => (before, fragment),
        None => (after_host, ""),
    };
    let (path, query) = match before_fragment.split_once('?') {
        Some((path, query)) => (path, query),
        None => (before_fragment, ""),
    };

    let mut host_service = None;
    let mut is_console = false;
    for (suffix, partition) in CONSOLE_HOSTS {
        let Some(prefix) = host.strip_suffix(suffix) else {
            continue;
        };
        if !(prefix.is_empty() || prefix.ends_with('.')) {
            continue;
        }
        is_console = true;
        found.put(keys::PARTITION, rank::URL_LOCATION, partition);
        for label in prefix.split('.').filter(|label| !label.is_empty()) {
            if is_region(label) {
                found.put(keys::REGION, rank::URL_LOCATION - 1, label);
            } else if host_service.is_none() {
                host_service = service_for_slug(label)
                    .map(Cow::Borrowed)
                    .or_else(|| plain_slug(label).map(|s| Cow::Owned(s.to_owned())));
            }
        }
        break;
    }
    if !is_console {
        // Not a console page: nothing else in it is about AWS resources.
        return;
    }

    for (name, value) in pairs(query) {
        if name == "region" && is_region(value) {
            found.put(keys::REGION, rank::URL_LOCATION, value);
        }
    }

    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let slug = match segments.first() {
        Some(&"codesuite") => segments.get(1).copied(),
        first => first.copied(),
    };
    let (route, route_query) = fragment.split_once('?').unwrap_or((fragment, ""));
    let mut service: Option<Cow<'_, str>> = host_service;
    if service.is_none() {
        service = slug.and_then(|slug| {
            service_for_slug(slug)
                .map(Cow::Borrowed)
                .or_else(|| plain_slug(slug).map(Cow::Borrowed))
        });
    }
    if service.as_deref() == Some("cloudwatch")
        && (route.starts_with("logsV2")
            || route.starts_with("logs:")
            || route.starts_with("logs-insights"))
    {
        service = Some(Cow::Borrowed("logs"));
    }
    if let Some(service) = &service {
        found.put(keys::SERVICE, rank::URL_SERVICE, service);
    }

    // Fragment parameters: `View:k=v;k=v` (EC2, VPC, RDS) and `route?k=v&k=v` (SPAs).
    let view_params = route
        .split_once(':')
        .map(|(_, params)| params)
        .unwrap_or("");
    let fragment_pairs: Vec<(&str, &str)> = pairs(view_params).chain(pairs(route_query)).collect();
    for &(name, value) in &fragment_pairs {
        if name == "region" && is_region(value) {
            found.put(keys::REGION, rank::URL_LOCATION - 2, value);
        }
    }

    // Shapes that cannot be mistaken, wherever they sit in the URL.
    for (name, value) in pairs(query).chain(fragment_pairs.iter().copied()) {
        let value = percent_decode(value);
        scan_ec2_value(name, &value, found);
    }

    let route_segments: Vec<&str> = route.split('/').filter(|s| !s.is_empty()).collect();
    match service.as_deref() {
        Some("s3") => scan_s3(&segments, query, found),
        Some("iam") => scan_iam(&route_segments, found),
        Some("lambda") => {
            if let ["functions", name, ..] = route_segments.as_slice()
                && is_lambda_function_name(name)
            {
                found.put(keys::FUNCTION, rank::URL_RESOURCE, name);
            }
        }
        Some("kms") => {
            if let [.., "keys", id] | [.., "keys", id, _] = route_segments.as_slice()
                && is_kms_key_id(id)
            {
                found.put(keys::KMS_KEY, rank::URL_RESOURCE, id);
            }
        }
        Some("cloudformation") => {
            for &(name, value) in &fragment_pairs {
                let value = percent_decode(value);
                match name {
                    "stackId" => {
                        if let Some(arn) = Arn::parse(&value) {
                            if arn.account_is_real() {
                                if let ("stack", id) = arn.resource_type_and_id() {
                                    let stack = id.split('/').next().unwrap_or_default();
                                    if is_simple_name(stack, 128) {
                                        found.put(keys::STACK, rank::URL_RESOURCE, stack);
                                    }
                                }
                                if super::shapes::is_account_id(arn.account) {
                                    found.put(keys::ACCOUNT, rank::FALLBACK, arn.account);
                                }
                            }
                        } else if is_simple_name(&value, 128) {
                            found.put(keys::STACK, rank::URL_RESOURCE, &value);
                        }
                    }
                    "stackName" if is_simple_name(&value, 128) => {
                        found.put(keys::STACK, rank::URL_RESOURCE, &value);
                    }
                    _ => {}
                }
            }
        }
        Some("dynamodb") => {
            for &(name, value) in &fragment_pairs {
                let value = percent_decode(value);
                if matches!(name, "name" | "table" | "selected" | "tableName")
                    && is_table_name(&value)
                {
                    found.put(keys::TABLE, rank::URL_RESOURCE, &value);
                }
            }
        }
        Some("rds") => {
            let view = route.split(':').next().unwrap_or_default();
            let is_cluster = fragment_pairs
                .iter()
                .any(|&(name, value)| name == "is-cluster" && value == "true");
            if matches!(view, "database" | "dbinstance") && !is_cluster {
                for &(name, value) in &fragment_pairs {
                    if name == "id" && is_simple_name(value, 63) {
                        found.put(keys::DB_INSTANCE, rank::URL_RESOURCE, value);
                    }
                }
            }
        }
        Some("ecs") => {
            let cluster = match (segments.as_slice(), route_segments.as_slice()) {
                ([_, "v2", "clusters", name, ..], _) => Some(*name),
                (_, ["clusters", name, ..]) => Some(*name),
                _ => None,
            };
            if let Some(name) = cluster.filter(|name| is_simple_name(name, 255)) {
                found.put(keys::ECS_CLUSTER, rank::URL_RESOURCE, name);
            }
        }
        Some("logs") => scan_log_group(route, found),
        _ => {}
    }
}

fn scan_ec2_value(name: &str, value: &str, found: &mut Found) {
    if let Some(key) = ec2_id_key(value) {
        found.put(key, rank::URL_RESOURCE, value);
        return;
    }
    let lower_name = name.to_ascii_lowercase();
    if lower_name == "availabilityzone" && is_availability_zone(value) {
        found.put(keys::ZONE, rank::URL_RESOURCE, value);
    } else if lower_name == "instancetype" && is_instance_type(value) {
        found.put(keys::INSTANCE_TYPE, rank::URL_RESOURCE, value);
    }
}

/// Words the S3 console uses as path segments where a bucket name could sit.
const S3_NOT_BUCKETS: &[&str] = &["create", "home", "get-started"];

fn scan_s3(segments: &[&str], query: &str, found: &mut Found) {
    if let [
        _,
        "buckets" | "bucket" | "object" | "upload" | "management" | "properties" | "permissions",
        name,
        ..,
    ] = segments
        && is_bucket_name(name)
        && !S3_NOT_BUCKETS.contains(name)
    {
        found.put(keys::BUCKET, rank::URL_RESOURCE, name);
    }
    for (name, value) in pairs(query) {
        if name == "bucket" && is_bucket_name(value) {
            found.put(keys::BUCKET, rank::URL_RESOURCE, value);
        }
    }
}

const IAM_NOT_NAMES: &[&str] = &["create", "details", "new"];

fn scan_iam(route: &[&str], found: &mut Found) {
    let (kind, name) = match route {
        [kind, "details", name, ..] => (*kind, *name),
        [kind, name, ..] if !IAM_NOT_NAMES.contains(name) => (*kind, *name),
        _ => return,
    };
    let name = percent_decode(name);
    match kind {
        "roles" if is_iam_name(&name) => found.put(keys::ROLE, rank::URL_RESOURCE, &name),
        "users" if is_iam_name(&name) => found.put(keys::USER, rank::URL_RESOURCE, &name),
        "policies" => {
            if let Some(arn) = Arn::parse(&name).filter(|arn| arn.is_real())
                && arn.service == "iam"
                && arn.resource.starts_with("policy/")
            {
                found.put(keys::POLICY_ARN, rank::URL_RESOURCE, &name);
            }
        }
        _ => {}
    }
}

/// `logsV2:log-groups/log-group/$252Faws$252Flambda$252Ffn/log-events/…`: the
/// console percent-encodes the name twice and writes `%` as `$`.
fn scan_log_group(route: &str, found: &mut Found) {
    let Some((_, after)) = route.split_once("log-group/") else {
        return;
    };
    let encoded = after.split('/').next().unwrap_or_default();
    let mut name = encoded.replace('$', "%");
    for _ in 0..3 {
        if !name.contains('%') {
            break;
        }
        name = percent_decode(&name).into_owned();
    }
    if is_log_group_name(&name) {
        found.put(keys::LOG_GROUP, rank::URL_RESOURCE, &name);
    }
}
