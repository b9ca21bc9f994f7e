//! Form fields near the error. A failed create or update often names its
//! resource only in what the user typed (`Bucket name`, `Function name`), so
//! a field whose label names a key and whose value has that key's shape
//! fills the key, below anything the message or the page URL says.

use super::arn::Arn;
use super::found::{Found, keys, rank};
use super::message::valid_for;
use super::shapes::{
    ec2_id_key, is_availability_zone, is_instance_type, is_placeholder, is_region,
};
use crate::context::FormField;

/// Label words (lowercase, matched as a substring) and the key they name.
/// Longer, more specific labels come first: "DB instance identifier" before
/// "instance".
const LABEL_KEYS: &[(&str, &str)] = &[
    ("bucket name", keys::BUCKET),
    ("bucket", keys::BUCKET),
    ("function name", keys::FUNCTION),
    ("execution role", keys::ROLE),
    ("role name", keys::ROLE),
    ("iam role", keys::ROLE),
    ("user name", keys::USER),
    ("stack name", keys::STACK),
    ("table name", keys::TABLE),
    ("db instance identifier", keys::DB_INSTANCE),
    ("cluster name", keys::ECS_CLUSTER),
    ("log group", keys::LOG_GROUP),
    ("kms key", keys::KMS_KEY),
    ("encryption key", keys::KMS_KEY),
    ("instance type", keys::INSTANCE_TYPE),
    ("availability zone", keys::ZONE),
    ("region", keys::REGION),
];

/// Fields beyond this many are ignored: the bridge sends at most 20.
const MAX_FIELDS: usize = 50;

pub(crate) fn scan_fields(fields: &[FormField], found: &mut Found) {
    for field in fields.iter().take(MAX_FIELDS) {
        let value = field.value.trim();
        if value.is_empty() || is_placeholder(value) {
            continue;
        }
        // Selects show a label with the id: "US West (Oregon) us-west-2",
        // "vpc-0a1b2c3d | main".
        let mut words = value
            .split([' ', '\t', '\n'])
            .filter(|word| !word.is_empty());
        let first_word = words.next().unwrap_or(value);
        let last_word = words.next_back().unwrap_or(first_word);
        if let Some((key, id)) = [value, first_word, last_word]
            .into_iter()
            .find_map(|word| ec2_id_key(word).map(|key| (key, word)))
        {
            found.put(key, rank::FORM_FIELD, id);
            continue;
        }
        let label = field.label.to_ascii_lowercase();
        let Some(&(_, key)) = LABEL_KEYS.iter().find(|(words, _)| label.contains(words)) else {
            continue;
        };
        let from_select = matches!(key, keys::REGION | keys::ZONE | keys::INSTANCE_TYPE);
        let name = value_for(key, value)
            .or_else(|| from_select.then(|| value_for(key, last_word)).flatten());
        if let Some(name) = name {
            found.put(key, rank::FORM_FIELD, name);
        }
    }
}

/// The value as `key` takes it: as typed, or the name inside a pasted ARN
/// (`arn:aws:iam::…:role/service-role/app` → `app`).
fn value_for<'v>(key: &str, value: &'v str) -> Option<&'v str> {
    if let Some(arn) = Arn::parse(value) {
        let (resource_type, id) = arn.resource_type_and_id();
        let name = match (key, arn.service, resource_type) {
            (keys::ROLE, "iam", "role") | (keys::USER, "iam", "user") => id.rsplit('/').next(),
            (keys::FUNCTION, "lambda", "function") => id.split(':').next(),
            (keys::KMS_KEY, "kms", "key") => Some(id),
            _ => None,
        }?;
        return value_for(key, name);
    }
    let fits = match key {
        keys::REGION => is_region(value),
        keys::ZONE => is_availability_zone(value),
        keys::INSTANCE_TYPE => is_instance_type(value),
        _ => valid_for(key, value),
    };
    fits.then_some(value)
}
