//! The differential fuzzer in worker processes, a batch of cases each, so that a case that
//! kills its process — a Kiln or wasmi bug that crashes it, which nothing in the process can
//! survive — costs only itself: the batch is run again one case at a time, and the case that
//! dies is written out as a finding like a divergence. A worker is this same executable
//! (`differential --worker`), which prints its [`Report`] as [`Report::machine_lines`].
use crate::child::{self, Ending};
use crate::differential::{self, Divergence, Options, Report};
use crate::generate;
use anyhow::Result;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// How long a worker may take: generous, since a case takes milliseconds; past it, the
/// worker counts as hung.
fn deadline(cases: u64) -> Duration {
    Duration::from_secs(120 + 2 * cases)
}

/// How much of a worker's standard output is kept: its report, and a line per divergence.
const STDOUT_LIMIT: usize = 16 << 20;

fn worker(exe: &Path, options: &Options, start: u64, count: u64) -> Result<child::Run> {
    let mut c = Command::new(exe);
    c.arg("differential")
        .args(["--seed", &options.seed.to_string(), "--start", &start.to_string(), "--count", &count.to_string()])
        .arg("--out")
        .arg(&options.out)
        .arg("--worker");
    if options.verbose {
        c.arg("--verbose");
    }
    child::run(c, deadline(count), STDOUT_LIMIT)
}

/// Whether a worker ended as workers do: exit 0, or 1 when it found divergences.
fn finished(run: &child::Run) -> bool {
    matches!(run.ending, Ending::Exited(s) if matches!(s.code(), Some(0 | 1)))
}

/// Show a worker's own lines (its divergences, and with `--verbose` its calls).
fn forward(run: &child::Run) {
    for line in run.stdout.lines().filter(|l| !l.starts_with('@')) {
        println!("{line}");
    }
}

/// Run the cases of `options` in workers of `batch` cases, started from `exe`.
///
/// # Errors
/// When a worker cannot be started, or a finding cannot be written.
pub fn run(options: &Options, batch: u64, exe: &Path) -> Result<Report> {
    let mut report = Report::default();
    let end = options.start + options.count;
    let mut start = options.start;
    while start < end {
        let count = batch.max(1).min(end - start);
        let run = worker(exe, options, start, count)?;
        if count == 1 || finished(&run) {
            take(options, &mut report, start, &run)?;
        } else {
            // Someone in the batch died: find who, one case at a time.
            for index in start..start + count {
                take(options, &mut report, index, &worker(exe, options, index, 1)?)?;
            }
        }
        start += count;
    }
    Ok(report)
}

/// Add what a worker found to `report`; a worker of the one case `index` that died is a
/// finding itself.
fn take(options: &Options, report: &mut Report, index: u64, run: &child::Run) -> Result<()> {
    if finished(run) {
        forward(run);
        report.absorb(&run.stdout);
    } else {
        report.modules += 1;
        report.divergences.push(died(options, index, run)?);
    }
    Ok(())
}

/// Write out case `index`, whose worker died, as a finding.
fn died(options: &Options, index: u64, run: &child::Run) -> Result<Divergence> {
    let wasm = generate::module(options.seed, index)?;
    let summary = format!("the fuzzer's process died running this module: {}", run.ending.label());
    let log = format!("(the process died; its standard error follows)\n{}", run.stderr);
    let report = differential::write_divergence(&options.out, options.seed, index, &wasm, "unknown", &summary, &log)?;
    println!("divergence: seed {} module {index}: {summary} ({})", options.seed, report.display());
    Ok(Divergence { index, summary, report })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// A worker that dies on case 3: the run goes on, and case 3 alone is the finding.
    #[test]
    fn a_case_that_kills_its_worker_is_found_and_the_run_goes_on() {
        let dir = std::env::temp_dir().join(format!("kiln-fuzz-isolate-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let fake = dir.join("kiln-fuzz");
        let script = r#"#!/bin/sh
while [ $# -gt 0 ]; do case $1 in --start) start=$2; shift;; --count) count=$2; shift;; esac; shift; done
if [ "$start" -le 3 ] && [ $((start + count)) -gt 3 ]; then kill -SEGV $$; fi
echo "@modules $count"; echo "@calls $((2 * count))"
"#;
        std::fs::write(&fake, script).unwrap();
        std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let options = Options { seed: 1, start: 0, count: 10, out: dir.join("out"), verbose: false };
        let report = run(&options, 4, &fake).unwrap();
        assert_eq!((report.modules, report.calls), (10, 18));
        assert_eq!(report.divergences.len(), 1);
        assert_eq!(report.divergences[0].index, 3);
        assert!(report.divergences[0].summary.contains("signal 11"), "{}", report.divergences[0].summary);
        assert!(dir.join("out/1-3.wasm").is_file());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn reports_survive_the_trip_through_a_worker() {
        let mut found = Report { modules: 3, calls: 7, not_instantiated: 1, inconclusive: 2, ..Report::default() };
        found.unsupported.insert("unsupported: x\ty".into(), 2);
        found.divergences.push(Divergence {
            index: 5,
            summary: "`\n`(): a\tb".into(),
            report: PathBuf::from("o/1-5.txt"),
        });
        let mut total = Report { modules: 1, ..Report::default() };
        total.absorb(&format!("divergence: shown to people\n{}", found.machine_lines()));
        assert_eq!((total.modules, total.calls, total.not_instantiated, total.inconclusive), (4, 7, 1, 2));
        assert_eq!(total.skipped(), 2);
        assert_eq!(total.divergences.len(), 1);
        let d = &total.divergences[0];
        assert_eq!((d.index, d.report.to_str(), d.summary.as_str()), (5, Some("o/1-5.txt"), "`?`(): a?b"));
    }
}
