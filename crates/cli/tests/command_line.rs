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
