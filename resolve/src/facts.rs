//! What "Help me resolve" reads from the account (`Read`), and what came back (`Facts`).

use consoledx_policy::{NamedPolicy, OrgLevel};
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
    /// `s3:GetBucketPublicAccessBlock`: the bucket's Block Public Access settings.
    BucketPublicAccessBlock { bucket: String },
    /// `s3:GetAccountPublicAccessBlock` (S3 Control): the account's Block Public Access settings.
    AccountPublicAccessBlock { account: String },
    /// `s3:GetBucketOwnershipControls`: the bucket's Object Ownership setting.
    BucketOwnershipControls { bucket: String },
    /// `ec2:DescribeInstances` for one instance.
    Instance { instance_id: String },
    /// `ec2:DescribeImages` for one AMI.
    Image { image_id: String },
    /// `ec2:DescribeSubnets` for one subnet (its VPC and zone).
    Subnet { subnet_id: String },
    /// `ec2:DescribeSecurityGroups` for the named groups (their VPCs).
    SecurityGroups { group_ids: Vec<String> },
    /// `ec2:DescribeSecurityGroups` filtered by VPC: the groups a launch into that VPC may use.
    VpcSecurityGroups { vpc_id: String },
    /// `lambda:GetFunctionConfiguration`: execution role, KMS key, state.
    LambdaFunction { function: String },
    /// Inline and attached policies of a role that is not the signed-in principal
    /// (a Lambda function's execution role).
    ExecutionRolePolicies { role: String },
    /// `kms:GetKeyPolicy` (policy `default`).
    KeyPolicy { key: String },
    /// `kms:DescribeKey`: key state and ARN.
    KeyState { key: String },
    /// `cloudformation:DescribeStacks` for one stack.
    Stack { stack: String },
    /// `cloudformation:DescribeStackEvents`: the failed events, newest first.
    StackEvents { stack: String },
    /// Organizations: the service control policies on every level from the root to the account.
    ServiceControlPolicies { account: String },
    /// Cloud Control `GetResource` for a type moto and the typed reads do not cover.
    CloudControlResource {
        type_name: String,
        identifier: String,
    },
    /// Cloud Control `ListResources`: the identifiers of that type, when the named one does not exist.
    CloudControlList { type_name: String },
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
            Read::BucketPublicAccessBlock { bucket } => {
                format!("the Block Public Access settings of bucket {bucket}")
            }
            Read::AccountPublicAccessBlock { account } => {
                format!("the Block Public Access settings of account {account}")
            }
            Read::BucketOwnershipControls { bucket } => {
                format!("the Object Ownership setting of bucket {bucket}")
            }
            Read::Instance { instance_id } => format!("instance {instance_id}"),
            Read::Image { image_id } => format!("AMI {image_id}"),
            Read::Subnet { subnet_id } => format!("subnet {subnet_id}"),
            Read::SecurityGroups { group_ids } => {
                format!("security group(s) {}", group_ids.join(", "))
            }
            Read::VpcSecurityGroups { vpc_id } => format!("the security groups of {vpc_id}"),
            Read::LambdaFunction { function } => {
                format!("the configuration of Lambda function {function}")
            }
            Read::ExecutionRolePolicies { role } => format!("the policies of role {role}"),
            Read::KeyPolicy { key } => format!("the key policy of KMS key {key}"),
            Read::KeyState { key } => format!("the state of KMS key {key}"),
            Read::Stack { stack } => format!("the status of stack {stack}"),
            Read::StackEvents { stack } => format!("the events of stack {stack}"),
            Read::ServiceControlPolicies { account } => {
                format!("the service control policies that apply to account {account}")
            }
            Read::CloudControlResource {
                type_name,
                identifier,
            } => format!("{type_name} {identifier} (Cloud Control)"),
            Read::CloudControlList { type_name } => {
                format!("the {type_name} resources (Cloud Control)")
            }
        }
    }
}

