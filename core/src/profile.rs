//! Profiles: which backend answers, in which region, for which identity
//! source and customization. Organisations distribute them as a profile file
//! (see the README); the options page imports it, adds, edits and removes
//! profiles, and the popup switches between them. Everything here is checked
//! before it is stored, so a bad file or form changes nothing.
//!
//! Tokens are not part of a profile: they belong to an identity source and are
//! kept per issuer in the browser's session storage, so profiles sharing an
//! issuer share one sign-in.

use serde::{Deserialize, Serialize};

/// The profile file format this build reads.
pub const FORMAT_VERSION: u32 = 1;

/// `chrome.storage.sync` refuses items over 8,192 bytes (key included), and a
/// refused write would lose the change: the set is checked against this first.
pub const MAX_STORED_BYTES: usize = 8_000;

const MAX_NAME_CHARS: usize = 80;
const MAX_ID_CHARS: usize = 64;
const MAX_URL_CHARS: usize = 2_000;

/// What signs users in: an IAM Identity Center organization instance, an
/// account instance, or any other OpenID provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    Organization,
    Account,
    Oidc,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IdentitySource {
    pub id: String,
    pub name: String,
    pub kind: SourceKind,
    /// The OpenID issuer; its `/.well-known/openid-configuration` is read at sign-in.
    pub issuer: String,
    /// The extension's public client at that issuer.
    pub client_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Profile {
    pub id: String,
    pub name: String,
    /// `None`: a backend that asks for no sign-in (a local `consoledx serve`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_source: Option<String>,
    pub region: String,
    pub backend_url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customization: Option<String>,
    /// The organisation's own https hosts (its runbooks) whose links the
    /// panel may open besides AWS's; only an administrator's file sets them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub link_hosts: Vec<String>,
}

/// Runbook hosts one profile may trust.
const MAX_LINK_HOSTS: usize = 16;

/// An administrator's profile file, as written (`format` first so a newer
/// file is refused for its version, not for fields this build does not know).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProfileFile {
    pub format: u32,
    #[serde(default)]
    pub identity_sources: Vec<IdentitySource>,
    pub profiles: Vec<Profile>,
}

/// What the extension stores: every profile, the identity sources they use,
/// and which profile is active.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProfileSet {
    #[serde(default)]
    pub identity_sources: Vec<IdentitySource>,
    #[serde(default)]
    pub profiles: Vec<Profile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProfileError {
    #[error("the profile file is not valid JSON for consoledx profiles: {0}")]
    Syntax(String),
    #[error(
        "the profile file has format {found}; this version of consoledx reads format {FORMAT_VERSION}"
    )]
    Format { found: u32 },
    #[error("the profile file lists no profiles")]
    Empty,
    #[error("{what} “{id}”: {problem}")]
    Invalid {
        what: &'static str,
        id: String,
        problem: String,
    },
    #[error("two {what}s have the id “{id}”")]
    Duplicate { what: &'static str, id: String },
    #[error("profile “{profile}” uses identity source “{source_id}”, which is not defined")]
    UnknownSource { profile: String, source_id: String },
    #[error("identity source “{id}” is still used by profile “{profile}”")]
    SourceInUse { id: String, profile: String },
    #[error("there is no profile “{0}”")]
    UnknownProfile(String),
    #[error(
        "the profiles take {bytes} bytes, more than the {MAX_STORED_BYTES} bytes browser sync storage keeps in one item; remove some first"
    )]
    TooLarge { bytes: usize },
}

/// What importing a file changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportSummary {
    pub added: Vec<String>,
    pub replaced: Vec<String>,
}

/// Switching to a profile: does its identity source need a sign-in first?
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Switch {
    pub profile: String,
    /// The source to sign in to; `None` when the profile needs no sign-in or
    /// its issuer already has a live session (another profile of the same
    /// identity source signed in).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sign_in: Option<IdentitySource>,
}

