//! Every fixed phrase the extractors look for, found in one pass.
//!
//! Some eighty phrases searched one by one cost more than everything else
//! together (each substring search sets up its own searcher). All of them
//! begin a word, so one walk over the word starts of the lowercased message,
//! checking only the phrases that begin with that byte, finds them all,
//! overlapping ones included.

use super::found::keys;
use crate::context::PolicyType;
use std::sync::LazyLock;

/// What a phrase tells the extractor that looks for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cue {
    /// `creating IAM Role (name)`: a name up to the closing byte.
    Named { key: &'static str, close: u8 },
    /// `Role with name X`: a bare name, confirmed by what follows if non-empty.
    NameAfter {
        key: &'static str,
        confirm: &'static str,
    },
    /// `bucket 'name'`: a quoted name.
    Quoted { key: &'static str },
    /// `delete bucket my-bucket-123456.`: an unquoted bucket name.
    BareBucket,
    /// `key 1234abcd-…`, `alias/name`: a KMS key id or alias without its ARN.
    KmsKey,
    /// `alias/name`: a KMS alias, whose value keeps the `alias/` prefix.
    KmsAlias,
    /// `(Service: AmazonS3;`, `operation error S3:`: an SDK's service name.
    ServiceHint,
    /// A form that states the error code; lower rank is more explicit.
    /// Matched case-sensitively against the original text.
    CodeMarker { rank: u8 },
    /// `"code"` as a JSON key.
    JsonCode,
    /// A wording that implies a code (if `also` occurs in the message too);
    /// lower rank wins.
    ImpliedCode {
        code: &'static str,
        rank: u8,
        also: &'static str,
    },
    /// A wording only authorization failures use.
    Denial,
    /// The denial was explicit.
    Explicit,
    /// The reason clause names a policy type.
    Policy(PolicyType),
    /// `Encoded authorization failure message:`.
    Encoded,
}

const fn named(phrase: &'static str, key: &'static str, close: u8) -> (&'static str, Cue) {
    (phrase, Cue::Named { key, close })
}

const fn after(
    phrase: &'static str,
    key: &'static str,
    confirm: &'static str,
) -> (&'static str, Cue) {
    (phrase, Cue::NameAfter { key, confirm })
}

const fn quoted(phrase: &'static str, key: &'static str) -> (&'static str, Cue) {
    (phrase, Cue::Quoted { key })
}

const fn implied(phrase: &'static str, code: &'static str, rank: u8) -> (&'static str, Cue) {
    implied_with(phrase, code, rank, "")
}

const fn implied_with(
    phrase: &'static str,
    code: &'static str,
    rank: u8,
    also: &'static str,
) -> (&'static str, Cue) {
    (phrase, Cue::ImpliedCode { code, rank, also })
}

const fn marker(phrase: &'static str, rank: u8) -> (&'static str, Cue) {
    (phrase, Cue::CodeMarker { rank })
}

const fn policy(phrase: &'static str, policy_type: PolicyType) -> (&'static str, Cue) {
    (phrase, Cue::Policy(policy_type))
}

#[rustfmt::skip]
const TABLE: &[(&str, Cue)] = &[
    // Resource types as tools (Terraform, CDK) name them before `(name)`, and
    // CloudFormation's `Stack [name]`.
    named("s3 bucket (", keys::BUCKET, b')'),
    named("iam role (", keys::ROLE, b')'),
    named("iam user (", keys::USER, b')'),
    named("lambda function (", keys::FUNCTION, b')'),
    named("dynamodb table (", keys::TABLE, b')'),
    named("db instance (", keys::DB_INSTANCE, b')'),
    named("kms key (", keys::KMS_KEY, b')'),
    named("log group (", keys::LOG_GROUP, b')'),
    named("cloudformation stack (", keys::STACK, b')'),
    named("ecs cluster (", keys::ECS_CLUSTER, b')'),
    named("ec2 instance (", keys::INSTANCE, b')'),
    named("vpc (", keys::VPC, b')'),
    named("subnet (", keys::SUBNET, b')'),
    named("security group (", keys::SECURITY_GROUP, b')'),
    named("stack [", keys::STACK, b']'),
    // Bare names after IAM's and the services' phrasings.
    after("role with name ", keys::ROLE, ""),
    after("user with name ", keys::USER, ""),
    after("on resource: role ", keys::ROLE, ""),
    after("on resource: user ", keys::USER, ""),
    after("stack with id ", keys::STACK, ""),
    after("stack named ", keys::STACK, ""),
    after("table: ", keys::TABLE, " not found"),
    after("dbinstance ", keys::DB_INSTANCE, " not found"),
    // Quoted names.
    quoted("bucket ", keys::BUCKET),
    quoted("bucket named ", keys::BUCKET),
    quoted("log group ", keys::LOG_GROUP),
    quoted("stack ", keys::STACK),
    quoted("table ", keys::TABLE),
    quoted("function ", keys::FUNCTION),
    quoted("role ", keys::ROLE),
    quoted("user ", keys::USER),
    ("bucket ", Cue::BareBucket),
    ("key ", Cue::KmsKey),
    ("key id ", Cue::KmsKey),
    ("key id: ", Cue::KmsKey),
    ("keyid: ", Cue::KmsKey),
    ("keyid=", Cue::KmsKey),
    ("alias/", Cue::KmsAlias),
    ("(Service: ", Cue::ServiceHint),
    ("operation error ", Cue::ServiceHint),
    // Error codes, most explicit form first (rank 2 is the JSON form).
    marker("An error occurred (", 0),
    marker("<Code>", 1),
    ("\"code\"", Cue::JsonCode),
    marker("HandlerErrorCode: ", 3),
    marker("Error Code: ", 4),
    marker("ErrorCode: ", 5),
    marker("api error ", 6),
    // Console and service wordings that carry no code, by family.
    implied("you are not authorized to perform this operation", "UnauthorizedOperation", 0),
    implied("not authorized to perform", "AccessDenied", 1),
    implied("insufficient permissions", "AccessDenied", 2),
    implied("access denied", "AccessDenied", 3),
    implied("don't have permission", "AccessDenied", 4),
    implied("do not have permission", "AccessDenied", 5),
    implied("you already own it", "BucketAlreadyOwnedByYou", 6),
    implied("bucket name already exists", "BucketAlreadyExists", 7),
    implied("requested bucket name is not available", "BucketAlreadyExists", 8),
    implied("bucket with the same name already exists", "BucketAlreadyExists", 9),
    implied("bucket is not empty", "BucketNotEmpty", 10),
    implied("bucket you tried to delete is not empty", "BucketNotEmpty", 11),
    implied("the specified bucket does not exist", "NoSuchBucket", 12),
    implied("the specified key does not exist", "NoSuchKey", 13),
    implied("security token included in the request is expired", "ExpiredToken", 14),
    implied("requested resource not found", "ResourceNotFoundException", 15),
    implied_with("is not empty", "BucketNotEmpty", 16, "bucket"),
    // Authorization failures (IAM User Guide, "Troubleshoot access denied error messages").
    ("not authorized to perform", Cue::Denial),
    ("is not authorized to", Cue::Denial),
    ("insufficient permission", Cue::Denial),
    ("does not have permission", Cue::Denial),
    ("do not have permission", Cue::Denial),
    ("don't have permission", Cue::Denial),
    ("access denied", Cue::Denial),
    ("explicit deny", Cue::Denial),
    ("explicitly denied", Cue::Denial),
    ("policy allows the", Cue::Denial),
    ("explicit deny", Cue::Explicit),
    ("explicitly denied", Cue::Explicit),
    // Stems, so that "policy"/"policies" and "boundary"/"boundaries" both match.
    policy("identity-based polic", PolicyType::Identity),
    policy("resource-based polic", PolicyType::Resource),
    policy("service control polic", PolicyType::Scp),
    policy("resource control polic", PolicyType::Rcp),
    policy("permissions boundar", PolicyType::PermissionsBoundary),
    policy("permission boundar", PolicyType::PermissionsBoundary),
    policy("session polic", PolicyType::Session),
    policy("vpc endpoint polic", PolicyType::VpcEndpoint),
    policy("trust polic", PolicyType::Trust),
    ("encoded authorization failure message:", Cue::Encoded),
];

struct Index {
    /// Lowercased phrases, in table order.
    lowered: Vec<String>,
    /// Table indices by the first byte of the lowercased phrase.
    by_first_byte: Vec<Vec<u16>>,
}

static INDEX: LazyLock<Index> = LazyLock::new(|| {
    let lowered: Vec<String> = TABLE
        .iter()
        .map(|(phrase, _)| phrase.to_ascii_lowercase())
        .collect();
    let mut by_first_byte = vec![Vec::new(); 256];
    for (index, phrase) in lowered.iter().enumerate() {
        if let (Some(first), Ok(index)) = (phrase.bytes().next(), u16::try_from(index)) {
            by_first_byte[usize::from(first)].push(index);
        }
    }
    Index {
        lowered,
        by_first_byte,
    }
});

/// One phrase found: where it starts and ends in the message, and its cue.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Hit {
    pub at: usize,
    pub end: usize,
    pub cue: Cue,
    /// The phrase as the table writes it (case matters for code markers).
    pub phrase: &'static str,
}

/// All phrases that begin a word of `lower` (the ASCII-lowercased message).
pub(crate) fn scan(lower: &str) -> Vec<Hit> {
    let index = &*INDEX;
    let bytes = lower.as_bytes();
    let mut hits = Vec::new();
    for at in 0..bytes.len() {
        if at > 0 && bytes[at - 1].is_ascii_alphanumeric() {
            continue;
        }
        for &entry in &index.by_first_byte[usize::from(bytes[at])] {
            let entry = usize::from(entry);
            let phrase = index.lowered[entry].as_bytes();
            // Second byte first: most candidates fail there, cheaper than a memcmp call.
            if bytes.get(at + 1) == phrase.get(1) && bytes[at..].starts_with(phrase) {
                let (original, cue) = TABLE[entry];
                hits.push(Hit {
                    at,
                    end: at + phrase.len(),
                    cue,
                    phrase: original,
                });
            }
        }
    }
    hits
}
