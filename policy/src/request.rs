//! The request side: who is calling, what, on which resource, with which context keys.

use crate::condition::ContextSource;
use crate::document::{is_account_id, last_segment, string_values};
use crate::pattern::VariableSource;
use crate::{AccessQuery, PolicyError, Principal};
use std::collections::BTreeMap;

/// What kind of identity made the request; decides which policies apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallerKind {
    /// `arn:…:iam::ACCOUNT:user/…/NAME`.
    User { name: String },
    /// `arn:…:sts::ACCOUNT:assumed-role/ROLE/SESSION` (or the role ARN itself).
    RoleSession {
        role: String,
        session: Option<String>,
    },
    /// `arn:…:sts::ACCOUNT:federated-user/NAME` (GetFederationToken).
    FederatedUser { name: String },
    /// `arn:…:iam::ACCOUNT:root`.
    Root,
    /// `lambda.amazonaws.com` and the like.
    Service { name: String },
    /// A web identity or SAML provider (`cognito-identity.amazonaws.com`, `arn:…:saml-provider/…`).
    IdentityProvider,
    /// `*` or `anonymous`: an unauthenticated request.
    Anonymous,
}

/// A request, prepared for evaluation: context keys lower-cased, global keys derived from the principal.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub(crate) arn: String,
    pub(crate) partition: String,
    pub(crate) account: Option<String>,
    pub(crate) caller: CallerKind,
    pub(crate) action: String,
    pub(crate) resource: String,
    pub(crate) resource_account: Option<String>,
    context: BTreeMap<String, Vec<String>>,
}

impl Request {
    /// Reads the request part of a query (principal, action, resource, context).
    pub fn from_query(query: &AccessQuery) -> Result<Request, PolicyError> {
        Request::new(
            &query.principal,
            &query.action,
            &query.resource,
            query.resource_account.as_deref(),
            &query.context,
        )
    }

    pub fn new(
        principal: &Principal,
        action: &str,
        resource: &str,
        resource_account: Option<&str>,
        context: &BTreeMap<String, serde_json::Value>,
    ) -> Result<Request, PolicyError> {
        let bad = |reason: String| PolicyError::BadRequest(reason);
        let valid_action = action.split_once(':').is_some_and(|(service, name)| {
            !service.is_empty() && !name.is_empty() && !action.contains(['*', '?'])
        });
        if !valid_action {
            return Err(bad(format!("action `{action}` is not `service:Action`")));
        }
        if resource.is_empty() {
            return Err(bad(
                "resource is empty (use `*` for actions without a resource)".into(),
            ));
        }
        if let Some(account) = resource_account
            && !is_account_id(account)
        {
            return Err(bad(format!(
                "resource_account `{account}` is not a 12-digit account id"
            )));
        }
        let (caller, account, partition) = classify(&principal.arn).map_err(bad)?;

        let mut values: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (key, value) in context {
            let list = string_values(value)
                .map_err(|got| bad(format!("context key `{key}`: expected a string, number, boolean or a list of them, got {got}")))?;
            values
                .entry(key.to_ascii_lowercase())
                .or_default()
                .extend(list);
        }
        let resource_account = resource_account
            .map(str::to_string)
            .or_else(|| arn_account(resource).map(str::to_string))
            .or_else(|| account.clone());
        let request = Request {
            arn: principal.arn.clone(),
            partition,
            account,
            caller,
            action: action.to_string(),
            resource: resource.to_string(),
            resource_account,
            context: values,
        };
        Ok(request.with_global_keys(principal))
    }

    /// Adds keys AWS derives from the principal, unless the caller supplied them.
    fn with_global_keys(mut self, principal: &Principal) -> Request {
        let mut derived: Vec<(String, String)> = Vec::new();
        let account = self.account.clone();
        if let Some(principal_arn) = self.principal_arn() {
            derived.push(("aws:principalarn".into(), principal_arn));
        }
        if let Some(account) = &account {
            derived.push(("aws:principalaccount".into(), account.clone()));
        }
        let principal_type = match &self.caller {
            CallerKind::User { name } => {
                derived.push(("aws:username".into(), name.clone()));
                Some("User")
            }
            CallerKind::RoleSession { .. } => Some("AssumedRole"),
            CallerKind::FederatedUser { .. } => Some("FederatedUser"),
            CallerKind::Root => {
                if let Some(account) = &account {
                    derived.push(("aws:userid".into(), account.clone()));
                }
                Some("Account")
            }
            CallerKind::Anonymous => Some("Anonymous"),
            CallerKind::Service { name } => {
                derived.push(("aws:principalservicename".into(), name.clone()));
                None
            }
            CallerKind::IdentityProvider => None,
        };
        if let Some(principal_type) = principal_type {
            derived.push(("aws:principaltype".into(), principal_type.into()));
        }
        // Present in every signed request; anonymous requests are unsigned.
        if self.caller != CallerKind::Anonymous {
            let is_service = matches!(self.caller, CallerKind::Service { .. });
            derived.push(("aws:principalisawsservice".into(), is_service.to_string()));
        }
        if let Some(resource_account) = &self.resource_account {
            derived.push(("aws:resourceaccount".into(), resource_account.clone()));
        }
        for (tag, value) in &principal.tags {
            derived.push((
                format!("aws:principaltag/{}", tag.to_ascii_lowercase()),
                value.clone(),
            ));
        }
        for (key, value) in derived {
            self.context.entry(key).or_insert_with(|| vec![value]);
        }
        self
    }