impl ProfileFile {
    pub fn parse(text: &str) -> Result<ProfileFile, ProfileError> {
        #[derive(Deserialize)]
        struct Version {
            format: Option<u32>,
        }
        let version: Version = from_object(text)?;
        match version.format {
            Some(FORMAT_VERSION) => {}
            Some(found) => return Err(ProfileError::Format { found }),
            None => return Err(ProfileError::Syntax("missing field `format`".into())),
        }
        let file: ProfileFile =
            serde_json::from_str(text).map_err(|e| ProfileError::Syntax(e.to_string()))?;
        if file.profiles.is_empty() {
            return Err(ProfileError::Empty);
        }
        // Whether every identity source a profile names exists is checked
        // on the merged set: a file may name one the browser already has.
        let as_set = ProfileSet {
            identity_sources: file.identity_sources.clone(),
            profiles: file.profiles.clone(),
            active: None,
        };
        as_set.validate_entries()?;
        Ok(file)
    }
}

impl ProfileSet {
    /// Reads a stored set, refusing one that does not validate.
    pub fn parse(text: &str) -> Result<ProfileSet, ProfileError> {
        let set: ProfileSet = from_object(text)?;
        set.validate()?;
        Ok(set)
    }

    /// Every entry valid, ids unique, every identity source named defined,
    /// the active profile present, and small enough for sync storage.
    pub fn validate(&self) -> Result<(), ProfileError> {
        self.validate_entries()?;
        for profile in &self.profiles {
            if let Some(source) = &profile.identity_source
                && self.source(source).is_none()
            {
                return Err(ProfileError::UnknownSource {
                    profile: profile.id.clone(),
                    source_id: source.clone(),
                });
            }
        }
        if let Some(active) = &self.active
            && self.profile(active).is_none()
        {
            return Err(ProfileError::UnknownProfile(active.clone()));
        }
        let bytes = serde_json::to_string(self).map_or(usize::MAX, |text| text.len());
        if bytes > MAX_STORED_BYTES {
            return Err(ProfileError::TooLarge { bytes });
        }
        Ok(())
    }

    fn validate_entries(&self) -> Result<(), ProfileError> {
        for (index, source) in self.identity_sources.iter().enumerate() {
            validate_source(source)?;
            if self.identity_sources[..index]
                .iter()
                .any(|other| other.id == source.id)
            {
                return Err(ProfileError::Duplicate {
                    what: "identity source",
                    id: source.id.clone(),
                });
            }
        }
        for (index, profile) in self.profiles.iter().enumerate() {
            validate_profile(profile)?;
            if self.profiles[..index]
                .iter()
                .any(|other| other.id == profile.id)
            {
                return Err(ProfileError::Duplicate {
                    what: "profile",
                    id: profile.id.clone(),
                });
            }
        }
        Ok(())
    }

    pub fn profile(&self, id: &str) -> Option<&Profile> {
        self.profiles.iter().find(|profile| profile.id == id)
    }

    pub fn source(&self, id: &str) -> Option<&IdentitySource> {
        self.identity_sources.iter().find(|source| source.id == id)
    }

    /// The profile in use: the chosen one, else the first.
    pub fn active_profile(&self) -> Option<&Profile> {
        self.active
            .as_deref()
            .and_then(|id| self.profile(id))
            .or_else(|| self.profiles.first())
    }

    /// The identity source of a profile, if it has one.
    pub fn source_of(&self, profile: &Profile) -> Option<&IdentitySource> {
        profile
            .identity_source
            .as_deref()
            .and_then(|id| self.source(id))
    }

    /// Merges an administrator's file: entries with a known id are replaced,
    /// new ones added. All or nothing: on error the set is unchanged.
    pub fn import(&mut self, file: ProfileFile) -> Result<ImportSummary, ProfileError> {
        let mut next = self.clone();
        let mut summary = ImportSummary::default();
        for source in file.identity_sources {
            upsert(&mut next.identity_sources, source, |s| &s.id);
        }
        for profile in file.profiles {
            let id = profile.id.clone();
            if upsert(&mut next.profiles, profile, |p| &p.id) {
                summary.replaced.push(id);
            } else {
                summary.added.push(id);
            }
        }
        next.validate()?;
        *self = next;
        Ok(summary)
    }

