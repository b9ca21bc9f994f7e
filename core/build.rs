//! Turns the knowledge packs (`knowledge/*.toml`, one per service) into one
//! JSON blob in OUT_DIR that the crate embeds, so no TOML parser reaches the
//! wasm. The conversion is generic (TOML value -> JSON value); the schema is
//! checked by the crate at load, where errors name the file and the rule.
//!
//! It also writes `knowledge-runtime.txt`, the cut the extension loads: only
//! what analysis reads (no steps, needs or fixtures; only the fixture
//! messages' words that the similarity index reads), in a flat
//! separator-delimited format the crate splits without a JSON parser, which
//! keeps serde_json's generic value code out of the wasm. Its layout is
//! documented on `runtime_records` here and read by `knowledge::runtime`.

use std::fs;
use std::path::Path;

// The crate's own tokenizer, so the runtime cut keeps exactly the words the similarity index reads.
#[allow(dead_code)]
#[path = "src/knowledge/similarity.rs"]
mod similarity;

fn main() {
    let dir = Path::new("knowledge");
    println!("cargo:rerun-if-changed=knowledge");
    let mut names: Vec<String> = match fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(|entry| entry.ok())
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".toml"))
            .collect(),
        Err(err) => fail(&format!("cannot read {}: {err}", dir.display())),
    };
    // Sorted so the blob, and thus rule order and tie-breaks, never depend on the file system.
    names.sort();
    let mut packs = Vec::with_capacity(names.len());
    let mut runtime = String::new();
    for name in names {
        let path = dir.join(&name);
        println!("cargo:rerun-if-changed={}", path.display());
        let text = fs::read_to_string(&path)
            .unwrap_or_else(|err| fail(&format!("cannot read {}: {err}", path.display())));
        let value: toml::Value = toml::from_str(&text)
            .unwrap_or_else(|err| fail(&format!("{} is not valid TOML: {err}", path.display())));
        let json = serde_json::to_value(value).unwrap_or_else(|err| {
            fail(&format!(
                "{} cannot be converted to JSON: {err}",
                path.display()
            ))
        });
        runtime_records(&name, &json, &mut runtime)
            .unwrap_or_else(|reason| fail(&format!("{}: {reason}", path.display())));
        packs.push(serde_json::json!({ "name": name, "pack": json }));
    }
    let blob = serde_json::to_string(&packs)
        .unwrap_or_else(|err| fail(&format!("cannot serialise the knowledge blob: {err}")));
    let out_dir = std::env::var("OUT_DIR").unwrap_or_else(|_| fail("OUT_DIR is not set"));
    let out = Path::new(&out_dir).join("knowledge.json");
    fs::write(&out, blob)
        .unwrap_or_else(|err| fail(&format!("cannot write {}: {err}", out.display())));
    let out = Path::new(&out_dir).join("knowledge-runtime.txt");
    fs::write(&out, runtime)
        .unwrap_or_else(|err| fail(&format!("cannot write {}: {err}", out.display())));
}

/// Ends a rule record.
const RECORD: char = '\u{1e}';
/// Ends a field of a record.
const FIELD: char = '\u{1f}';
/// Starts each item of a list field (so an empty item is not an empty list).
const ITEM: char = '\u{1d}';
/// Separates a doc link's title from its URL, and marks a present optional value.
const PART: char = '\u{1c}';

/// Rule fields the runtime cut leaves out: only the backend and the tests read them.
const DROPPED_FIELDS: &[&str] = &["needs", "steps"];

