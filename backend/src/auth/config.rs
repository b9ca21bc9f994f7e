//! The auth configuration file (`consoledx serve --auth-config FILE`),
//! checked whole at load so a mistake stops the server with a clear reason
//! instead of refusing every request later.

use serde::{Deserialize, Serialize};
use std::path::Path;

/// What kind of identity source an issuer is; kept on the caller for ACLs and billing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentitySourceKind {
    /// An IAM Identity Center organization instance.
    Organization,
    /// An IAM Identity Center account instance.
    Account,
    /// Any other OpenID provider.
    Oidc,
}

#[derive(Debug, Clone)]
pub struct AuthConfig {
    pub leeway_seconds: u64,
    pub jwks_cache_seconds: u64,
    pub jwks_refetch_interval_seconds: u64,
    pub introspection_cache_seconds: u64,
    pub issuers: Vec<IssuerConfig>,
}

#[derive(Debug, Clone)]
pub struct IssuerConfig {
    /// Exactly as the tokens' `iss` claim and the discovery document say it.
    pub url: String,
    pub audience: String,
    pub kind: IdentitySourceKind,
    pub groups_claim: String,
    pub username_claim: String,
    pub introspection: Option<IntrospectionConfig>,
    /// Users and groups of this issuer allowed on the admin API.
    pub admins: Vec<crate::tenancy::Principal>,
}

#[derive(Clone)]
pub struct IntrospectionConfig {
    pub client_id: String,
    pub client_secret: String,
}

impl std::fmt::Debug for IntrospectionConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntrospectionConfig")
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthConfigError {
    #[error("cannot read auth config {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("auth config is not valid TOML for this format: {0}")]
    Syntax(String),
    #[error("auth config trusts no issuer: add at least one [[issuer]] table")]
    NoIssuers,
    #[error("issuer {url:?}: {reason}")]
    BadIssuerUrl { url: String, reason: String },
    #[error("issuer {0} is listed twice")]
    DuplicateIssuer(String),
    #[error("issuer {url}: {field} must not be empty")]
    Empty { url: String, field: &'static str },
    #[error(
        "issuer {url}: environment variable {variable} (the introspection client secret) is not set or empty"
    )]
    MissingSecret { url: String, variable: String },
    #[error("issuer {url}: admins: {reason}")]
    BadAdmin { url: String, reason: String },
    #[error("{field} is {value} seconds; at most {max} is allowed")]
    TooLarge {
        field: &'static str,
        value: u64,
        max: u64,
    },
}

