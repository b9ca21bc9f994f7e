//! One validation record per file (`eval/records/<service>/<id>.toml`):
//! a templated console error, the account state it happened in, and the
//! ground truth an answer is scored against. Every table rejects unknown
//! fields and every record is checked at load, so a typo is an error that
//! names the file and the field, never a silently ignored expectation.

use consoledx_core::context::{DenyKind, PolicyType};
use consoledx_core::template::render;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// DESIGN.md's identifier keys (the knowledge base's list); `variables` may
/// use these only, so a record's identifiers are comparable with what
/// extraction reports.
pub use consoledx_core::knowledge::IDENTIFIER_KEYS;

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("{path}: cannot read: {reason}")]
    Read { path: PathBuf, reason: String },
    #[error("{path}: {reason}")]
    Parse { path: PathBuf, reason: String },
    #[error("{path}: field `{field}`: {reason}")]
    Invalid {
        path: PathBuf,
        field: String,
        reason: String,
    },
    #[error("{0}: no record files (*.toml) found")]
    Empty(PathBuf),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    /// Equal to the file name without `.toml`.
    pub id: String,
    /// Equal to the folder the file is in (`s3`, `iam`, ...).
    pub service: String,
    /// What the record exercises, in a few words.
    pub title: String,
    /// Set by `consoledx eval new`: the ground truth was pre-filled from
    /// consoledx's own answer and must be checked against AWS's documentation.
    #[serde(default)]
    pub review: bool,
    /// Part of the fast subset the baseline gate runs.
    #[serde(default)]
    pub fast: bool,
    /// The banner's text with `{{key}}` placeholders.
    pub message: String,
    /// The console page URL with `{{key}}` placeholders.
    pub url: String,
    /// The console's signed-in identity as its navigation shows it (`ROLE/SESSION`).
    pub role: String,
    /// The 12-digit account the console is signed in to.
    pub account: String,
    pub variables: BTreeMap<String, String>,
    #[serde(default)]
    pub state: Option<State>,
    /// SDK calls that put what a template cannot into the account (objects, ...), in order.
    #[serde(default)]
    pub setup: Vec<Call>,
    #[serde(default)]
    pub trigger: Option<Call>,
    pub expect: Expect,
}

/// The account state as a CloudFormation template (YAML or JSON), deployed
/// with CreateStack; `{{key}}` placeholders are rendered first.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    pub template: String,
}

/// One AWS API call: `service` as in the SDK (`s3`, `iam`), `operation` as
/// in the API reference (`DeleteBucket`), parameters by their API names.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Call {
    pub service: String,
    pub operation: String,
    #[serde(default)]
    pub params: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// The AWS error code, as the API returns it.
    pub code: Option<String>,
    /// The knowledge class (rule id) the error belongs to.
    pub class: Option<String>,
    #[serde(default)]
    pub access_denied: Option<ExpectedAccessDenied>,
    /// Phrases the analysis, cause or steps must state (case-insensitive; `{{key}}` allowed).
    #[serde(default)]
    pub facts: Vec<String>,
    #[serde(default)]
    pub steps: Vec<ExpectedStep>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedAccessDenied {
    pub deny: DenyKind,
    #[serde(default)]
    pub policy_type: Option<PolicyType>,
}

/// Where a step's change is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Place {
    IdentityPolicy,
    BucketPolicy,
    KeyPolicy,
    /// Another resource-based policy (Lambda, SQS, Secrets Manager, ...).
    ResourcePolicy,
    Scp,
    Rcp,
    PermissionsBoundary,
    SessionPolicy,
    VpcEndpointPolicy,
    TrustPolicy,
    /// Not a policy: an action on the resource itself (empty a bucket, stop an instance).
    Resource,
}

impl Place {
    pub fn is_policy(self) -> bool {
        self != Place::Resource
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Place::IdentityPolicy => "identity_policy",
            Place::BucketPolicy => "bucket_policy",
            Place::KeyPolicy => "key_policy",
            Place::ResourcePolicy => "resource_policy",
            Place::Scp => "scp",
            Place::Rcp => "rcp",
            Place::PermissionsBoundary => "permissions_boundary",
            Place::SessionPolicy => "session_policy",
            Place::VpcEndpointPolicy => "vpc_endpoint_policy",
            Place::TrustPolicy => "trust_policy",
            Place::Resource => "resource",
        }
    }
}

/// A step the answer must contain, as facts rather than wording.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedStep {
    /// The IAM action to allow, or for a `resource` step the API action to perform (`s3:DeleteObject`).
    pub action: String,
    /// Other ways a step may name the action (`aws s3 rm`, `Empty`), for steps that are not policy changes.
    #[serde(default)]
    pub action_also: Vec<String>,
    /// The resource the action is on (ARN or name; `{{key}}` allowed).
    pub resource: String,
    #[serde(rename = "where")]
    pub place: Place,
    /// What carries the changed policy (the role, bucket, key...), when it matters.
    #[serde(default)]
    pub on: Option<String>,
}

