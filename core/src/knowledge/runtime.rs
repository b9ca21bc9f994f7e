//! Reads the runtime cut of the packs that `build.rs` writes
//! (`knowledge-runtime.txt`, layout documented on its `runtime_records`):
//! plain splitting, so the extension's wasm carries no JSON value parser for
//! its own knowledge base.

use super::schema::{AccessMatchDef, DocDef, RuleDef};

const RECORD: char = '\u{1e}';
const FIELD: char = '\u{1f}';
const ITEM: char = '\u{1d}';
const PART: char = '\u{1c}';

/// One rule of the runtime cut.
pub struct RuntimeRule<'b> {
    pub pack: &'b str,
    pub service: &'b str,
    pub definition: RuleDef,
    /// The similarity tokens of every fixture message, each after a space.
    pub fixture_text: &'b str,
}

/// The rules of the blob in pack order, or what is malformed about it.
pub fn rules(blob: &str) -> Result<Vec<RuntimeRule<'_>>, String> {
    let mut rules = Vec::new();
    for (position, record) in blob.split_terminator(RECORD).enumerate() {
        rules.push(rule(record).ok_or_else(|| format!("record {} is malformed", position + 1))?);
    }
    Ok(rules)
}

fn rule(record: &str) -> Option<RuntimeRule<'_>> {
    let mut fields = record.split_terminator(FIELD);
    let mut next = || fields.next();
    let pack = next()?;
    let service = next()?;
    let id = next()?.to_string();
    let title = next()?.to_string();
    let services = list(next()?)?;
    let codes = list(next()?)?;
    let patterns = list(next()?)?;
    let unless = list(next()?)?;
    let captures = list(next()?)?;
    let require_pattern = !next()?.is_empty();
    let access_denied = match next()? {
        "" => None,
        access => {
            let (deny, policy_type) = access.strip_prefix(PART)?.split_once(ITEM)?;
            Some(AccessMatchDef {
                deny: optional(deny),
                policy_type: optional(policy_type),
            })
        }
    };
    let priority = next()?.parse().ok()?;
    let analysis = next()?.to_string();
    let docs = list(next()?)?
        .into_iter()
        .map(|doc| {
            let (title, url) = doc.split_once(PART)?;
            Some(DocDef {
                title: title.to_string(),
                url: url.to_string(),
            })
        })
        .collect::<Option<Vec<DocDef>>>()?;
    let fixture_text = next()?;
    if next().is_some() {
        return None;
    }
    Some(RuntimeRule {
        pack,
        service,
        definition: RuleDef {
            id,
            title,
            services,
            codes,
            patterns,
            unless,
            captures,
            require_pattern,
            access_denied,
            priority,
            analysis,
            needs: Vec::new(),
            steps: Vec::new(),
            docs,
            fixtures: Vec::new(),
        },
        fixture_text,
    })
}

fn list(field: &str) -> Option<Vec<String>> {
    if field.is_empty() {
        return Some(Vec::new());
    }
    Some(
        field
            .strip_prefix(ITEM)?
            .split(ITEM)
            .map(str::to_string)
            .collect(),
    )
}

fn optional(value: &str) -> Option<String> {
    value.strip_prefix(PART).map(str::to_string)
}
