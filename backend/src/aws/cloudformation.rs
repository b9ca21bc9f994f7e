//! CloudFormation reads: a stack's status and its failed events.

use super::{Clients, reason};
use consoledx_resolve::{ReadValue, Stack, StackEvent};

pub(super) async fn stack(clients: &Clients, stack: &str) -> Result<ReadValue, String> {
    let out = clients
        .cloudformation
        .describe_stacks()
        .stack_name(stack)
        .send()
        .await
        .map_err(reason)?;
    let found = out
        .stacks()
        .first()
        .ok_or_else(|| format!("no stack {stack}"))?;
    Ok(ReadValue::Stack(Stack {
        stack_id: found.stack_id().unwrap_or(stack).to_string(),
        status: found
            .stack_status()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        reason: found.stack_status_reason().map(str::to_string),
    }))
}

/// The events, newest first as CloudFormation lists them.
pub(super) async fn stack_events(clients: &Clients, stack: &str) -> Result<ReadValue, String> {
    let out = clients
        .cloudformation
        .describe_stack_events()
        .stack_name(stack)
        .send()
        .await
        .map_err(reason)?;
    Ok(ReadValue::StackEvents(
        out.stack_events()
            .iter()
            .map(|event| StackEvent {
                logical_id: event.logical_resource_id().unwrap_or_default().to_string(),
                resource_type: event.resource_type().map(str::to_string),
                status: event
                    .resource_status()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
                reason: event.resource_status_reason().map(str::to_string),
            })
            .collect(),
    ))
}
