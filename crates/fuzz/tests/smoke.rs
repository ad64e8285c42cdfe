//! A short differential run with a fixed seed, as part of the test suite: no divergence
//! between Kiln and wasmi on 200 modules, and enough ran that it does not pass by doing
//! nothing. A failure names the files that reproduce it; `scripts/fuzz-long.sh` runs the
//! fuzzers for long. The short `mutate` run needs the `kiln` binary, so it is a test of the
//! CLI crate (`crates/cli/tests/fuzz_mutate.rs`), where Cargo builds that binary first.
use kiln_fuzz::differential;
use std::path::PathBuf;

const SEED: u64 = 20_261_202;

/// Where this run's findings go: kept when a test fails, for the files it names.
fn out_dir(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("kiln-fuzz-smoke-{name}-{}", std::process::id()))
}

#[test]
fn kiln_agrees_with_wasmi_on_generated_modules() {
    let out = out_dir("differential");
    let options = differential::Options { seed: SEED, start: 0, count: 200, out: out.clone(), verbose: false };
    let report = differential::run(&options).expect("the differential run");
    let found: Vec<String> =
        report.divergences.iter().map(|d| format!("{} ({})", d.summary, d.report.display())).collect();
    assert!(found.is_empty(), "{} divergences:\n{}", found.len(), found.join("\n"));
    assert_eq!(report.modules, 200);
    assert!(report.skipped() < 20, "{} modules skipped as unsupported: {:?}", report.skipped(), report.unsupported);
    assert!(report.calls >= 400, "only {} calls were compared", report.calls);
    let _ = std::fs::remove_dir_all(&out);
}
