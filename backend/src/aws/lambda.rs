//! Lambda reads: a function's execution role, KMS key and state.

use super::{Clients, reason};
use consoledx_resolve::{LambdaFunction, ReadValue};

pub(super) async fn function(clients: &Clients, function: &str) -> Result<ReadValue, String> {
    let out = clients
        .lambda
        .get_function_configuration()
        .function_name(function)
        .send()
        .await
        .map_err(reason)?;
    Ok(ReadValue::LambdaFunction(LambdaFunction {
        function_arn: out.function_arn().unwrap_or(function).to_string(),
        role: out
            .role()
            .ok_or_else(|| format!("function {function} has no execution role"))?
            .to_string(),
        kms_key_arn: out
            .kms_key_arn()
            .filter(|k| !k.is_empty())
            .map(str::to_string),
        state: out.state().map(|s| s.as_str().to_string()),
    }))
}
