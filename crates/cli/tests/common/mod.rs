//! What the program-running test suites share: finding third-party test data (a failure
//! under `CI=true` when it is missing), the `kiln` binary, a child process with a time limit,
//! and an expected-failures list where every entry has a reason and an unexpected pass fails.
#![allow(dead_code)]

use libtest_mimic::{Failed, Trial};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The repository's root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The data folder named by `var`, by default `../shared/<default>` beside the repository.
/// `None` (with a note saying how to get it) when it is missing; under `CI=true` a missing
/// folder ends the run with a failure.
pub fn data_dir(var: &str, default: &str, upstream: &str) -> Option<PathBuf> {
    let dir = std::env::var_os(var).map(PathBuf::from).unwrap_or_else(|| repo().join("../shared").join(default));
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        eprintln!(
            "error: the test data is missing at {} (set {var}, or put a copy of {upstream} there)",
            dir.display()
        );
        std::process::exit(1);
    }
    println!("note: no test data at {}; set {var} or put a copy of {upstream} there to run these tests", dir.display());
    None
}

/// What a finished child process did.
pub struct Finished {
    pub code: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// Run `cmd` to completion, killing it after `limit`.
pub fn run_with_limit(cmd: &mut Command, limit: Duration) -> Result<Finished, String> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {cmd:?}: {e}"))?;
    let mut out = child.stdout.take().ok_or("no stdout pipe")?;
    let mut err = child.stderr.take().ok_or("no stderr pipe")?;
    let out_thread = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let err_thread = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("did not finish within {limit:?}"));
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Ok(Finished {
        code: status.code(),
        stdout: out_thread.join().unwrap_or_default(),
        stderr: err_thread.join().unwrap_or_default(),
    })
}

/// A fresh scratch directory for one test.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kiln-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    dir
}

/// Bytes as text, for messages and comparisons.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The `kiln` binary under test.
pub fn kiln() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kiln"))
}

/// An expected-failures list: `<name> # <reason>` per line, `#` lines are comments.
pub struct ExpectedFailures {
    file: String,
    entries: BTreeMap<String, usize>,
    errors: Vec<String>,
}

impl ExpectedFailures {
    /// Read the list at `path`; `known` are the names that exist (an entry for anything else
    /// is an error).
    pub fn load(path: &Path, known: &[String]) -> ExpectedFailures {
        let mut list = ExpectedFailures {
            file: path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default(),
            entries: BTreeMap::new(),
            errors: Vec::new(),
        };
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                list.errors.push(format!("cannot read {}: {e}", path.display()));
                return list;
            }
        };
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((name, reason)) = line.split_once('#') else {
                list.errors.push(format!("line {}: missing `# <reason>`", i + 1));
                continue;
            };
            let name = name.trim().to_string();
            if reason.trim().is_empty() {
                list.errors.push(format!("line {}: empty reason", i + 1));
            } else if !known.contains(&name) {
                list.errors.push(format!("line {}: `{name}` names no test", i + 1));
            } else if list.entries.insert(name, i + 1).is_some() {
                list.errors.push(format!("line {}: a duplicate", i + 1));
            }
        }
        list
    }

    /// The trial that fails when the list itself is malformed.
    pub fn list_trial(&self) -> Trial {
        let errors = self.errors.clone();
        let file = self.file.clone();
        Trial::test(file.clone(), move || {
            if errors.is_empty() { Ok(()) } else { Err(Failed::from(format!("{file}:\n  {}", errors.join("\n  ")))) }
        })
    }

    /// Judge `name`'s outcome against the list.
    pub fn judge(&self, name: &str, outcome: Result<(), String>) -> Result<(), Failed> {
        match (self.entries.get(name), outcome) {
            (None, Ok(())) => Ok(()),
            (None, Err(e)) => Err(Failed::from(e)),
            (Some(_), Err(_)) => Ok(()),
            (Some(line), Ok(())) => {
                Err(Failed::from(format!("passed, but {} line {line} expects it to fail: remove that line", self.file)))
            }
        }
    }
}

/// The component made of the preview1 program `wasm` and the preview1 command adapter.
#[allow(dead_code)] // not every test binary wraps programs
pub fn componentize(wasm: &Path, out: &Path) -> Result<(), String> {
    let module = std::fs::read(wasm).map_err(|e| format!("cannot read {}: {e}", wasm.display()))?;
    let adapter = wasi_preview1_component_adapter_provider::WASI_SNAPSHOT_PREVIEW1_COMMAND_ADAPTER;
    let component = wit_component::ComponentEncoder::default()
        .module(&module)
        .and_then(|e| e.adapter("wasi_snapshot_preview1", adapter))
        .and_then(|e| e.validate(true).encode())
        .map_err(|e| format!("wit-component cannot wrap {}: {e:#}", wasm.display()))?;
    std::fs::write(out, component).map_err(|e| format!("cannot write {}: {e}", out.display()))
}
