//! Who may use what: subscriptions, the profiles that map onto them, and
//! customizations, with their grants. Pure: the store loads a [`Directory`],
//! and every access decision is a function of it and the caller's claims.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

const MAX_NAME_CHARS: usize = 80;
const MAX_PRINCIPAL_CHARS: usize = 256;

/// A user (matched against the token's username claim or its subject) or a
/// group (matched against its groups claim) of one identity source.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "name", rename_all = "snake_case")]
pub enum Principal {
    User(String),
    Group(String),
}

impl Principal {
    /// `user:alice` or `group:blue-team`, as the CLI and API take them.
    pub fn parse(text: &str) -> Result<Principal, DirectoryError> {
        let (kind, name) = text.split_once(':').ok_or_else(|| {
            DirectoryError::Invalid(format!(
                "principal “{}” must be user:NAME or group:NAME",
                clip(text)
            ))
        })?;
        let name = name.trim();
        if name.is_empty()
            || name.chars().count() > MAX_PRINCIPAL_CHARS
            || name.chars().any(char::is_control)
        {
            return Err(DirectoryError::Invalid(format!(
                "principal “{}”: the name must be 1 to {MAX_PRINCIPAL_CHARS} characters without control characters",
                clip(text)
            )));
        }
        match kind {
            "user" => Ok(Principal::User(name.to_string())),
            "group" => Ok(Principal::Group(name.to_string())),
            other => Err(DirectoryError::Invalid(format!(
                "principal kind “{}” is neither user nor group",
                clip(other)
            ))),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Principal::User(_) => "user",
            Principal::Group(_) => "group",
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Principal::User(name) | Principal::Group(name) => name,
        }
    }

    pub fn matches(&self, caller: &CallerClaims<'_>) -> bool {
        match self {
            Principal::User(name) => name == caller.username || name == caller.subject,
            Principal::Group(name) => caller.groups.iter().any(|group| group == name),
        }
    }
}

impl std::fmt::Display for Principal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.kind(), self.name())
    }
}

/// What the access decisions read of a verified token.
#[derive(Debug, Clone, Copy)]
pub struct CallerClaims<'a> {
    pub issuer: &'a str,
    pub subject: &'a str,
    pub username: &'a str,
    pub groups: &'a [String],
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Subscription {
    pub id: String,
    pub name: String,
    /// The identity source whose users this subscription serves: tokens of
    /// another issuer are refused, whatever their claims say.
    pub issuer: String,
    pub grants: BTreeSet<Principal>,
    pub created_at: String,
}

/// The backend's side of a profile: the extension sends its id, the backend
/// decides the subscription and the region its data is stored in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProfileEntry {
    pub id: String,
    pub name: String,
    pub subscription: String,
    pub region: String,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Customization {
    pub id: String,
    pub name: String,
    pub subscription: String,
    pub grants: BTreeSet<Principal>,
    pub versions: Vec<CustomizationVersion>,
    pub active_version: Option<i64>,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CustomizationVersion {
    pub version: i64,
    /// The pack files of this version, by name.
    pub files: Vec<String>,
    pub uploaded_at: String,
    pub uploaded_by: String,
    /// The validation run that allowed activation (JSON), once it ran.
    pub gate: Option<serde_json::Value>,
    pub activated_at: Option<String>,
}

/// Everything the access decisions need, loaded at once (it is small).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Directory {
    pub subscriptions: BTreeMap<String, Subscription>,
    pub profiles: BTreeMap<String, ProfileEntry>,
    pub customizations: BTreeMap<String, Customization>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DirectoryError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
}

/// Why a caller may not use a profile or a customization. The messages are
/// shown in the panel as they are: they say what to do and name only what
/// the caller may know of.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    #[error(
        "This backend has no profile “{0}”. Import the profile file your administrator distributes again."
    )]
    UnknownProfile(String),
    #[error(
        "Profile “{profile}” signs in through another identity source than the one your token is from. Sign in to the profile's identity source."
    )]
    WrongIdentitySource { profile: String },
    #[error(
        "You are not granted the subscription of profile “{profile}”. Ask your administrator to grant you or one of your groups."
    )]
    NotGranted { profile: String },
    #[error(
        "Customization “{0}” is not available to you in this profile. Ask your administrator, or choose another customization."
    )]
    CustomizationUnavailable(String),
    #[error(
        "Customization “{0}” has no active version yet. Ask your administrator to activate one."
    )]
    CustomizationInactive(String),
}

impl Denied {
    /// The machine-readable reason in the error body.
    pub fn code(&self) -> &'static str {
        match self {
            Denied::UnknownProfile(_) => "unknown_profile",
            Denied::WrongIdentitySource { .. } => "wrong_identity_source",
            Denied::NotGranted { .. } => "not_granted",
            Denied::CustomizationUnavailable(_) => "customization_unavailable",
            Denied::CustomizationInactive(_) => "customization_inactive",
        }
    }
}

/// The profile and customization a request runs under, once allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenancy {
    pub subscription: String,
    pub profile: String,
    pub region: String,
    /// Customization id and its active version.
    pub customization: Option<(String, i64)>,
}

impl Directory {
    /// A backend without subscriptions serves every caller it accepts, with
    /// the built-in knowledge (a local or single-team deployment).
    pub fn is_multi_tenant(&self) -> bool {
        !self.subscriptions.is_empty()
    }

