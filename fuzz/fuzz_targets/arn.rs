//! ARN finding and splitting over arbitrary text.
#![no_main]

use consoledx_core::extract::{Arn, find_arns};
use libfuzzer_sys::fuzz_target;

fn check_parsed(text: &str, arn: &Arn<'_>) {
    let rebuilt = format!(
        "arn:{}:{}:{}:{}:{}",
        arn.partition, arn.service, arn.region, arn.account, arn.resource
    );
    assert_eq!(rebuilt, text, "the six parts do not rebuild the ARN");
    assert_eq!(arn.text, text);
    assert!(
        arn.partition.starts_with("aws"),
        "partition {:?}",
        arn.partition
    );
    assert!(!arn.service.is_empty() && !arn.service.contains(':'));
    assert!(!arn.resource.is_empty());
    let (kind, id) = arn.resource_type_and_id();
    if kind == arn.resource {
        assert!(id.is_empty() && !arn.resource.contains(['/', ':']));
    } else {
        let separator = &arn.resource[kind.len()..arn.resource.len() - id.len()];
        assert!(
            separator == "/" || separator == ":",
            "separator {separator:?}"
        );
        assert!(!kind.contains(['/', ':']));
    }
    let _ = arn.is_real();
    assert_eq!(
        Arn::parse(&rebuilt),
        Some(Arn {
            text: &rebuilt,
            ..*arn
        })
    );
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Some(arn) = Arn::parse(&text) {
        check_parsed(&text, &arn);
    }
    let mut previous_end = 0;
    for (start, found) in find_arns(&text) {
        assert!(start >= previous_end, "ARNs overlap at {start}");
        assert_eq!(&text[start..start + found.len()], found, "offset is wrong");
        // A bare `arn:` loses its colon to the trimming; never more than that.
        assert!(found.starts_with("arn"), "{found:?}");
        assert!(
            !found.ends_with(['.', ',', ':', ';', '!', '?']),
            "trailing punctuation kept in {found:?}"
        );
        if let Some(before) = text[..start].bytes().next_back() {
            assert!(
                !before.is_ascii_alphanumeric() && before != b'_',
                "{found:?} starts mid-word"
            );
        }
        if let Some(arn) = Arn::parse(found) {
            check_parsed(found, &arn);
        }
        previous_end = start + found.len();
    }
});
