//! Who is signed in, from the console's top navigation and `aws-userInfo` cookie.

use super::arn::Arn;
use super::shapes::{is_account_id, percent_decode};
use crate::context::{Identity, IdentityKind};

/// `AWSReservedSSO_<PermissionSet>_<16 hex>` → `<PermissionSet>`.
pub fn permission_set(role_name: &str) -> Option<&str> {
    let rest = role_name.strip_prefix("AWSReservedSSO_")?;
    let (set, suffix) = rest.rsplit_once('_')?;
    let hex = suffix.len() >= 8 && suffix.bytes().all(|b| b.is_ascii_hexdigit());
    (hex && !set.is_empty()).then_some(set)
}

/// `1234-5678-9012` or `123456789012` → `123456789012`.
fn account_from(text: &str) -> Option<String> {
    let digits: String = text.chars().filter(|c| *c != '-' && *c != ' ').collect();
    is_account_id(&digits).then_some(digits)
}

/// The signed-in ARN from the cookie's URL-encoded JSON (`{"arn":"…",…}`).
fn cookie_arn(cookie: &str) -> Option<String> {
    let decoded = percent_decode(cookie.trim());
    let arn = match serde_json::from_str::<serde_json::Value>(&decoded) {
        Ok(value) => value.get("arn")?.as_str()?.to_owned(),
        Err(_) => {
            // Some browsers hand the value over with its JSON half-decoded:
            // fall back to reading the field textually.
            let at = decoded.find("\"arn\"")?;
            let rest = decoded[at + 5..].trim_start_matches([' ', ':', '"']);
            rest.split('"').next()?.to_owned()
        }
    };
    let real = Arn::parse(&arn).is_some_and(|parsed| parsed.is_real());
    real.then_some(arn)
}

/// Identity from the ARN: `assumed-role/ROLE/SESSION`, `user/path/NAME`, `root`.
fn from_arn(arn_text: &str) -> Option<Identity> {
    let arn = Arn::parse(arn_text)?;
    let (resource_type, id) = arn.resource_type_and_id();
    let (kind, name, session) = match (arn.service, resource_type) {
        ("sts", "assumed-role") => {
            let (role, session) = id.split_once('/').unwrap_or((id, ""));
            (
                IdentityKind::Role,
                role,
                (!session.is_empty()).then(|| session.to_owned()),
            )
        }
        ("iam", "role") => (
            IdentityKind::Role,
            id.rsplit('/').next().unwrap_or(id),
            None,
        ),
        ("iam", "user") => (
            IdentityKind::User,
            id.rsplit('/').next().unwrap_or(id),
            None,
        ),
        ("sts", "federated-user") => (IdentityKind::User, id, None),
        ("iam", "root") => (IdentityKind::Root, "root", None),
        _ => return None,
    };
    Some(Identity {
        kind,
        name: name.to_owned(),
        session,
        account_id: is_account_id(arn.account).then(|| arn.account.to_owned()),
        arn: Some(arn_text.to_owned()),
        permission_set: permission_set(name).map(str::to_owned),
    })
}

/// Reads the navigation bar's label (`ROLE/SESSION` or a user name), its title
/// (`ROLE/SESSION @ 1234-5678-9012`) and the cookie. A bare name with nothing
/// else to go on is a role: that is what `consoledx analyze --role` passes.
pub fn parse_identity(
    label: Option<&str>,
    title: Option<&str>,
    cookie: Option<&str>,
) -> Option<Identity> {
    let label = label.map(str::trim).filter(|l| !l.is_empty());
    let title = title.map(str::trim).filter(|t| !t.is_empty());
    let (title_name, title_account) = match title {
        Some(title) => match title.rsplit_once('@') {
            Some((name, account)) => (Some(name.trim()), account_from(account.trim())),
            None => (Some(title), None),
        },
        None => (None, None),
    };
    if let Some(mut identity) = cookie.and_then(cookie_arn).and_then(|arn| from_arn(&arn)) {
        if identity.account_id.is_none() {
            identity.account_id = title_account;
        }
        return Some(identity);
    }
    let shown = label.or(title_name).filter(|name| !name.is_empty())?;
    let (name, session) = match shown.split_once('/') {
        Some((role, session)) => (role.trim(), Some(session.trim())),
        None => (shown, None),
    };
    if name.is_empty() {
        return None;
    }
    // The title repeats the label; a slash-less title is how the console shows an IAM user.
    let kind =
        if session.is_none() && title_name.is_some_and(|t| !t.contains('/')) && label.is_some() {
            IdentityKind::User
        } else {
            IdentityKind::Role
        };
    Some(Identity {
        kind,
        name: name.to_owned(),
        session: session.filter(|s| !s.is_empty()).map(str::to_owned),
        account_id: title_account,
        arn: None,
        permission_set: permission_set(name).map(str::to_owned),
    })
}
