//! STS and IAM reads: who the backend is, and a role's or user's policies.

use super::{Clients, decode_policy, reason};
use consoledx_policy::NamedPolicy;
use consoledx_resolve::{CallerIdentity, ReadValue, RoleDetails};
use futures_util::future::join_all;

pub(super) async fn caller_identity(clients: &Clients) -> Result<ReadValue, String> {
    let out = clients
        .sts
        .get_caller_identity()
        .send()
        .await
        .map_err(reason)?;
    Ok(ReadValue::CallerIdentity(CallerIdentity {
        account: out.account().unwrap_or_default().to_string(),
        arn: out.arn().unwrap_or_default().to_string(),
    }))
}

pub(super) async fn role_details(clients: &Clients, role: &str) -> Result<ReadValue, String> {
    let out = clients
        .iam
        .get_role()
        .role_name(role)
        .send()
        .await
        .map_err(reason)?;
    let role = out.role().ok_or("GetRole returned no role")?;
    let boundary = match role
        .permissions_boundary()
        .and_then(|b| b.permissions_boundary_arn())
    {
        Some(arn) => Some(managed_policy(&clients.iam, arn).await?),
        None => None,
    };
    Ok(ReadValue::RoleDetails(RoleDetails {
        arn: role.arn().to_string(),
        permissions_boundary: boundary,
    }))
}

pub(super) async fn role_inline_policies(
    clients: &Clients,
    role: &str,
) -> Result<Vec<NamedPolicy>, String> {
    let out = clients
        .iam
        .list_role_policies()
        .role_name(role)
        .send()
        .await
        .map_err(reason)?;
    inline_policies(out.policy_names(), |name| async move {
        clients
            .iam
            .get_role_policy()
            .role_name(role)
            .policy_name(name)
            .send()
            .await
            .map(|out| out.policy_document().to_string())
            .map_err(reason)
    })
    .await
}

pub(super) async fn role_attached_policies(
    clients: &Clients,
    role: &str,
) -> Result<Vec<NamedPolicy>, String> {
    let out = clients
        .iam
        .list_attached_role_policies()
        .role_name(role)
        .send()
        .await
        .map_err(reason)?;
    let arns: Vec<&str> = out
        .attached_policies()
        .iter()
        .filter_map(|p| p.policy_arn())
        .collect();
    managed_policies(&clients.iam, &arns).await
}

pub(super) async fn user_policies(clients: &Clients, user: &str) -> Result<ReadValue, String> {
    let (inline, attached) = tokio::join!(
        clients.iam.list_user_policies().user_name(user).send(),
        clients
            .iam
            .list_attached_user_policies()
            .user_name(user)
            .send()
    );
    let inline = inline.map_err(reason)?;
    let attached = attached.map_err(reason)?;
    let mut policies = inline_policies(inline.policy_names(), |name| async move {
        clients
            .iam
            .get_user_policy()
            .user_name(user)
            .policy_name(name)
            .send()
            .await
            .map(|out| out.policy_document().to_string())
            .map_err(reason)
    })
    .await?;
    let arns: Vec<&str> = attached
        .attached_policies()
        .iter()
        .filter_map(|p| p.policy_arn())
        .collect();
    policies.extend(managed_policies(&clients.iam, &arns).await?);
    Ok(ReadValue::Policies(policies))
}

/// A role's or user's inline policies by name; `document` reads one (its
/// URL-encoded JSON), all at once.
async fn inline_policies<'a, F, Fut>(
    names: &'a [String],
    document: F,
) -> Result<Vec<NamedPolicy>, String>
where
    F: Fn(&'a str) -> Fut,
    Fut: std::future::Future<Output = Result<String, String>>,
{
    join_all(names.iter().map(|name| {
        let read = document(name);
        async move {
            Ok(NamedPolicy {
                id: name.clone(),
                document: decode_policy(&read.await?)?,
            })
        }
    }))
    .await
    .into_iter()
    .collect()
}

async fn managed_policies(
    iam: &aws_sdk_iam::Client,
    arns: &[&str],
) -> Result<Vec<NamedPolicy>, String> {
    join_all(arns.iter().map(|arn| managed_policy(iam, arn)))
        .await
        .into_iter()
        .collect()
}

/// A managed policy's default version.
async fn managed_policy(iam: &aws_sdk_iam::Client, arn: &str) -> Result<NamedPolicy, String> {
    let policy = iam
        .get_policy()
        .policy_arn(arn)
        .send()
        .await
        .map_err(reason)?;
    let version_id = policy
        .policy()
        .and_then(|p| p.default_version_id())
        .ok_or_else(|| format!("{arn} has no default version"))?;
    let version = iam
        .get_policy_version()
        .policy_arn(arn)
        .version_id(version_id)
        .send()
        .await
        .map_err(reason)?;
    let document = version
        .policy_version()
        .and_then(|v| v.document())
        .ok_or_else(|| format!("{arn} {version_id} has no document"))?;
    Ok(NamedPolicy {
        id: arn.to_string(),
        document: decode_policy(document)?,
    })
}
