//! The `-W` guest controls of `kiln run`: fuel that runs out traps with exit 134, a timeout
//! stops a guest that loops forever, resource limits make `memory.grow` return -1 (or trap),
//! and `max-wasm-stack` is accepted in both spellings.
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Run `kiln ARGS`, killing it after 20 seconds (a guest that ignores its controls would
/// otherwise hang the test).
fn kiln(args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kiln"))
        .args(["run", "-C", "cache=n"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run kiln");
    let start = Instant::now();
    while child.try_wait().expect("wait for kiln").is_none() {
        if start.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("kiln {args:?} did not finish within 20 s");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    child.wait_with_output().expect("collect kiln's output")
}

fn module(name: &str, text: &str) -> String {
    let dir = std::env::temp_dir().join(format!("kiln-guest-control-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path: PathBuf = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const COUNT: &str = r#"(module
  (func (export "run") (param $n i32) (result i32)
    (local $i i32)
    (loop $l
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
    (local.get $i)))"#;

#[test]
fn fuel_that_runs_out_traps_with_134_and_a_backtrace() {
    let count = module("count.wat", COUNT);
    let o = kiln(&["-W", "fuel=1000", "--invoke", "run", &count, "1000000"]);
    assert_eq!(o.status.code(), Some(134), "{}", text(&o.stderr));
    let err = text(&o.stderr);
    assert!(err.contains("Error: wasm trap: all fuel consumed by WebAssembly\nwasm backtrace:\n    0:"), "{err}");
    // Just enough fuel (as with wasmtime 48): 1 to enter, 8 per iteration, and the last
    // check comes at the last loop header.
    let o = kiln(&["-W", "fuel=7999994", "--invoke", "run", &count, "1000000"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let o = kiln(&["-W", "fuel=7999993", "--invoke", "run", &count, "1000000"]);
    assert_eq!(o.status.code(), Some(134), "{}", text(&o.stderr));
    let o = kiln(&["-W", "fuel=8000002", "--invoke", "run", &count, "1000000"]);
    assert_eq!((text(&o.stdout).as_str(), o.status.code()), ("1000000\n", Some(0)), "{}", text(&o.stderr));
}

#[test]
fn a_timeout_stops_a_loop_forever() {
    let spin = module("spin.wat", r#"(module (func (export "_start") (loop $l (br $l))))"#);
    let start = Instant::now();
    let o = kiln(&["-W", "timeout=1s", &spin]);
    let took = start.elapsed();
    assert_eq!(o.status.code(), Some(134), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("Error: wasm trap: interrupt\nwasm backtrace:"), "{}", text(&o.stderr));
    assert!(took < Duration::from_secs(2), "took {took:?}");
    assert!(took >= Duration::from_millis(900), "stopped early, after {took:?}");
}

#[test]
fn limits_refuse_growth() {
    let m = module(
        "m.wat",
        r#"(module (memory 1) (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))"#,
    );
    let o = kiln(&["-W", "max-memory-size=1048576", "--invoke", "grow", &m, "100"]);
    assert_eq!((text(&o.stdout).as_str(), o.status.code()), ("-1\n", Some(0)), "{}", text(&o.stderr));
    let o = kiln(&["-W", "max-memory-size=1048576", "--invoke", "grow", &m, "15"]);
    assert_eq!(text(&o.stdout), "1\n");
    let o = kiln(&["-W", "max-memory-size=1m,trap-on-grow-failure=y", "--invoke", "grow", &m, "100"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("forcing trap when growing memory to 6619136 bytes"), "{}", text(&o.stderr));
    let o = kiln(&["-W", "max-memories=0", "--invoke", "grow", &m, "1"]);
    assert!(text(&o.stderr).contains("resource limit exceeded: memory count too high at 1"), "{}", text(&o.stderr));
    let t = module(
        "t.wat",
        r#"(module (table 1 funcref) (func (export "grow") (param i32) (result i32) (table.grow (ref.null func) (local.get 0))))"#,
    );
    let o = kiln(&["-W", "max-table-elements=10", "--invoke", "grow", &t, "10"]);
    assert_eq!(text(&o.stdout), "-1\n");
    let o = kiln(&["-W", "max-tables=0", "--invoke", "grow", &t, "1"]);
    assert!(text(&o.stderr).contains("resource limit exceeded: table count too high at 1"), "{}", text(&o.stderr));
    let o = kiln(&["-W", "max-instances=0", "--invoke", "grow", &t, "1"]);
    assert!(text(&o.stderr).contains("resource limit exceeded: instance count too high at 1"), "{}", text(&o.stderr));
}

#[test]
fn max_wasm_stack_in_both_spellings_and_unknown_keys() {
    let deep = module(
        "deep.wat",
        r#"(module (func $f (export "f") (param i32) (result i32)
             (if (result i32) (local.get 0) (then (i32.add (i32.const 1) (call $f (i32.sub (local.get 0) (i32.const 1))))) (else (i32.const 0)))))"#,
    );
    for flag in ["-W", "-O"] {
        let o = kiln(&[flag, "max-wasm-stack=64k", "--invoke", "f", &deep, "100000"]);
        assert_eq!(o.status.code(), Some(134), "{flag}: {}", text(&o.stderr));
        assert!(text(&o.stderr).contains("call stack exhausted"), "{flag}: {}", text(&o.stderr));
        let o = kiln(&[flag, "max-wasm-stack=64k", "--invoke", "f", &deep, "100"]);
        assert_eq!(text(&o.stdout), "100\n", "{flag}: {}", text(&o.stderr));
    }
    let o = kiln(&["-W", "fule=1", "--invoke", "f", &deep, "1"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("-W fule=1: unknown option; the known ones are:"), "{}", text(&o.stderr));
    let o = kiln(&["-W", "timeout=soon", "--invoke", "f", &deep, "1"]);
    assert!(text(&o.stderr).contains("expected a duration such as 500ms"), "{}", text(&o.stderr));
}
