//! Cloud Control reads for resource types without a typed read (real AWS only:
//! moto has no Cloud Control; tests replay recorded answers).

use super::{Clients, reason};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use consoledx_resolve::{CloudResource, ReadValue};

pub(super) async fn resource(
    clients: &Clients,
    type_name: &str,
    identifier: &str,
) -> Result<ReadValue, String> {
    match clients
        .cloudcontrol
        .get_resource()
        .type_name(type_name)
        .identifier(identifier)
        .send()
        .await
    {
        Ok(out) => {
            let description = out
                .resource_description()
                .ok_or("GetResource returned no resource")?;
            let properties = description
                .properties()
                .map(|text| {
                    serde_json::from_str(text)
                        .map_err(|err| format!("resource properties are not JSON: {err}"))
                })
                .transpose()?
                .unwrap_or(serde_json::Value::Null);
            Ok(ReadValue::CloudResource(CloudResource {
                type_name: type_name.to_string(),
                identifier: description.identifier().unwrap_or(identifier).to_string(),
                properties: Some(properties),
            }))
        }
        Err(err) if err.code() == Some("ResourceNotFoundException") => {
            Ok(ReadValue::CloudResource(CloudResource {
                type_name: type_name.to_string(),
                identifier: identifier.to_string(),
                properties: None,
            }))
        }
        Err(err) => Err(reason(err)),
    }
}

/// The identifiers of the type's resources (first page: enough to name a few).
pub(super) async fn list(clients: &Clients, type_name: &str) -> Result<ReadValue, String> {
    let out = clients
        .cloudcontrol
        .list_resources()
        .type_name(type_name)
        .max_results(20)
        .send()
        .await
        .map_err(reason)?;
    Ok(ReadValue::Identifiers(
        out.resource_descriptions()
            .iter()
            .filter_map(|d| d.identifier())
            .map(str::to_string)
            .collect(),
    ))
}
