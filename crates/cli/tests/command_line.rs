//! The command line as a wasmtime user types it, on a C program that prints its arguments
//! and environment (`tests/programs/args.c`): `kiln FILE ARGS…` runs FILE, everything after
//! FILE is the program's (flags included), `--argv0`, exit statuses outside `0..126`
//! refused, a trap in the start function reported as a trap, and text that does not parse
//! named by file, line and column.
mod common;

use common::{kiln, repo, scratch, text};

fn args_wasm() -> String {
    repo().join("tests/programs/args.wasm").to_str().expect("utf-8 path").to_string()
}

/// The CPU features an artifact's code may use, as `kiln objdump` lists them.
/// A file `name` holding `wat` in a fresh scratch directory `dir`.
fn wat_file(dir: &str, name: &str, wat: &str) -> std::path::PathBuf {
    let file = scratch(dir).join(name);
    std::fs::write(&file, wat).expect("writes");
    file
}

fn code_features(artifact: &std::path::Path) -> String {
    let o = kiln().arg("objdump").arg(artifact).output().expect("runs");
    let out = text(&o.stdout);
    let line = out.lines().find(|l| l.contains("CPU features the code may use")).map(str::to_string);
    line.unwrap_or_else(|| panic!("{out}"))
}

#[test]
fn a_file_first_is_run_and_everything_after_it_is_the_programs() {
    let wasm = args_wasm();
    let o = kiln().args([&wasm, "--help", "-x", "--env", "X", "run"]).output().expect("runs");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let expected = format!("argv[0]={wasm}\nargv[1]=--help\nargv[2]=-x\nargv[3]=--env\nargv[4]=X\nargv[5]=run\n");
    assert_eq!(text(&o.stdout), expected);
    // The same through `run`, with Kiln's own flags before the file.
    let o = kiln()
        .args(["run", "--env", "KILN_GREETING=hi", "--argv0", "prog", &wasm, "--env", "KILN_NOT=set"])
        .output()
        .expect("runs");
    assert_eq!(text(&o.stdout), "argv[0]=prog\nargv[1]=--env\nargv[2]=KILN_NOT=set\nenv KILN_GREETING=hi\n");
    // Subcommands and help still mean what they say.
    let o = kiln().arg("--help").output().expect("runs");
    assert!(text(&o.stdout).contains("Usage: kiln"), "{}", text(&o.stdout));
}

#[test]
fn exit_statuses_outside_0_to_125_are_errors() {
    let wasm = args_wasm();
    for (status, code) in [("0", 0), ("7", 7), ("125", 125), ("126", 1), ("134", 1), ("256", 1), ("-1", 1)] {
        let o = kiln().args([&wasm, "exit", status]).output().expect("runs");
        assert_eq!(o.status.code(), Some(code), "exit {status}: {}", text(&o.stderr));
        if code == 1 {
            let err = text(&o.stderr);
            assert!(err.contains("exit with invalid exit status outside of [0..126)"), "exit {status}: {err}");
        }
    }
}

#[test]
fn a_trap_in_the_start_function_is_a_trap() {
    let dir = scratch("start-trap");
    let file = dir.join("start.wat");
    std::fs::write(&file, "(module (func $boom unreachable) (start $boom))").expect("writes");
    let o = kiln().arg(&file).output().expect("runs");
    assert_eq!(o.status.code(), Some(134));
    let err = text(&o.stderr);
    assert!(err.starts_with("Error: wasm trap: unreachable\nwasm backtrace:\n") && err.contains("boom"), "{err}");
    // Each frame at its module offset, as wasmtime 48 prints the same module, and the
    // unnamed module named after its file (where wasmtime says `<unknown>`).
    assert!(err.contains("    0: 0x1a - start!boom\n"), "{err}");
}

