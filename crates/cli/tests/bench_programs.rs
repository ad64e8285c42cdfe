//! Runs every program of the Sightglass benchmark corpus (`../shared/bench`, or
//! `KILN_BENCH_DIR`) the way its README says: `kiln run` in the program's folder, preopened as
//! `.`, with a `bench` module of no-op `start`/`end` preloaded; its stdout and stderr must
//! match the expected files line by line. Outcomes are judged against
//! `tests/bench-expected-failures.txt`.
mod common;

use common::{ExpectedFailures, data_dir, kiln, repo, run_with_limit};
use libtest_mimic::{Arguments, Trial};
use std::path::Path;
use std::time::Duration;

fn main() {
    let args = Arguments::from_args();
    let Some(root) = data_dir("KILN_BENCH_DIR", "bench", "the Sightglass benchmarks (see bench/SOURCE.md)") else {
        libtest_mimic::run(&args, Vec::new()).exit();
    };
    let mut names: Vec<String> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", root.display()))
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().map(String::from))
        .filter(|n| root.join(n).join(format!("{n}.wasm")).is_file())
        .collect();
    names.sort();
    let list = std::sync::Arc::new(ExpectedFailures::load(&repo().join("tests/bench-expected-failures.txt"), &names));
    let bench = repo().join("crates/cli/tests/bench.wat");
    let mut trials = vec![list.list_trial()];
    for name in names {
        let (list, dir, bench) = (list.clone(), root.join(&name), bench.clone());
        trials.push(Trial::test(name.clone(), move || list.judge(&name, run_program(&dir, &name, &bench))));
    }
    libtest_mimic::run(&args, trials).exit();
}

fn run_program(dir: &Path, name: &str, bench: &Path) -> Result<(), String> {
    let mut cmd = kiln();
    cmd.current_dir(dir)
        .env_clear()
        .arg("run")
        .arg(format!("--preload=bench={}", bench.display()))
        .args(["--dir", ".::."])
        .arg(format!("{name}.wasm"));
    let done = run_with_limit(&mut cmd, Duration::from_secs(600))?;
    if done.code != Some(0) {
        return Err(format!("exit code {:?}; stderr:\n{}", done.code, String::from_utf8_lossy(&done.stderr)));
    }
    for (stream, got) in [("stdout", &done.stdout), ("stderr", &done.stderr)] {
        let Ok(want) = std::fs::read_to_string(dir.join(format!("{name}.{stream}.expected"))) else {
            continue; // richards has no expected output upstream; it must still exit 0.
        };
        let got = String::from_utf8_lossy(got);
        if !got.lines().eq(want.lines()) {
            return Err(format!(
                "{stream} differs from {name}.{stream}.expected:\n--- got\n{got}\n--- expected\n{want}"
            ));
        }
    }
    Ok(())
}