    /// `aws:PrincipalArn`: for a role session, the role's ARN (without its path, which the session ARN lacks).
    fn principal_arn(&self) -> Option<String> {
        let account = self.account.as_deref()?;
        match &self.caller {
            CallerKind::RoleSession { session: None, .. } => Some(self.arn.clone()),
            CallerKind::RoleSession { role, .. } => {
                Some(format!("arn:{}:iam::{account}:role/{role}", self.partition))
            }
            CallerKind::User { .. } | CallerKind::FederatedUser { .. } | CallerKind::Root => {
                Some(self.arn.clone())
            }
            _ => None,
        }
    }

    /// The principal's account, for IAM principals.
    pub fn account(&self) -> Option<&str> {
        self.account.as_deref()
    }

    pub fn caller(&self) -> &CallerKind {
        &self.caller
    }

    pub fn resource_account(&self) -> Option<&str> {
        self.resource_account.as_deref()
    }

    /// A role named `AWSServiceRoleFor…` or under `/aws-service-role/`: SCPs and RCPs don't restrict it.
    pub(crate) fn is_service_linked_role(&self) -> bool {
        match &self.caller {
            CallerKind::RoleSession { role, .. } => {
                role.starts_with("AWSServiceRoleFor")
                    || self.arn.contains(":role/aws-service-role/")
            }
            _ => false,
        }
    }

    /// Whether the caller has identity-based policies at all (IAM users, roles, federated users, root).
    pub(crate) fn has_identity(&self) -> bool {
        matches!(
            self.caller,
            CallerKind::User { .. }
                | CallerKind::RoleSession { .. }
                | CallerKind::FederatedUser { .. }
                | CallerKind::Root
        )
    }
}

impl VariableSource for Request {
    fn variable(&self, key: &str) -> Option<&str> {
        match self.context.get(key).map(Vec::as_slice) {
            Some([single]) => Some(single),
            _ => None,
        }
    }
}

impl ContextSource for Request {
    fn values(&self, key: &str) -> Option<&[String]> {
        self.context.get(key).map(Vec::as_slice)
    }
}

/// The account field of an ARN, when it has one (S3 bucket ARNs do not).
fn arn_account(arn: &str) -> Option<&str> {
    let mut parts = arn.splitn(6, ':');
    if parts.next()? != "arn" {
        return None;
    }
    let account = parts.nth(3)?;
    is_account_id(account).then_some(account)
}

type Classified = (CallerKind, Option<String>, String);

fn classify(arn: &str) -> Result<Classified, String> {
    if arn == "*" || arn.eq_ignore_ascii_case("anonymous") {
        return Ok((CallerKind::Anonymous, None, "aws".into()));
    }
    if !arn.starts_with("arn:") {
        if arn.contains('.') && !arn.contains([' ', '/', ':']) {
            let caller = if arn.ends_with(".amazonaws.com") && !arn.starts_with("cognito-identity.")
            {
                CallerKind::Service {
                    name: arn.to_ascii_lowercase(),
                }
            } else {
                CallerKind::IdentityProvider
            };
            return Ok((caller, None, "aws".into()));
        }
        return Err(format!(
            "principal `{arn}` is not an ARN, a service principal (`lambda.amazonaws.com`) or `anonymous`"
        ));
    }
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [_, partition, service, _region, account, resource] = parts.as_slice() else {
        return Err(format!(
            "principal ARN `{arn}` does not have six colon-separated parts"
        ));
    };
    let unsupported = || {
        format!(
            "principal ARN `{arn}` is not an IAM user, role, assumed-role session, federated user, root or identity provider"
        )
    };
    let owned = |caller: CallerKind| -> Result<Classified, String> {
        if !is_account_id(account) {
            return Err(format!("principal ARN `{arn}` has no 12-digit account id"));
        }
        Ok((caller, Some(account.to_string()), partition.to_string()))
    };
    match *service {
        "iam" => {
            if *resource == "root" {
                owned(CallerKind::Root)
            } else if let Some(path) = resource.strip_prefix("user/") {
                owned(CallerKind::User {
                    name: last_segment(path).to_string(),
                })
            } else if let Some(path) = resource.strip_prefix("role/") {
                owned(CallerKind::RoleSession {
                    role: last_segment(path).to_string(),
                    session: None,
                })
            } else if resource.starts_with("saml-provider/")
                || resource.starts_with("oidc-provider/")
            {
                Ok((CallerKind::IdentityProvider, None, partition.to_string()))
            } else {
                Err(unsupported())
            }
        }
        "sts" => {
            if let Some(rest) = resource.strip_prefix("assumed-role/") {
                let Some((role, session)) = rest.split_once('/') else {
                    return Err(format!("assumed-role ARN `{arn}` lacks `/SESSION`"));
                };
                owned(CallerKind::RoleSession {
                    role: role.to_string(),
                    session: Some(session.to_string()),
                })
            } else if let Some(name) = resource.strip_prefix("federated-user/") {
                owned(CallerKind::FederatedUser {
                    name: name.to_string(),
                })
            } else {
                Err(unsupported())
            }
        }
        _ => Err(unsupported()),
    }
}
