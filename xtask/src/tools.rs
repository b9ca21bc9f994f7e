//! Running commands and installing the pinned tools.

use crate::Result;
use serde::Deserialize;
use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

pub struct Cmd(Command);

pub fn cmd<I, S>(program: impl AsRef<OsStr>, args: I) -> Cmd
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut command = Command::new(program);
    command.args(args).current_dir(root());
    Cmd(command)
}

impl Cmd {
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.0.arg(arg);
        self
    }
    pub fn args<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(mut self, args: I) -> Self {
        self.0.args(args);
        self
    }
    pub fn env(mut self, key: &str, value: impl AsRef<OsStr>) -> Self {
        self.0.env(key, value);
        self
    }
    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.0.current_dir(dir);
        self
    }
    fn describe(&self) -> String {
        let args: Vec<_> = self
            .0
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        format!(
            "{} {}",
            self.0.get_program().to_string_lossy(),
            args.join(" ")
        )
    }
    pub fn run(mut self) -> Result {
        let described = self.describe();
        println!("$ {described}");
        let status = self
            .0
            .status()
            .map_err(|e| format!("cannot start `{described}`: {e}"))?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("`{described}` failed ({status})"))
        }
    }
    /// Runs quietly and returns stdout, or `None` when the program is missing or fails.
    pub fn output(mut self) -> Option<String> {
        let out = self.0.output().ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

/// wasm-pack.toml: the pinned WebAssembly toolchain.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Toolchain {
    #[serde(rename = "wasm-bindgen")]
    pub wasm_bindgen: WasmBindgen,
    #[serde(rename = "wasm-opt")]
    pub wasm_opt: WasmOpt,
    pub build: Build,
    pub pages: Build,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WasmBindgen {
    pub version: String,
    pub target: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct WasmOpt {
    pub npm_package: String,
    pub version: String,
    pub flags: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Build {
    #[serde(rename = "crate")]
    pub krate: String,
    pub profile: String,
    pub out_dir: String,
}

impl Toolchain {
    pub fn load() -> Result<Toolchain> {
        let path = root().join("wasm-pack.toml");
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The crate's wasm-bindgen and package.json's binaryen must be the versions pinned here.
    pub fn check_pins(&self) -> Result {
        let pin = format!("wasm-bindgen = \"={}\"", self.wasm_bindgen.version);
        for manifest in ["crate/Cargo.toml", "pages/Cargo.toml"] {
            if !read(&root().join(manifest))?.contains(&pin) {
                return Err(format!(
                    "{manifest} must pin `{pin}` to match wasm-pack.toml"
                ));
            }
        }
        let package: serde_json::Value = serde_json::from_str(&read(&root().join("package.json"))?)
            .map_err(|e| format!("package.json: {e}"))?;
        let npm_pin = package["devDependencies"][&self.wasm_opt.npm_package]
            .as_str()
            .unwrap_or("");
        if npm_pin != self.wasm_opt.version {
            return Err(format!(
                "package.json pins {}@{npm_pin:?}, wasm-pack.toml pins {}",
                self.wasm_opt.npm_package, self.wasm_opt.version
            ));
        }
        Ok(())
    }

    pub fn ensure_wasm_bindgen_cli(&self) -> Result {
        let wanted = &self.wasm_bindgen.version;
        let installed = cmd("wasm-bindgen", ["--version"])
            .output()
            .unwrap_or_default();
        if installed.split_whitespace().nth(1) == Some(wanted.as_str()) {
            return Ok(());
        }
        // `--locked` fails here: a locked dependency version is not served by the registry.
        cmd(
            "cargo",
            ["install", "wasm-bindgen-cli", "--version", wanted],
        )
        .run()
    }
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

pub fn ensure_wasm_target() -> Result {
    let installed = cmd("rustup", ["target", "list", "--installed"])
        .output()
        .unwrap_or_default();
    if installed
        .lines()
        .any(|line| line.trim() == "wasm32-unknown-unknown")
    {
        return Ok(());
    }
    cmd("rustup", ["target", "add", "wasm32-unknown-unknown"]).run()
}

/// The build's tools (root) and the test fixtures the backend's own tests
/// start (e2e/: the OpenID provider), so before any `cargo test`.
pub fn ensure_npm_packages() -> Result {
    for dir in [root(), root().join("e2e")] {
        let lock = dir.join("package-lock.json");
        let marker = dir.join("node_modules/.package-lock.json");
        let fresh = match (
            std::fs::metadata(&lock).and_then(|m| m.modified()),
            std::fs::metadata(&marker).and_then(|m| m.modified()),
        ) {
            (Ok(lock), Ok(installed)) => installed >= lock,
            _ => false,
        };
        if !fresh {
            cmd("npm", ["ci", "--no-audit", "--no-fund"])
                .current_dir(&dir)
                .run()?;
        }
    }
    Ok(())
}

/// Pinned like every other tool; `--locked` builds it with its own lockfile.
const CARGO_FUZZ_VERSION: &str = "0.13.2";

pub fn ensure_cargo_fuzz() -> Result {
    let installed = cmd("cargo", ["fuzz", "--version"])
        .output()
        .unwrap_or_default();
    if installed.split_whitespace().nth(1) == Some(CARGO_FUZZ_VERSION) {
        return Ok(());
    }
    cmd(
        "cargo",
        [
            "install",
            "cargo-fuzz",
            "--version",
            CARGO_FUZZ_VERSION,
            "--locked",
        ],
    )
    .run()
}

const MOTO: &str = "moto[server]==5.2.5";

pub fn moto_server() -> PathBuf {
    root().join(".venv/bin/moto_server")
}

/// A project-local venv with the pinned moto server (and boto3, which the e2e seeds state with).
pub fn ensure_moto() -> Result {
    let venv = root().join(".venv");
    let python = venv.join("bin/python");
    let pinned = python.exists()
        && cmd(&python, ["-m", "pip", "show", "moto"])
            .output()
            .is_some_and(|out| out.contains("Version: 5.2.5"));
    if pinned && moto_server().exists() {
        return Ok(());
    }
    if !python.exists() {
        cmd("python3", ["-m", "venv"]).arg(&venv).run()?;
    }
    cmd(
        &python,
        [
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            MOTO,
        ],
    )
    .run()
}

pub fn ensure_chromium() -> Result {
    if Path::new("/usr/bin/chromium").exists() && Path::new("/usr/bin/chromedriver").exists() {
        return Ok(());
    }
    let is_root = cmd("id", ["-u"])
        .output()
        .is_some_and(|uid| uid.trim() == "0");
    if !is_root {
        return Err(
            "Chromium is missing: install Debian's `chromium` and `chromium-driver` packages"
                .into(),
        );
    }
    cmd("apt-get", ["update", "-qq"]).run()?;
    cmd(
        "apt-get",
        ["install", "-y", "-qq", "chromium", "chromium-driver"],
    )
    .env("DEBIAN_FRONTEND", "noninteractive")
    .run()
}

/// The PostgreSQL server binaries (initdb, pg_ctl, postgres) that the store tests start a
/// throw-away server with; Debian keeps them in /usr/lib/postgresql/VERSION/bin.
pub fn ensure_postgresql() -> Result {
    let installed = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .any(|entry| {
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file() && bin.join("pg_ctl").is_file()
        });
    if installed {
        return Ok(());
    }
    let is_root = cmd("id", ["-u"])
        .output()
        .is_some_and(|uid| uid.trim() == "0");
    if !is_root {
        return Err("PostgreSQL is missing: install Debian's `postgresql` package".into());
    }
    cmd("apt-get", ["update", "-qq"]).run()?;
    cmd("apt-get", ["install", "-y", "-qq", "postgresql"])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .run()
}

/// The load benchmark drives the backend with oha when installed, else wrk
/// (Debian's package: oha takes half an hour to build on two cores).
pub fn ensure_load_tool() -> Result {
    let installed = |tool: &str| {
        cmd("sh", ["-c", &format!("command -v {tool}")])
            .output()
            .is_some()
    };
    if installed("oha") || installed("wrk") {
        return Ok(());
    }
    cmd("apt-get", ["install", "-y", "-qq", "wrk"])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .run()
}

pub fn gzip_len(bytes: &[u8]) -> Result<usize> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).map_err(|e| e.to_string())?;
    encoder
        .finish()
        .map(|out| out.len())
        .map_err(|e| e.to_string())
}

/// Zips the unpacked extension, generated pkg/ included.
pub fn zip_extension(dir: &Path, out: &Path) -> Result {
    let file = std::fs::File::create(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let mut zip = zip::ZipWriter::new(file);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&current)
            .map_err(|e| format!("{}: {e}", current.display()))?
            .flatten()
            .collect();
        entries.sort_by_key(|entry| entry.path());
        for entry in entries {
            let path = entry.path();
            if path == dir.join(SOURCE_DIR) {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let name = path
                .strip_prefix(dir)
                .map_err(|e| e.to_string())?
                .to_string_lossy()
                .replace('\\', "/");
            zip.start_file(name, options).map_err(|e| e.to_string())?;
            zip.write_all(&std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?)
                .map_err(|e| e.to_string())?;
        }
    }
    zip.finish().map_err(|e| e.to_string())?;
    Ok(())
}

/// Readable sources of built files (extension/src/bridge.js): not shipped.
const SOURCE_DIR: &str = "src";

/// Copies an extension directory, leaving out its sources.
pub fn copy_extension(from: &Path, to: &Path) -> Result {
    copy_dir(from, to, &[SOURCE_DIR])
}

fn copy_dir(from: &Path, to: &Path, skip: &[&str]) -> Result {
    std::fs::create_dir_all(to).map_err(|e| format!("creating {}: {e}", to.display()))?;
    for entry in std::fs::read_dir(from)
        .map_err(|e| format!("{}: {e}", from.display()))?
        .flatten()
    {
        if skip.iter().any(|name| entry.file_name() == *name) {
            continue;
        }
        let (source, target) = (entry.path(), to.join(entry.file_name()));
        if source.is_dir() {
            copy_dir(&source, &target, &[])?;
        } else {
            std::fs::copy(&source, &target)
                .map_err(|e| format!("copying {}: {e}", source.display()))?;
        }
    }
    Ok(())
}

/// Mozilla's linter on the Firefox build; warnings are printed, errors fail.
pub fn web_ext_lint(dir: &Path) -> Result {
    cmd(
        root().join("node_modules/.bin/web-ext"),
        ["lint", "--no-config-discovery", "--source-dir"],
    )
    .arg(dir)
    .run()
}
