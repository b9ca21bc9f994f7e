//! `cargo xtask fuzz [--seconds N] [--asan] [TARGET…]`: the cargo-fuzz
//! targets in fuzz/, seeded from the repository's own fixtures.
//!
//! Seeds are written at run time into fuzz/corpus/<target>/ (gitignored), so
//! the fixtures stay the single copy of the data. Without `--asan` the
//! targets build with no sanitizer and need no unstable flag: the core is
//! safe Rust, so panics and hangs are what there is to find, and libFuzzer
//! runs about twice as many inputs a second. `--asan` needs `-Z` flags,
//! which the pinned stable toolchain accepts under `RUSTC_BOOTSTRAP=1`.

use crate::Result;
use crate::tools::{cmd, root};
use serde_json::Value;
use std::collections::BTreeSet;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// What `cargo xtask test` gives each target: enough to catch a regression
/// on the seeds and their near neighbours.
pub const BRIEF_SECONDS: u64 = 15;
const DEFAULT_SECONDS: u64 = 60;
/// libFuzzer's limit for one input; the extractor takes microseconds.
const INPUT_TIMEOUT_SECONDS: u64 = 10;
/// Separates the parts of one input, as fuzz/src/lib.rs reads them.
const SEPARATOR: &str = "\0";

struct Options {
    seconds: u64,
    asan: bool,
    targets: Vec<String>,
    /// libFuzzer's seed; `None` lets it pick one.
    seed: Option<u64>,
}

fn parse_options(args: &[String]) -> Result<Options> {
    let known = targets()?;
    let mut options = Options {
        seconds: DEFAULT_SECONDS,
        asan: false,
        targets: Vec::new(),
        seed: None,
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seconds" => {
                let value = args.next().ok_or("--seconds needs a number")?;
                options.seconds = value
                    .parse()
                    .map_err(|_| format!("--seconds takes whole seconds, not `{value}`"))?;
            }
            "--asan" => options.asan = true,
            target if known.iter().any(|name| name == target) => {
                options.targets.push(target.to_owned());
            }
            other => {
                return Err(format!(
                    "unknown fuzz option or target `{other}` (targets: {})",
                    known.join(", ")
                ));
            }
        }
    }
    if options.targets.is_empty() {
        options.targets = known;
    }
    Ok(options)
}

/// `cargo xtask fuzz …`.
pub fn fuzz(args: &[String]) -> Result {
    crate::tools::ensure_cargo_fuzz()?;
    let options = parse_options(args)?;
    run_targets(&options)
}

/// Every target for `BRIEF_SECONDS`, as part of `cargo xtask test`. A fixed
/// seed makes the gate replay the same inputs on every run, so a red run is
/// a change in the code, not a luckier draw; exploring is `cargo xtask fuzz`.
pub fn brief() -> Result {
    run_targets(&Options {
        seconds: BRIEF_SECONDS,
        asan: false,
        targets: targets()?,
        seed: Some(1),
    })
}

/// The fuzz targets, as fuzz/Cargo.toml declares them.
fn targets() -> Result<Vec<String>> {
    let path = root().join("fuzz/Cargo.toml");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let manifest: toml::Table =
        toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let names: Vec<String> = manifest
        .get("bin")
        .and_then(toml::Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|bin| bin.get("name")?.as_str().map(str::to_owned))
        .collect();
    if names.is_empty() {
        return Err(format!(
            "{} declares no [[bin]] fuzz target",
            path.display()
        ));
    }
    Ok(names)
}

/// How cargo-fuzz is invoked: the pinned toolchain, or nightly when the
/// pinned one refuses the `-Z` flags even under `RUSTC_BOOTSTRAP`.
struct Runner {
    toolchain: Option<&'static str>,
    asan: bool,
}

impl Runner {
    fn command(&self, subcommand: &str) -> Command {
        let mut command = Command::new("cargo");
        if let Some(toolchain) = self.toolchain {
            command.arg(format!("+{toolchain}"));
        }
        command.args(["fuzz", subcommand, "--debug-assertions"]);
        if self.asan {
            command.env("RUSTC_BOOTSTRAP", "1");
        } else {
            command.args(["--sanitizer", "none"]);
        }
        command.current_dir(root());
        command
    }

