//! Turns the knowledge packs (`knowledge/*.toml`, one per service) into one
//! JSON blob in OUT_DIR that the crate embeds, so no TOML parser reaches the
//! wasm. The conversion is generic (TOML value -> JSON value); the schema is
//! checked by the crate at load, where errors name the file and the rule.

use std::fs;
use std::path::Path;

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
        packs.push(serde_json::json!({ "name": name, "pack": json }));
    }
    let blob = serde_json::to_string(&packs)
        .unwrap_or_else(|err| fail(&format!("cannot serialise the knowledge blob: {err}")));
    let out_dir = std::env::var("OUT_DIR").unwrap_or_else(|_| fail("OUT_DIR is not set"));
    let out = Path::new(&out_dir).join("knowledge.json");
    fs::write(&out, blob)
        .unwrap_or_else(|err| fail(&format!("cannot write {}: {err}", out.display())));
}

fn fail(reason: &str) -> ! {
    // A build script reports a fatal problem by panicking; keep the reason on one line.
    panic!("knowledge packs: {reason}")
}