    /// Adds or replaces one profile (and the identity source it brings, if any).
    pub fn save(
        &mut self,
        profile: Profile,
        source: Option<IdentitySource>,
    ) -> Result<(), ProfileError> {
        let mut next = self.clone();
        if let Some(source) = source {
            upsert(&mut next.identity_sources, source, |s| &s.id);
        }
        upsert(&mut next.profiles, profile, |p| &p.id);
        next.validate()?;
        *self = next;
        Ok(())
    }

    /// Removes a profile, and its identity source when no other profile uses it.
    pub fn remove(&mut self, id: &str) -> Result<(), ProfileError> {
        let position = self
            .profiles
            .iter()
            .position(|profile| profile.id == id)
            .ok_or_else(|| ProfileError::UnknownProfile(id.to_owned()))?;
        let removed = self.profiles.remove(position);
        if let Some(source) = removed.identity_source
            && !self
                .profiles
                .iter()
                .any(|p| p.identity_source.as_ref() == Some(&source))
        {
            self.identity_sources.retain(|s| s.id != source);
        }
        if self.active.as_deref() == Some(id) {
            self.active = None;
        }
        Ok(())
    }

    /// Makes `id` the active profile. `signed_in` lists the issuers with a live
    /// session; a profile whose issuer is among them needs no new sign-in.
    pub fn switch(&mut self, id: &str, signed_in: &[String]) -> Result<Switch, ProfileError> {
        let profile = self
            .profile(id)
            .ok_or_else(|| ProfileError::UnknownProfile(id.to_owned()))?;
        let sign_in = self
            .source_of(profile)
            .filter(|source| {
                !signed_in
                    .iter()
                    .any(|issuer| same_issuer(issuer, &source.issuer))
            })
            .cloned();
        self.active = Some(id.to_owned());
        Ok(Switch {
            profile: id.to_owned(),
            sign_in,
        })
    }
}

/// A JSON object read into `T`; serde would also build a struct from an array.
/// (Checked on the text: `serde_json::Value` would add a fifth to the wasm.)
fn from_object<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, ProfileError> {
    let value: T = serde_json::from_str(text).map_err(|e| ProfileError::Syntax(e.to_string()))?;
    if !text.trim_start().starts_with('{') {
        return Err(ProfileError::Syntax("expected a JSON object".into()));
    }
    Ok(value)
}

/// Replaces the entry with the same id or appends; `true` when it replaced.
fn upsert<T>(list: &mut Vec<T>, item: T, id: impl Fn(&T) -> &String) -> bool {
    match list.iter().position(|existing| id(existing) == id(&item)) {
        Some(position) => {
            list[position] = item;
            true
        }
        None => {
            list.push(item);
            false
        }
    }
}

