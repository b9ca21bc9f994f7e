//! The context of one console error: what the page bridge read (`Snapshot`)
//! and what the core made of it (`ErrorContext`).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Identifier values keyed by DESIGN.md's names (`aws_region`, `s3_bucket_name`, ...).
pub type Identifiers = BTreeMap<String, String>;

/// What the page bridge reads off a console page when Diagnose is clicked.
/// Raw and untrusted: every field may be empty, huge or hostile.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Snapshot {
    /// `location.href` of the page (or of the same-origin frame holding the banner).
    pub url: String,
    /// The banner's header text (flash header, alert header); may be empty.
    #[serde(default)]
    pub header: String,
    /// The banner's content text.
    #[serde(default)]
    pub content: String,
    /// Which detection rule found the banner (`flashbar`, `alert`, ...).
    #[serde(default)]
    pub banner_kind: String,
    /// `aria-label` of the top navigation's account menu button: `ROLE/SESSION` or a user name.
    #[serde(default)]
    pub nav_user_label: Option<String>,
    /// `title` of the span inside it: `ROLE/SESSION @ 1234-5678-9012`.
    #[serde(default)]
    pub nav_user_title: Option<String>,
    /// `meta#awsc-mezz-region[content]`.
    #[serde(default)]
    pub meta_region: Option<String>,
    /// The `aws-userInfo` cookie's raw (URL-encoded JSON) value, where readable.
    #[serde(default)]
    pub user_info_cookie: Option<String>,
    /// Visible form fields near the banner.
    #[serde(default)]
    pub fields: Vec<FormField>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FormField {
    pub label: String,
    pub value: String,
}

/// Who is signed in to the console, as far as the page tells.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Identity {
    pub kind: IdentityKind,
    /// Role name, user name or `root`.
    pub name: String,
    /// Role session name, when signed in through a role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// 12 digits, no dashes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// The signed-in ARN (from the `aws-userInfo` cookie), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    /// IAM Identity Center permission set, for `AWSReservedSSO_<set>_<hex>` roles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permission_set: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentityKind {
    #[default]
    Role,
    User,
    Root,
}

/// The error as the core understands it: redacted, with identifiers extracted.
/// This is what leaves the browser.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorContext {
    /// Header and content joined, redacted.
    pub message: String,
    /// Page URL, redacted.
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<Identity>,
    #[serde(default)]
    pub identifiers: Identifiers,
    /// AWS error code shown or implied by the message (`BucketNotEmpty`, `AccessDenied`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_denied: Option<AccessDenied>,
    /// Visible form fields near the error, redacted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FormField>,
    /// How many secret values were replaced before this left the browser.
    #[serde(default)]
    pub redactions: u32,
    /// The blob after "Encoded authorization failure message:", which
    /// `aws sts decode-authorization-message` expands into the full reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoded_authorization_message: Option<String>,
}

/// What an authorization failure's message says about why it was denied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessDenied {
    pub deny: DenyKind,
    pub policy_type: Option<PolicyType>,
    pub policy_arn: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DenyKind {
    Explicit,
    Implicit,
}

/// Policy types as DESIGN.md names them.
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
    Trust,
}
