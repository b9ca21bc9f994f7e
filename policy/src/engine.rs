//! The decision: which policy types apply, how their answers combine.
//!
//! Follows the IAM User Guide, "Policy evaluation logic" (single account and
//! cross-account): an explicit deny anywhere wins; every SCP and RCP level
//! must allow; a VPC endpoint policy must allow; then the grant comes from
//! identity-based policies (limited by the permissions boundary and session
//! policies) or, in the same account, from the resource-based policy.

use crate::document::{CompiledPolicy, PrincipalClause, PrincipalEntry, Statement};
use crate::request::{CallerKind, Request};
use crate::{
    AccessQuery, Decision, Effect, Explanation, NamedPolicy, OrgLevel, PolicyError, PolicyType,
    StatementRef,
};

/// How directly a resource-based policy names the caller. Order matters: stronger last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Grant {
    /// The caller's account (`123456789012`, `arn:aws:iam::123456789012:root`): delegates to the
    /// account's identity-based policies.
    Account,
    /// The role ARN, matching its sessions: limited by the boundary and session policies.
    Role,
    /// The user, session or federated-user ARN, `*`, a service: grants on its own within the account.
    Direct,
}

/// Every policy of a query, parsed once; evaluate many requests against it.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicySet {
    identity: Vec<CompiledPolicy>,
    resource: Option<CompiledPolicy>,
    permissions_boundary: Option<CompiledPolicy>,
    session: Vec<CompiledPolicy>,
    scps: Vec<CompiledLevel>,
    rcps: Vec<CompiledLevel>,
    vpc_endpoint: Option<CompiledPolicy>,
}

#[derive(Debug, Clone, PartialEq)]
struct CompiledLevel {
    target: String,
    policies: Vec<CompiledPolicy>,
}

impl PolicySet {
    /// Parses and validates every policy in the query.
    pub fn from_query(query: &AccessQuery) -> Result<PolicySet, PolicyError> {
        let compile_all = |policies: &[NamedPolicy], policy_type| -> Result<Vec<_>, PolicyError> {
            policies
                .iter()
                .map(|p| CompiledPolicy::compile(p, policy_type))
                .collect()
        };
        let compile_one = |policy: &Option<NamedPolicy>, policy_type| {
            policy
                .as_ref()
                .map(|p| CompiledPolicy::compile(p, policy_type))
                .transpose()
        };
        let compile_levels = |levels: &[OrgLevel], policy_type| -> Result<Vec<_>, PolicyError> {
            levels
                .iter()
                .map(|level| {
                    Ok(CompiledLevel {
                        target: level.target.clone(),
                        policies: compile_all(&level.policies, policy_type)?,
                    })
                })
                .collect()
        };
        Ok(PolicySet {
            identity: compile_all(&query.identity_policies, PolicyType::Identity)?,
            resource: compile_one(&query.resource_policy, PolicyType::Resource)?,
            permissions_boundary: compile_one(
                &query.permissions_boundary,
                PolicyType::PermissionsBoundary,
            )?,
            session: compile_all(&query.session_policies, PolicyType::Session)?,
            scps: compile_levels(&query.scps, PolicyType::Scp)?,
            rcps: compile_levels(&query.rcps, PolicyType::Rcp)?,
            vpc_endpoint: compile_one(&query.vpc_endpoint_policy, PolicyType::VpcEndpoint)?,
        })
    }