/// Appends one record per rule of the pack. A record is these fields, each
/// ended by `FIELD`: pack file name, pack service, id, title, services, codes,
/// patterns, unless, captures, require_pattern (`1` or empty), access_denied,
/// priority, analysis, docs, fixture text. Lists are `ITEM`-prefixed items;
/// access_denied is empty or `PART` + deny + `ITEM` + policy_type, each of
/// those empty when absent and `PART` + value when present; docs are items of
/// title `PART` url; the fixture text is the similarity tokens of every
/// fixture message, each after a space.
fn runtime_records(name: &str, pack: &serde_json::Value, out: &mut String) -> Result<(), String> {
    use serde_json::Value;
    let service = pack
        .get("service")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let empty = Vec::new();
    let rules = pack.get("rule").and_then(Value::as_array).unwrap_or(&empty);
    for rule in rules {
        let Some(table) = rule.as_object() else {
            return Err("a [[rule]] is not a table".to_string());
        };
        let id = table.get("id").and_then(Value::as_str).unwrap_or_default();
        let known = [
            "id",
            "title",
            "services",
            "codes",
            "patterns",
            "unless",
            "captures",
            "require_pattern",
            "access_denied",
            "priority",
            "analysis",
            "docs",
            "fixtures",
        ];
        if let Some(field) = table
            .keys()
            .find(|key| !known.contains(&key.as_str()) && !DROPPED_FIELDS.contains(&key.as_str()))
        {
            // The crate rejects it too; failing here names it before a stale runtime cut ships.
            return Err(format!("rule {id}: unknown field `{field}`"));
        }
        let text = |key: &str| -> Result<String, String> {
            match table.get(key) {
                None => Ok(String::new()),
                Some(Value::String(text)) => clean(text),
                Some(_) => Err(format!("rule {id}: `{key}` is not a string")),
            }
        };
        let list = |key: &str| -> Result<String, String> {
            let mut field = String::new();
            let Some(value) = table.get(key) else {
                return Ok(field);
            };
            let items = value
                .as_array()
                .ok_or_else(|| format!("rule {id}: `{key}` is not a list"))?;
            for item in items {
                let item = item
                    .as_str()
                    .ok_or_else(|| format!("rule {id}: `{key}` has a non-string item"))?;
                field.push(ITEM);
                field.push_str(&clean(item)?);
            }
            Ok(field)
        };
        let optional = |value: Option<&Value>, key: &str| -> Result<String, String> {
            match value {
                None => Ok(String::new()),
                Some(Value::String(text)) => Ok(format!("{PART}{}", clean(text)?)),
                Some(_) => Err(format!("rule {id}: `{key}` is not a string")),
            }
        };
        let require_pattern = match table.get("require_pattern") {
            None | Some(Value::Bool(false)) => "",
            Some(Value::Bool(true)) => "1",
            Some(_) => return Err(format!("rule {id}: `require_pattern` is not a boolean")),
        };
        let access = match table.get("access_denied") {
            None => String::new(),
            Some(Value::Object(access)) => {
                if let Some(field) = access
                    .keys()
                    .find(|key| !["deny", "policy_type"].contains(&key.as_str()))
                {
                    return Err(format!("rule {id}: unknown access_denied field `{field}`"));
                }
                format!(
                    "{PART}{}{ITEM}{}",
                    optional(access.get("deny"), "access_denied.deny")?,
                    optional(access.get("policy_type"), "access_denied.policy_type")?
                )
            }
            Some(_) => return Err(format!("rule {id}: `access_denied` is not a table")),
        };
        let priority = match table.get("priority") {
            None => 0,
            Some(value) => value
                .as_i64()
                .and_then(|priority| i32::try_from(priority).ok())
                .ok_or_else(|| format!("rule {id}: `priority` is not a 32-bit integer"))?,
        };
        let mut docs = String::new();
        for doc in table
            .get("docs")
            .and_then(Value::as_array)
            .unwrap_or(&empty)
        {
            let title = doc.get("title").and_then(Value::as_str);
            let url = doc.get("url").and_then(Value::as_str);
            let (Some(title), Some(url)) = (title, url) else {
                return Err(format!("rule {id}: a doc lacks a string title or url"));
            };
            docs.push(ITEM);
            docs.push_str(&clean(title)?);
            docs.push(PART);
            docs.push_str(&clean(url)?);
        }
        // The similarity index reads the fixture messages' tokens (a multiset):
        // kept alone, each after a space, they index exactly like the messages.
        let mut fixture_text = String::new();
        for fixture in table
            .get("fixtures")
            .and_then(Value::as_array)
            .unwrap_or(&empty)
        {
            let message = fixture
                .get("message")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("rule {id}: a fixture lacks a string message"))?;
            for token in similarity::tokens(message) {
                fixture_text.push(' ');
                fixture_text.push_str(&token);
            }
        }
        let fields = [
            clean(name)?,
            clean(service)?,
            text("id")?,
            text("title")?,
            list("services")?,
            list("codes")?,
            list("patterns")?,
            list("unless")?,
            list("captures")?,
            require_pattern.to_string(),
            access,
            priority.to_string(),
            text("analysis")?,
            docs,
            fixture_text,
        ];
        for field in fields {
            out.push_str(&field);
            out.push(FIELD);
        }
        out.push(RECORD);
    }
    Ok(())
}

/// Pack text as is, unless it holds a separator (which no pack has reason to).
fn clean(text: &str) -> Result<String, String> {
    if text.contains([RECORD, FIELD, ITEM, PART]) {
        return Err(format!(
            "text {text:?} holds a control character U+001C..U+001F, which the runtime cut uses as separators"
        ));
    }
    Ok(text.to_string())
}

fn fail(reason: &str) -> ! {
    // A build script reports a fatal problem by panicking; keep the reason on one line.
    panic!("knowledge packs: {reason}")
}
