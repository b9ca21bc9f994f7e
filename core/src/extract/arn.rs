//! ARNs: finding them in free text, splitting them and telling a real one
//! from a documentation template (`arn:aws:sts::{account-id}:…`).

use super::shapes::{is_account_id, is_placeholder, is_region};

const PARTITIONS: &[&str] = &[
    "aws",
    "aws-cn",
    "aws-us-gov",
    "aws-iso",
    "aws-iso-b",
    "aws-iso-e",
    "aws-iso-f",
    "aws-eusc",
];

/// One ARN as written: `arn:partition:service:region:account:resource`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arn<'a> {
    pub text: &'a str,
    pub partition: &'a str,
    pub service: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    pub resource: &'a str,
}

impl<'a> Arn<'a> {
    /// Splits an ARN; `None` unless it has all six parts and a known partition.
    pub fn parse(text: &'a str) -> Option<Arn<'a>> {
        let mut parts = text.splitn(6, ':');
        if parts.next()? != "arn" {
            return None;
        }
        let partition = parts.next()?;
        let service = parts.next()?;
        let region = parts.next()?;
        let account = parts.next()?;
        let resource = parts.next()?;
        let service_ok = !service.is_empty()
            && service
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !PARTITIONS.contains(&partition) || !service_ok || resource.is_empty() {
            return None;
        }
        Some(Arn {
            text,
            partition,
            service,
            region,
            account,
            resource,
        })
    }

    /// The account field holds a real account id (or is legitimately empty,
    /// as for S3 and IAM-managed `aws` policies).
    pub fn account_is_real(&self) -> bool {
        self.account.is_empty() || self.account == "aws" || is_account_id(self.account)
    }

    pub fn region_is_real(&self) -> bool {
        self.region.is_empty() || is_region(self.region)
    }

    /// Every part is real: no placeholder anywhere.
    pub fn is_real(&self) -> bool {
        self.account_is_real()
            && self.region_is_real()
            && self
                .resource
                .split(['/', ':'])
                .all(|part| part.is_empty() || part == "*" || !is_placeholder(part))
    }

    /// The resource split at its type separator: `role/path/name` → (`role`, `path/name`),
    /// `function:name:alias` → (`function`, `name:alias`), `bucket/key` → (`bucket/key`, ``).
    pub fn resource_type_and_id(&self) -> (&'a str, &'a str) {
        match self.resource.find(['/', ':']) {
            Some(index) => (&self.resource[..index], &self.resource[index + 1..]),
            None => (self.resource, ""),
        }
    }
}

fn is_arn_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric()
        || matches!(
            byte,
            b'_' | b'+'
                | b'='
                | b','
                | b'.'
                | b'@'
                | b':'
                | b'/'
                | b'*'
                | b'?'
                | b'$'
                | b'#'
                | b'-'
                | b'{'
                | b'}'
                | b'!'
                | b'%'
        )
}

/// Every `arn:…` in `text`, with its byte offset, trailing punctuation trimmed.
pub fn find_arns(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let bytes = text.as_bytes();
    let mut from = 0;
    std::iter::from_fn(move || {
        while let Some(found) = text.get(from..).and_then(|rest| rest.find("arn:")) {
            let start = from + found;
            from = start + 4;
            if start > 0 && (bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_') {
                continue;
            }
            let mut end = start;
            while end < bytes.len() && is_arn_byte(bytes[end]) {
                end += 1;
            }
            while end > start && matches!(bytes[end - 1], b'.' | b',' | b':' | b';' | b'!' | b'?') {
                end -= 1;
            }
            from = end.max(from);
            return Some((start, &text[start..end]));
        }
        None
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_and_splits() {
        let text = "User: arn:aws:iam::111111111111:user/a.b is denied on arn:aws:s3:::bkt/k.json.";
        let found: Vec<_> = find_arns(text).map(|(_, arn)| arn).collect();
        assert_eq!(
            found,
            [
                "arn:aws:iam::111111111111:user/a.b",
                "arn:aws:s3:::bkt/k.json"
            ]
        );
        let arn = Arn::parse(found[0]).unwrap();
        assert_eq!(arn.resource_type_and_id(), ("user", "a.b"));
        assert!(arn.is_real());
        assert!(
            !Arn::parse("arn:aws:sts::{account-id}:assumed-role/x")
                .unwrap()
                .is_real()
        );
    }
}
