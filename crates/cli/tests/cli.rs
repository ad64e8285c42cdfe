//! Tests of the `kiln` command line: `run` with `--invoke`, `wast` with its closing line and
//! exit status, and clear errors for bad input.
use std::path::PathBuf;
use std::process::{Command, Output};

fn kiln(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kiln")).args(args).output().expect("run kiln")
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn temp_file(name: &str, contents: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kiln-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn run_invokes_and_prints_results() {
    let fib = repo().join("examples/fib.wat");
    let o = kiln(&["run", "--invoke", "fib", fib.to_str().unwrap(), "20"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "6765\n");
    let o = kiln(&["run", "-O", "memory-reservation=0", "--invoke", "fib_loop", fib.to_str().unwrap(), "90"]);
    assert_eq!(stdout(&o), "2880067194370816120\n");
    let multi = temp_file(
        "multi.wat",
        r#"(module (func (export "f") (param f32 i64) (result i64 f32) local.get 1 local.get 0))"#,
    );
    let o = kiln(&["run", "--invoke", "f", multi.to_str().unwrap(), "1.5", "-7"]);
    assert_eq!(stdout(&o), "-7\n1.5\n");
}

#[test]
fn run_reports_traps_and_bad_input() {
    let m = temp_file(
        "trap.wat",
        r#"(module (func (export "boom") unreachable) (func (export "id") (param i32) (result i32) local.get 0))"#,
    );
    let path = m.to_str().unwrap();
    let o = kiln(&["run", "--invoke", "boom", path]);
    assert_eq!(o.status.code(), Some(134));
    assert!(stderr(&o).contains("Error: wasm trap: unreachable"), "{}", stderr(&o));

    let o = kiln(&["run", "--invoke", "id", path, "x"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("argument `x` is not a valid i32"), "{}", stderr(&o));

    let o = kiln(&["run", "--invoke", "nope", path]);
    assert!(stderr(&o).contains("no exported function `nope`"), "{}", stderr(&o));

    let bad = temp_file("bad.wasm", "\0asm\x01\0\0\0\x01\x05");
    let o = kiln(&["run", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("failed to parse WebAssembly module"), "{}", stderr(&o));

    // A key alone means `=y`, which a byte count is not.
    let o = kiln(&["run", "-O", "memory-reservation", path]);
    assert!(stderr(&o).contains("-O memory-reservation=y: expected a byte count, got `y`"), "{}", stderr(&o));
    let o = kiln(&["run", "-O", "color=blue", path]);
    assert!(stderr(&o).contains("-O color=blue: unknown setting (known: memory-reservation,"), "{}", stderr(&o));
}

#[test]
fn wast_prints_failures_and_a_closing_line() {
    let ok = temp_file(
        "ok.wast",
        "(module (func (export \"one\") (result i32) i32.const 1))\n(assert_return (invoke \"one\") (i32.const 1))\n",
    );
    let o = kiln(&["wast", ok.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stdout(&o));
    assert_eq!(stdout(&o), "2 passed, 0 failed\n");

    let bad = temp_file(
        "bad.wast",
        "(module (func (export \"one\") (result i32) i32.const 1))\n\n(assert_return (invoke \"one\") (i32.const 2))\n",
    );
    let o = kiln(&["wast", ok.to_str().unwrap(), bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(out.contains("bad.wast:3: assert_return"), "{out}");
    assert!(out.ends_with("3 passed, 1 failed\n"), "{out}");
}
