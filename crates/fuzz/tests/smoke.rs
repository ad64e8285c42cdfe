//! A short run of each fuzzer with a fixed seed, as part of the test suite: no divergence
//! between Kiln and wasmi on 200 modules, no crash of the `kiln` command on 200 damaged
//! inputs, and enough of both actually ran that neither passes by doing nothing. A failure
//! names the files that reproduce it; `scripts/fuzz-long.sh` runs the same fuzzers for long.
use kiln_fuzz::{differential, mutate};
use std::path::{Path, PathBuf};
use std::process::Command;

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

/// The `kiln` binary of this build: `<target>/<profile>/kiln`, beside the `deps/` directory
/// this test runs from, built (or brought up to date) first.
fn kiln_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the test's path");
    let profile_dir = exe.parent().and_then(Path::parent).expect("a test runs from <target>/<profile>/deps");
    let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") | None => "dev",
        Some(other) => other,
    };
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let target_dir = profile_dir.parent().expect("a profile directory is in the target directory");
    let build = Command::new(cargo)
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
        .args(["build", "-q", "-p", "kiln-cli", "--bin", "kiln", "--profile", profile, "--target-dir"])
        .arg(target_dir)
        .output()
        .expect("cargo runs");
    assert!(build.status.success(), "building kiln failed:\n{}", String::from_utf8_lossy(&build.stderr));
    profile_dir.join("kiln")
}

#[test]
fn the_kiln_command_survives_damaged_inputs() {
    let out = out_dir("mutate");
    let options = mutate::Options {
        seed: SEED,
        start: 0,
        count: 200,
        kiln: kiln_binary(),
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
