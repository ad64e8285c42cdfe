//! Runs the official WebAssembly spec test suite through the `.wast` runner:
//! one trial per (configuration, top-level `.wast` file), judged against the
//! expected-failures list in `tests/spec-expected-failures.txt`. Kiln's own scripts in
//! `tests/wast/` (regressions: cases the suite does not cover) run the same way, as
//! `CONFIG::kiln/FILE`, and must pass completely.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use libtest_mimic::{Arguments, Failed, Trial};

/// The engine configurations every spec file runs under: the defaults; explicit bounds
/// checks; eager initialization (data segments copied, not mapped from an image; tables
/// filled at instantiation, not lazily); inlining forced on for every call it can take
/// (the most permissive thresholds); every module loaded back from its serialized artifact,
/// as a precompiled module is; fuel consumed (with a budget no script exhausts); and epoch
/// checks (with a deadline that never comes).
const CONFIGS: &[&str] = &["default", "bounds-checks", "eager-init", "inline-all", "serialize", "fuel", "epochs"];

/// Name of the trial that checks the expected-failures list itself.
const LIST_TRIAL: &str = "spec-expected-failures.txt";

fn main() {
    let args = Arguments::from_args();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let suite = std::env::var_os("KILN_SPEC_TESTSUITE")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("../shared/spec-testsuite"));
    let list_path = root.join("tests/spec-expected-failures.txt");

    let files = if suite.is_dir() {
        match spec_files(&suite) {
            Ok(files) => Some(files),
            Err(e) => {
                eprintln!("error: cannot list {}: {e}", suite.display());
                std::process::exit(1);
            }
        }
    } else if std::env::var("CI").is_ok_and(|v| v == "true") {
        eprintln!(
            "error: the spec test suite is missing at {} (set KILN_SPEC_TESTSUITE or put a \
             copy of https://github.com/WebAssembly/testsuite there)",
            suite.display()
        );
        std::process::exit(1);
    } else {
        println!(
            "note: the spec test suite was not found at {}; no spec trials registered.\n\
             note: to run them, put a copy of https://github.com/WebAssembly/testsuite \
             (the upstream named in the suite's SOURCE.md) there, or point \
             KILN_SPEC_TESTSUITE at one.",
            suite.display()
        );
        None
    };

    let list = ExpectedFailures::load(&list_path, files.as_deref());
    let mut trials = vec![list_trial(&list)];
    for file in files.unwrap_or_default() {
        for &config in CONFIGS {
            trials.push(spec_trial(&suite, &file, config, &list));
        }
    }
    let own = root.join("tests/wast");
    let own_files = spec_files(&own).unwrap_or_else(|e| {
        eprintln!("error: cannot list {}: {e}", own.display());
        std::process::exit(1);
    });
    for file in own_files {
        for &config in CONFIGS {
            let path = own.join(&file);
            let name = format!("kiln/{file}");
            trials.push(Trial::test(format!("{config}::{name}"), move || {
                run_trial(&path, &name, config, None, &BTreeMap::new()).map_err(Failed::from)
            }));
        }
    }
    libtest_mimic::run(&args, trials).exit();
}

/// The names of the top-level `.wast` files of the suite, sorted.
fn spec_files(suite: &Path) -> std::io::Result<Vec<String>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(suite)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".wast") && entry.file_type()?.is_file() {
            files.push(name);
        }
    }
    files.sort();
    Ok(files)
}

/// Builds the engine configuration named `name`.
fn make_config(name: &str) -> Result<kiln::Config, String> {
    let mut config = kiln::Config::new();
    let settings: &[(&str, &str)] = match name {
        "default" | "serialize" => &[],
        "bounds-checks" => &[("memory-reservation", "0"), ("memory-guard-size", "0")],
        "eager-init" => &[("memory-init-cow", "n"), ("table-lazy-init", "n")],
        "inline-all" => &[
            ("inlining", "y"),
            ("inlining-small-callee-size", "4294967295"),
            ("inlining-sum-size-threshold", "4294967295"),
        ],
        "fuel" => &[("consume-fuel", "y")],
        "epochs" => &[("epoch-interruption", "y")],
        other => return Err(format!("unknown configuration `{other}`")),
    };
    for (key, value) in settings {
        config.set(key, value).map_err(|e| format!("configuration `{name}`: {key}={value}: {e}"))?;
    }
    Ok(config)
}

/// One entry of the expected-failures list.
#[derive(Clone, Debug)]
struct Entry {
    /// Line of the list file the entry is on (1-based).
    list_line: usize,
    /// The entry as written, for messages.
    text: String,
}

/// The parsed expected-failures list, plus every problem found in it.
struct ExpectedFailures {
    /// (config or `*`, file, line or `None` for the whole file) to entry.
    entries: BTreeMap<(String, String, Option<usize>), Entry>,
    errors: Vec<String>,
}

