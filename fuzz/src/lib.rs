//! What the fuzz targets share: the plain-text input format (so the fixture
//! data can seed every target) and independent oracles for the invariants.

use consoledx_core::Snapshot;
use consoledx_core::context::FormField;

/// Separates the parts of one input; fixture seeds are written the same way
/// by `cargo xtask fuzz`.
pub const SEPARATOR: char = '\0';

/// Reads `message \0 url \0 header \0 nav label \0 nav title \0 meta region
/// \0 cookie \0 (field label \0 field value)*`; every part after the message
/// may be missing. Invalid UTF-8 is replaced rather than rejected, so every
/// input reaches the code under test.
pub fn snapshot_from(data: &[u8]) -> Snapshot {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.split(SEPARATOR).map(str::to_owned);
    let content = parts.next().unwrap_or_default();
    let url = parts.next().unwrap_or_default();
    let header = parts.next().unwrap_or_default();
    let mut optional = || parts.next().filter(|part| !part.is_empty());
    let nav_user_label = optional();
    let nav_user_title = optional();
    let meta_region = optional();
    let user_info_cookie = optional();
    let rest: Vec<String> = parts.collect();
    let fields = rest
        .chunks(2)
        .map(|pair| FormField {
            label: pair[0].clone(),
            value: pair.get(1).cloned().unwrap_or_default(),
        })
        .collect();
    Snapshot {
        url,
        header,
        content,
        banner_kind: String::new(),
        nav_user_label,
        nav_user_title,
        meta_region,
        user_info_cookie,
        fields,
    }
}

fn is_word_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

/// The first AWS access key id (`AKIA`/`ASIA`/`ABIA`/`ACCA` and 16 of
/// `[A-Z0-9]`, standing alone as a word), found without the regex the
/// redactor uses so that a wrong pattern there cannot hide here.
pub fn find_access_key_id(text: &str) -> Option<&str> {
    const PREFIXES: [&[u8]; 4] = [b"AKIA", b"ASIA", b"ABIA", b"ACCA"];
    const LEN: usize = 20;
    let bytes = text.as_bytes();
    (0..bytes.len().saturating_sub(LEN - 1)).find_map(|start| {
        let candidate = &bytes[start..start + LEN];
        let standalone = (start == 0 || !is_word_byte(bytes[start - 1]))
            && bytes
                .get(start + LEN)
                .is_none_or(|&after| !is_word_byte(after));
        let shaped = PREFIXES.contains(&&candidate[..4])
            && candidate[4..]
                .iter()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
        (standalone && shaped).then(|| &text[start..start + LEN])
    })
}

/// Whether `text` still holds the opening line of a PEM private key.
pub fn has_private_key_header(text: &str) -> bool {
    let mut rest = text;
    while let Some(at) = rest.find("-----BEGIN ") {
        let after = &rest[at + "-----BEGIN ".len()..];
        let label_len = after
            .bytes()
            .take_while(|b| b.is_ascii_uppercase() || *b == b' ')
            .count();
        if after[..label_len].ends_with("PRIVATE KEY") && after[label_len..].starts_with("-----") {
            return true;
        }
        rest = &rest[at + 1..];
    }
    false
}