    /// Decides one request against these policies.
    pub fn evaluate(&self, request: &Request) -> Explanation {
        let has_identity_policies = request.has_identity() && request.caller != CallerKind::Root;
        let mut findings = Findings {
            caller_has_boundary: has_identity_policies && self.permissions_boundary.is_some(),
            ..Findings::default()
        };
        let service_linked = request.is_service_linked_role();
        // SCPs restrict principals of member accounts: not service principals, not service-linked roles.
        let scps_apply = request.has_identity() && !service_linked;
        let rcps_apply = !service_linked;

        let identity = if has_identity_policies {
            findings.scan_all(&self.identity, request)
        } else {
            Scan::default()
        };
        let resource = findings.scan_all(self.resource.as_slice(), request);
        let scp_levels_missing_allow = if scps_apply {
            findings.scan_levels(&self.scps, request)
        } else {
            0
        };
        let rcp_levels_missing_allow = if rcps_apply {
            findings.scan_levels(&self.rcps, request)
        } else {
            0
        };
        let boundary = (has_identity_policies && self.permissions_boundary.is_some())
            .then(|| findings.scan_all(self.permissions_boundary.as_slice(), request));
        let session = (has_identity_policies && !self.session.is_empty())
            .then(|| findings.scan_all(&self.session, request));
        let endpoint = self
            .vpc_endpoint
            .as_ref()
            .map(|policy| findings.scan_all(std::slice::from_ref(policy), request));

        if !findings.denies.is_empty() {
            let mut blocked_by: Vec<PolicyType> =
                findings.denies.iter().map(|(p, _)| p.policy_type).collect();
            blocked_by.sort();
            blocked_by.dedup();
            return Explanation {
                decision: Decision::ExplicitDeny,
                blocked_by,
                deciding: references(&findings.denies),
            };
        }

        let mut blocked_by = Vec::new();
        if scp_levels_missing_allow > 0 {
            blocked_by.push(PolicyType::Scp);
        }
        if rcp_levels_missing_allow > 0 {
            blocked_by.push(PolicyType::Rcp);
        }
        if endpoint.as_ref().is_some_and(|scan| !scan.allowed) {
            blocked_by.push(PolicyType::VpcEndpoint);
        }

        let resource_grant = resource.grant;
        let identity_allows = request.caller == CallerKind::Root || identity.allowed;
        let boundary_allows = boundary.as_ref().is_none_or(|scan| scan.allowed);
        let session_allows = session.as_ref().is_none_or(|scan| scan.allowed);
        let same_account = request.account.is_some() && request.account == request.resource_account;

        if !request.has_identity() {
            // Services, identity providers and anonymous callers have no identity-based policies.
            if resource_grant.is_none() {
                blocked_by.push(PolicyType::Resource);
            }
        } else if same_account {
            // KMS key policies and role trust policies must allow the principal themselves.
            if self.resource.is_some()
                && resource_policy_required(&request.action)
                && resource_grant.is_none()
            {
                blocked_by.push(PolicyType::Resource);
            }
            if resource_grant != Some(Grant::Direct) {
                if !identity_allows && resource_grant != Some(Grant::Role) {
                    blocked_by.push(PolicyType::Identity);
                }
                if !boundary_allows {
                    blocked_by.push(PolicyType::PermissionsBoundary);
                }
                if !session_allows {
                    blocked_by.push(PolicyType::Session);
                }
            }
        } else {
            // Cross-account: the principal's account and the resource's account must both allow.
            if !identity_allows {
                blocked_by.push(PolicyType::Identity);
            }
            if !boundary_allows {
                blocked_by.push(PolicyType::PermissionsBoundary);
            }
            if !session_allows {
                blocked_by.push(PolicyType::Session);
            }
            if resource_grant.is_none() {
                blocked_by.push(PolicyType::Resource);
            }
        }

        if blocked_by.is_empty() {
            Explanation {
                decision: Decision::Allowed,
                blocked_by,
                deciding: references(&findings.allows),
            }
        } else {
            blocked_by.sort();
            blocked_by.dedup();
            Explanation {
                decision: Decision::ImplicitDeny,
                blocked_by,
                deciding: Vec::new(),
            }
        }
    }

    /// Target ids of the SCP levels, root first (for callers that report them).
    pub fn scp_targets(&self) -> impl Iterator<Item = &str> {
        self.scps.iter().map(|level| level.target.as_str())
    }
}

