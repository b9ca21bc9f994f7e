//! EC2 reads: an instance, an AMI, a subnet's VPC, security groups' VPCs.

use super::{Clients, reason};
use aws_sdk_ec2::types::Filter;
use consoledx_resolve::{Image, Instance, ReadValue, SecurityGroup, Subnet};

pub(super) async fn instance(clients: &Clients, instance_id: &str) -> Result<ReadValue, String> {
    let out = clients
        .ec2
        .describe_instances()
        .instance_ids(instance_id)
        .send()
        .await
        .map_err(reason)?;
    let found = out
        .reservations()
        .iter()
        .flat_map(|r| r.instances())
        .find(|i| i.instance_id() == Some(instance_id))
        .ok_or_else(|| format!("no instance {instance_id} in this region"))?;
    Ok(ReadValue::Instance(Instance {
        instance_id: instance_id.to_string(),
        state: found
            .state()
            .and_then(|s| s.name())
            .map(|n| n.as_str().to_string()),
        instance_type: found.instance_type().map(|t| t.as_str().to_string()),
        image_id: found.image_id().map(str::to_string),
        subnet_id: found.subnet_id().map(str::to_string),
        vpc_id: found.vpc_id().map(str::to_string),
        security_group_ids: found
            .security_groups()
            .iter()
            .filter_map(|g| g.group_id())
            .map(str::to_string)
            .collect(),
    }))
}

pub(super) async fn image(clients: &Clients, image_id: &str) -> Result<ReadValue, String> {
    let out = clients
        .ec2
        .describe_images()
        .image_ids(image_id)
        .send()
        .await
        .map_err(reason)?;
    let found = out
        .images()
        .iter()
        .find(|i| i.image_id() == Some(image_id))
        .ok_or_else(|| {
            format!("no AMI {image_id} visible in this region (deregistered, private or elsewhere)")
        })?;
    Ok(ReadValue::Image(Image {
        image_id: image_id.to_string(),
        name: found.name().map(str::to_string),
        state: found.state().map(|s| s.as_str().to_string()),
        owner_id: found.owner_id().map(str::to_string),
    }))
}

pub(super) async fn subnet(clients: &Clients, subnet_id: &str) -> Result<ReadValue, String> {
    let out = clients
        .ec2
        .describe_subnets()
        .subnet_ids(subnet_id)
        .send()
        .await
        .map_err(reason)?;
    let found = out
        .subnets()
        .iter()
        .find(|s| s.subnet_id() == Some(subnet_id))
        .ok_or_else(|| format!("no subnet {subnet_id} in this region"))?;
    Ok(ReadValue::Subnet(Subnet {
        subnet_id: subnet_id.to_string(),
        vpc_id: found
            .vpc_id()
            .ok_or_else(|| format!("subnet {subnet_id} has no VPC"))?
            .to_string(),
        availability_zone: found.availability_zone().map(str::to_string),
    }))
}

fn groups(
    out: &aws_sdk_ec2::operation::describe_security_groups::DescribeSecurityGroupsOutput,
) -> Vec<SecurityGroup> {
    out.security_groups()
        .iter()
        .filter_map(|g| {
            Some(SecurityGroup {
                group_id: g.group_id()?.to_string(),
                vpc_id: g.vpc_id()?.to_string(),
                name: g.group_name().map(str::to_string),
            })
        })
        .collect()
}

pub(super) async fn security_groups(
    clients: &Clients,
    group_ids: &[String],
) -> Result<ReadValue, String> {
    let out = clients
        .ec2
        .describe_security_groups()
        .set_group_ids(Some(group_ids.to_vec()))
        .send()
        .await
        .map_err(reason)?;
    Ok(ReadValue::SecurityGroups(groups(&out)))
}

pub(super) async fn vpc_security_groups(
    clients: &Clients,
    vpc_id: &str,
) -> Result<ReadValue, String> {
    let out = clients
        .ec2
        .describe_security_groups()
        .filters(Filter::builder().name("vpc-id").values(vpc_id).build())
        .send()
        .await
        .map_err(reason)?;
    Ok(ReadValue::SecurityGroups(groups(&out)))
}
