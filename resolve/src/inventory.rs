//! Errors without a dedicated resolver still get the named resources' state
//! read as evidence: EC2 instances and AMIs, CloudFormation stacks, and other
//! types through Cloud Control.

use crate::{Facts, Read};
use consoledx_core::Identifiers;
use serde_json::Value;

/// Identifier keys whose resources Cloud Control reads, with their CloudFormation type.
const CLOUD_CONTROL_TYPES: &[(&str, &str)] = &[
    ("dynamodb_table_name", "AWS::DynamoDB::Table"),
    ("log_group_name", "AWS::Logs::LogGroup"),
    ("rds_db_instance_id", "AWS::RDS::DBInstance"),
    ("ecs_cluster_name", "AWS::ECS::Cluster"),
    ("secret_arn", "AWS::SecretsManager::Secret"),
];

/// Properties worth quoting from a Cloud Control answer: status-like ones.
const STATUS_PROPERTIES: &[&str] = &[
    "TableStatus",
    "DBInstanceStatus",
    "Status",
    "State",
    "RetentionInDays",
    "BillingMode",
    "Engine",
];

fn id<'a>(ids: &'a Identifiers, key: &str) -> Option<&'a String> {
    ids.get(key).filter(|v| !v.is_empty())
}

pub(crate) fn plan(ids: &Identifiers) -> Vec<Read> {
    let mut reads = Vec::new();
    if let Some(instance) = id(ids, "ec2_instance_id") {
        reads.push(Read::Instance {
            instance_id: instance.clone(),
        });
    }
    if let Some(image) = id(ids, "ec2_ami_id") {
        reads.push(Read::Image {
            image_id: image.clone(),
        });
    }
    if let Some(stack) = id(ids, "cloudformation_stack_name") {
        reads.push(Read::Stack {
            stack: stack.clone(),
        });
        reads.push(Read::StackEvents {
            stack: stack.clone(),
        });
    }
    if reads.is_empty()
        && let Some((key, type_name)) = CLOUD_CONTROL_TYPES
            .iter()
            .find(|(key, _)| id(ids, key).is_some())
        && let Some(identifier) = id(ids, key)
    {
        reads.push(Read::CloudControlResource {
            type_name: type_name.to_string(),
            identifier: identifier.clone(),
        });
    }
    reads
}

pub(crate) fn followup(facts: &Facts) -> Vec<Read> {
    let mut reads = Vec::new();
    if let Some(instance) = facts.instance.ok() {
        if let Some(image) = &instance.image_id {
            reads.push(Read::Image {
                image_id: image.clone(),
            });
        }
        if let Some(subnet) = &instance.subnet_id {
            reads.push(Read::Subnet {
                subnet_id: subnet.clone(),
            });
        }
        if !instance.security_group_ids.is_empty() {
            reads.push(Read::SecurityGroups {
                group_ids: instance.security_group_ids.clone(),
            });
        }
    }
    if let Some(resource) = facts.cloud_resource.ok()
        && resource.properties.is_none()
    {
        reads.push(Read::CloudControlList {
            type_name: resource.type_name.clone(),
        });
    }
    reads
}

fn quote(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The state of the resources read, in plain words.
pub(crate) fn evidence(facts: &Facts) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(instance) = facts.instance.ok() {
        let mut parts = Vec::new();
        if let Some(t) = &instance.instance_type {
            parts.push(t.clone());
        }
        if let Some(image) = &instance.image_id {
            parts.push(image.clone());
        }
        if let Some(subnet) = &instance.subnet_id {
            parts.push(subnet.clone());
        }
        if let Some(vpc) = &instance.vpc_id {
            parts.push(vpc.clone());
        }
        lines.push(format!(
            "Instance {} is {}{}",
            instance.instance_id,
            instance.state.as_deref().unwrap_or("in an unknown state"),
            if parts.is_empty() {
                String::new()
            } else {
                format!(" ({})", parts.join(", "))
            }
        ));
    }
    if let Some(image) = facts.image.ok() {
        lines.push(format!(
            "AMI {}{} is {}",
            image.image_id,
            image
                .name
                .as_ref()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default(),
            image.state.as_deref().unwrap_or("in an unknown state")
        ));
    }
    if let Some(subnet) = facts.subnet.ok() {
        lines.push(format!(
            "Subnet {} belongs to {}",
            subnet.subnet_id, subnet.vpc_id
        ));
    }
    if let Some(groups) = facts.security_groups.ok() {
        for group in groups {
            lines.push(format!(
                "Security group {} belongs to {}",
                group.group_id, group.vpc_id
            ));
        }
    }
    if let Some(stack) = facts.stack.ok() {
        lines.push(format!(
            "Stack {} is {}{}",
            stack.stack_id,
            stack.status,
            stack
                .reason
                .as_ref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default()
        ));
    }
    if let Some(events) = facts.stack_events.ok()
        && let Some(first) = events.iter().find(|e| e.status.ends_with("_FAILED"))
    {
        lines.push(format!(
            "First failed stack event: {}{} {}{}",
            first.logical_id,
            first
                .resource_type
                .as_ref()
                .map(|t| format!(" ({t})"))
                .unwrap_or_default(),
            first.status,
            first
                .reason
                .as_ref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default()
        ));
    }
    if let Some(resource) = facts.cloud_resource.ok() {
        match &resource.properties {
            Some(properties) => {
                let details: Vec<String> = STATUS_PROPERTIES
                    .iter()
                    .filter_map(|key| {
                        properties
                            .get(*key)
                            .map(|value| format!("{key} {}", quote(value)))
                    })
                    .collect();
                lines.push(format!(
                    "{} {} exists{}",
                    resource.type_name,
                    resource.identifier,
                    if details.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", details.join(", "))
                    }
                ));
            }
            None => {
                let others = facts.cloud_resources.ok().map(|list| {
                    if list.is_empty() {
                        format!("; the account has no {} in this region", resource.type_name)
                    } else {
                        format!("; existing ones: {}", list.join(", "))
                    }
                });
                lines.push(format!(
                    "Cloud Control found no {} {}{}",
                    resource.type_name,
                    resource.identifier,
                    others.unwrap_or_default()
                ));
            }
        }
    }
    lines
}
