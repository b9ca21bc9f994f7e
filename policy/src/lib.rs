//! AWS IAM policy evaluation for one request.
//!
//! The JSON form of [`AccessQuery`] is `consoledx explain-access`'s input
//! format and [`Explanation`] its output; both are documented in the README
//! (pasted into the README).
//!
//! [`evaluate`] parses and decides in one call. To decide many requests
//! against the same policies, parse once with [`PolicySet::from_query`] and
//! call [`PolicySet::evaluate`] with a [`Request`].

mod condition;
mod document;
mod engine;
mod pattern;
mod request;

pub use document::CompiledPolicy;
pub use engine::PolicySet;
pub use request::{CallerKind, Request};

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One request and every policy that applies to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessQuery {
    pub principal: Principal,
    /// `service:Action`, e.g. `s3:ListBucket`.
    pub action: String,
    /// Resource ARN, or `*`.
    pub resource: String,
    /// Account owning the resource; defaults to the account in the resource ARN, else the principal's.
    #[serde(default)]
    pub resource_account: Option<String>,
    /// Request context keys (`aws:SourceIp`, `s3:prefix`, ...): a string, number, bool or a list of them.
    #[serde(default)]
    pub context: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    pub identity_policies: Vec<NamedPolicy>,
    #[serde(default)]
    pub resource_policy: Option<NamedPolicy>,
    #[serde(default)]
    pub permissions_boundary: Option<NamedPolicy>,
    #[serde(default)]
    pub session_policies: Vec<NamedPolicy>,
    /// SCPs per level of the OU path, root first, the account's own level last.
    #[serde(default)]
    pub scps: Vec<OrgLevel>,
    /// RCPs per level, same order.
    #[serde(default)]
    pub rcps: Vec<OrgLevel>,
    #[serde(default)]
    pub vpc_endpoint_policy: Option<NamedPolicy>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Principal {
    /// IAM user, IAM role, assumed-role session (`arn:aws:sts::…:assumed-role/R/S`), root, or a service principal name.
    pub arn: String,
    /// `aws:PrincipalTag/…` values.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamedPolicy {
    /// Policy ARN or a name the caller chooses; reported in deciding statements.
    pub id: String,
    /// The policy document as AWS stores it (`Version`, `Statement`).
    pub document: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgLevel {
    /// `r-…`, `ou-…` or the account id.
    pub target: String,
    pub policies: Vec<NamedPolicy>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Allowed,
    ImplicitDeny,
    ExplicitDeny,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyType {
    Identity,
    Resource,
    Scp,
    Rcp,
    PermissionsBoundary,
    Session,
    VpcEndpoint,
}

impl PolicyType {
    /// The policy type as the IAM User Guide's access-denied messages name it.
    pub fn describe(self) -> &'static str {
        match self {
            PolicyType::Identity => "identity-based",
            PolicyType::Resource => "resource-based",
            PolicyType::Scp => "service control",
            PolicyType::Rcp => "resource control",
            PolicyType::PermissionsBoundary => "permissions boundary",
            PolicyType::Session => "session",
            PolicyType::VpcEndpoint => "VPC endpoint",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Explanation {
    pub decision: Decision,
    /// Policy types that denied (explicitly) or failed to allow (implicitly).
    pub blocked_by: Vec<PolicyType>,
    /// Statements that decided: the denying ones for an explicit deny, the allowing ones otherwise.
    pub deciding: Vec<StatementRef>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatementRef {
    pub policy_type: PolicyType,
    pub policy_id: String,
    pub sid: Option<String>,
    /// Position of the statement in the policy's `Statement` list.
    pub index: usize,
    pub effect: Effect,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Effect {
    Allow,
    Deny,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PolicyError {
    #[error("policy {policy}: {reason}")]
    Malformed { policy: String, reason: String },
    #[error("request: {0}")]
    BadRequest(String),
}

/// Decides `query`: malformed policies give [`PolicyError::Malformed`] naming the policy,
/// an unusable request (action, principal, context) gives [`PolicyError::BadRequest`].
pub fn evaluate(query: &AccessQuery) -> Result<Explanation, PolicyError> {
    let request = Request::from_query(query)?;
    let policies = PolicySet::from_query(query)?;
    Ok(policies.evaluate(&request))
}