impl ExpectedFailures {
    /// Reads and checks the list; `files` (when the suite is present) lets
    /// entries naming files that do not exist be reported.
    fn load(path: &Path, files: Option<&[String]>) -> ExpectedFailures {
        let mut list = ExpectedFailures { entries: BTreeMap::new(), errors: Vec::new() };
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) => {
                list.errors.push(format!("cannot read {}: {e}", path.display()));
                return list;
            }
        };
        let known: Option<BTreeSet<&str>> = files.map(|files| files.iter().map(String::as_str).collect());
        for (index, raw) in text.lines().enumerate() {
            let list_line = index + 1;
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            match parse_entry(line, known.as_ref()) {
                Ok(key) => {
                    let entry = Entry { list_line, text: line.to_string() };
                    if let Some(previous) = list.entries.insert(key, entry) {
                        list.errors.push(format!("line {list_line}: duplicates line {}", previous.list_line));
                    }
                }
                Err(e) => list.errors.push(format!("line {list_line}: {e}: `{line}`")),
            }
        }
        list
    }

    /// The whole-file entry and the per-line entries that apply to `file`
    /// under `config`.
    fn for_trial(&self, config: &str, file: &str) -> (Option<Entry>, BTreeMap<usize, Entry>) {
        let mut whole = None;
        let mut lines = BTreeMap::new();
        for ((c, f, line), entry) in &self.entries {
            if f != file || (c != "*" && c != config) {
                continue;
            }
            match line {
                None => whole = Some(entry.clone()),
                Some(line) => {
                    lines.insert(*line, entry.clone());
                }
            }
        }
        (whole, lines)
    }
}

/// Parses `<config|*> <file.wast>[:<line>] # <reason>` into its key.
fn parse_entry(line: &str, known: Option<&BTreeSet<&str>>) -> Result<(String, String, Option<usize>), String> {
    let (spec, reason) = line.split_once('#').ok_or("missing `# <reason>`")?;
    if reason.trim().is_empty() {
        return Err("empty reason after `#`".to_string());
    }
    let fields: Vec<&str> = spec.split_whitespace().collect();
    let [config, target] = fields[..] else {
        return Err("expected `<config|*> <file.wast>[:<line>]` before `#`".to_string());
    };
    if config != "*" && !CONFIGS.contains(&config) {
        return Err(format!("unknown configuration `{config}` (known: *, {})", CONFIGS.join(", ")));
    }
    let (file, line) = match target.split_once(':') {
        Some((file, number)) => match number.parse::<usize>() {
            Ok(n) if n > 0 => (file, Some(n)),
            _ => return Err(format!("bad line number `{number}`")),
        },
        None => (target, None),
    };
    if !file.ends_with(".wast") {
        return Err(format!("`{file}` is not a .wast file name"));
    }
    if let Some(known) = known
        && !known.contains(file)
    {
        return Err(format!("`{file}` is not a top-level file of the spec suite"));
    }
    Ok((config.to_string(), file.to_string(), line))
}

/// The trial that fails when the expected-failures list is malformed.
fn list_trial(list: &ExpectedFailures) -> Trial {
    let errors = list.errors.clone();
    Trial::test(LIST_TRIAL, move || {
        if errors.is_empty() {
            return Ok(());
        }
        let mut message = String::from("tests/spec-expected-failures.txt has bad entries:\n");
        for e in &errors {
            let _ = writeln!(message, "  {e}");
        }
        Err(Failed::from(message))
    })
}

/// The trial running `file` under `config`.
fn spec_trial(suite: &Path, file: &str, config: &str, list: &ExpectedFailures) -> Trial {
    let path = suite.join(file);
    let (whole, lines) = list.for_trial(config, file);
    let file = file.to_string();
    let config = config.to_string();
    Trial::test(format!("{config}::{file}"), move || {
        run_trial(&path, &file, &config, whole, &lines).map_err(Failed::from)
    })
}

/// Runs one file and compares its failures with the expected ones.
fn run_trial(
    path: &Path,
    file: &str,
    config_name: &str,
    whole: Option<Entry>,
    lines: &BTreeMap<usize, Entry>,
) -> Result<(), String> {
    let config = make_config(config_name)?;
    let result = kiln_wast::run_file_with(path, &config, config_name == "serialize");

    if let Some(entry) = whole {
        return match result {
            Ok(report) if report.failures.is_empty() => Err(format!(
                "unexpected pass: {file} passed all {} assertions under `{config_name}`; \
                 remove line {} of tests/spec-expected-failures.txt: `{}`",
                report.passed, entry.list_line, entry.text
            )),
            _ => Ok(()),
        };
    }

    let report = result.map_err(|e| format!("{file}: could not run the script: {e:#}"))?;
    let failed_lines: BTreeSet<usize> = report.failures.iter().map(|f| f.line).collect();
    let unexpected: Vec<&kiln_wast::Failure> =
        report.failures.iter().filter(|f| !lines.contains_key(&f.line)).collect();
    let unexpected_passes: Vec<(&usize, &Entry)> =
        lines.iter().filter(|(line, _)| !failed_lines.contains(line)).collect();
    if unexpected.is_empty() && unexpected_passes.is_empty() {
        return Ok(());
    }

    let mut message = String::new();
    if !unexpected.is_empty() {
        let _ = writeln!(
            message,
            "{} unexpected failure(s) in {file} under `{config_name}` \
             ({} of {} assertions passed):",
            unexpected.len(),
            report.passed,
            report.total()
        );
        for failure in &unexpected {
            let _ = writeln!(message, "  {file}:{}: {}: {}", failure.line, failure.kind, failure.message);
        }
    }
    if !unexpected_passes.is_empty() {
        let _ = writeln!(
            message,
            "{} unexpected pass(es) in {file} under `{config_name}`; remove these lines of \
             tests/spec-expected-failures.txt:",
            unexpected_passes.len()
        );
        for (line, entry) in &unexpected_passes {
            let _ = writeln!(message, "  {file}:{line} now passes: line {}: `{}`", entry.list_line, entry.text);
        }
    }
    Err(message)
}