#[test]
fn an_uncaught_exception_is_an_error_and_a_caught_one_is_not() {
    let file = wat_file(
        "exceptions",
        "throw.wat",
        r#"(module (tag $e (param i32))
             (func (export "_start") (throw $e (i32.const 1)))
             (func (export "caught") (result i32)
               (block $h (result i32) (try_table (catch $e $h) (throw $e (i32.const 5))) (i32.const 0))))"#,
    );
    // As wasmtime 48: an error, exit status 1 (not a trap's 134), with the frames it left at
    // the module offsets wasmtime prints.
    let o = kiln().arg(&file).output().expect("runs");
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        text(&o.stderr),
        "Error: uncaught wasm exception\nwasm backtrace:\n    0: 0x3c - throw!<wasm function 0>\n"
    );
    let o = kiln().args(["run", "--invoke", "caught"]).arg(&file).output().expect("runs");
    assert_eq!((o.status.code(), text(&o.stdout)), (Some(0), "5\n".to_string()), "{}", text(&o.stderr));
    // With exceptions turned off the module is refused, naming the flag.
    let o = kiln().args(["run", "-W", "exceptions=n"]).arg(&file).output().expect("runs");
    assert!(text(&o.stderr).contains("(enable with -W exceptions=y)"), "{}", text(&o.stderr));
}

#[test]
fn trap_backtraces_give_each_frames_module_offset() {
    let dir = scratch("offsets");
    let file = dir.join("trap.wat");
    std::fs::write(&file, r#"(module (func (export "_start") call $inner) (func $inner unreachable))"#)
        .expect("writes");
    let o = kiln().arg(&file).output().expect("runs");
    assert_eq!(o.status.code(), Some(134));
    // The offsets wasmtime 48 reports for this module: the trap, then the call.
    let err = text(&o.stderr);
    assert!(err.contains("    0: 0x29 - trap!inner\n    1: 0x24 - trap!<wasm function 0>\n"), "{err}");
    // A module's own name wins over the file's (offset as wasmtime 48 gives it).
    std::fs::write(&file, r#"(module $named (func (export "_start") unreachable))"#).expect("writes");
    let err = text(&kiln().arg(&file).output().expect("runs").stderr);
    assert!(err.contains("    0: 0x23 - named!<wasm function 0>\n"), "{err}");
}

#[test]
fn wasi_is_withheld_with_s_cli_n() {
    // A WASI program then has nothing to import from.
    let o = kiln().args(["-S", "cli=n", &args_wasm()]).output().expect("runs");
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("`wasi_snapshot_preview1::"), "{}", text(&o.stderr));
    // A module that needs no WASI runs as before.
    let file = wat_file(
        "no-cli",
        "add.wat",
        r#"(module (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1))))"#,
    );
    let o = kiln().args(["run", "-S", "cli=n", "--invoke", "add"]).arg(&file).args(["2", "3"]).output().expect("runs");
    assert_eq!(text(&o.stdout), "5\n", "{}", text(&o.stderr));
}

#[test]
fn text_that_does_not_parse_is_named_by_file_line_and_column() {
    let dir = scratch("wat-error");
    let file = dir.join("bad.wat");
    std::fs::write(&file, "(module\n  (func\n    (i32.konst 1)))").expect("writes");
    for args in [vec![], vec!["compile"]] {
        let o = kiln().args(args).arg(&file).output().expect("runs");
        assert_eq!(o.status.code(), Some(1));
        let err = text(&o.stderr);
        assert!(err.contains(&format!("--> {}:3:6", file.display())), "{err}");
    }
}

#[test]
fn option_groups_take_help_and_name_their_keys() {
    for (group, first_line, key) in [
        ("-O", "-O: optimization and memory layout", "  opt-level=0|1|2|s (default 2): "),
        ("-W", "-W: what wasm may do", "  fuel=N: "),
        ("-C", "-C: codegen and tools", "  cache=y|n (default y): "),
        ("-D", "-D: debugging", "  debug-info=y|n: "),
        ("-S", "-S: WASI", "  inherit-env=y|n (default n): "),
    ] {
        // With a subcommand or without, and with no file to run.
        for args in [vec![group, "help"], vec!["run", group, "help"]] {
            let o = kiln().args(&args).output().expect("runs");
            assert_eq!(o.status.code(), Some(0), "{args:?}: {}", text(&o.stderr));
            let out = text(&o.stdout);
            assert!(out.starts_with(first_line) && out.contains(key), "{args:?}: {out}");
        }
    }
    let wasm = args_wasm();
    let o = kiln().args(["-O", "opt-level=0,inlining=y", "-C", "cache=n", &wasm, "x"]).output().expect("runs");
    assert_eq!(text(&o.stdout), format!("argv[0]={wasm}\nargv[1]=x\n"), "{}", text(&o.stderr));
    let o = kiln().args(["-O", "opt-level=3", &wasm]).output().expect("runs");
    assert!(text(&o.stderr).contains("-O opt-level=3: expected 0, 1, 2 or s, got `3`"), "{}", text(&o.stderr));
    let o = kiln().args(["-S", "inherit-env", &wasm]).env("KILN_INHERITED", "yes").output().expect("runs");
    assert!(text(&o.stdout).contains("env KILN_INHERITED=yes\n"), "{}", text(&o.stdout));
    let o = kiln().args(["-S", "bogus", &wasm]).output().expect("runs");
    assert!(text(&o.stderr).contains("-S bogus: unknown option; the known ones are:\n  cli="), "{}", text(&o.stderr));
    let o = kiln().args(["-D", "debug-info", &wasm]).output().expect("runs");
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("unsupported: -D debug-info"), "{}", text(&o.stderr));
}