/// Issuers compare as OpenID compares them, exactly, except for a trailing slash
/// that some providers add in their discovery document.
pub fn same_issuer(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

fn invalid(what: &'static str, id: &str, problem: impl Into<String>) -> ProfileError {
    ProfileError::Invalid {
        what,
        id: id.to_owned(),
        problem: problem.into(),
    }
}

/// Ids travel in URLs, headers and file names: 1 to 64 letters, digits, '-', '_' or '.'.
pub fn is_valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_CHARS
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

fn validate_id(what: &'static str, id: &str) -> Result<(), ProfileError> {
    if is_valid_id(id) {
        Ok(())
    } else {
        Err(invalid(
            what,
            id,
            format!("an id is 1 to {MAX_ID_CHARS} letters, digits, '-', '_' or '.'"),
        ))
    }
}

fn validate_name(what: &'static str, id: &str, name: &str) -> Result<(), ProfileError> {
    let trimmed = name.trim();
    if trimmed.is_empty() {
        return Err(invalid(what, id, "the name is empty"));
    }
    if trimmed.chars().count() > MAX_NAME_CHARS {
        return Err(invalid(
            what,
            id,
            format!("the name is longer than {MAX_NAME_CHARS} characters"),
        ));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(invalid(what, id, "the name contains control characters"));
    }
    Ok(())
}

fn validate_source(source: &IdentitySource) -> Result<(), ProfileError> {
    const WHAT: &str = "identity source";
    validate_id(WHAT, &source.id)?;
    validate_name(WHAT, &source.id, &source.name)?;
    service_url(&source.issuer)
        .map_err(|problem| invalid(WHAT, &source.id, format!("issuer: {problem}")))?;
    if source.issuer.contains(['?', '#']) {
        return Err(invalid(
            WHAT,
            &source.id,
            "issuer: an OpenID issuer has no query or fragment",
        ));
    }
    let client_id_ok = !source.client_id.is_empty()
        && source.client_id.len() <= 256
        && source.client_id.bytes().all(|b| b.is_ascii_graphic());
    if !client_id_ok {
        return Err(invalid(
            WHAT,
            &source.id,
            "clientId: 1 to 256 printable characters without spaces",
        ));
    }
    Ok(())
}

fn validate_profile(profile: &Profile) -> Result<(), ProfileError> {
    const WHAT: &str = "profile";
    validate_id(WHAT, &profile.id)?;
    validate_name(WHAT, &profile.id, &profile.name)?;
    if !crate::extract::shapes::is_region(&profile.region) {
        return Err(invalid(
            WHAT,
            &profile.id,
            format!(
                "region: “{}” is not an AWS region such as us-east-1",
                clip(&profile.region)
            ),
        ));
    }
    service_url(&profile.backend_url)
        .map_err(|problem| invalid(WHAT, &profile.id, format!("backendUrl: {problem}")))?;
    if profile.link_hosts.len() > MAX_LINK_HOSTS {
        return Err(invalid(
            WHAT,
            &profile.id,
            format!("linkHosts: at most {MAX_LINK_HOSTS} hosts"),
        ));
    }
    for host in &profile.link_hosts {
        crate::view::check_runbook_host(host)
            .map_err(|problem| invalid(WHAT, &profile.id, format!("linkHosts: {problem}")))?;
    }
    if let Some(customization) = &profile.customization {
        validate_id("customization", customization).map_err(|_| {
            invalid(
                WHAT,
                &profile.id,
                "customization: an id is 1 to 64 letters, digits, '-', '_' or '.'",
            )
        })?;
    }
    Ok(())
}

fn clip(text: &str) -> String {
    text.chars().take(60).collect()
}

/// Checks a backend or issuer URL: https anywhere, plain http only on this
/// machine (a local `consoledx serve` or a test provider), no credentials.
/// Returns the reason it is refused.
pub fn service_url(raw: &str) -> Result<(), String> {
    if raw.len() > MAX_URL_CHARS {
        return Err(format!("longer than {MAX_URL_CHARS} characters"));
    }
    let (scheme, rest) = raw
        .split_once("://")
        .ok_or_else(|| format!("“{}” is not an http(s) URL", clip(raw)))?;
    let secure = match scheme {
        "https" => true,
        "http" => false,
        _ => return Err(format!("“{scheme}://” is not http:// or https://")),
    };
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    if authority.contains('@') {
        return Err("a URL with a user name or password is not accepted".into());
    }
    let (host, port) = match authority.strip_prefix('[') {
        Some(bracketed) => {
            let (host, after) = bracketed
                .split_once(']')
                .ok_or("an IPv6 host lacks its closing ']'")?;
            (host, after.strip_prefix(':'))
        }
        None => match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    let host_ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b':'));
    if !host_ok {
        return Err(format!("“{}” is not a host name", clip(host)));
    }
    if let Some(port) = port
        && (port.is_empty() || port.parse::<u16>().map_or(true, |p| p == 0))
    {
        return Err(format!("“{}” is not a port", clip(port)));
    }
    if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("the URL contains spaces or control characters".into());
    }
    let loopback = matches!(
        host.to_ascii_lowercase().as_str(),
        "127.0.0.1" | "localhost" | "::1"
    );
    if !secure && !loopback {
        return Err(
            "plain http:// is accepted only for 127.0.0.1 or localhost; use https://".into(),
        );
    }
    Ok(())
}

