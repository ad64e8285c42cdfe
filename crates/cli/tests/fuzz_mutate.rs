//! A short `kiln-fuzz mutate` run with a fixed seed, as part of the test suite: no crash of
//! the `kiln` command (this crate's binary, which Cargo builds for this test) on 200 damaged
//! modules and artifacts, and enough of them ran that the run does not pass by stopping at
//! the parsers. A failure names the files that reproduce it.
use kiln_fuzz::mutate;
use std::path::PathBuf;

const SEED: u64 = 20_261_202;

/// Where this run's findings go: kept when the test fails, for the files it names.
fn out_dir(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("kiln-fuzz-smoke-{name}-{}", std::process::id()))
}

#[test]
fn the_kiln_command_survives_damaged_inputs() {
    let out = out_dir("mutate");
    let options = mutate::Options {
        seed: SEED,
        start: 0,
        count: 200,
        kiln: PathBuf::from(env!("CARGO_BIN_EXE_kiln")),
        timeout: std::time::Duration::from_secs(60),
        out: out.clone(),
        verbose: false,
    };
    let report = mutate::run(&options).expect("the mutate run");
    let found: Vec<String> = report.crashes.iter().map(|c| format!("{} ({})", c.summary, c.report.display())).collect();
    assert!(found.is_empty(), "{} crashes:\n{}", found.len(), found.join("\n"));
    assert_eq!(report.inputs, 200);
    // Damaged modules that still compiled and ran, and artifacts that got past the loader:
    // the inputs reached more than the parsers.
    let ran = ["exit 0", "exit 134"];
    let modules_ran = report.count(mutate::Kind::Wasm, &ran);
    assert!(modules_ran >= 10, "only {modules_ran} mutated modules ran: {:?}", report.endings);
    let artifacts_ran: u64 = [mutate::Kind::Artifact, mutate::Kind::ResealedEngine, mutate::Kind::ResealedModule]
        .into_iter()
        .map(|k| report.count(k, &ran))
        .sum();
    assert!(artifacts_ran >= 1, "no mutated artifact loaded and ran: {:?}", report.endings);
    let _ = std::fs::remove_dir_all(&out);
}
