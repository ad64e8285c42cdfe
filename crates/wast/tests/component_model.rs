//! Runs the Component Model's reference tests through the `.wast` runner: one trial per
//! `.wast` file of `binary`, `linking`, `resources`, `validation` and `values` (the
//! synchronous model), minus the files upstream's `nyi.txt` lists as running ahead of
//! every implementation, judged against `tests/component-model-expected-failures.txt`.
//!
//! The `async` folder tests an ABI Kiln does not implement: its trials pass when the
//! script runs to its end without a panic and every failure not on the list is Kiln
//! (or the runner) saying `unsupported`. The data folder is `KILN_COMPONENT_MODEL_TESTS`,
//! by default `../shared/component-model-tests` beside the workspace.
//!
//! Every file runs twice: as compiled (trials named after the file), and with every module
//! and component loaded back from its serialized artifact (`serialize::<file>`).

mod common;

use std::path::Path;

use common::expected::ExpectedFailures;
use common::suite::Suite;
use kiln_wast::Failure;
use libtest_mimic::{Arguments, Failed, Trial};

/// The configurations the tests run under (the list's `<config>` column): `default`, and
/// `serialize`, which loads everything back from its artifact.
const CONFIGS: &[&str] = &["default", "serialize"];

/// The folders of the synchronous model, every failure in which needs an entry.
const SYNC_FOLDERS: &[&str] = &["binary", "linking", "resources", "validation", "values"];

/// The folder of the async ABI, whose `unsupported` failures need none.
const ASYNC_FOLDER: &str = "async";

/// The expected-failures list, relative to the workspace root; the trial checking the
/// list itself is named after its file.
const LIST: &str = "tests/component-model-expected-failures.txt";

fn main() {
    let args = Arguments::from_args();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let suite = Suite {
        env_var: "KILN_COMPONENT_MODEL_TESTS",
        default: root.join("../shared/component-model-tests"),
        what: "the Component Model reference tests",
        upstream: "https://github.com/WebAssembly/component-model (its `test/` directory)",
    }
    .locate();
    let files = suite.as_deref().map(|suite| {
        test_files(suite).unwrap_or_else(|e| {
            eprintln!("error: cannot list the tests in {}: {e}", suite.display());
            std::process::exit(1);
        })
    });

    let list = ExpectedFailures::load(&root.join(LIST), LIST, CONFIGS, files.as_deref());
    let mut trials = vec![list.list_trial()];
    if let (Some(suite), Some(files)) = (&suite, &files) {
        for config in CONFIGS {
            trials.extend(files.iter().map(|file| trial(suite, file, config, &list)));
        }
    }
    libtest_mimic::run(&args, trials).exit();
}

/// Every `.wast` file of the tested folders as a `/`-separated path relative to the
/// suite (`values/strings.wast`), sorted, without the ones `nyi.txt` lists.
fn test_files(suite: &Path) -> std::io::Result<Vec<String>> {
    let nyi = not_yet_implemented(suite)?;
    let mut files = Vec::new();
    for folder in SYNC_FOLDERS.iter().chain([&ASYNC_FOLDER]) {
        collect_wast(suite, folder, &mut files)?;
    }
    files.retain(|file| !nyi.contains(file));
    files.sort();
    Ok(files)
}

/// The files upstream's `nyi.txt` lists (lines like `./validation/max-value-size.wast`),
/// without their `./`; none when the suite has no such file.
fn not_yet_implemented(suite: &Path) -> std::io::Result<Vec<String>> {
    let text = match std::fs::read_to_string(suite.join("nyi.txt")) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| line.trim_start_matches("./").to_string())
        .collect())
}

/// Adds the `.wast` files under `suite/relative` (recursively) to `files`.
fn collect_wast(suite: &Path, relative: &str, files: &mut Vec<String>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(suite.join(relative))? {
        let entry = entry?;
        let path = format!("{relative}/{}", entry.file_name().to_string_lossy());
        let kind = entry.file_type()?;
        if kind.is_dir() {
            collect_wast(suite, &path, files)?;
        } else if kind.is_file() && path.ends_with(".wast") {
            files.push(path);
        }
    }
    Ok(())
}

/// The trial running `file` (a path relative to the suite) under `config`.
fn trial(suite: &Path, file: &str, config: &'static str, list: &ExpectedFailures) -> Trial {
    let path = suite.join(file);
    let expected = list.for_trial(config, file);
    let tolerated: fn(&Failure) -> bool =
        if file.starts_with(&format!("{ASYNC_FOLDER}/")) { says_unsupported } else { |_| false };
    let file = file.to_string();
    let name = if config == "default" { file.clone() } else { format!("{config}::{file}") };
    Trial::test(name, move || {
        let result = kiln_wast::run_file_with(&path, &kiln::Config::new(), config == "serialize");
        expected.judge(result, &file, config, &tolerated).map_err(Failed::from)
    })
}

/// Whether a failure is Kiln (or the runner) declining a feature, not a wrong answer or
/// a panic.
fn says_unsupported(failure: &Failure) -> bool {
    !failure.message.starts_with("panic: ") && failure.message.contains("unsupported")
}