/// What the extension's service worker needs of the active profile, stored
/// beside the set so diagnosing never parses (or carries the code for) the
/// whole set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActiveProfile {
    pub id: String,
    pub name: String,
    pub region: String,
    pub backend_url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customization: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub link_hosts: Vec<String>,
}

impl ProfileSet {
    pub fn active_summary(&self) -> Option<ActiveProfile> {
        let profile = self.active_profile()?;
        Some(ActiveProfile {
            id: profile.id.clone(),
            name: profile.name.clone(),
            region: profile.region.clone(),
            backend_url: profile.backend_url.clone(),
            issuer: self.source_of(profile).map(|s| s.issuer.clone()),
            customization: profile.customization.clone(),
            link_hosts: profile.link_hosts.clone(),
        })
    }
}

/// From the options page and the popup, as tagged JSON.
// One request per user action, parsed and handled at once: boxing would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all_fields = "camelCase", deny_unknown_fields)]
pub enum ProfileRequest {
    #[serde(rename = "ListProfiles")]
    List,
    /// An administrator's profile file, as the user picked it.
    #[serde(rename = "ImportProfiles")]
    Import { text: String },
    #[serde(rename = "SaveProfile")]
    Save {
        profile: Profile,
        #[serde(default)]
        source: Option<IdentitySource>,
    },
    #[serde(rename = "RemoveProfile")]
    Remove { id: String },
    /// `signed_in`: the issuers with a live session.
    #[serde(rename = "SwitchProfile")]
    Switch {
        id: String,
        #[serde(default)]
        signed_in: Vec<String>,
    },
}

/// Back to the page. With `changed`, the page stores `set` and `active`
/// together (this crate does no I/O).
// One reply per user action, serialised at once: boxing would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all_fields = "camelCase")]
pub enum ProfileReply {
    Profiles {
        set: ProfileSet,
        changed: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        active: Option<ActiveProfile>,
        #[serde(skip_serializing_if = "Option::is_none")]
        imported: Option<ImportSummary>,
        #[serde(skip_serializing_if = "Option::is_none")]
        switched: Option<Switch>,
    },
    Error {
        message: String,
    },
}

/// Applies one request to the stored set (`None`: nothing stored yet). A
/// refused request leaves the set as it was; a damaged stored set is reported,
/// and an import replaces it.
pub fn handle(request: &str, stored: Option<&str>) -> ProfileReply {
    let request: ProfileRequest = match serde_json::from_str(request) {
        Ok(request) => request,
        Err(error) => return error_reply(format!("malformed profile request: {error}")),
    };
    let mut set = match stored.map(ProfileSet::parse) {
        None => ProfileSet::default(),
        Some(Ok(set)) => set,
        Some(Err(_)) if matches!(request, ProfileRequest::Import { .. }) => ProfileSet::default(),
        Some(Err(error)) => {
            return error_reply(format!(
                "the stored profiles are damaged ({error}); import your profile file again"
            ));
        }
    };
    let (mut imported, mut switched) = (None, None);
    let outcome = match request {
        ProfileRequest::List => Ok(false),
        ProfileRequest::Import { text } => ProfileFile::parse(&text)
            .and_then(|file| set.import(file))
            .map(|summary| imported = Some(summary))
            .map(|()| true),
        ProfileRequest::Save { profile, source } => set.save(profile, source).map(|()| true),
        ProfileRequest::Remove { id } => set.remove(&id).map(|()| true),
        ProfileRequest::Switch { id, signed_in } => set
            .switch(&id, &signed_in)
            .map(|switch| switched = Some(switch))
            .map(|()| true),
    };
    match outcome {
        Ok(changed) => ProfileReply::Profiles {
            active: set.active_summary(),
            set,
            changed,
            imported,
            switched,
        },
        Err(error) => error_reply(error.to_string()),
    }
}

/// One sentence: capitalised, with a full stop.
fn error_reply(text: String) -> ProfileReply {
    let mut chars = text.chars();
    let message = chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect::<String>() + "."
    });
    ProfileReply::Error { message }
}
