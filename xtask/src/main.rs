//! `cargo xtask <command>`: the project's one task runner.
//!
//! setup  install what the build and tests need (idempotent)
//! build  the unpacked extension in extension/ and the backend binary
//! run    build, then serve the backend on its embedded defaults
//! test   setup, then every test: native, wasm in Chromium, e2e
//! bench  print the benchmark figures
//! dist   zip the extension for the Chrome and Firefox stores (Firefox build linted)
//! fuzz   run the cargo-fuzz targets: `fuzz [--seconds N] [--asan] [TARGET…]`

mod fuzz;
mod tools;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use tools::{Toolchain, cmd, root};

type Result<T = ()> = std::result::Result<T, String>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("setup") => setup(),
        Some("build") => setup().and_then(|()| build()),
        Some("run") => setup()
            .and_then(|()| build())
            .and_then(|()| run(&args[1..])),
        Some("test") => setup().and_then(|()| test()),
        Some("bench") => setup().and_then(|()| bench()),
        Some("dist") => setup().and_then(|()| build()).and_then(|()| dist()),
        Some("fuzz") => fuzz::fuzz(&args[1..]),
        _ => Err("usage: cargo xtask <setup|build|run|test|bench|dist|fuzz>".into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

fn setup() -> Result {
    let toolchain = Toolchain::load()?;
    toolchain.check_pins()?;
    tools::ensure_wasm_target()?;
    toolchain.ensure_wasm_bindgen_cli()?;
    tools::ensure_npm_packages()?;
    tools::ensure_moto()?;
    tools::ensure_chromium()?;
    tools::ensure_postgresql()?;
    tools::ensure_cargo_fuzz()?;
    Ok(())
}

/// The extension (release wasm, wasm-opt) and the backend (debug, as the tests use it).
fn build() -> Result {
    build_extension()?;
    cmd("cargo", ["build", "--package", "consoledx"]).run()
}

fn build_extension() -> Result {
    let toolchain = Toolchain::load()?;
    let root = root();
    build_wasm(&toolchain, &toolchain.build)?;
    build_wasm(&toolchain, &toolchain.pages)?;
    build_bridge(&root)?;
    println!(
        "xtask: extension ready to load unpacked from {}",
        root.join("extension").display()
    );
    Ok(())
}

/// One wasm crate: cargo, wasm-bindgen's glue, then wasm-opt, into its out dir.
fn build_wasm(toolchain: &Toolchain, build: &tools::Build) -> Result {
    let root = root();
    let crate_name = &build.krate;
    let profile = &build.profile;
    cmd(
        "cargo",
        [
            "build",
            "--package",
            crate_name,
            "--target",
            "wasm32-unknown-unknown",
            "--profile",
            profile,
        ],
    )
    .run()?;
    let wasm = root
        .join("target/wasm32-unknown-unknown")
        .join(profile)
        .join(format!("{}.wasm", crate_name.replace('-', "_")));
    let out_dir = root.join(&build.out_dir);
    std::fs::create_dir_all(&out_dir)
        .map_err(|e| format!("creating {}: {e}", out_dir.display()))?;
    cmd(
        "wasm-bindgen",
        [
            "--target",
            &toolchain.wasm_bindgen.target,
            "--no-typescript",
            "--out-dir",
        ],
    )
    .arg(&out_dir)
    .arg(&wasm)
    .run()?;
    // wasm-bindgen's glue is readable JS with doc comments: minified it is
    // a third smaller (1.4 KB gzip of the 200 KB payload budget).
    let glue = format!("{}/{}.js", build.out_dir, crate_name.replace('-', "_"));
    minify(&root, &glue, "esm", &glue, &[])?;
    let bg = out_dir.join(format!("{}_bg.wasm", crate_name.replace('-', "_")));
    cmd(
        root.join("node_modules/.bin/wasm-opt"),
        toolchain.wasm_opt.flags.iter(),
    )
    .arg(&bg)
    .arg("-o")
    .arg(&bg)
    .run()
}

/// The page bridge is the only code loaded into every console page, and the
/// panel module comes on the first Diagnose click: both ship minified (their
/// readable sources are in extension/src/).
fn build_bridge(root: &Path) -> Result {
    for (source, format) in [("bridge", "iife"), ("panel", "esm")] {
        minify(
            root,
            &format!("extension/src/{source}.js"),
            format,
            &format!("extension/{source}.js"),
            &[],
        )?;
    }
    // The service worker bundles its token helpers (one file to load, and
    // they count in the payload budget); the wasm glue stays a separate module.
    minify(
        root,
        "extension/src/sw.js",
        "esm",
        "extension/sw.js",
        &["--bundle", "--external:./pkg/*"],
    )
}

/// esbuild's minifier, for the browsers the manifest names.
fn minify(root: &Path, source: &str, format: &str, outfile: &str, extra: &[&str]) -> Result {
    cmd(
        root.join("node_modules/.bin/esbuild"),
        [
            source.to_string(),
            "--minify".into(),
            format!("--format={format}"),
            "--target=chrome120,firefox142".into(),
            "--legal-comments=none".into(),
            "--log-level=warning".into(),
            "--allow-overwrite".into(),
            format!("--outfile={outfile}"),
        ]
        .into_iter()
        .chain(extra.iter().map(|arg| arg.to_string())),
    )
    .current_dir(root)
    .run()
}

/// `cargo xtask run -- --addr …` hands xtask the `--` too: it only separates.
fn run(extra: &[String]) -> Result {
    let binary = root().join("target/debug/consoledx");
    let serve_args = extra.strip_prefix(&["--".to_string()]).unwrap_or(extra);
    cmd(binary, ["serve"]).args(serve_args).run()
}

fn test() -> Result {
    let root = root();
    let moto = tools::moto_server();
    // Native: every pure crate and the backend (which starts its own moto servers).
    cmd(
        "cargo",
        ["test", "--workspace", "--exclude", "consoledx-wasm"],
    )
    .env("MOTO_SERVER", &moto)
    .run()?;
    // The extractor, ARN parser, redactor and templating under cargo-fuzz, briefly.
    fuzz::brief()?;
    // The wasm core in headless Chromium.
    cmd(
        "cargo",
        [
            "test",
            "--package",
            "consoledx-wasm",
            "--target",
            "wasm32-unknown-unknown",
        ],
    )
    .env(
        "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER",
        "wasm-bindgen-test-runner",
    )
    .env("CHROMEDRIVER", "/usr/bin/chromedriver")
    .env("WASM_BINDGEN_TEST_TIMEOUT", "60")
    .run()?;
    // The store packages, the Firefox one through Mozilla's linter. The
    // backend binary is the one `cargo test` built: `cargo build` alone would
    // compile the AWS SDK again without the test-only features.
    build_extension()?;
    dist()?;
    // End to end: the built extension in Chromium against Cloudscape pages, the backend and moto.
    cmd("node", ["--test", "--test-concurrency=1", "e2e/tests/"])
        .current_dir(&root)
        .env("MOTO_SERVER", &moto)
        .env("CONSOLEDX_BIN", root.join("target/debug/consoledx"))
        .run()
}

fn bench() -> Result {
    build()?;
    payload_size()?;
    cmd(
        "cargo",
        ["bench", "--workspace", "--exclude", "consoledx-wasm"],
    )
    .run()?;
    tools::ensure_load_tool()?;
    cmd("bash", ["backend/benches/load.sh"]).run()?;
    cmd("node", ["e2e/bench.mjs"])
        .current_dir(root())
        .env("MOTO_SERVER", tools::moto_server())
        .run()
}

/// What the browser downloads for the extension's logic: wasm + JS, gzip.
fn payload_size() -> Result {
    let root = root();
    let files = payload_files(&root)?;
    let mut raw_total = 0;
    let mut gzip_total = 0;
    for file in &files {
        let bytes = std::fs::read(file).map_err(|e| format!("reading {}: {e}", file.display()))?;
        let gzipped = tools::gzip_len(&bytes)?;
        println!(
            "payload {:>9} B raw {:>8} B gzip  {}",
            bytes.len(),
            gzipped,
            file.strip_prefix(&root).unwrap_or(file).display()
        );
        raw_total += bytes.len();
        gzip_total += gzipped;
    }
    println!(
        "payload total {raw_total} B raw, {gzip_total} B gzip ({:.1} KB gzip)",
        gzip_total as f64 / 1024.0
    );
    Ok(())
}

fn payload_files(root: &Path) -> Result<Vec<PathBuf>> {
    let mut files = vec![
        root.join("extension/bridge.js"),
        root.join("extension/panel.js"),
        root.join("extension/sw.js"),
    ];
    let pkg = root.join("extension/pkg");
    let entries = std::fs::read_dir(&pkg)
        .map_err(|e| format!("{}: {e} (run `cargo xtask build`)", pkg.display()))?;
    for entry in entries.flatten() {
        let path = entry.path();
        if path
            .extension()
            .is_some_and(|ext| ext == "wasm" || ext == "js")
        {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

fn dist() -> Result {
    let root = root();
    let out = root.join("dist");
    let firefox_dir = firefox_build(&out)?;
    tools::web_ext_lint(&firefox_dir)?;
    for (store, dir) in [("chrome", root.join("extension")), ("firefox", firefox_dir)] {
        let zip = out.join(format!("consoledx-{store}.zip"));
        tools::zip_extension(&dir, &zip)?;
        println!("xtask: wrote {}", zip.display());
    }
    Ok(())
}

/// Firefox's MV3 runs background scripts, not a service worker, and needs an
/// add-on id; everything else is the Chrome build as it is.
fn firefox_build(out: &Path) -> Result<PathBuf> {
    let root = root();
    let dir = out.join("firefox");
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(|e| format!("clearing {}: {e}", dir.display()))?;
    }
    tools::copy_extension(&root.join("extension"), &dir)?;
    let manifest_path = dir.join("manifest.json");
    let text = std::fs::read_to_string(&manifest_path)
        .map_err(|e| format!("{}: {e}", manifest_path.display()))?;
    let mut manifest: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", manifest_path.display()))?;
    let object = manifest
        .as_object_mut()
        .ok_or("extension/manifest.json is not a JSON object")?;
    object.remove("minimum_chrome_version");
    object.insert(
        "background".into(),
        serde_json::json!({"scripts": ["sw.js"], "type": "module"}),
    );
    object.insert(
        "browser_specific_settings".into(),
        serde_json::json!({"gecko": {
            "id": "consoledx@consoledx.dev",
            "strict_min_version": "142.0",
            "data_collection_permissions": {"required": ["websiteContent"]}
        }}),
    );
    let pretty = serde_json::to_string_pretty(&manifest).map_err(|e| e.to_string())?;
    std::fs::write(&manifest_path, pretty + "\n")
        .map_err(|e| format!("{}: {e}", manifest_path.display()))?;
    Ok(dir)
}
