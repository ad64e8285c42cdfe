//! `kiln run` of WASI programs: a C program built with clang for wasm32-wasi reads a file
//! from a preopen, writes another and checks its args and env; exit statuses, traps with their
//! backtraces, `--preload`, read-only directories, the refusal of a 64-bit memory, and the
//! hints of failed instantiations.
mod common;

use common::{repo, scratch, text};
use std::path::Path;
use std::process::{Command, Output};

fn kiln(args: &[&str]) -> Output {
    kiln_cmd(args).output().expect("run kiln")
}

fn kiln_cmd(args: &[&str]) -> Command {
    let mut c = common::kiln();
    c.args(args);
    c
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

fn files_wasm() -> String {
    repo().join("tests/programs/files.wasm").to_str().unwrap().to_string()
}

#[test]
fn c_program_reads_writes_and_sees_its_args_and_env() {
    let dir = scratch("c");
    write(&dir, "in.txt", "kiln runs c\n");
    let grant = format!("{}::.", dir.display());
    let wasm = files_wasm();
    let o = kiln(&["run", "--dir", &grant, "--env", "GREETING=hello", &wasm, "in.txt", "out.txt"]);
    assert_eq!(o.status.code(), Some(0), "stderr: {}", text(&o.stderr));
    assert_eq!(text(&o.stdout), format!("{wasm}: copied 12 bytes from in.txt to out.txt in upper case\n"));
    assert_eq!(std::fs::read_to_string(dir.join("out.txt")).unwrap(), "KILN RUNS C\n");
    // A bare --env NAME passes the host's value; an unset one is left out.
    let o =
        kiln_cmd(&["run", "--dir", &grant, "--env", "GREETING", "--env", "UNSET_BY_HOST", &wasm, "in.txt", "out2.txt"])
            .env("GREETING", "hello")
            .env_remove("UNSET_BY_HOST")
            .output()
            .unwrap();
    assert_eq!(o.status.code(), Some(0), "stderr: {}", text(&o.stderr));
    // Without the variable the program's own check fails, and it says so.
    let o = kiln(&["run", "--dir", &grant, &wasm, "in.txt", "out3.txt"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("check failed: GREETING=hello"), "{}", text(&o.stderr));
    // The program's attempt at `../escape.txt` was the last refusal; the hint names the flag.
    assert!(
        text(&o.stderr).contains(
            "hint: the program was refused `../escape.txt`, which lies outside its preopened directories; `--dir"
        ),
        "{}",
        text(&o.stderr)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The same C program, wrapped into a component with the preview1 command adapter, runs on
/// WASI 0.2 with the same grants and the same results.
#[test]
fn c_program_as_a_component_reads_writes_and_sees_its_args_and_env() {
    let dir = scratch("c-component");
    write(&dir, "in.txt", "kiln runs c\n");
    let component = dir.join("files.component.wasm");
    common::componentize(Path::new(&files_wasm()), &component).unwrap();
    let component = component.to_str().unwrap().to_string();
    let grant = format!("{}::.", dir.display());
    let o = kiln(&["run", "--dir", &grant, "--env", "GREETING=hello", &component, "in.txt", "out.txt"]);
    assert_eq!(o.status.code(), Some(0), "stderr: {}", text(&o.stderr));
    assert_eq!(text(&o.stdout), format!("{component}: copied 12 bytes from in.txt to out.txt in upper case\n"));
    assert_eq!(std::fs::read_to_string(dir.join("out.txt")).unwrap(), "KILN RUNS C\n");
    // Without the variable the program's own check fails with its exit code.
    let o = kiln(&["run", "--dir", &grant, &component, "in.txt", "out3.txt"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("check failed: GREETING=hello"), "{}", text(&o.stderr));
    // A read-only grant refuses the output file.
    let o = kiln(&["run", "--dir", &format!("{grant}::ro"), "--env", "GREETING=hello", &component, "in.txt", "ro.txt"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(!dir.join("ro.txt").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_read_only_dir_refuses_writes_and_the_cli_says_why() {
    let dir = scratch("ro");
    write(&dir, "in.txt", "abc");
    let grant = format!("{}::.::ro", dir.display());
    let o = kiln(&["run", "--dir", &grant, "--env", "GREETING=hello", &files_wasm(), "in.txt", "out.txt"]);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(err.contains("check failed: create the output"), "{err}");
    assert!(!dir.join("out.txt").exists());
    // The hint names the last refused path and why.
    assert!(err.contains("hint: the program was refused a change to `out.txt`, under a read-only directory"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn exit_status_comes_from_proc_exit() {
    let dir = scratch("exit");
    let m = write(
        &dir,
        "exit.wat",
        r#"(module (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
             (memory (export "memory") 0)
             (func (export "_start") (call $exit (i32.const 42)) unreachable))"#,
    );
    let o = kiln(&["run", &m]);
    assert_eq!(o.status.code(), Some(42), "{}", text(&o.stderr));
    assert_eq!(text(&o.stderr), "");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_wasi_program_with_a_64_bit_memory_is_refused_with_the_reason() {
    let dir = scratch("memory64");
    let m = write(
        &dir,
        "m64.wat",
        r#"(module (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
             (memory (export "memory") i64 1)
             (func (export "_start") (drop (call $w (i32.const 1) (i32.const 0) (i32.const 0) (i32.const 0)))))"#,
    );
    let o = kiln(&["run", &m]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    let err = text(&o.stderr);
    assert!(err.contains("unsupported: a 64-bit memory (memory64) in a WASI program"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_trap_prints_the_message_and_a_named_backtrace() {
    let dir = scratch("trap");
    let m = write(
        &dir,
        "trap.wat",
        r#"(module $demo
             (func $inner (param i32) (result i32) local.get 0 i32.const 0 i32.div_u)
             (func $middle (result i32) i32.const 7 call $inner)
             (func $_start (export "_start") call $middle drop))"#,
    );
    let o = kiln(&["run", &m]);
    assert_eq!(o.status.code(), Some(134));
    let err = text(&o.stderr);
    assert!(err.starts_with("Error: wasm trap: integer divide by zero\nwasm backtrace:\n"), "{err}");
    let frames: Vec<&str> = err.lines().skip(2).map(|l| l.split(": ").nth(1).unwrap_or("")).collect();
    // The module offsets wasmtime 48 prints for the same module.
    assert_eq!(frames, ["0x32 - demo!inner", "0x38 - demo!middle", "0x3d - demo!_start"], "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn preload_links_another_module_by_name() {
    let dir = scratch("preload");
    let helper = write(&dir, "helper.wat", r#"(module (func (export "seven") (result i32) i32.const 7))"#);
    let main = write(
        &dir,
        "main.wat",
        r#"(module (import "helper" "seven" (func $seven (result i32)))
             (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
             (memory (export "memory") 0)
             (func (export "_start") (call $exit (call $seven))))"#,
    );
    let o = kiln(&["run", "--preload", &format!("helper={helper}"), &main]);
    assert_eq!(o.status.code(), Some(7), "{}", text(&o.stderr));
    // Without it, the error names the import and the flag that provides it.
    let o = kiln(&["run", &main]);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(err.contains("`helper::seven`") && err.contains("--preload helper=FILE.wasm"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn unknown_wasi_functions_and_bad_flags_are_clear_errors() {
    let dir = scratch("errors");
    let m = write(
        &dir,
        "bad.wat",
        r#"(module (import "wasi_snapshot_preview1" "fd_teleport" (func (param i32) (result i32)))
             (func (export "_start")))"#,
    );
    let err = text(&kiln(&["run", &m]).stderr);
    assert!(
        err.contains("`wasi_snapshot_preview1::fd_teleport`") && err.contains("not a function of WASI preview1"),
        "{err}"
    );
    let ok = write(&dir, "ok.wat", r#"(module (func (export "_start")))"#);
    for (flag, value, expect) in [
        ("--dir", "/nonexistent/kiln/dir", "cannot open directory /nonexistent/kiln/dir"),
        ("--dir", "a::b::rw", "unknown access `rw`"),
        ("--preload", "nofile", "expected NAME=FILE"),
    ] {
        let o = kiln(&["run", flag, value, &ok]);
        assert_eq!(o.status.code(), Some(1), "{flag} {value}");
        assert!(text(&o.stderr).contains(expect), "{flag} {value}: {}", text(&o.stderr));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_reactor_is_initialized_before_an_invoked_export() {
    let dir = scratch("reactor");
    let m = write(
        &dir,
        "reactor.wat",
        r#"(module (global $g (mut i32) (i32.const 0))
             (func (export "_initialize") (global.set $g (i32.const 41)))
             (func (export "get") (result i32) (i32.add (global.get $g) (i32.const 1))))"#,
    );
    let o = kiln(&["run", "--invoke", "get", &m]);
    assert_eq!((o.status.code(), text(&o.stdout)), (Some(0), "42\n".to_string()), "{}", text(&o.stderr));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn profile_perfmap_names_wasm_functions_for_perf() {
    let dir = scratch("perfmap");
    let m = write(&dir, "named.wat", r#"(module $named (func $work (export "_start")))"#);
    let child = kiln_cmd(&["run", "-C", "cache=n", "--profile", "perfmap", &m]).spawn().unwrap();
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let map_path = format!("/tmp/perf-{pid}.map");
    let map = std::fs::read_to_string(&map_path).unwrap();
    std::fs::remove_file(&map_path).unwrap();
    let line = map.lines().find(|l| l.ends_with("named!wasm[0]::function[0]::work")).unwrap_or_else(|| panic!("{map}"));
    let fields: Vec<&str> = line.split(' ').collect();
    assert!(
        u64::from_str_radix(fields[0], 16).unwrap() > 0 && u64::from_str_radix(fields[1], 16).unwrap() > 0,
        "{line}"
    );
    let o = kiln(&["run", "--profile", "gprof", &m]);
    assert!(text(&o.stderr).contains("unknown profiler"), "{}", text(&o.stderr));
    std::fs::remove_dir_all(&dir).unwrap();
}
