//! What "Help me resolve" reads from the account (`Read`), and what came back (`Facts`).

use consoledx_policy::NamedPolicy;
use serde::{Deserialize, Serialize};

/// One read of the account's state. The backend executes it with the AWS SDK;
/// this crate only plans reads and interprets their outcomes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "read", rename_all = "snake_case", deny_unknown_fields)]
pub enum Read {
    /// `sts:GetCallerIdentity`: the account and ARN the backend reads as.
    CallerIdentity,
    /// `iam:GetRole` (+ the permissions boundary's default version).
    RoleDetails { role: String },
    /// `iam:ListRolePolicies` + `iam:GetRolePolicy`.
    RoleInlinePolicies { role: String },
    /// `iam:ListAttachedRolePolicies` + each policy's default version.
    RoleAttachedPolicies { role: String },
    /// The user's inline and attached policies.
    UserPolicies { user: String },
    /// `s3:GetBucketPolicy`; no policy is a valid answer.
    BucketPolicy { bucket: String },
    /// `s3:GetBucketVersioning`.
    BucketVersioning { bucket: String },
    /// `s3:ListObjectVersions` (one key): does anything keep the bucket from being empty?
    BucketHasObjects { bucket: String },
}

impl Read {
    /// What was to be read, in plain words, for `not_checked`.
    pub fn describe(&self) -> String {
        match self {
            Read::CallerIdentity => "the identity the backend reads the account as".to_string(),
            Read::RoleDetails { role } => format!("role {role} (permissions boundary)"),
            Read::RoleInlinePolicies { role } => format!("the inline policies of role {role}"),
            Read::RoleAttachedPolicies { role } => {
                format!("the managed policies attached to role {role}")
            }
            Read::UserPolicies { user } => format!("the policies of user {user}"),
            Read::BucketPolicy { bucket } => format!("the bucket policy of {bucket}"),
            Read::BucketVersioning { bucket } => format!("the versioning status of {bucket}"),
            Read::BucketHasObjects { bucket } => format!("whether {bucket} still holds objects"),
        }
    }
}

/// The outcome of one read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome<T> {
    Ok(T),
    Failed(String),
    #[default]
    NotRun,
}