    fn build(&self) -> Result {
        let mut command = self.command("build");
        println!("$ {command:?}");
        let status = command
            .status()
            .map_err(|e| format!("cannot start cargo fuzz build: {e}"))?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("cargo fuzz build failed ({status})"))
        }
    }
}

fn nightly_installed() -> bool {
    cmd("rustup", ["toolchain", "list"])
        .output()
        .is_some_and(|list| list.lines().any(|line| line.starts_with("nightly")))
}

fn run_targets(options: &Options) -> Result {
    let mut runner = Runner {
        toolchain: None,
        asan: options.asan,
    };
    if let Err(pinned) = runner.build() {
        if !nightly_installed() {
            return Err(pinned);
        }
        println!("xtask: {pinned}; trying the nightly toolchain");
        runner.toolchain = Some("nightly");
        runner.build()?;
    }
    let seeds = write_seeds(&options.targets)?;
    println!("xtask: {seeds} seed inputs from the test fixtures");
    let mut summaries = Vec::new();
    for target in &options.targets {
        summaries.push(run_target(&runner, target, options)?);
    }
    for summary in summaries {
        println!("{summary}");
    }
    Ok(())
}

/// Runs one target; on a crash, fails with the saved input's path.
fn run_target(runner: &Runner, target: &str, options: &Options) -> Result<String> {
    let artifacts = root().join("fuzz/artifacts").join(target);
    let before = list_files(&artifacts);
    let mut command = runner.command("run");
    command.arg(target).arg("--").args([
        format!("-max_total_time={}", options.seconds),
        format!("-timeout={INPUT_TIMEOUT_SECONDS}"),
        "-print_final_stats=1".to_owned(),
    ]);
    if let Some(seed) = options.seed {
        command.arg(format!("-seed={seed}"));
    }
    println!("$ {command:?}");
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot start cargo fuzz run {target}: {e}"))?;
    let log = String::from_utf8_lossy(&output.stderr);
    if output.status.success() {
        return Ok(summarize(target, &log));
    }
    // The panic message and libFuzzer's verdict, without the stack frames.
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report: Vec<&str> = log
        .lines()
        .chain(stdout.lines())
        .filter(|line| !is_backtrace_line(line))
        .collect();
    let verdict = report
        .iter()
        .position(|line| line.contains("panicked at") || line.contains("ERROR: libFuzzer"))
        .unwrap_or(report.len().saturating_sub(40));
    for line in report.iter().skip(verdict).take(40) {
        eprintln!("{line}");
    }
    let new_inputs: Vec<String> = list_files(&artifacts)
        .difference(&before)
        .map(|path| path.display().to_string())
        .collect();
    Err(if new_inputs.is_empty() {
        format!("fuzz target `{target}` failed ({})", output.status)
    } else {
        format!(
            "fuzz target `{target}` crashed; input saved as {} (reproduce: cargo fuzz run -a --sanitizer none {target} <that file>)",
            new_inputs.join(", ")
        )
    })
}

fn is_backtrace_line(line: &str) -> bool {
    let trimmed = line.trim_start();
    trimmed.starts_with("at ")
        || trimmed.split_once(": ").is_some_and(|(frame, _)| {
            !frame.is_empty() && frame.bytes().all(|b| b.is_ascii_digit())
        })
}

fn list_files(dir: &Path) -> BTreeSet<PathBuf> {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .collect()
}

/// One line from libFuzzer's final stats and last status line.
fn summarize(target: &str, log: &str) -> String {
    let stat = |name: &str| {
        log.lines()
            .find_map(|line| line.strip_prefix(name)?.trim().parse::<u64>().ok())
            .map_or_else(|| "?".to_owned(), |n| n.to_string())
    };
    let last_status = log
        .lines()
        .rev()
        .find(|line| line.starts_with('#') && line.contains("cov:"))
        .unwrap_or("");
    let field = |name: &str| {
        let mut words = last_status.split_whitespace();
        words
            .find(|word| *word == name)
            .and(words.next())
            .unwrap_or("?")
            .to_owned()
    };
    format!(
        "fuzz {target}: {} runs, {} exec/s, cov {}, ft {}, corpus {}, no crash",
        stat("stat::number_of_executed_units:"),
        stat("stat::average_exec_per_sec:"),
        field("cov:"),
        field("ft:"),
        field("corp:"),
    )
}