/// The file as written; see README ("Sign-in") for the documented format.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default = "default_leeway")]
    leeway_seconds: u64,
    #[serde(default = "default_jwks_cache")]
    jwks_cache_seconds: u64,
    #[serde(default = "default_jwks_refetch_interval")]
    jwks_refetch_interval_seconds: u64,
    #[serde(default = "default_introspection_cache")]
    introspection_cache_seconds: u64,
    #[serde(default)]
    issuer: Vec<IssuerFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IssuerFile {
    url: String,
    audience: String,
    kind: IdentitySourceKind,
    #[serde(default = "default_groups_claim")]
    groups_claim: String,
    #[serde(default = "default_username_claim")]
    username_claim: String,
    #[serde(default)]
    introspection: Option<IntrospectionFile>,
    /// `user:NAME` or `group:NAME` entries allowed on `/v1/admin/*`.
    #[serde(default)]
    admins: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IntrospectionFile {
    client_id: String,
    /// The secret itself never sits in the file.
    client_secret_env: String,
}

fn default_leeway() -> u64 {
    30
}
fn default_jwks_cache() -> u64 {
    3600
}
fn default_jwks_refetch_interval() -> u64 {
    60
}
fn default_introspection_cache() -> u64 {
    30
}
fn default_groups_claim() -> String {
    "groups".to_string()
}
fn default_username_claim() -> String {
    "username".to_string()
}

const LEEWAY_MAX: u64 = 300;
const CACHE_MAX: u64 = 24 * 3600;

impl AuthConfig {
    /// Reads and checks a config file; introspection secrets come from the process environment.
    pub fn load(path: &Path) -> Result<AuthConfig, AuthConfigError> {
        let text = std::fs::read_to_string(path).map_err(|err| AuthConfigError::Read {
            path: path.display().to_string(),
            reason: err.to_string(),
        })?;
        AuthConfig::parse(&text, |name| std::env::var(name).ok())
    }

    /// Parses and checks config text; `env` looks up the named secrets.
    pub fn parse(
        text: &str,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<AuthConfig, AuthConfigError> {
        let file: File = toml::from_str(text)
            .map_err(|err| AuthConfigError::Syntax(err.to_string().trim().replace('\n', " ")))?;
        if file.leeway_seconds > LEEWAY_MAX {
            return Err(AuthConfigError::TooLarge {
                field: "leeway_seconds",
                value: file.leeway_seconds,
                max: LEEWAY_MAX,
            });
        }
        for (field, value) in [
            ("jwks_cache_seconds", file.jwks_cache_seconds),
            (
                "jwks_refetch_interval_seconds",
                file.jwks_refetch_interval_seconds,
            ),
            (
                "introspection_cache_seconds",
                file.introspection_cache_seconds,
            ),
        ] {
            if value > CACHE_MAX {
                return Err(AuthConfigError::TooLarge {
                    field,
                    value,
                    max: CACHE_MAX,
                });
            }
        }
        if file.issuer.is_empty() {
            return Err(AuthConfigError::NoIssuers);
        }
        let mut issuers: Vec<IssuerConfig> = Vec::with_capacity(file.issuer.len());
        for issuer in file.issuer {
            check_issuer_url(&issuer.url)?;
            if issuers.iter().any(|seen| seen.url == issuer.url) {
                return Err(AuthConfigError::DuplicateIssuer(issuer.url));
            }
            let empty = |field| AuthConfigError::Empty {
                url: issuer.url.clone(),
                field,
            };
            if issuer.audience.trim().is_empty() {
                return Err(empty("audience"));
            }
            if issuer.groups_claim.trim().is_empty() {
                return Err(empty("groups_claim"));
            }
            if issuer.username_claim.trim().is_empty() {
                return Err(empty("username_claim"));
            }
            let introspection = match issuer.introspection {
                None => None,
                Some(introspection) => {
                    if introspection.client_id.trim().is_empty() {
                        return Err(empty("introspection.client_id"));
                    }
                    if introspection.client_secret_env.trim().is_empty() {
                        return Err(empty("introspection.client_secret_env"));
                    }
                    let secret = env(&introspection.client_secret_env)
                        .filter(|secret| !secret.is_empty())
                        .ok_or_else(|| AuthConfigError::MissingSecret {
                            url: issuer.url.clone(),
                            variable: introspection.client_secret_env.clone(),
                        })?;
                    Some(IntrospectionConfig {
                        client_id: introspection.client_id,
                        client_secret: secret,
                    })
                }
            };
            let admins = issuer
                .admins
                .iter()
                .map(|entry| crate::tenancy::Principal::parse(entry))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|err| AuthConfigError::BadAdmin {
                    url: issuer.url.clone(),
                    reason: err.to_string(),
                })?;
            issuers.push(IssuerConfig {
                admins,
                url: issuer.url,
                audience: issuer.audience,
                kind: issuer.kind,
                groups_claim: issuer.groups_claim,
                username_claim: issuer.username_claim,
                introspection,
            });
        }
        Ok(AuthConfig {
            leeway_seconds: file.leeway_seconds,
            jwks_cache_seconds: file.jwks_cache_seconds,
            jwks_refetch_interval_seconds: file.jwks_refetch_interval_seconds,
            introspection_cache_seconds: file.introspection_cache_seconds,
            issuers,
        })
    }
}

/// Keys fetched over plain http could be swapped by anyone on the path:
/// https only, except on loopback (local providers and tests).
fn check_issuer_url(url: &str) -> Result<(), AuthConfigError> {
    let bad = |reason: &str| AuthConfigError::BadIssuerUrl {
        url: url.to_string(),
        reason: reason.to_string(),
    };
    let parsed = url::Url::parse(url).map_err(|err| bad(&format!("not a URL ({err})")))?;
    let loopback = match parsed.host() {
        Some(url::Host::Domain(name)) => name == "localhost",
        Some(url::Host::Ipv4(address)) => address.is_loopback(),
        Some(url::Host::Ipv6(address)) => address.is_loopback(),
        None => false,
    };
    match parsed.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => {
            return Err(bad(
                "must use https (plain http is accepted only on loopback)",
            ));
        }
        _ => return Err(bad("must be an https:// URL")),
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(bad("an issuer URL has no query or fragment"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(bad("an issuer URL carries no credentials"));
    }
    Ok(())
}
