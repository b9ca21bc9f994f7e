//! ARNs and console links for the resources an error names.

use consoledx_core::Identifiers;

/// The partition a context belongs to: the extracted one, else the region's, else `aws`.
pub fn partition(identifiers: &Identifiers) -> &str {
    if let Some(partition) = identifiers.get("aws_partition").filter(|p| is_partition(p)) {
        return partition;
    }
    match identifiers.get("aws_region") {
        Some(region) if region.starts_with("cn-") => "aws-cn",
        Some(region) if region.starts_with("us-gov-") => "aws-us-gov",
        _ => "aws",
    }
}

fn is_partition(value: &str) -> bool {
    matches!(value, "aws" | "aws-cn" | "aws-us-gov")
}

/// Console origin for a partition; S3's console has its own host in the commercial partition.
pub fn console_origin(partition: &str, service: &str) -> String {
    match (partition, service) {
        ("aws-cn", _) => "https://console.amazonaws.cn".to_string(),
        ("aws-us-gov", _) => "https://console.amazonaws-us-gov.com".to_string(),
        (_, "s3") => "https://s3.console.aws.amazon.com".to_string(),
        _ => "https://console.aws.amazon.com".to_string(),
    }
}

pub fn is_account_id(value: &str) -> bool {
    value.len() == 12 && value.bytes().all(|b| b.is_ascii_digit())
}

/// S3 actions whose resource is an object (`arn:…:s3:::bucket/key`), not the bucket.
fn is_s3_object_action(action: &str) -> bool {
    action.contains("Object")
        || matches!(
            action,
            "AbortMultipartUpload" | "ListMultipartUploadParts" | "PutObjectAcl"
        )
}

/// The resource ARN an IAM action is authorized against, built from the identifiers.
/// `*` for actions that take no resource; `None` when the page did not name enough.
pub fn resource_arn(
    action: &str,
    identifiers: &Identifiers,
    account: Option<&str>,
) -> Option<String> {
    let (service, name) = action.split_once(':')?;
    let partition = partition(identifiers);
    let region = identifiers.get("aws_region").map(String::as_str);
    let id = |key: &str| {
        identifiers
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    };
    let regional = |resource: String| -> Option<String> {
        Some(format!(
            "arn:{partition}:{service}:{}:{}:{resource}",
            region?, account?
        ))
    };
    if name.starts_with("Describe") || name.starts_with("ListAll") {
        return Some("*".to_string());
    }
    let built = match service {
        "s3" => {
            let bucket = id("s3_bucket_name")?;
            if is_s3_object_action(name) {
                Some(format!("arn:{partition}:s3:::{bucket}/*"))
            } else {
                Some(format!("arn:{partition}:s3:::{bucket}"))
            }
        }
        "iam" => {
            let account = account?;
            if let Some(role) = id("iam_role_name") {
                Some(format!("arn:{partition}:iam::{account}:role/{role}"))
            } else if let Some(user) = id("iam_user_name") {
                Some(format!("arn:{partition}:iam::{account}:user/{user}"))
            } else {
                id("iam_policy_arn").map(str::to_string)
            }
        }
        "lambda" => id("lambda_function_name").and_then(|f| regional(format!("function:{f}"))),
        "dynamodb" => id("dynamodb_table_name").and_then(|t| regional(format!("table/{t}"))),
        "ec2" => id("ec2_instance_id").and_then(|i| regional(format!("instance/{i}"))),
        "kms" => id("kms_key_id").and_then(|k| {
            if k.starts_with("arn:") {
                Some(k.to_string())
            } else {
                regional(format!("key/{k}"))
            }
        }),
        "logs" => id("log_group_name").and_then(|g| regional(format!("log-group:{g}"))),
        "secretsmanager" => id("secret_arn").map(str::to_string),
        "cloudformation" => {
            id("cloudformation_stack_name").and_then(|s| regional(format!("stack/{s}/*")))
        }
        _ => None,
    };
    built.or_else(|| {
        id("resource_arn")
            .filter(|arn| arn.split(':').nth(2) == Some(service))
            .map(fix_arn)
    })
}

/// Repairs the ARN shapes AWS never issues: S3 bucket/object ARNs carry no
/// region or account, IAM ARNs no region.
pub fn fix_arn(arn: &str) -> String {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    if parts.len() != 6 || parts[0] != "arn" {
        return arn.to_string();
    }
    let (partition, service, region, account, resource) =
        (parts[1], parts[2], parts[3], parts[4], parts[5]);
    match service {
        "s3" if !resource.contains(':') && !resource.starts_with("accesspoint/") => {
            format!("arn:{partition}:s3:::{resource}")
        }
        "iam" if !region.is_empty() => format!("arn:{partition}:iam::{account}:{resource}"),
        _ => arn.to_string(),
    }
}

/// Why an ARN is not one AWS would issue, or `None` when it is well formed.
pub fn arn_problem(arn: &str) -> Option<String> {
    if arn == "*" {
        return None;
    }
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    if parts.len() != 6 || parts[0] != "arn" {
        return Some(format!("{arn} is not an ARN"));
    }
    let (partition, service, region, account, resource) =
        (parts[1], parts[2], parts[3], parts[4], parts[5]);
    if !is_partition(partition) {
        return Some(format!("{arn}: unknown partition {partition}"));
    }
    if service.is_empty() || resource.is_empty() {
        return Some(format!("{arn}: empty service or resource"));
    }
    let region_partition = if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    };
    if !region.is_empty() && region_partition != partition {
        return Some(format!(
            "{arn}: region {region} is not in partition {partition}"
        ));
    }
    match service {
        "s3" if !region.is_empty() || !account.is_empty() => {
            Some(format!("{arn}: S3 bucket ARNs have no region or account"))
        }
        "iam" if !region.is_empty() => Some(format!("{arn}: IAM ARNs have no region")),
        "iam" | "sts" if !(is_account_id(account) || account == "aws") => {
            Some(format!("{arn}: account must be 12 digits"))
        }
        _ => None,
    }
}

/// Percent-encodes a value for a URL query or fragment (unreserved bytes kept).
pub fn url_component(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}