#[test]
fn settings_and_artifacts_for_a_targets_baseline_cpu() {
    let o = kiln().arg("settings").output().expect("runs");
    let out = text(&o.stdout);
    assert!(out.starts_with("target: x86_64-unknown-linux-gnu (this host's CPU)\nCranelift settings:\n"), "{out}");
    assert!(out.contains("  opt_level = speed\n") && out.contains("  preserve_frame_pointers = true\n"), "{out}");
    let o = kiln().args(["settings", "--target", "x86_64-unknown-linux-gnu"]).output().expect("runs");
    let out = text(&o.stdout);
    assert!(out.contains("(baseline CPU)"), "{out}");
    let uses = |feature: &str| {
        let line =
            out.lines().find(|l| l.split_whitespace().next() == Some(feature)).unwrap_or_else(|| panic!("{out}"));
        line.split_whitespace().nth(1) == Some("yes")
    };
    assert!(uses("sse41") && uses("popcnt") && !uses("avx") && !uses("avx2") && !uses("avx512f"), "{out}");

    let dir = scratch("target");
    let artifact = dir.join("args.cwasm");
    let o = kiln()
        .args(["compile", "-C", "cache=n", "--target", "x86_64-unknown-linux-gnu", &args_wasm(), "-o"])
        .arg(&artifact)
        .output()
        .expect("runs");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let features = code_features(&artifact);
    assert!(features.contains("sse41") && !features.contains("avx"), "{features}");
    let o = kiln().args(["run", "--allow-precompiled"]).arg(&artifact).arg("ok").output().expect("runs");
    assert_eq!(text(&o.stdout), format!("argv[0]={}\nargv[1]=ok\n", artifact.display()), "{}", text(&o.stderr));
    let o = kiln().args(["compile", "--target", "aarch64-unknown-linux-gnu", &args_wasm()]).output().expect("runs");
    assert!(text(&o.stderr).contains("unsupported: target `aarch64-unknown-linux-gnu`"), "{}", text(&o.stderr));
}

#[test]
fn wasm_features_are_turned_off_with_w() {
    let file = wat_file(
        "features",
        "simd.wat",
        r#"(module (func (export "f") (result i32) (i32x4.extract_lane 1 (v128.const i32x4 1 2 3 4))))"#,
    );
    let o = kiln().args(["run", "-C", "cache=n", "--invoke", "f"]).arg(&file).output().expect("runs");
    assert_eq!(text(&o.stdout), "2\n", "{}", text(&o.stderr));
    let o = kiln().args(["run", "-C", "cache=n", "-W", "simd=n", "--invoke", "f"]).arg(&file).output().expect("runs");
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("unsupported: simd (enable with -W simd=y)"), "{}", text(&o.stderr));
}