/// Writes every target's seeds, named by content so reruns add nothing.
fn write_seeds(targets: &[String]) -> Result<usize> {
    let texts = fixture_texts()?;
    let mut written = 0;
    for target in targets {
        let dir = root().join("fuzz/corpus").join(target);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        for seed in seeds_for(target, &texts) {
            let mut hasher = DefaultHasher::new();
            seed.hash(&mut hasher);
            let path = dir.join(format!("seed-{:016x}", hasher.finish()));
            if !path.exists() {
                std::fs::write(&path, &seed).map_err(|e| format!("{}: {e}", path.display()))?;
            }
            written += 1;
        }
    }
    Ok(written)
}

/// What the fixtures hold, as the targets read it.
#[derive(Default)]
struct FixtureTexts {
    /// Every string value.
    strings: BTreeSet<String>,
    /// `message \0 url` of every case with a message or a URL, and the
    /// fuller form for every page snapshot.
    extract_inputs: BTreeSet<String>,
}

fn seeds_for(target: &str, texts: &FixtureTexts) -> Vec<String> {
    match target {
        "arn" => texts
            .strings
            .iter()
            .flat_map(|text| text.match_indices("arn:").map(|(at, _)| &text[at..]))
            .map(|from| {
                from.split([' ', '"', '\'', '\n', '\t', '<', '>', '(', ')'])
                    .next()
                    .unwrap_or(from)
                    .to_owned()
            })
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect(),
        "extract" | "template" => texts.extract_inputs.iter().cloned().collect(),
        _ => texts.strings.iter().cloned().collect(),
    }
}

fn fixture_texts() -> Result<FixtureTexts> {
    let root = root();
    let mut texts = FixtureTexts::default();
    let mut files = Vec::new();
    json_files(&root.join("core/tests/data"), &mut files)?;
    for file in files {
        let text =
            std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        // The invalid-input fixtures are meant not to parse: their text still seeds.
        match serde_json::from_str::<Value>(&text) {
            Ok(value) => collect(&value, &mut texts),
            Err(_) => {
                texts.strings.insert(text);
            }
        }
    }
    // The labelled real messages sit beside the repository where the team
    // keeps shared data; a checkout without them still has the fixtures.
    let dataset = root.join("../shared/data/aws-errors.jsonl");
    if let Ok(lines) = std::fs::read_to_string(&dataset) {
        for line in lines.lines() {
            if let Ok(value) = serde_json::from_str::<Value>(line) {
                collect(&value, &mut texts);
            }
        }
    }
    Ok(texts)
}

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            json_files(&path, out)?;
        } else if path
            .extension()
            .is_some_and(|ext| ext == "json" || ext == "jsonl" || ext == "toml")
        {
            out.push(path);
        }
    }
    Ok(())
}

fn collect(value: &Value, texts: &mut FixtureTexts) {
    match value {
        Value::String(text) => {
            texts.strings.insert(text.clone());
        }
        Value::Array(items) => items.iter().for_each(|item| collect(item, texts)),
        Value::Object(object) => {
            let text = |key: &str| object.get(key).and_then(Value::as_str).unwrap_or("");
            if object.contains_key("message") || object.contains_key("url") {
                texts
                    .extract_inputs
                    .insert([text("message"), text("url")].join(SEPARATOR));
            }
            if object.contains_key("content") || object.contains_key("header") {
                texts.extract_inputs.insert(snapshot_input(object));
            }
            object.values().for_each(|item| collect(item, texts));
        }
        _ => {}
    }
}

/// A page snapshot in the extract target's form (see fuzz/src/lib.rs).
fn snapshot_input(snapshot: &serde_json::Map<String, Value>) -> String {
    let text = |key: &str| snapshot.get(key).and_then(Value::as_str).unwrap_or("");
    let mut parts = vec![
        text("content"),
        text("url"),
        text("header"),
        text("navUserLabel"),
        text("navUserTitle"),
        text("metaRegion"),
        text("userInfoCookie"),
    ];
    for field in snapshot
        .get("fields")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let part = |key: &str| field.get(key).and_then(Value::as_str).unwrap_or("");
        parts.extend([part("label"), part("value")]);
    }
    parts.join(SEPARATOR)
}