/// The outcome of one read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome<T> {
    Ok(T),
    Failed(String),
    /// Not sent: the signed-in principal may not make this call. Holds the
    /// whole "Not checked: …" sentence naming the action and resource.
    Skipped(String),
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

    /// Whether the read ran, was refused or was skipped: anything but "not yet".
    pub fn settled(&self) -> bool {
        !matches!(self, Outcome::NotRun)
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

/// S3 Block Public Access, at bucket or account level. A level without a
/// configuration blocks nothing (every setting false).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PublicAccessBlock {
    /// Rejects requests that set a public ACL (PutBucketAcl, PutObjectAcl, PutObject with an ACL).
    pub block_public_acls: bool,
    /// Ignores public ACLs already in place.
    pub ignore_public_acls: bool,
    /// Rejects PutBucketPolicy with a policy that grants public access.
    pub block_public_policy: bool,
    /// Limits a public bucket policy to AWS service principals and the bucket owner's account.
    pub restrict_public_buckets: bool,
}

impl PublicAccessBlock {
    /// The four settings as the CLI's `--public-access-block-configuration` writes them.
    pub fn cli_value(&self) -> String {
        format!(
            "BlockPublicAcls={},IgnorePublicAcls={},BlockPublicPolicy={},RestrictPublicBuckets={}",
            self.block_public_acls,
            self.ignore_public_acls,
            self.block_public_policy,
            self.restrict_public_buckets
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Instance {
    pub instance_id: String,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub instance_type: Option<String>,
    #[serde(default)]
    pub image_id: Option<String>,
    #[serde(default)]
    pub subnet_id: Option<String>,
    #[serde(default)]
    pub vpc_id: Option<String>,
    #[serde(default)]
    pub security_group_ids: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Image {
    pub image_id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub owner_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subnet {
    pub subnet_id: String,
    pub vpc_id: String,
    #[serde(default)]
    pub availability_zone: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecurityGroup {
    pub group_id: String,
    pub vpc_id: String,
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LambdaFunction {
    pub function_arn: String,
    /// The execution role's ARN.
    pub role: String,
    /// The customer managed key that encrypts the environment; `None` means Lambda's AWS managed key.
    #[serde(default)]
    pub kms_key_arn: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyState {
    pub arn: String,
    /// `Enabled`, `Disabled`, `PendingDeletion`, ...
    pub state: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stack {
    pub stack_id: String,
    pub status: String,
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StackEvent {
    pub logical_id: String,
    #[serde(default)]
    pub resource_type: Option<String>,
    pub status: String,
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloudResource {
    pub type_name: String,
    pub identifier: String,
    /// The resource's properties as Cloud Control returns them; `None`: no such resource.
    #[serde(default)]
    pub properties: Option<serde_json::Value>,
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
    Instance(Instance),
    Image(Image),
    Subnet(Subnet),
    SecurityGroups(Vec<SecurityGroup>),
    LambdaFunction(LambdaFunction),
    KeyPolicy(NamedPolicy),
    KeyState(KeyState),
    Stack(Stack),
    StackEvents(Vec<StackEvent>),
    /// SCPs per level, root first (empty when the account is in no organization).
    OrgLevels(Vec<OrgLevel>),
    /// Block Public Access settings; `None`: no configuration at that level.
    PublicAccessBlock(Option<PublicAccessBlock>),
    /// Object Ownership (`BucketOwnerEnforced`, `BucketOwnerPreferred`,
    /// `ObjectWriter`); `None`: the bucket has no ownership controls.
    ObjectOwnership(Option<String>),
    CloudResource(CloudResource),
    Identifiers(Vec<String>),
}

/// Everything read for one resolution. A plan names at most one resource of
/// each kind, so each read kind has one slot.
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
    pub bucket_public_access_block: Outcome<Option<PublicAccessBlock>>,
    pub account_public_access_block: Outcome<Option<PublicAccessBlock>>,
    pub bucket_ownership_controls: Outcome<Option<String>>,
    pub instance: Outcome<Instance>,
    pub image: Outcome<Image>,
    pub subnet: Outcome<Subnet>,
    pub security_groups: Outcome<Vec<SecurityGroup>>,
    pub vpc_security_groups: Outcome<Vec<SecurityGroup>>,
    pub lambda_function: Outcome<LambdaFunction>,
    pub execution_role_policies: Outcome<Vec<NamedPolicy>>,
    pub key_policy: Outcome<NamedPolicy>,
    pub key_state: Outcome<KeyState>,
    pub stack: Outcome<Stack>,
    pub stack_events: Outcome<Vec<StackEvent>>,
    pub service_control_policies: Outcome<Vec<OrgLevel>>,
    pub cloud_resource: Outcome<CloudResource>,
    pub cloud_resources: Outcome<Vec<String>>,
    /// Session policies of the signed-in session, given as input: AWS offers
    /// no call that reads them back, yet they cap every call of the session.
    pub session_policies: Vec<NamedPolicy>,
}

/// Runs `$body` with `$slot` bound to the slot of `$read` (each arm is typed on its own).
macro_rules! with_slot {
    ([$($borrow:tt)*] $facts:expr, $read:expr, |$slot:ident| $body:expr) => {
        match $read {
            Read::CallerIdentity => { let $slot = $($borrow)* $facts.caller_identity; $body }
            Read::RoleDetails { .. } => { let $slot = $($borrow)* $facts.role_details; $body }
            Read::RoleInlinePolicies { .. } => { let $slot = $($borrow)* $facts.role_inline_policies; $body }
            Read::RoleAttachedPolicies { .. } => { let $slot = $($borrow)* $facts.role_attached_policies; $body }
            Read::UserPolicies { .. } => { let $slot = $($borrow)* $facts.user_policies; $body }
            Read::BucketPolicy { .. } => { let $slot = $($borrow)* $facts.bucket_policy; $body }
            Read::BucketVersioning { .. } => { let $slot = $($borrow)* $facts.bucket_versioning; $body }
            Read::BucketHasObjects { .. } => { let $slot = $($borrow)* $facts.bucket_contents; $body }
            Read::BucketPublicAccessBlock { .. } => { let $slot = $($borrow)* $facts.bucket_public_access_block; $body }
            Read::AccountPublicAccessBlock { .. } => { let $slot = $($borrow)* $facts.account_public_access_block; $body }
            Read::BucketOwnershipControls { .. } => { let $slot = $($borrow)* $facts.bucket_ownership_controls; $body }
            Read::Instance { .. } => { let $slot = $($borrow)* $facts.instance; $body }
            Read::Image { .. } => { let $slot = $($borrow)* $facts.image; $body }
            Read::Subnet { .. } => { let $slot = $($borrow)* $facts.subnet; $body }
            Read::SecurityGroups { .. } => { let $slot = $($borrow)* $facts.security_groups; $body }
            Read::VpcSecurityGroups { .. } => { let $slot = $($borrow)* $facts.vpc_security_groups; $body }
            Read::LambdaFunction { .. } => { let $slot = $($borrow)* $facts.lambda_function; $body }
            Read::ExecutionRolePolicies { .. } => { let $slot = $($borrow)* $facts.execution_role_policies; $body }
            Read::KeyPolicy { .. } => { let $slot = $($borrow)* $facts.key_policy; $body }
            Read::KeyState { .. } => { let $slot = $($borrow)* $facts.key_state; $body }
            Read::Stack { .. } => { let $slot = $($borrow)* $facts.stack; $body }
            Read::StackEvents { .. } => { let $slot = $($borrow)* $facts.stack_events; $body }
            Read::ServiceControlPolicies { .. } => { let $slot = $($borrow)* $facts.service_control_policies; $body }
            Read::CloudControlResource { .. } => { let $slot = $($borrow)* $facts.cloud_resource; $body }
            Read::CloudControlList { .. } => { let $slot = $($borrow)* $facts.cloud_resources; $body }
        }
    };
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
        with_slot!([&mut] self, read, |slot| *slot = Outcome::Failed(reason))
    }

    /// Records that `read` was not sent, with the sentence that says why.
    pub fn skip(&mut self, read: &Read, sentence: String) {
        with_slot!([&mut] self, read, |slot| *slot = Outcome::Skipped(sentence))
    }

    /// Whether `read` has an outcome already (so it is not sent again).
    pub fn settled(&self, read: &Read) -> bool {
        with_slot!([&] self, read, |slot| slot.settled())
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
            (Read::BucketPublicAccessBlock { .. }, ReadValue::PublicAccessBlock(v)) => {
                self.bucket_public_access_block = Outcome::Ok(v)
            }
            (Read::AccountPublicAccessBlock { .. }, ReadValue::PublicAccessBlock(v)) => {
                self.account_public_access_block = Outcome::Ok(v)
            }
            (Read::BucketOwnershipControls { .. }, ReadValue::ObjectOwnership(v)) => {
                self.bucket_ownership_controls = Outcome::Ok(v)
            }
            (Read::Instance { .. }, ReadValue::Instance(v)) => self.instance = Outcome::Ok(v),
            (Read::Image { .. }, ReadValue::Image(v)) => self.image = Outcome::Ok(v),
            (Read::Subnet { .. }, ReadValue::Subnet(v)) => self.subnet = Outcome::Ok(v),
            (Read::SecurityGroups { .. }, ReadValue::SecurityGroups(v)) => {
                self.security_groups = Outcome::Ok(v)
            }
            (Read::VpcSecurityGroups { .. }, ReadValue::SecurityGroups(v)) => {
                self.vpc_security_groups = Outcome::Ok(v)
            }
            (Read::LambdaFunction { .. }, ReadValue::LambdaFunction(v)) => {
                self.lambda_function = Outcome::Ok(v)
            }
            (Read::ExecutionRolePolicies { .. }, ReadValue::Policies(v)) => {
                self.execution_role_policies = Outcome::Ok(v)
            }
            (Read::KeyPolicy { .. }, ReadValue::KeyPolicy(v)) => self.key_policy = Outcome::Ok(v),
            (Read::KeyState { .. }, ReadValue::KeyState(v)) => self.key_state = Outcome::Ok(v),
            (Read::Stack { .. }, ReadValue::Stack(v)) => self.stack = Outcome::Ok(v),
            (Read::StackEvents { .. }, ReadValue::StackEvents(v)) => {
                self.stack_events = Outcome::Ok(v)
            }
            (Read::ServiceControlPolicies { .. }, ReadValue::OrgLevels(v)) => {
                self.service_control_policies = Outcome::Ok(v)
            }
            (Read::CloudControlResource { .. }, ReadValue::CloudResource(v)) => {
                self.cloud_resource = Outcome::Ok(v)
            }
            (Read::CloudControlList { .. }, ReadValue::Identifiers(v)) => {
                self.cloud_resources = Outcome::Ok(v)
            }
            (_, value) => return Err(value.kind()),
        }
        Ok(())
    }

    /// Why a planned read gave nothing to go on, in plain words; `None` when it succeeded.
    pub fn gap(&self, read: &Read) -> Option<String> {
        match slot_status(self, read)? {
            Status::Failed(reason) => Some(format!("Could not read {}: {reason}", read.describe())),
            Status::Skipped(sentence) => Some(sentence),
            Status::NotRun => Some(format!("Did not read {}", read.describe())),
        }
    }
}

enum Status {
    Failed(String),
    Skipped(String),
    NotRun,
}

fn status<T>(outcome: &Outcome<T>) -> Option<Status> {
    match outcome {
        Outcome::Ok(_) => None,
        Outcome::Failed(reason) => Some(Status::Failed(reason.clone())),
        Outcome::Skipped(sentence) => Some(Status::Skipped(sentence.clone())),
        Outcome::NotRun => Some(Status::NotRun),
    }
}

/// The status of `read`'s slot; `None` for a success.
fn slot_status(facts: &Facts, read: &Read) -> Option<Status> {
    with_slot!([&] facts, read, |slot| status(slot))
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
            ReadValue::Instance(_) => "instance",
            ReadValue::Image(_) => "image",
            ReadValue::Subnet(_) => "subnet",
            ReadValue::SecurityGroups(_) => "security group list",
            ReadValue::LambdaFunction(_) => "Lambda function",
            ReadValue::KeyPolicy(_) => "key policy",
            ReadValue::KeyState(_) => "key state",
            ReadValue::Stack(_) => "stack",
            ReadValue::StackEvents(_) => "stack event list",
            ReadValue::OrgLevels(_) => "organization policy list",
            ReadValue::PublicAccessBlock(_) => "Block Public Access",
            ReadValue::ObjectOwnership(_) => "Object Ownership",
            ReadValue::CloudResource(_) => "Cloud Control resource",
            ReadValue::Identifiers(_) => "identifier list",
        }
    }
}
