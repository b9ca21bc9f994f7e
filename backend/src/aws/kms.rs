//! KMS reads: a key's policy and state.

use super::{Clients, decode_policy, reason};
use consoledx_policy::NamedPolicy;
use consoledx_resolve::{KeyState, ReadValue};

pub(super) async fn key_policy(clients: &Clients, key: &str) -> Result<ReadValue, String> {
    let out = clients
        .kms
        .get_key_policy()
        .key_id(key)
        .policy_name("default")
        .send()
        .await
        .map_err(reason)?;
    let document = out.policy().ok_or("GetKeyPolicy returned no policy")?;
    Ok(ReadValue::KeyPolicy(NamedPolicy {
        id: format!("key policy of {key}"),
        document: decode_policy(document)?,
    }))
}

pub(super) async fn key_state(clients: &Clients, key: &str) -> Result<ReadValue, String> {
    let out = clients
        .kms
        .describe_key()
        .key_id(key)
        .send()
        .await
        .map_err(reason)?;
    let metadata = out.key_metadata().ok_or("DescribeKey returned no key")?;
    Ok(ReadValue::KeyState(KeyState {
        arn: metadata.arn().unwrap_or(key).to_string(),
        state: metadata
            .key_state()
            .map(|s| s.as_str().to_string())
            .unwrap_or_else(|| {
                if metadata.enabled() {
                    "Enabled"
                } else {
                    "Disabled"
                }
                .to_string()
            }),
    }))
}
