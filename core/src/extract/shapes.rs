//! Validators for the shapes AWS identifiers take. Hand-written rather than
//! regexes: they run on every token of every message, and the workspace's
//! regex build has no DFA engines.

use super::found::keys;

/// EC2-style id prefixes and the identifier key each one names.
pub(crate) const EC2_ID_KINDS: [(&str, &str); 5] = [
    ("i", keys::INSTANCE),
    ("vpc", keys::VPC),
    ("subnet", keys::SUBNET),
    ("sg", keys::SECURITY_GROUP),
    ("ami", keys::AMI),
];

/// The key of a well-formed EC2-style id (`i-…`, `vpc-…`, `subnet-…`, `sg-…`, `ami-…`).
pub(crate) fn ec2_id_key(text: &str) -> Option<&'static str> {
    EC2_ID_KINDS
        .iter()
        .find(|(prefix, _)| is_ec2_id(text, prefix))
        .map(|&(_, key)| key)
}

const REGION_AREAS: &[&str] = &["us", "eu", "ap", "sa", "ca", "me", "af", "il", "mx", "cn"];
const REGION_QUALIFIERS: &[&str] = &["gov", "iso", "isob", "isoe", "isof"];
const REGION_DIRECTIONS: &[&str] = &[
    "north",
    "south",
    "east",
    "west",
    "central",
    "northeast",
    "northwest",
    "southeast",
    "southwest",
];

/// `us-east-1`, `us-gov-west-1`, `cn-northwest-1`, `eu-isoe-west-1`.
pub fn is_region(text: &str) -> bool {
    let mut parts = text.split('-');
    let Some(area) = parts.next() else {
        return false;
    };
    if !REGION_AREAS.contains(&area) {
        return false;
    }
    let Some(mut next) = parts.next() else {
        return false;
    };
    if REGION_QUALIFIERS.contains(&next) {
        let Some(after) = parts.next() else {
            return false;
        };
        next = after;
    }
    if !REGION_DIRECTIONS.contains(&next) {
        return false;
    }
    let Some(number) = parts.next() else {
        return false;
    };
    parts.next().is_none()
        && (1..=2).contains(&number.len())
        && number.bytes().all(|b| b.is_ascii_digit())
}

/// `us-east-1a`: a region followed by one zone letter.
pub(crate) fn is_availability_zone(text: &str) -> bool {
    match text.as_bytes().last() {
        Some(letter) if letter.is_ascii_lowercase() => is_region(&text[..text.len() - 1]),
        _ => false,
    }
}

pub(crate) fn is_account_id(text: &str) -> bool {
    text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit())
}

/// General-purpose bucket naming rules (3–63 chars, lowercase, digits, dots, hyphens).
pub(crate) fn is_bucket_name(text: &str) -> bool {
    let bytes = text.as_bytes();
    (3..=63).contains(&bytes.len())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'.' || *b == b'-')
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
        && !text.contains("..")
        && !is_placeholder(text)
}

/// `i-0123abcd`, `vpc-…`: a prefix and 8 or 17 lowercase hex digits.
pub(crate) fn is_ec2_id(text: &str, prefix: &str) -> bool {
    let Some(hex) = text
        .strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('-'))
    else {
        return false;
    };
    (hex.len() == 8 || hex.len() == 17)
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

const INSTANCE_SIZES: &[&str] = &[
    "nano", "micro", "small", "medium", "large", "xlarge", "metal",
];

/// `t3.micro`, `im4gn.xlarge`, `m5.24xlarge`, `u-6tb1.metal`, `c7g.metal-48xl`.
/// Database classes (`db.t3.micro`) and cache nodes are not EC2 instance types.
pub(crate) fn is_instance_type(text: &str) -> bool {
    let Some((family, size)) = text.split_once('.') else {
        return false;
    };
    let family_ok = family.len() >= 2
        && family.len() <= 12
        && family.as_bytes()[0].is_ascii_lowercase()
        && family.bytes().any(|b| b.is_ascii_digit())
        && family
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !family_ok {
        return false;
    }
    if INSTANCE_SIZES.contains(&size) {
        return true;
    }
    if let Some(count) = size.strip_suffix("xlarge") {
        return !count.is_empty() && count.len() <= 3 && count.bytes().all(|b| b.is_ascii_digit());
    }
    if let Some(count) = size
        .strip_prefix("metal-")
        .and_then(|s| s.strip_suffix("xl"))
    {
        return !count.is_empty() && count.len() <= 3 && count.bytes().all(|b| b.is_ascii_digit());
    }
    false
}

