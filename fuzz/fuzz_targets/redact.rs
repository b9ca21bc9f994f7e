//! The redactor over arbitrary text: never panics, leaves no access key id
//! or private key header behind, and a second pass finds nothing more.
#![no_main]

use consoledx_core::Redactor;
use consoledx_fuzz::{find_access_key_id, has_private_key_header};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let redactor = Redactor::default();
    let once = redactor.redact(&text);
    assert_eq!(
        once.count == 0,
        once.text == text,
        "count disagrees with the text"
    );
    assert_eq!(find_access_key_id(&once.text), None, "in {:?}", once.text);
    assert!(!has_private_key_header(&once.text), "in {:?}", once.text);
    let twice = redactor.redact(&once.text);
    assert_eq!(twice.text, once.text, "a second pass redacted more");
    assert_eq!(twice.count, 0);
});