/// A record with its placeholders filled in.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub message: String,
    pub url: String,
    pub template: Option<String>,
    pub setup: Vec<Call>,
    pub trigger: Option<Call>,
    pub facts: Vec<String>,
    pub steps: Vec<ExpectedStep>,
}

impl Record {
    /// The region the console page is in (for SDK calls), `us-east-1` when none is named.
    pub fn region(&self) -> &str {
        self.variables
            .get("aws_region")
            .map(String::as_str)
            .unwrap_or("us-east-1")
    }

    /// The role's name (the part before `/SESSION`).
    pub fn role_name(&self) -> &str {
        self.role.split('/').next().unwrap_or(&self.role)
    }

    pub fn rendered(&self) -> Result<Rendered, String> {
        let vars = &self.variables;
        let text = |field: &str, value: &str| {
            render(value, vars).map_err(|err| format!("field `{field}`: {err}"))
        };
        let call = |field: &str, call: &Call| -> Result<Call, String> {
            let mut params = BTreeMap::new();
            for (name, value) in &call.params {
                params.insert(
                    name.clone(),
                    text(&format!("{field}.params.{name}"), value)?,
                );
            }
            Ok(Call {
                service: call.service.clone(),
                operation: call.operation.clone(),
                params,
            })
        };
        let mut steps = Vec::with_capacity(self.expect.steps.len());
        for (index, step) in self.expect.steps.iter().enumerate() {
            let field = format!("expect.steps[{index}]");
            steps.push(ExpectedStep {
                action: text(&format!("{field}.action"), &step.action)?,
                action_also: step
                    .action_also
                    .iter()
                    .map(|also| text(&format!("{field}.action_also"), also))
                    .collect::<Result<_, _>>()?,
                resource: text(&format!("{field}.resource"), &step.resource)?,
                place: step.place,
                on: step
                    .on
                    .as_deref()
                    .map(|on| text(&format!("{field}.on"), on))
                    .transpose()?,
            });
        }
        Ok(Rendered {
            message: text("message", &self.message)?,
            url: text("url", &self.url)?,
            template: self
                .state
                .as_ref()
                .map(|state| text("state.template", &state.template))
                .transpose()?,
            setup: self
                .setup
                .iter()
                .enumerate()
                .map(|(i, c)| call(&format!("setup[{i}]"), c))
                .collect::<Result<_, _>>()?,
            trigger: self
                .trigger
                .as_ref()
                .map(|c| call("trigger", c))
                .transpose()?,
            facts: self
                .expect
                .facts
                .iter()
                .map(|fact| text("expect.facts", fact))
                .collect::<Result<_, _>>()?,
            steps,
        })
    }