/// A key id KMS would print on its own: a UUID or a multi-Region `mrk-` id.
pub(crate) fn is_bare_kms_key_id(text: &str) -> bool {
    let bytes = text.as_bytes();
    let uuid = bytes.len() == 36
        && bytes.iter().enumerate().all(|(index, byte)| match index {
            8 | 13 | 18 | 23 => *byte == b'-',
            _ => byte.is_ascii_hexdigit(),
        });
    let multi_region = text
        .strip_prefix("mrk-")
        .is_some_and(|hex| hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()));
    uuid || multi_region
}

/// Values people put into documentation instead of real ones: `{account-id}`,
/// `xxxxx`, `XXXXXXXXXXXX`, `<bucket>`, `account_id`, `yyyyyyyy`.
pub(crate) fn is_placeholder(text: &str) -> bool {
    if text.is_empty() {
        return true;
    }
    if text.bytes().any(|b| matches!(b, b'{' | b'}' | b'<' | b'>')) {
        return true;
    }
    let lower = text.to_ascii_lowercase();
    if matches!(
        lower.as_str(),
        "region"
            | "account"
            | "account-id"
            | "account_id"
            | "accountid"
            | "account-number"
            | "example"
    ) {
        return true;
    }
    // A run of one repeated letter (`xxxx`, `XXXX-XXXX`): digits repeat in real
    // account ids (`111111111111`), letters never do in real names.
    let mut letters = text.bytes().filter(|b| *b != b'-' && *b != b'_');
    match letters.next() {
        Some(first) if first.is_ascii_alphabetic() => {
            let first = first.to_ascii_lowercase();
            let mut count = 1;
            for byte in letters {
                if byte.to_ascii_lowercase() != first {
                    return false;
                }
                count += 1;
            }
            count >= 3
        }
        _ => false,
    }
}

/// IAM names: roles, users, policies (`[\w+=,.@-]`, up to 128 chars).
pub(crate) fn is_iam_name(text: &str) -> bool {
    (1..=128).contains(&text.len())
        && text.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'_' | b'+' | b'=' | b',' | b'.' | b'@' | b'-')
        })
        && !is_placeholder(text)
}

pub(crate) fn is_lambda_function_name(text: &str) -> bool {
    (1..=64).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        && !is_placeholder(text)
}

pub(crate) fn is_table_name(text: &str) -> bool {
    (3..=255).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        && !is_placeholder(text)
}

/// Stack names, RDS instance identifiers, ECS cluster names: a letter, then
/// letters, digits and hyphens (ECS also allows underscores).
pub(crate) fn is_simple_name(text: &str, max: usize) -> bool {
    (1..=max).contains(&text.len())
        && text.as_bytes()[0].is_ascii_alphabetic()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && !is_placeholder(text)
}

pub(crate) fn is_kms_key_id(text: &str) -> bool {
    if let Some(alias) = text.strip_prefix("alias/") {
        return (1..=250).contains(&alias.len())
            && alias
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-'));
    }
    (1..=128).contains(&text.len())
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !is_placeholder(text)
}

/// CloudWatch Logs group names: `[.\-_/#A-Za-z0-9]+`, up to 512 chars.
pub(crate) fn is_log_group_name(text: &str) -> bool {
    (1..=512).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'/' | b'#'))
        && !is_placeholder(text)
}

/// Decodes `%XX` escapes; invalid escapes and non-UTF-8 results are kept as they were.
pub(crate) fn percent_decode(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains('%') {
        return std::borrow::Cow::Borrowed(text);
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' && index + 2 < bytes.len() {
            let high = (bytes[index + 1] as char).to_digit(16);
            let low = (bytes[index + 2] as char).to_digit(16);
            if let (Some(high), Some(low)) = (high, low) {
                out.push((high * 16 + low) as u8);
                index += 3;
                continue;
            }
        }
        out.push(bytes[index]);
        index += 1;
    }
    match String::from_utf8(out) {
        Ok(decoded) => std::borrow::Cow::Owned(decoded),
        Err(_) => std::borrow::Cow::Borrowed(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        assert!(
            is_region("us-east-1") && is_region("us-gov-west-1") && is_region("cn-northwest-1")
        );
        assert!(!is_region("somewhere") && !is_region("us-east") && !is_region("us-east-1a"));
        assert!(is_availability_zone("us-east-1c") && !is_availability_zone("us-east-1"));
        assert!(is_instance_type("im4gn.xlarge") && is_instance_type("m5.24xlarge"));
        assert!(!is_instance_type("db.t2.micro") && !is_instance_type("python3.7"));
        assert!(
            is_placeholder("XXXXXXXXXXXX")
                && is_placeholder("{account-id}")
                && is_placeholder("yyyyyyyy")
        );
        assert!(!is_placeholder("111111111111") && !is_placeholder("my-bucket"));
        assert_eq!(percent_decode("a%2Fb%zz%"), "a/b%zz%");
    }
}
