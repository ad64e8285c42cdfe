//! Runs every wasm32-wasip1 test of the official WASI test suite (`../shared/wasi-testsuite`,
//! or `KILN_WASI_TESTSUITE`) as its `doc/specification.md` says: each in a fresh `kiln run`
//! process with the spec's args and env (and nothing else), its `root` copied to a scratch
//! directory and preopened as `/`, then the exit code and any given stdout/stderr checked.
//! Each program runs twice: as the module it is, and as a component (`component/…`), wrapped
//! here by wit-component with wasmtime 48's preview1 command adapter, so WASI 0.2 is tested
//! by the same programs. Outcomes are judged against `tests/wasi-expected-failures.txt`.
mod common;

use common::{ExpectedFailures, componentize, data_dir, kiln, repo, run_with_limit};
use libtest_mimic::{Arguments, Trial};
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

const SUITES: &[&str] = &["assemblyscript", "c", "rust"];

fn main() {
    let args = Arguments::from_args();
    let Some(root) = data_dir(
        "KILN_WASI_TESTSUITE",
        "wasi-testsuite",
        "https://github.com/WebAssembly/wasi-testsuite (branch prod/testsuite-base)",
    ) else {
        libtest_mimic::run(&args, Vec::new()).exit();
    };
    let mut tests = Vec::new();
    for suite in SUITES {
        let dir = root.join("tests").join(suite).join("testsuite/wasm32-wasip1");
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().to_str().and_then(|n| n.strip_suffix(".wasm")).map(String::from))
            .collect();
        names.sort();
        tests.extend(names.into_iter().map(|n| (format!("{suite}/{n}"), dir.join(n))));
    }
    let mut known: Vec<String> = tests.iter().map(|t| t.0.clone()).collect();
    known.extend(tests.iter().map(|t| format!("component/{}", t.0)));
    let list = std::sync::Arc::new(ExpectedFailures::load(&repo().join("tests/wasi-expected-failures.txt"), &known));
    let mut trials = vec![list.list_trial()];
    for (name, stem) in tests {
        let (l, n, s) = (list.clone(), name.clone(), stem.clone());
        trials.push(Trial::test(name.clone(), move || l.judge(&n, run_test(&s, false))));
        let name = format!("component/{name}");
        let list = list.clone();
        trials.push(Trial::test(name.clone(), move || list.judge(&name, run_test(&stem, true))));
    }
    libtest_mimic::run(&args, trials).exit();
}

/// Copy the fixture tree `from` into `to`, writable (the shared copy may be read-only).
fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let ty = e.file_type()?;
        let dest = to.join(e.file_name());
        if ty.is_dir() {
            copy_tree(&e.path(), &dest)?;
        } else if ty.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(e.path())?, &dest)?;
        } else {
            std::fs::write(&dest, std::fs::read(e.path())?)?;
        }
    }
    Ok(())
}

fn run_test(stem: &Path, as_component: bool) -> Result<(), String> {
    let mut wasm = stem.with_extension("wasm");
    let spec: Value = match std::fs::read_to_string(stem.with_extension("json")) {
        Ok(text) => serde_json::from_str(&text).map_err(|e| format!("bad spec: {e}"))?,
        Err(_) => Value::Object(Default::default()),
    };
    if spec.get("operations").is_some() || spec.get("proposals").is_some() {
        return Err("operation-based specs (sockets, http) are not supported by this runner".into());
    }
    let mut cmd = kiln();
    cmd.arg("run").env_clear();
    // Trials run in parallel, and two suites may hold tests of the same name.
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let unique = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let stem_name = stem.file_name().and_then(|n| n.to_str()).unwrap_or("test");
    let scratch = std::env::temp_dir().join(format!("kiln-wasi-{}-{unique}-{stem_name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    let wrapped = scratch.with_extension("component.wasm");
    if as_component {
        componentize(&wasm, &wrapped)?;
        wasm = wrapped.clone();
    }
    if let Some(root) = spec.get("root").and_then(Value::as_str) {
        let from = stem.parent().unwrap_or(Path::new(".")).join(root);
        copy_tree(&from, &scratch).map_err(|e| format!("cannot copy {}: {e}", from.display()))?;
        cmd.arg("--dir").arg(format!("{}::/", scratch.display()));
    }
    if let Some(env) = spec.get("env").and_then(Value::as_object) {
        for (k, v) in env {
            cmd.arg("--env").arg(format!("{k}={}", v.as_str().unwrap_or_default()));
        }
    }
    cmd.arg(&wasm);
    for a in spec.get("args").and_then(Value::as_array).into_iter().flatten() {
        cmd.arg(a.as_str().unwrap_or_default());
    }
    let result = run_with_limit(&mut cmd, Duration::from_secs(120));
    let _ = std::fs::remove_dir_all(&scratch);
    let _ = std::fs::remove_file(&wrapped);
    let done = result?;
    let stderr = String::from_utf8_lossy(&done.stderr);
    let want_code = spec.get("exit_code").and_then(Value::as_i64).unwrap_or(0);
    if done.code != Some(want_code as i32) {
        return Err(format!("exit code {:?}, expected {want_code}; stderr:\n{stderr}", done.code));
    }
    for (stream, got) in [("stdout", &done.stdout), ("stderr", &done.stderr)] {
        if let Some(want) = spec.get(stream).and_then(Value::as_str)
            && !got.starts_with(want.as_bytes())
        {
            return Err(format!("{stream} {:?} does not start with {want:?}", String::from_utf8_lossy(got)));
        }
    }
    Ok(())
}