/// Actions whose resource-based policy must name the caller even within one account.
fn resource_policy_required(action: &str) -> bool {
    let starts_with = |prefix: &str| {
        action
            .get(..prefix.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
    };
    starts_with("kms:")
        || starts_with("sts:AssumeRole")
        || ["sts:TagSession", "sts:SetSourceIdentity", "sts:SetContext"]
            .iter()
            .any(|name| action.eq_ignore_ascii_case(name))
}

/// Matching statements, kept as references until the explanation needs them.
#[derive(Debug, Default)]
struct Findings<'p> {
    allows: Vec<(&'p CompiledPolicy, usize)>,
    denies: Vec<(&'p CompiledPolicy, usize)>,
    caller_has_boundary: bool,
}

#[derive(Debug, Default)]
struct Scan {
    allowed: bool,
    /// The strongest principal match among allowing statements (resource-based policies).
    grant: Option<Grant>,
}

impl<'p> Findings<'p> {
    fn scan_all(&mut self, policies: &'p [CompiledPolicy], request: &Request) -> Scan {
        let mut scan = Scan::default();
        for policy in policies {
            for (index, statement) in policy.statements.iter().enumerate() {
                let Some(grant) = applies(statement, request, self.caller_has_boundary) else {
                    continue;
                };
                match statement.effect {
                    Effect::Deny => self.denies.push((policy, index)),
                    Effect::Allow => {
                        scan.allowed = true;
                        scan.grant = scan.grant.max(Some(grant));
                        self.allows.push((policy, index));
                    }
                }
            }
        }
        scan
    }

    /// Scans every level; returns how many levels lack an allow.
    fn scan_levels(&mut self, levels: &'p [CompiledLevel], request: &Request) -> usize {
        levels
            .iter()
            .filter(|level| !self.scan_all(&level.policies, request).allowed)
            .count()
    }
}

/// Statement references in policy-type order (stable within a type).
fn references(found: &[(&CompiledPolicy, usize)]) -> Vec<StatementRef> {
    let mut refs: Vec<StatementRef> = found
        .iter()
        .filter_map(|(policy, index)| {
            let statement = policy.statements.get(*index)?;
            Some(StatementRef {
                policy_type: policy.policy_type,
                policy_id: policy.id.clone(),
                sid: statement.sid.clone(),
                index: *index,
                effect: statement.effect,
            })
        })
        .collect();
    refs.sort_by_key(|s| s.policy_type);
    refs
}

/// Whether the statement applies to the request; for resource-based policies, how it names the caller.
fn applies(statement: &Statement, request: &Request, caller_has_boundary: bool) -> Option<Grant> {
    let action_matches = statement
        .actions
        .patterns
        .iter()
        .any(|p| p.matches(&request.action, true, request));
    if action_matches == statement.actions.negated {
        return None;
    }
    let resource_matches = statement
        .resources
        .patterns
        .iter()
        .any(|p| p.matches(&request.resource, false, request));
    if resource_matches == statement.resources.negated {
        return None;
    }
    let grant = match &statement.principal {
        PrincipalClause::Caller => Grant::Direct,
        PrincipalClause::Principal(entries) => entries
            .iter()
            .filter_map(|entry| names_caller(entry, request))
            .max()?,
        PrincipalClause::NotPrincipal(entries) => {
            // Documented quirk: a Deny with NotPrincipal always applies to a principal
            // that has a permissions boundary, whatever NotPrincipal lists.
            let boundary_override = caller_has_boundary && statement.effect == Effect::Deny;
            if !boundary_override && excludes_caller(entries, request) {
                return None;
            }
            Grant::Direct
        }
    };
    statement
        .conditions
        .iter()
        .all(|condition| condition.holds(request))
        .then_some(grant)
}

fn names_caller(entry: &PrincipalEntry, request: &Request) -> Option<Grant> {
    let account = request.account.as_deref();
    match (entry, &request.caller) {
        (PrincipalEntry::Everyone, _) => Some(Grant::Direct),
        (PrincipalEntry::Account(a), _) if Some(a.as_str()) == account => Some(Grant::Account),
        (PrincipalEntry::User { account: a, name }, CallerKind::User { name: caller })
            if Some(a.as_str()) == account && name == caller =>
        {
            Some(Grant::Direct)
        }
        (PrincipalEntry::Role { account: a, name }, CallerKind::RoleSession { role, .. })
            if Some(a.as_str()) == account && name == role =>
        {
            Some(Grant::Role)
        }
        (PrincipalEntry::ExactArn(arn), _) if *arn == request.arn => Some(Grant::Direct),
        (PrincipalEntry::Service(name), CallerKind::Service { name: caller }) if name == caller => {
            Some(Grant::Direct)
        }
        (PrincipalEntry::Federated(name) | PrincipalEntry::CanonicalUser(name), _)
            if *name == request.arn =>
        {
            Some(Grant::Direct)
        }
        _ => None,
    }
}

/// `NotPrincipal` exempts a caller only when every identity the request carries is listed:
/// a role session is the session, the role and the account, so all three must be named.
fn excludes_caller(entries: &[PrincipalEntry], request: &Request) -> bool {
    if entries.contains(&PrincipalEntry::Everyone) {
        return true;
    }
    let listed = |wanted: &dyn Fn(&PrincipalEntry) -> bool| entries.iter().any(wanted);
    let account = request.account.as_deref();
    let account_listed =
        || listed(&|e| matches!(e, PrincipalEntry::Account(a) if Some(a.as_str()) == account));
    let arn_listed = || listed(&|e| matches!(e, PrincipalEntry::ExactArn(a) if *a == request.arn));
    match &request.caller {
        CallerKind::User { .. } => {
            account_listed() && listed(&|e| names_caller(e, request) == Some(Grant::Direct))
        }
        CallerKind::RoleSession { session, .. } => {
            let role_listed = listed(&|e| {
                matches!(e, PrincipalEntry::Role { .. }) && names_caller(e, request).is_some()
            });
            account_listed() && role_listed && (session.is_none() || arn_listed())
        }
        CallerKind::FederatedUser { .. } => account_listed() && arn_listed(),
        CallerKind::Root => account_listed(),
        CallerKind::Service { .. } | CallerKind::IdentityProvider => {
            listed(&|e| names_caller(e, request) == Some(Grant::Direct))
        }
        CallerKind::Anonymous => false,
    }
}
