//! Parsing and validating policy documents into a form that evaluates fast.

use crate::condition::{self, Condition};
use crate::pattern::{Pattern, Syntax};
use crate::{Effect, NamedPolicy, PolicyError, PolicyType};
use serde_json::Value;

/// A validated, pre-parsed policy.
#[derive(Debug, Clone, PartialEq)]
pub struct CompiledPolicy {
    pub(crate) id: String,
    pub(crate) policy_type: PolicyType,
    pub(crate) statements: Vec<Statement>,
}

impl CompiledPolicy {
    /// Parses `policy.document` as a policy of `policy_type`; the type decides
    /// which elements are required (`Principal` in resource policies) or forbidden.
    pub fn compile(policy: &NamedPolicy, policy_type: PolicyType) -> Result<Self, PolicyError> {
        let malformed = |reason: String| PolicyError::Malformed {
            policy: policy.id.clone(),
            reason,
        };
        let statements = parse_document(&policy.document, policy_type).map_err(malformed)?;
        Ok(CompiledPolicy {
            id: policy.id.clone(),
            policy_type,
            statements,
        })
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn policy_type(&self) -> PolicyType {
        self.policy_type
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Statement {
    pub sid: Option<String>,
    pub effect: Effect,
    pub principal: PrincipalClause,
    pub actions: Matcher,
    pub resources: Matcher,
    pub conditions: Vec<Condition>,
}

/// `Action`/`NotAction` or `Resource`/`NotResource`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Matcher {
    pub negated: bool,
    pub patterns: Vec<Pattern>,
}

impl Matcher {
    fn any() -> Matcher {
        Matcher {
            negated: false,
            patterns: vec![Pattern::any()],
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum PrincipalClause {
    /// Identity-based policies, SCPs, boundaries, session policies: the statement applies to the caller.
    Caller,
    Principal(Vec<PrincipalEntry>),
    NotPrincipal(Vec<PrincipalEntry>),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum PrincipalEntry {
    /// `"*"` or `{"AWS": "*"}`: everyone, including anonymous callers.
    Everyone,
    /// An account id or `arn:…:iam::ACCOUNT:root`.
    Account(String),
    /// `arn:…:iam::ACCOUNT:user/…/NAME`.
    User { account: String, name: String },
    /// `arn:…:iam::ACCOUNT:role/…/NAME`: the role and all its sessions.
    Role { account: String, name: String },
    /// Any other ARN (assumed-role or federated-user session, identity provider): exact match.
    ExactArn(String),
    /// `{"Service": …}`.
    Service(String),
    /// `{"Federated": …}`.
    Federated(String),
    /// `{"CanonicalUser": …}`.
    CanonicalUser(String),
}

const DOCUMENT_KEYS: &[&str] = &["Version", "Id", "Statement"];
const STATEMENT_KEYS: &[&str] = &[
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
];

fn parse_document(document: &Value, policy_type: PolicyType) -> Result<Vec<Statement>, String> {
    let document = match document {
        Value::Object(map) => map,
        // AWS APIs return documents URL-encoded JSON text; callers often pass that string through.
        Value::String(text) => {
            let parsed: Value = serde_json::from_str(text)
                .map_err(|e| format!("document is a string that is not JSON: {e}"))?;
            return parse_document(&parsed, policy_type);
        }
        other => {
            return Err(format!(
                "document must be a JSON object, got {}",
                kind(other)
            ));
        }
    };
    if let Some(unknown) = document
        .keys()
        .find(|k| !DOCUMENT_KEYS.contains(&k.as_str()))
    {
        return Err(format!(
            "unknown top-level element `{unknown}` (expected Version, Id, Statement)"
        ));
    }
    let variables = match document.get("Version") {
        None => false,
        Some(Value::String(v)) if v == "2012-10-17" => true,
        Some(Value::String(v)) if v == "2008-10-17" => false,
        Some(other) => {
            return Err(format!(
                "Version must be \"2012-10-17\" or \"2008-10-17\", got {other}"
            ));
        }
    };
    if let Some(id) = document.get("Id")
        && !id.is_string()
    {
        return Err(format!("Id must be a string, got {}", kind(id)));
    }
    let statements = match document.get("Statement") {
        None => return Err("missing Statement".into()),
        Some(Value::Object(_)) => std::slice::from_ref(&document["Statement"]),
        Some(Value::Array(list)) if list.is_empty() => return Err("Statement list is empty".into()),
        Some(Value::Array(list)) => list.as_slice(),
        Some(other) => {
            return Err(format!(
                "Statement must be an object or a list of objects, got {}",
                kind(other)
            ));
        }
    };
    let syntax = Syntax {
        wildcards: true,
        variables,
    };
    statements
        .iter()
        .enumerate()
        .map(|(index, statement)| {
            parse_statement(statement, policy_type, syntax)
                .map_err(|reason| format!("statement {index}: {reason}"))
        })
        .collect()
}

fn parse_statement(
    value: &Value,
    policy_type: PolicyType,
    syntax: Syntax,
) -> Result<Statement, String> {
    let Value::Object(map) = value else {
        return Err(format!("must be an object, got {}", kind(value)));
    };
    if let Some(unknown) = map.keys().find(|k| !STATEMENT_KEYS.contains(&k.as_str())) {
        return Err(format!("unknown element `{unknown}`"));
    }
    let sid = match map.get("Sid") {
        None => None,
        Some(Value::String(sid)) => Some(sid.clone()),
        Some(other) => return Err(format!("Sid must be a string, got {}", kind(other))),
    };
    let effect = match map.get("Effect") {
        None => return Err("missing Effect".into()),
        Some(Value::String(e)) if e == "Allow" => Effect::Allow,
        Some(Value::String(e)) if e == "Deny" => Effect::Deny,
        Some(other) => return Err(format!("Effect must be \"Allow\" or \"Deny\", got {other}")),
    };
    let actions = pair(
        map,
        "Action",
        "NotAction",
        syntax.without_variables(),
        check_action,
    )?
    .ok_or("missing Action or NotAction")?;
    let resources = match pair(map, "Resource", "NotResource", syntax, |_| Ok(()))? {
        Some(resources) => resources,
        // Role trust policies have no Resource: the role itself is the resource.
        None if policy_type == PolicyType::Resource => Matcher::any(),
        None => return Err("missing Resource or NotResource".into()),
    };
    let principal = parse_principal_clause(map, policy_type)?;
    let conditions = match map.get("Condition") {
        None => Vec::new(),
        Some(block) => condition::parse_block(block, syntax.variables)?,
    };
    Ok(Statement {
        sid,
        effect,
        principal,
        actions,
        resources,
        conditions,
    })
}

impl Syntax {
    fn without_variables(self) -> Syntax {
        Syntax {
            variables: false,
            ..self
        }
    }
}

fn check_action(action: &str) -> Result<(), String> {
    let valid = action == "*"
        || action
            .split_once(':')
            .is_some_and(|(service, name)| !service.is_empty() && !name.is_empty());
    if valid {
        Ok(())
    } else {
        Err(format!("action `{action}` is not `*` or `service:Action`"))
    }
}

/// Reads `positive` or `negative` (never both): a string or a non-empty list of strings.
fn pair(
    map: &serde_json::Map<String, Value>,
    positive: &str,
    negative: &str,
    syntax: Syntax,
    check: impl Fn(&str) -> Result<(), String>,
) -> Result<Option<Matcher>, String> {
    let (name, value, negated) = match (map.get(positive), map.get(negative)) {
        (Some(_), Some(_)) => return Err(format!("has both {positive} and {negative}")),
        (Some(v), None) => (positive, v, false),
        (None, Some(v)) => (negative, v, true),
        (None, None) => return Ok(None),
    };
    let texts = string_list(value)
        .map_err(|got| format!("{name} must be a string or a list of strings, got {got}"))?;
    if texts.is_empty() {
        return Err(format!("{name} is an empty list"));
    }
    let patterns = texts
        .into_iter()
        .map(|text| {
            check(text)?;
            Pattern::parse(text, syntax).map_err(|e| format!("{name}: {e}"))
        })
        .collect::<Result<_, String>>()?;
    Ok(Some(Matcher { negated, patterns }))
}

/// A string or a list of strings; on error, a description of what was found instead.
pub(crate) fn string_list(value: &Value) -> Result<Vec<&str>, String> {
    match value {
        Value::String(s) => Ok(vec![s.as_str()]),
        Value::Array(items) => items
            .iter()
            .map(|item| match item {
                Value::String(s) => Ok(s.as_str()),
                other => Err(format!("a list containing {}", kind(other))),
            })
            .collect(),
        other => Err(kind(other).to_string()),
    }
}

/// A condition or context value as strings: a scalar, or a list of scalars.
pub(crate) fn string_values(value: &Value) -> Result<Vec<String>, String> {
    let scalar = |v: &Value| match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        other => Err(kind(other).to_string()),
    };
    match value {
        Value::Array(items) => items.iter().map(scalar).collect(),
        other => scalar(other).map(|s| vec![s]),
    }
}

pub(crate) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn parse_principal_clause(
    map: &serde_json::Map<String, Value>,
    policy_type: PolicyType,
) -> Result<PrincipalClause, String> {
    let (name, value, negated) = match (map.get("Principal"), map.get("NotPrincipal")) {
        (Some(_), Some(_)) => return Err("has both Principal and NotPrincipal".into()),
        (Some(v), None) => ("Principal", v, false),
        (None, Some(v)) => ("NotPrincipal", v, true),
        (None, None) => {
            return match policy_type {
                PolicyType::Resource => Err(
                    "missing Principal or NotPrincipal (required in resource-based policies)"
                        .into(),
                ),
                // RCPs and endpoint policies may only name "*"; a missing element means the same.
                PolicyType::Rcp | PolicyType::VpcEndpoint => {
                    Ok(PrincipalClause::Principal(vec![PrincipalEntry::Everyone]))
                }
                _ => Ok(PrincipalClause::Caller),
            };
        }
    };
    if !matches!(
        policy_type,
        PolicyType::Resource | PolicyType::Rcp | PolicyType::VpcEndpoint
    ) {
        return Err(format!(
            "{name} is not allowed in {} policies",
            policy_type.describe()
        ));
    }
    let entries = parse_principal_value(value).map_err(|e| format!("{name}: {e}"))?;
    Ok(if negated {
        PrincipalClause::NotPrincipal(entries)
    } else {
        PrincipalClause::Principal(entries)
    })
}

fn parse_principal_value(value: &Value) -> Result<Vec<PrincipalEntry>, String> {
    let map = match value {
        Value::String(s) if s == "*" => return Ok(vec![PrincipalEntry::Everyone]),
        Value::String(s) => {
            return Err(format!(
                "a string principal must be \"*\", got \"{s}\" (use {{\"AWS\": …}})"
            ));
        }
        Value::Object(map) if map.is_empty() => return Err("empty principal object".into()),
        Value::Object(map) => map,
        other => return Err(format!("must be \"*\" or an object, got {}", kind(other))),
    };
    let mut entries = Vec::new();
    for (category, names) in map {
        let names = string_list(names).map_err(|got| {
            format!("{category} must be a string or a list of strings, got {got}")
        })?;
        for name in names {
            if name.is_empty() {
                return Err(format!("empty {category} principal"));
            }
            if name != "*" && name.contains('*') {
                return Err(format!(
                    "wildcards are only allowed as the whole principal (\"*\"), got \"{name}\""
                ));
            }
            let entry = match category.as_str() {
                "AWS" => parse_aws_principal(name)?,
                "Service" => PrincipalEntry::Service(name.to_ascii_lowercase()),
                "Federated" => PrincipalEntry::Federated(name.to_string()),
                "CanonicalUser" => PrincipalEntry::CanonicalUser(name.to_string()),
                other => {
                    return Err(format!(
                        "unknown principal type `{other}` (expected AWS, Service, Federated, CanonicalUser)"
                    ));
                }
            };
            entries.push(entry);
        }
    }
    Ok(entries)
}

fn parse_aws_principal(name: &str) -> Result<PrincipalEntry, String> {
    if name == "*" {
        return Ok(PrincipalEntry::Everyone);
    }
    if is_account_id(name) {
        return Ok(PrincipalEntry::Account(name.to_string()));
    }
    let parts: Vec<&str> = name.splitn(6, ':').collect();
    let [arn, _partition, service, _region, account, resource] = parts.as_slice() else {
        return Err(format!(
            "AWS principal \"{name}\" is not an account id or an ARN"
        ));
    };
    if *arn != "arn" {
        return Err(format!(
            "AWS principal \"{name}\" is not an account id or an ARN"
        ));
    }
    let account = account.to_string();
    if *service == "iam" {
        if *resource == "root" {
            return Ok(PrincipalEntry::Account(account));
        }
        if let Some(path) = resource.strip_prefix("user/") {
            return Ok(PrincipalEntry::User {
                account,
                name: last_segment(path).to_string(),
            });
        }
        if let Some(path) = resource.strip_prefix("role/") {
            return Ok(PrincipalEntry::Role {
                account,
                name: last_segment(path).to_string(),
            });
        }
    }
    Ok(PrincipalEntry::ExactArn(name.to_string()))
}

pub(crate) fn is_account_id(text: &str) -> bool {
    text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit())
}

/// The name after an IAM path (`/division/team/name` → `name`).
pub(crate) fn last_segment(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}
