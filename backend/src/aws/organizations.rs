//! Organizations reads: the SCPs on every level from the root down to the account.

use super::{Clients, decode_policy, reason};
use aws_sdk_organizations::types::{ParentType, PolicyType};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use consoledx_policy::{NamedPolicy, OrgLevel};
use consoledx_resolve::ReadValue;
use futures_util::future::join_all;

/// An OU path is at most five levels deep below the root.
const MAX_DEPTH: usize = 7;

pub(super) async fn service_control_policies(
    clients: &Clients,
    account: &str,
) -> Result<ReadValue, String> {
    let org = &clients.organizations;
    // Any member account may describe its organization; only the management
    // account (or a delegated administrator) may walk the OU path.
    match org.describe_organization().send().await {
        Ok(out) => {
            let management = out.organization().and_then(|o| o.master_account_id());
            // SCPs never restrict the management account.
            if management == Some(account) {
                return Ok(ReadValue::OrgLevels(Vec::new()));
            }
        }
        Err(err) if err.code() == Some("AWSOrganizationsNotInUseException") => {
            return Ok(ReadValue::OrgLevels(Vec::new()));
        }
        Err(err) => return Err(reason(err)),
    }
    // Walk up: account, its OU, ..., the root.
    let mut targets = vec![account.to_string()];
    let mut child = account.to_string();
    for _ in 0..MAX_DEPTH {
        let parents = match org.list_parents().child_id(&child).send().await {
            Ok(out) => out,
            // Not in an organization: no SCP applies.
            Err(err) if err.code() == Some("AWSOrganizationsNotInUseException") => {
                return Ok(ReadValue::OrgLevels(Vec::new()));
            }
            Err(err) => return Err(reason(err)),
        };
        let Some(parent) = parents.parents().first() else {
            break;
        };
        let id = parent.id().unwrap_or_default().to_string();
        targets.push(id.clone());
        if parent.r#type() == Some(&ParentType::Root) || id.starts_with("r-") {
            break;
        }
        child = id;
    }
    targets.reverse();
    let levels = join_all(targets.iter().map(|target| level(org, target)))
        .await
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ReadValue::OrgLevels(levels))
}

async fn level(org: &aws_sdk_organizations::Client, target: &str) -> Result<OrgLevel, String> {
    let out = org
        .list_policies_for_target()
        .target_id(target)
        .filter(PolicyType::ServiceControlPolicy)
        .send()
        .await
        .map_err(reason)?;
    let ids: Vec<String> = out
        .policies()
        .iter()
        .filter_map(|p| p.id())
        .map(str::to_string)
        .collect();
    let policies = join_all(ids.iter().map(|id| async move {
        let out = org
            .describe_policy()
            .policy_id(id)
            .send()
            .await
            .map_err(reason)?;
        let content = out
            .policy()
            .and_then(|p| p.content())
            .ok_or_else(|| format!("SCP {id} has no content"))?;
        Ok::<_, String>(NamedPolicy {
            id: id.clone(),
            document: decode_policy(content)?,
        })
    }))
    .await
    .into_iter()
    .collect::<Result<Vec<_>, _>>()?;
    Ok(OrgLevel {
        target: target.to_string(),
        policies,
    })
}