    /// Decides a request's profile and customization for a verified caller.
    pub fn authorize(
        &self,
        caller: &CallerClaims<'_>,
        profile_id: &str,
        customization_id: Option<&str>,
    ) -> Result<Tenancy, Denied> {
        let profile = self
            .profiles
            .get(profile_id)
            .ok_or_else(|| Denied::UnknownProfile(clip(profile_id)))?;
        let subscription = self
            .subscriptions
            .get(&profile.subscription)
            .ok_or_else(|| Denied::UnknownProfile(clip(profile_id)))?;
        if !same_issuer(&subscription.issuer, caller.issuer) {
            return Err(Denied::WrongIdentitySource {
                profile: profile.name.clone(),
            });
        }
        if !subscription.grants.iter().any(|p| p.matches(caller)) {
            return Err(Denied::NotGranted {
                profile: profile.name.clone(),
            });
        }
        let customization = match customization_id {
            None => None,
            Some(id) => {
                let unavailable = || Denied::CustomizationUnavailable(clip(id));
                let customization = self.customizations.get(id).ok_or_else(unavailable)?;
                if customization.subscription != subscription.id
                    || !customization.grants.iter().any(|p| p.matches(caller))
                {
                    return Err(unavailable());
                }
                let version = customization
                    .active_version
                    .ok_or_else(|| Denied::CustomizationInactive(customization.id.clone()))?;
                Some((customization.id.clone(), version))
            }
        };
        Ok(Tenancy {
            subscription: subscription.id.clone(),
            profile: profile.id.clone(),
            region: profile.region.clone(),
            customization,
        })
    }

    /// The profiles and customizations a caller may use: what `GET /v1/tenancy` lists.
    pub fn visible_to(&self, caller: &CallerClaims<'_>) -> Visible {
        let subscriptions: BTreeSet<&str> = self
            .subscriptions
            .values()
            .filter(|s| same_issuer(&s.issuer, caller.issuer))
            .filter(|s| s.grants.iter().any(|p| p.matches(caller)))
            .map(|s| s.id.as_str())
            .collect();
        let profiles = self
            .profiles
            .values()
            .filter(|p| subscriptions.contains(p.subscription.as_str()))
            .map(|p| VisibleProfile {
                id: p.id.clone(),
                name: p.name.clone(),
                region: p.region.clone(),
            })
            .collect();
        let customizations = self
            .customizations
            .values()
            .filter(|c| subscriptions.contains(c.subscription.as_str()))
            .filter(|c| c.grants.iter().any(|p| p.matches(caller)))
            .map(|c| VisibleCustomization {
                id: c.id.clone(),
                name: c.name.clone(),
                active_version: c.active_version,
            })
            .collect();
        Visible {
            profiles,
            customizations,
        }
    }

    pub fn subscription(&self, id: &str) -> Result<&Subscription, DirectoryError> {
        self.subscriptions
            .get(id)
            .ok_or_else(|| DirectoryError::NotFound(format!("no subscription “{}”", clip(id))))
    }

    pub fn customization(&self, id: &str) -> Result<&Customization, DirectoryError> {
        self.customizations
            .get(id)
            .ok_or_else(|| DirectoryError::NotFound(format!("no customization “{}”", clip(id))))
    }

    pub fn profile(&self, id: &str) -> Result<&ProfileEntry, DirectoryError> {
        self.profiles
            .get(id)
            .ok_or_else(|| DirectoryError::NotFound(format!("no profile “{}”", clip(id))))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Visible {
    pub profiles: Vec<VisibleProfile>,
    pub customizations: Vec<VisibleCustomization>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VisibleProfile {
    pub id: String,
    pub name: String,
    pub region: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VisibleCustomization {
    pub id: String,
    pub name: String,
    pub active_version: Option<i64>,
}

pub fn same_issuer(a: &str, b: &str) -> bool {
    consoledx_core::profile::same_issuer(a, b)
}

/// Ids are what URLs, headers and file names carry: kept to a safe alphabet.
pub fn check_id(what: &str, id: &str) -> Result<(), DirectoryError> {
    if consoledx_core::profile::is_valid_id(id) {
        Ok(())
    } else {
        Err(DirectoryError::Invalid(format!(
            "{what} id “{}” must be 1 to 64 letters, digits, '-', '_' or '.'",
            clip(id)
        )))
    }
}

pub fn check_name(what: &str, name: &str) -> Result<String, DirectoryError> {
    let trimmed = name.trim();
    if trimmed.is_empty()
        || trimmed.chars().count() > MAX_NAME_CHARS
        || trimmed.chars().any(char::is_control)
    {
        return Err(DirectoryError::Invalid(format!(
            "{what} name must be 1 to {MAX_NAME_CHARS} characters without control characters"
        )));
    }
    Ok(trimmed.to_string())
}

pub fn check_region(region: &str) -> Result<(), DirectoryError> {
    if consoledx_core::extract::is_region(region) {
        Ok(())
    } else {
        Err(DirectoryError::Invalid(format!(
            "region “{}” is not an AWS region such as eu-west-1",
            clip(region)
        )))
    }
}

/// An issuer is compared with the tokens' `iss`: an https URL (http only on loopback).
pub fn check_issuer(issuer: &str) -> Result<(), DirectoryError> {
    consoledx_core::profile::service_url(issuer)
        .map_err(|problem| DirectoryError::Invalid(format!("issuer: {problem}")))?;
    if issuer.contains(['?', '#']) {
        return Err(DirectoryError::Invalid(
            "issuer: an OpenID issuer has no query or fragment".to_string(),
        ));
    }
    Ok(())
}

fn clip(text: &str) -> String {
    text.chars().take(64).collect()
}
