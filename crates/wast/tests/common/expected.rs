//! An expected-failures list (`tests/*-expected-failures.txt`) and the judgement of one
//! trial against it: a trial passes when its failures are exactly the listed ones, so an
//! unexpected failure fails it and so does a listed failure that no longer fails. The
//! list's own mistakes (bad syntax, empty reasons, unknown files, duplicates) fail a trial
//! of their own.
//!
//! The format, one entry per line (`#` lines and blank lines are comments):
//!
//! ```text
//! <config|*> <file.wast>[:<line>] # <reason>
//! ```
//!
//! Without `:<line>` the whole file is expected to fail; with it, the directive starting
//! on that 1-based line is expected to fail and every other one must pass.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

use kiln_wast::{Failure, Report};
use libtest_mimic::{Failed, Trial};

/// One entry of the expected-failures list.
#[derive(Clone, Debug)]
pub struct Entry {
    /// Line of the list file the entry is on (1-based).
    list_line: usize,
    /// The entry as written, for messages.
    text: String,
}

/// The parsed expected-failures list, plus every problem found in it.
pub struct ExpectedFailures {
    /// The list's path as messages name it, e.g. `tests/spec-expected-failures.txt`.
    name: String,
    /// (config or `*`, file, line or `None` for the whole file) to entry.
    entries: BTreeMap<(String, String, Option<usize>), Entry>,
    errors: Vec<String>,
}

impl ExpectedFailures {
    /// Reads and checks the list at `path` (called `name` in messages). `configs` are the
    /// configurations an entry may name; `files` (when the suite is present) are the files
    /// an entry may name.
    pub fn load(path: &Path, name: &str, configs: &[&str], files: Option<&[String]>) -> ExpectedFailures {
        let mut list = ExpectedFailures { name: name.to_string(), entries: BTreeMap::new(), errors: Vec::new() };
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
            match parse_entry(line, configs, known.as_ref()) {
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

    /// What the list expects of `file` under `config`.
    pub fn for_trial(&self, config: &str, file: &str) -> Expected {
        let mut expected = Expected { list: self.name.clone(), whole: None, lines: BTreeMap::new() };
        for ((c, f, line), entry) in &self.entries {
            if f != file || (c != "*" && c != config) {
                continue;
            }
            match line {
                None => expected.whole = Some(entry.clone()),
                Some(line) => {
                    expected.lines.insert(*line, entry.clone());
                }
            }
        }
        expected
    }

    /// The trial (named after the list's file) that fails when the list is malformed.
    pub fn list_trial(&self) -> Trial {
        let errors = self.errors.clone();
        let name = self.name.clone();
        let trial_name = Path::new(&name).file_name().map_or(name.clone(), |n| n.to_string_lossy().into_owned());
        Trial::test(trial_name, move || {
            if errors.is_empty() {
                return Ok(());
            }
            let mut message = format!("{name} has bad entries:\n");
            for e in &errors {
                let _ = writeln!(message, "  {e}");
            }
            Err(Failed::from(message))
        })
    }
}

/// Parses `<config|*> <file.wast>[:<line>] # <reason>` into its key.
fn parse_entry(
    line: &str,
    configs: &[&str],
    known: Option<&BTreeSet<&str>>,
) -> Result<(String, String, Option<usize>), String> {
    let (spec, reason) = line.split_once('#').ok_or("missing `# <reason>`")?;
    if reason.trim().is_empty() {
        return Err("empty reason after `#`".to_string());
    }
    let fields: Vec<&str> = spec.split_whitespace().collect();
    let [config, target] = fields[..] else {
        return Err("expected `<config|*> <file.wast>[:<line>]` before `#`".to_string());
    };
    if config != "*" && !configs.contains(&config) {
        return Err(format!("unknown configuration `{config}` (known: *, {})", configs.join(", ")));
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
        return Err(format!("`{file}` is not a file the suite runs"));
    }
    Ok((config.to_string(), file.to_string(), line))
}

/// What the list expects of one trial: that the whole file fails, or that exactly the
/// listed lines fail. The default expects every directive to pass.
#[derive(Default)]
pub struct Expected {
    /// The list's name, for messages.
    list: String,
    whole: Option<Entry>,
    lines: BTreeMap<usize, Entry>,
}

impl Expected {
    /// Judges the run of `file` under `config`. A failure `tolerated` accepts (say, a
    /// feature Kiln reports as unsupported) needs no entry, and does not count as one
    /// that an entry expects either.
    pub fn judge(
        &self,
        result: anyhow::Result<Report>,
        file: &str,
        config: &str,
        tolerated: &dyn Fn(&Failure) -> bool,
    ) -> Result<(), String> {
        if let Some(entry) = &self.whole {
            return match result {
                Ok(report) if report.failures.iter().all(tolerated) => Err(format!(
                    "unexpected pass: {file} passed all {} assertions under `{config}`{}; \
                     remove line {} of {}: `{}`",
                    report.passed,
                    if report.failures.is_empty() { "" } else { " but for tolerated failures" },
                    entry.list_line,
                    self.list,
                    entry.text
                )),
                _ => Ok(()),
            };
        }

        let report = result.map_err(|e| format!("{file}: could not run the script: {e:#}"))?;
        let failed_lines: BTreeSet<usize> = report.failures.iter().map(|f| f.line).collect();
        let unexpected: Vec<&Failure> =
            report.failures.iter().filter(|f| !self.lines.contains_key(&f.line) && !tolerated(f)).collect();
        let unexpected_passes: Vec<(&usize, &Entry)> =
            self.lines.iter().filter(|(line, _)| !failed_lines.contains(line)).collect();
        if unexpected.is_empty() && unexpected_passes.is_empty() {
            return Ok(());
        }

        let mut message = String::new();
        if !unexpected.is_empty() {
            let _ = writeln!(
                message,
                "{} unexpected failure(s) in {file} under `{config}` ({} of {} assertions passed):",
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
                "{} unexpected pass(es) in {file} under `{config}`; remove these lines of {}:",
                unexpected_passes.len(),
                self.list
            );
            for (line, entry) in &unexpected_passes {
                let _ = writeln!(message, "  {file}:{line} now passes: line {}: `{}`", entry.list_line, entry.text);
            }
        }
        Err(message)
    }
}
