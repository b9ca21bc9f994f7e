//! `templatize` and `render` over arbitrary text and identifiers, the ones
//! the extractor finds in the text included (as the validation harness
//! templatizes interpreted contexts).
#![no_main]

use arbitrary::Arbitrary;
use consoledx_core::Identifiers;
use consoledx_core::extract::extract;
use consoledx_core::template::{TemplateError, render, templatize};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
struct Input {
    extra_identifiers: Identifiers,
    url: String,
    message: String,
}

fuzz_target!(|input: Input| {
    let mut identifiers = extract(&input.message, &input.url).identifiers;
    identifiers.extend(input.extra_identifiers);
    match templatize(&input.message, &input.url, &identifiers) {
        Ok(templated) => {
            assert_eq!(
                render(&templated.message, &templated.variables).as_deref(),
                Ok(input.message.as_str())
            );
            assert_eq!(
                render(&templated.url, &templated.variables).as_deref(),
                Ok(input.url.as_str())
            );
            for (key, value) in &templated.variables {
                assert_eq!(
                    identifiers.get(key),
                    Some(value),
                    "variable {key} is not an identifier"
                );
            }
        }
        // The only refusal a caller can meet: the text already looks templated.
        Err(TemplateError::LiteralPlaceholder(key)) => {
            let placeholder = format!("{{{{{key}}}}}");
            assert!(input.message.contains(&placeholder) || input.url.contains(&placeholder));
        }
        Err(other) => panic!("templatize refused with {other}"),
    }
    // Arbitrary text as a template: text without a placeholder renders as itself.
    if let Ok(rendered) = render(&input.message, &identifiers)
        && !input.message.contains("{{")
    {
        assert_eq!(rendered, input.message);
    }
});
