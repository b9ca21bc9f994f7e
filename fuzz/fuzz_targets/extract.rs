//! The extractor over arbitrary messages, URLs and page snapshots: never
//! panics, and its three entry points agree with each other.
#![no_main]

use consoledx_core::extract::{complete, extract};
use consoledx_core::{ErrorContext, Redactor, interpret};
use consoledx_fuzz::{find_access_key_id, snapshot_from};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let snapshot = snapshot_from(data);
    let extraction = extract(&snapshot.content, &snapshot.url);
    for (key, value) in &extraction.identifiers {
        assert!(!value.is_empty(), "empty value for {key}");
        assert!(
            key.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
            "key {key:?} is not one of DESIGN.md's names"
        );
    }

    // `complete` fills an empty context with exactly what `extract` finds,
    // and a second pass changes nothing.
    let mut context = ErrorContext {
        message: snapshot.content.clone(),
        url: snapshot.url.clone(),
        ..ErrorContext::default()
    };
    complete(&mut context);
    assert_eq!(context.identifiers, extraction.identifiers);
    assert_eq!(context.error_code, extraction.error_code);
    assert_eq!(context.access_denied, extraction.access_denied);
    assert_eq!(
        context.encoded_authorization_message,
        extraction.encoded_authorization_message
    );
    let once = context.clone();
    complete(&mut context);
    assert_eq!(context, once, "complete is not idempotent");

    // What leaves the browser is redacted, and is what `extract` makes of
    // the redacted text when the page adds nothing of its own.
    let interpreted = interpret(&snapshot, &Redactor::default());
    assert_eq!(interpreted.fields.len(), snapshot.fields.len());
    let sent = std::iter::once(&interpreted.message)
        .chain([&interpreted.url])
        .chain(interpreted.fields.iter().flat_map(|f| [&f.label, &f.value]));
    for text in sent {
        assert_eq!(find_access_key_id(text), None, "key id sent in {text:?}");
    }
    let page_adds_nothing = snapshot.nav_user_label.is_none()
        && snapshot.nav_user_title.is_none()
        && snapshot.user_info_cookie.is_none()
        && snapshot.meta_region.is_none()
        && snapshot.fields.is_empty();
    if page_adds_nothing {
        let from_text = extract(&interpreted.message, &interpreted.url);
        assert_eq!(interpreted.identifiers, from_text.identifiers);
        assert_eq!(interpreted.error_code, from_text.error_code);
        assert_eq!(interpreted.access_denied, from_text.access_denied);
    }
});