#[test]
fn a_config_file_in_wasmtimes_format_sets_every_group_and_flags_win() {
    let dir = scratch("config-file");
    let config = dir.join("config.toml");
    std::fs::write(
        &config,
        "[optimize]\nopt-level = 0\n[codegen]\ncache = false\n[wasm]\ntail-call = false\n[wasi]\ninherit-env = true\n",
    )
    .expect("writes");
    let wat = dir.join("tail.wat");
    std::fs::write(
        &wat,
        r#"(module (func $f (result i32) (i32.const 5)) (func (export "g") (result i32) (return_call $f)))"#,
    )
    .expect("writes");
    let o = kiln().args(["run", "--config"]).arg(&config).args(["--invoke", "g"]).arg(&wat).output().expect("runs");
    assert!(text(&o.stderr).contains("unsupported: tail-call (enable with -W tail-call=y)"), "{}", text(&o.stderr));
    // The command line wins over the file, long names as well as short ones.
    let mut cmd = kiln();
    cmd.args(["run", "--config"]).arg(&config).args(["--wasm", "tail-call=y", "--invoke", "g"]).arg(&wat);
    let o = cmd.output().expect("runs");
    assert_eq!(text(&o.stdout), "5\n", "{}", text(&o.stderr));
    let o = kiln().arg("--config").arg(&config).arg(args_wasm()).env("KILN_FROM_HOST", "1").output().expect("runs");
    assert!(text(&o.stdout).contains("env KILN_FROM_HOST=1\n"), "[wasi] inherit-env: {}", text(&o.stdout));
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "[optimise]\nopt-level = 0\n").expect("writes");
    let o = kiln().arg("--config").arg(&bad).arg(args_wasm()).output().expect("runs");
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("unknown table [optimise] (known: optimize, codegen"), "{}", text(&o.stderr));
}

#[test]
fn codegen_keys_set_cranelift_and_threads() {
    let dir = scratch("codegen");
    let artifact = dir.join("noavx2.cwasm");
    let o = kiln()
        .args(["compile", "-C", "cache=n,parallel-compilation=n", "-C", "cranelift-has-avx2=false", &args_wasm(), "-o"])
        .arg(&artifact)
        .output()
        .expect("runs");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let features = code_features(&artifact);
    assert!(!features.contains("avx2"), "{features}");
    let o = kiln().args(["-C", "cranelift-preserve-frame-pointers=false", &args_wasm()]).output().expect("runs");
    assert!(
        text(&o.stderr).contains("unsupported: Cranelift setting preserve_frame_pointers=false: Kiln's code needs"),
        "{}",
        text(&o.stderr)
    );
    let o = kiln().args(["-C", "threads=2", &args_wasm()]).output().expect("runs");
    assert!(
        text(&o.stderr).contains("-C threads: unknown option; the known ones are:\n  cache="),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn a_cache_config_in_wasmtimes_format_names_the_cache_directory() {
    let dir = scratch("cache-config");
    let cache = dir.join("cache");
    let config = dir.join("cache.toml");
    let toml = format!("[cache]\ndirectory = {:?}\ncleanup-interval = \"30m\"\n", cache.display().to_string());
    std::fs::write(&config, toml).expect("writes");
    let flag = format!("cache-config={}", config.display());
    let o = kiln().args(["-C", &flag, &args_wasm(), "x"]).output().expect("runs");
    assert_eq!(text(&o.stdout), format!("argv[0]={}\nargv[1]=x\n", args_wasm()), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("`cleanup-interval`: no effect in Kiln's cache"), "{}", text(&o.stderr));
    let entries = std::fs::read_dir(&cache).expect("the cache directory was made").count();
    assert!(entries >= 1, "an artifact was cached in {}", cache.display());
    std::fs::write(&config, "[cache]\ndirectory = \"relative/dir\"\n").expect("writes");
    let o = kiln().args(["-C", &flag, &args_wasm()]).output().expect("runs");
    assert!(text(&o.stderr).contains("`directory` must be an absolute path"), "{}", text(&o.stderr));
}