    /// Everything load checks beyond the schema. `path` is only for messages.
    pub fn validate(&self, path: &Path) -> Result<(), RecordError> {
        let invalid = |field: &str, reason: String| RecordError::Invalid {
            path: path.to_path_buf(),
            field: field.to_string(),
            reason,
        };
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        if self.id != stem {
            return Err(invalid(
                "id",
                format!("`{}` must equal the file name `{stem}`", self.id),
            ));
        }
        if !self
            .id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            || self.id.is_empty()
        {
            return Err(invalid(
                "id",
                "use lowercase letters, digits and `-` only".to_string(),
            ));
        }
        let folder = path
            .parent()
            .and_then(|p| p.file_name())
            .and_then(|s| s.to_str())
            .unwrap_or("");
        if self.service != folder {
            return Err(invalid(
                "service",
                format!("`{}` must equal the folder name `{folder}`", self.service),
            ));
        }
        if self.title.trim().is_empty() {
            return Err(invalid("title", "is empty".to_string()));
        }
        if self.message.trim().is_empty() {
            return Err(invalid("message", "is empty".to_string()));
        }
        if !self.url.starts_with("https://") {
            return Err(invalid(
                "url",
                "must be an https:// console URL".to_string(),
            ));
        }
        let (role_name, session) = self.role.split_once('/').unwrap_or((&self.role, ""));
        if role_name.is_empty() || session.is_empty() || session.contains('/') {
            return Err(invalid(
                "role",
                format!(
                    "`{}` must be ROLE/SESSION as the console shows it",
                    self.role
                ),
            ));
        }
        if self.account.len() != 12 || !self.account.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid(
                "account",
                format!("`{}` must be 12 digits", self.account),
            ));
        }
        for (key, value) in &self.variables {
            if !IDENTIFIER_KEYS.contains(&key.as_str()) {
                return Err(invalid(
                    &format!("variables.{key}"),
                    "is not one of DESIGN.md's identifier keys".to_string(),
                ));
            }
            if value.trim().is_empty() || value.contains("{{") {
                return Err(invalid(
                    &format!("variables.{key}"),
                    "must be a non-empty literal value".to_string(),
                ));
            }
        }
        if let Some(account) = self.variables.get("aws_account_id")
            && account != &self.account
        {
            return Err(invalid(
                "variables.aws_account_id",
                format!("`{account}` differs from account `{}`", self.account),
            ));
        }
        for (field, call) in self
            .setup
            .iter()
            .enumerate()
            .map(|(i, c)| (format!("setup[{i}]"), c))
            .chain(self.trigger.iter().map(|c| ("trigger".to_string(), c)))
        {
            if call.service.is_empty()
                || !call
                    .service
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            {
                return Err(invalid(
                    &format!("{field}.service"),
                    format!("`{}` must be an SDK service name like s3", call.service),
                ));
            }
            if !call.operation.starts_with(|c: char| c.is_ascii_uppercase()) {
                return Err(invalid(
                    &format!("{field}.operation"),
                    format!(
                        "`{}` must be an API operation like DeleteBucket",
                        call.operation
                    ),
                ));
            }
        }
        if let Some(state) = &self.state
            && state.template.trim().is_empty()
        {
            return Err(invalid("state.template", "is empty".to_string()));
        }
        if let Some(class) = &self.expect.class
            && !class.starts_with(&format!("{}.", class.split('.').next().unwrap_or("")))
        {
            return Err(invalid(
                "expect.class",
                format!("`{class}` must be a rule id like s3.bucket_not_empty"),
            ));
        }
        if self.expect.facts.iter().any(|f| f.trim().is_empty()) {
            return Err(invalid("expect.facts", "holds an empty fact".to_string()));
        }
        for (index, step) in self.expect.steps.iter().enumerate() {
            if step.action.trim().is_empty() || step.resource.trim().is_empty() {
                return Err(invalid(
                    &format!("expect.steps[{index}]"),
                    "action and resource must be non-empty".to_string(),
                ));
            }
            if step.place.is_policy() && !is_iam_action(&step.action) {
                return Err(invalid(
                    &format!("expect.steps[{index}].action"),
                    format!(
                        "`{}` must be an IAM action like s3:ListBucket for a policy step",
                        step.action
                    ),
                ));
            }
        }
        self.rendered()
            .map_err(|reason| {
                let (field, reason) = reason
                    .strip_prefix("field `")
                    .and_then(|rest| rest.split_once("`: "))
                    .map(|(f, r)| (f.to_string(), r.to_string()))
                    .unwrap_or(("variables".to_string(), reason.clone()));
                invalid(&field, reason)
            })
            .map(|_| ())
    }
}

/// `service:Action`, the action possibly with `*`.
pub fn is_iam_action(text: &str) -> bool {
    match text.split_once(':') {
        Some((service, action)) => {
            !service.is_empty()
                && service
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !action.is_empty()
                && action
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'*')
        }
        None => false,
    }
}

/// Parses and validates one record file.
pub fn load_record(path: &Path) -> Result<Record, RecordError> {
    let text = std::fs::read_to_string(path).map_err(|err| RecordError::Read {
        path: path.to_path_buf(),
        reason: err.to_string(),
    })?;
    let record: Record = toml::from_str(&text).map_err(|err| RecordError::Parse {
        path: path.to_path_buf(),
        reason: err.to_string().trim().replace('\n', " "),
    })?;
    record.validate(path)?;
    Ok(record)
}

/// Every `*.toml` under `dir` (one level of service folders, or `dir`
/// itself a service folder), sorted by path; ids must be unique.
pub fn load_dir(dir: &Path) -> Result<Vec<Record>, RecordError> {
    let mut files = Vec::new();
    collect_toml(dir, 0, &mut files)?;
    files.sort();
    if files.is_empty() {
        return Err(RecordError::Empty(dir.to_path_buf()));
    }
    let mut records: Vec<Record> = Vec::with_capacity(files.len());
    for path in files {
        let record = load_record(&path)?;
        if records.iter().any(|r| r.id == record.id) {
            return Err(RecordError::Invalid {
                path,
                field: "id".to_string(),
                reason: format!("`{}` is used by another record", record.id),
            });
        }
        records.push(record);
    }
    Ok(records)
}

fn collect_toml(dir: &Path, depth: usize, files: &mut Vec<PathBuf>) -> Result<(), RecordError> {
    let entries = std::fs::read_dir(dir).map_err(|err| RecordError::Read {
        path: dir.to_path_buf(),
        reason: err.to_string(),
    })?;
    for entry in entries {
        let entry = entry.map_err(|err| RecordError::Read {
            path: dir.to_path_buf(),
            reason: err.to_string(),
        })?;
        let path = entry.path();
        if path.is_dir() && depth < 2 {
            collect_toml(&path, depth + 1, files)?;
        } else if path.extension().and_then(|e| e.to_str()) == Some("toml") {
            files.push(path);
        }
    }
    Ok(())
}