impl<T> Outcome<T> {
    pub fn ok(&self) -> Option<&T> {
        match self {
            Outcome::Ok(value) => Some(value),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallerIdentity {
    pub account: String,
    pub arn: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleDetails {
    /// The role's ARN as IAM reports it (with its path).
    pub arn: String,
    /// The permissions boundary with its default version's document.
    #[serde(default)]
    pub permissions_boundary: Option<NamedPolicy>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Versioning {
    /// Never enabled.
    Disabled,
    Enabled,
    Suspended,
}

impl Versioning {
    pub fn as_str(self) -> &'static str {
        match self {
            Versioning::Disabled => "not enabled",
            Versioning::Enabled => "Enabled",
            Versioning::Suspended => "Suspended",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BucketContents {
    /// Current (latest, not deleted) objects.
    pub current_objects: bool,
    /// Noncurrent versions or delete markers, which also keep a bucket from being empty.
    pub versions_or_markers: bool,
}

/// A successful read's value, as the backend hands it over.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadValue {
    CallerIdentity(CallerIdentity),
    RoleDetails(RoleDetails),
    Policies(Vec<NamedPolicy>),
    BucketPolicy(Option<NamedPolicy>),
    Versioning(Versioning),
    Contents(BucketContents),
}

/// Everything read for one resolution. The plan names at most one role, user
/// and bucket, so each read kind has one slot.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Facts {
    pub caller_identity: Outcome<CallerIdentity>,
    pub role_details: Outcome<RoleDetails>,
    pub role_inline_policies: Outcome<Vec<NamedPolicy>>,
    pub role_attached_policies: Outcome<Vec<NamedPolicy>>,
    pub user_policies: Outcome<Vec<NamedPolicy>>,
    pub bucket_policy: Outcome<Option<NamedPolicy>>,
    pub bucket_versioning: Outcome<Versioning>,
    pub bucket_contents: Outcome<BucketContents>,
}

impl Facts {
    /// Stores one read's result in its slot. A value of the wrong kind is a
    /// bug in the executor and is recorded as a failure, not trusted.
    pub fn record(&mut self, read: &Read, result: Result<ReadValue, String>) {
        let reason = match result {
            Ok(value) => match self.store(read, value) {
                Ok(()) => return,
                Err(kind) => format!("unexpected {kind} answer"),
            },
            Err(reason) => reason,
        };
        match read {
            Read::CallerIdentity => self.caller_identity = Outcome::Failed(reason),
            Read::RoleDetails { .. } => self.role_details = Outcome::Failed(reason),
            Read::RoleInlinePolicies { .. } => self.role_inline_policies = Outcome::Failed(reason),
            Read::RoleAttachedPolicies { .. } => {
                self.role_attached_policies = Outcome::Failed(reason)
            }
            Read::UserPolicies { .. } => self.user_policies = Outcome::Failed(reason),
            Read::BucketPolicy { .. } => self.bucket_policy = Outcome::Failed(reason),
            Read::BucketVersioning { .. } => self.bucket_versioning = Outcome::Failed(reason),
            Read::BucketHasObjects { .. } => self.bucket_contents = Outcome::Failed(reason),
        }
    }

    fn store(&mut self, read: &Read, value: ReadValue) -> Result<(), &'static str> {
        match (read, value) {
            (Read::CallerIdentity, ReadValue::CallerIdentity(v)) => {
                self.caller_identity = Outcome::Ok(v)
            }
            (Read::RoleDetails { .. }, ReadValue::RoleDetails(v)) => {
                self.role_details = Outcome::Ok(v)
            }
            (Read::RoleInlinePolicies { .. }, ReadValue::Policies(v)) => {
                self.role_inline_policies = Outcome::Ok(v)
            }
            (Read::RoleAttachedPolicies { .. }, ReadValue::Policies(v)) => {
                self.role_attached_policies = Outcome::Ok(v)
            }
            (Read::UserPolicies { .. }, ReadValue::Policies(v)) => {
                self.user_policies = Outcome::Ok(v)
            }
            (Read::BucketPolicy { .. }, ReadValue::BucketPolicy(v)) => {
                self.bucket_policy = Outcome::Ok(v)
            }
            (Read::BucketVersioning { .. }, ReadValue::Versioning(v)) => {
                self.bucket_versioning = Outcome::Ok(v)
            }
            (Read::BucketHasObjects { .. }, ReadValue::Contents(v)) => {
                self.bucket_contents = Outcome::Ok(v)
            }
            (_, value) => return Err(value.kind()),
        }
        Ok(())
    }

    /// Why a planned read gave nothing to go on, in plain words; `None` when it succeeded.
    pub fn gap(&self, read: &Read) -> Option<String> {
        let failure = match read {
            Read::CallerIdentity => failure(&self.caller_identity),
            Read::RoleDetails { .. } => failure(&self.role_details),
            Read::RoleInlinePolicies { .. } => failure(&self.role_inline_policies),
            Read::RoleAttachedPolicies { .. } => failure(&self.role_attached_policies),
            Read::UserPolicies { .. } => failure(&self.user_policies),
            Read::BucketPolicy { .. } => failure(&self.bucket_policy),
            Read::BucketVersioning { .. } => failure(&self.bucket_versioning),
            Read::BucketHasObjects { .. } => failure(&self.bucket_contents),
        }?;
        Some(match failure {
            Some(reason) => format!("Could not read {}: {reason}", read.describe()),
            None => format!("Did not read {}", read.describe()),
        })
    }
}

/// `None` for a success, `Some(None)` for a read not run, `Some(Some(reason))` for a failure.
fn failure<T>(outcome: &Outcome<T>) -> Option<Option<&str>> {
    match outcome {
        Outcome::Ok(_) => None,
        Outcome::Failed(reason) => Some(Some(reason)),
        Outcome::NotRun => Some(None),
    }
}

impl ReadValue {
    fn kind(&self) -> &'static str {
        match self {
            ReadValue::CallerIdentity(_) => "caller identity",
            ReadValue::RoleDetails(_) => "role",
            ReadValue::Policies(_) => "policy list",
            ReadValue::BucketPolicy(_) => "bucket policy",
            ReadValue::Versioning(_) => "versioning",
            ReadValue::Contents(_) => "bucket contents",
        }
    }
}
