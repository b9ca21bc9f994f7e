//! An EC2 launch whose security group lives in another VPC than its subnet:
//! read both, name the VPCs, and offer the groups of the subnet's VPC.

use crate::arn::url_component;
use crate::{Facts, Finding, Read, SecurityGroup, identifiers, with_retry};
use consoledx_core::api::Step;
use consoledx_core::{Analysis, ErrorContext, Identifiers};

pub(crate) const RULE: &str = "ec2.security_group_subnet_vpc_mismatch";

pub(crate) fn is_vpc_mismatch(context: &ErrorContext, analysis: &Analysis) -> bool {
    analysis.rule.as_deref() == Some(RULE)
        || context
            .message
            .to_ascii_lowercase()
            .contains("belong to different networks")
}

fn id<'a>(ids: &'a Identifiers, key: &str) -> Option<&'a String> {
    ids.get(key).filter(|v| !v.is_empty())
}

pub(crate) fn plan(ids: &Identifiers) -> Vec<Read> {
    let mut reads = Vec::new();
    if let Some(subnet) = id(ids, "subnet_id") {
        reads.push(Read::Subnet {
            subnet_id: subnet.clone(),
        });
    }
    if let Some(group) = id(ids, "security_group_id") {
        reads.push(Read::SecurityGroups {
            group_ids: vec![group.clone()],
        });
    }
    reads
}

pub(crate) fn followup(facts: &Facts) -> Vec<Read> {
    facts
        .subnet
        .ok()
        .map(|subnet| Read::VpcSecurityGroups {
            vpc_id: subnet.vpc_id.clone(),
        })
        .into_iter()
        .collect()
}

fn ec2_console(region: &str, fragment: &str) -> String {
    format!(
        "https://{region}.console.aws.amazon.com/ec2/home?region={}#{fragment}",
        url_component(region)
    )
}

fn group_label(group: &SecurityGroup) -> String {
    match &group.name {
        Some(name) if !name.is_empty() => format!("{} ({name})", group.group_id),
        _ => group.group_id.clone(),
    }
}

pub(crate) fn resolve(
    context: &ErrorContext,
    analysis: &Analysis,
    facts: &Facts,
) -> Option<Finding> {
    let ids = identifiers(context, analysis);
    let region = ids
        .get("aws_region")
        .map(String::as_str)
        .unwrap_or("us-east-1")
        .to_string();
    let subnet = facts.subnet.ok()?;
    let groups = facts.security_groups.ok()?;
    let foreign: Vec<&SecurityGroup> = groups
        .iter()
        .filter(|group| group.vpc_id != subnet.vpc_id)
        .collect();
    let mut evidence = vec![format!(
        "Subnet {} belongs to {}{}",
        subnet.subnet_id,
        subnet.vpc_id,
        subnet
            .availability_zone
            .as_ref()
            .map(|zone| format!(" ({zone})"))
            .unwrap_or_default()
    )];
    for group in groups {
        evidence.push(format!(
            "Security group {} belongs to {}",
            group_label(group),
            group.vpc_id
        ));
    }
    let first = foreign.first()?;
    let subnet_vpc = &subnet.vpc_id;
    let group_vpc = &first.vpc_id;
    let names: Vec<&str> = foreign.iter().map(|g| g.group_id.as_str()).collect();
    let cause = format!(
        "Security group {} belongs to {group_vpc}, but subnet {} belongs to {subnet_vpc}. An instance's security groups must be in the VPC of its subnet, so EC2 refuses the launch.",
        names.join(", "),
        subnet.subnet_id
    );
    let candidates: Vec<&SecurityGroup> = facts
        .vpc_security_groups
        .ok()
        .map(|list| list.iter().filter(|g| &g.vpc_id == subnet_vpc).collect())
        .unwrap_or_default();
    let mut steps = Vec::new();
    let replacement = match candidates.first() {
        Some(candidate) => {
            let labels: Vec<String> = candidates.iter().map(|g| group_label(g)).collect();
            evidence.push(format!(
                "{subnet_vpc} has {} security group(s): {}",
                candidates.len(),
                labels.join(", ")
            ));
            steps.push(Step {
                title: format!(
                    "Choose a security group of {subnet_vpc}, e.g. {}, instead of {}",
                    group_label(candidate),
                    names.join(", ")
                ),
                detail: format!(
                    "In the launch wizard's Network settings, keep subnet {} and select existing security group(s) of {subnet_vpc}: {}. Check that its inbound rules match what {} allowed.",
                    subnet.subnet_id,
                    labels.join(", "),
                    names.join(", ")
                ),
                cli: Some(format!(
                    "aws ec2 describe-security-groups --region {region} --filters Name=vpc-id,Values={subnet_vpc} --query 'SecurityGroups[].[GroupId,GroupName]' --output text"
                )),
                policy: None,
                link: Some(ec2_console(&region, &format!("SecurityGroups:vpc-id={subnet_vpc}"))),
            });
            candidate.group_id.clone()
        }
        None => {
            steps.push(Step {
                title: format!("Create a security group in {subnet_vpc}"),
                detail: format!(
                    "{subnet_vpc} has no security group consoledx could read. Create one there with the inbound rules of {}, then launch with it.",
                    names.join(", ")
                ),
                cli: Some(format!(
                    "aws ec2 create-security-group --region {region} --vpc-id {subnet_vpc} --group-name launch-{subnet_vpc} --description 'Launch group for {subnet_vpc}'"
                )),
                policy: None,
                link: Some(ec2_console(&region, "CreateSecurityGroup:")),
            });
            format!("the new group's id in {subnet_vpc}")
        }
    };
    steps.push(Step {
        title: format!(
            "Or keep {} and choose a subnet of {group_vpc}",
            names.join(", ")
        ),
        detail: format!(
            "If the instance must use {}, launch it into a subnet of {group_vpc} instead of {}.",
            names.join(", "),
            subnet.subnet_id
        ),
        cli: Some(format!(
            "aws ec2 describe-subnets --region {region} --filters Name=vpc-id,Values={group_vpc} --query 'Subnets[].[SubnetId,AvailabilityZone]' --output text"
        )),
        policy: None,
        link: Some(format!(
            "https://{region}.console.aws.amazon.com/vpcconsole/home?region={}#subnets:vpcId={group_vpc}",
            url_component(&region)
        )),
    });
    let image = ids.get("ec2_ami_id").filter(|v| !v.is_empty());
    let launch_cli = match image {
        Some(image) if !replacement.contains(' ') => Some(format!(
            "aws ec2 run-instances --region {region} --image-id {image} --subnet-id {} --security-group-ids {replacement}",
            subnet.subnet_id
        )),
        _ => None,
    };
    steps.push(Step {
        title: format!(
            "Retry the launch with subnet {} and a security group of {subnet_vpc}",
            subnet.subnet_id
        ),
        detail: String::new(),
        cli: launch_cli,
        policy: None,
        link: Some(ec2_console(&region, "LaunchInstances:")),
    });
    Some(Finding {
        cause,
        steps: with_retry(steps, context),
        evidence,
    })
}
