//! Runs the official WebAssembly spec test suite through the `.wast` runner:
//! one trial per (configuration, `.wast` file: the top-level ones, and those of `legacy/`,
//! which run with `legacy-exceptions=y`), judged against the
//! expected-failures list in `tests/spec-expected-failures.txt`. Kiln's own scripts in
//! `tests/wast/` (regressions: cases the suite does not cover) run the same way, as
//! `CONFIG::kiln/FILE`, and must pass completely.

mod common;

use std::path::Path;

use common::expected::{Expected, ExpectedFailures};
use common::suite::Suite;
use libtest_mimic::{Arguments, Failed, Trial};

/// The engine configurations every spec file runs under: the defaults; explicit bounds
/// checks; eager initialization (data segments copied, not mapped from an image; tables
/// filled at instantiation, not lazily); inlining forced on for every call it can take
/// (the most permissive thresholds); every module loaded back from its serialized artifact,
/// as a precompiled module is; fuel consumed (with a budget no script exhausts); and epoch
/// checks (with a deadline that never comes).
const CONFIGS: &[&str] = &["default", "bounds-checks", "eager-init", "inline-all", "serialize", "fuel", "epochs"];

/// The expected-failures list, relative to the workspace root; the trial checking the
/// list itself is named after its file.
const LIST: &str = "tests/spec-expected-failures.txt";

fn main() {
    let args = Arguments::from_args();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let suite = Suite {
        env_var: "KILN_SPEC_TESTSUITE",
        default: root.join("../shared/spec-testsuite"),
        what: "the spec test suite",
        upstream: "https://github.com/WebAssembly/testsuite",
    }
    .locate();
    let files = suite.as_deref().map(|suite| {
        spec_files(suite).unwrap_or_else(|e| {
            eprintln!("error: cannot list {}: {e}", suite.display());
            std::process::exit(1);
        })
    });

    let list = ExpectedFailures::load(&root.join(LIST), LIST, CONFIGS, files.as_deref());
    let mut trials = vec![list.list_trial()];
    if let (Some(suite), Some(files)) = (&suite, &files) {
        for file in files {
            for &config in CONFIGS {
                trials.push(spec_trial(suite, file, config, &list));
            }
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
                run_trial(&path, &name, config, &Expected::default()).map_err(Failed::from)
            }));
        }
    }
    libtest_mimic::run(&args, trials).exit();
}

/// The names of the top-level `.wast` files of the suite and of its `legacy/` folder (as
/// `legacy/NAME`), sorted.
fn spec_files(suite: &Path) -> std::io::Result<Vec<String>> {
    let mut files = Vec::new();
    let legacy = suite.join("legacy");
    if legacy.is_dir() {
        for entry in std::fs::read_dir(&legacy)? {
            let name = entry?.file_name().to_string_lossy().into_owned();
            if name.ends_with(".wast") {
                files.push(format!("legacy/{name}"));
            }
        }
    }
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

/// The trial running `file` under `config`.
fn spec_trial(suite: &Path, file: &str, config: &str, list: &ExpectedFailures) -> Trial {
    let path = suite.join(file);
    let expected = list.for_trial(config, file);
    let file = file.to_string();
    let config = config.to_string();
    Trial::test(format!("{config}::{file}"), move || run_trial(&path, &file, &config, &expected).map_err(Failed::from))
}

/// Runs one file and compares its failures with the expected ones.
fn run_trial(path: &Path, file: &str, config_name: &str, expected: &Expected) -> Result<(), String> {
    let mut config = make_config(config_name)?;
    if file.starts_with("legacy/") {
        // The legacy exception instructions are off by default, as in wasmtime.
        config.set("legacy-exceptions", "y").map_err(|e| e.to_string())?;
    }
    let result = kiln_wast::run_file_with(path, &config, config_name == "serialize");
    expected.judge(result, file, config_name, &|_| false)
}
