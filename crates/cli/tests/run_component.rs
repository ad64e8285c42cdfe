//! `kiln run` of components: `--invoke` with WAVE arguments and results, `--preload` of a
//! component that satisfies an import by name (which wasmtime refuses), a `wasi:cli/run`
//! export's `err` as exit status 1, and clear errors for what cannot run.
mod common;

use common::{scratch, text};
use std::path::Path;
use std::process::Output;

fn kiln(args: &[&str]) -> Output {
    let mut c = common::kiln();
    c.args(args);
    c.output().expect("run kiln")
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

/// Exports `add` and `greet` (with a bump allocator for the string it returns).
const LIB: &str = r#"(component
  (core module $M
    (memory (export "mem") 1)
    (global $next (mut i32) (i32.const 1024))
    (func (export "realloc") (param i32 i32 i32 i32) (result i32)
      (local $p i32)
      (local.set $p (global.get $next))
      (global.set $next (i32.add (global.get $next) (local.get 3)))
      (local.get $p))
    (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
    ;; "hi " ++ name, as (ptr, len) at 16
    (func (export "greet") (param $p i32) (param $n i32) (result i32)
      (i32.store8 (i32.const 512) (i32.const 104))
      (i32.store8 (i32.const 513) (i32.const 105))
      (i32.store8 (i32.const 514) (i32.const 32))
      (memory.copy (i32.const 515) (local.get $p) (local.get $n))
      (i32.store (i32.const 16) (i32.const 512))
      (i32.store (i32.const 20) (i32.add (local.get $n) (i32.const 3)))
      (i32.const 16)))
  (core instance $m (instantiate $M))
  (func (export "add") (param "a" u32) (param "b" u32) (result u32) (canon lift (core func $m "add")))
  (func (export "greet") (param "name" string) (result string)
    (canon lift (core func $m "greet") (memory (core memory $m "mem")) (realloc (core func $m "realloc")))))"#;

#[test]
fn invoke_takes_and_prints_wave_values() {
    let dir = scratch("component-invoke");
    let lib = write(&dir, "lib.wat", LIB);
    let o = kiln(&["run", "--invoke", "add(40, 2)", &lib]);
    assert_eq!(o.status.code(), Some(0), "stderr: {}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "42\n");
    let o = kiln(&["run", "--invoke", r#"greet("kiln")"#, &lib]);
    assert_eq!(text(&o.stdout), "\"hi kiln\"\n", "stderr: {}", text(&o.stderr));
    // The arguments may also follow the file, one value each.
    let o = kiln(&["run", "--invoke", "add", &lib, "1", "2"]);
    assert_eq!(text(&o.stdout), "3\n", "stderr: {}", text(&o.stderr));
    let o = kiln(&["run", "--invoke", "add(1, \"x\")", &lib]);
    assert_ne!(o.status.code(), Some(0));
    assert!(text(&o.stderr).contains("not a u32"), "{}", text(&o.stderr));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_compiled_component_runs_with_allow_precompiled_only() {
    let dir = scratch("component-precompiled");
    let lib = write(&dir, "lib.wat", LIB);
    let cwasm = dir.join("lib.cwasm");
    let o = kiln(&["compile", "-C", "cache=n", "-o", cwasm.to_str().unwrap(), &lib]);
    assert_eq!(o.status.code(), Some(0), "stderr: {}", text(&o.stderr));
    let o = kiln(&["run", "--invoke", "add(2, 3)", cwasm.to_str().unwrap()]);
    assert_ne!(o.status.code(), Some(0));
    assert!(text(&o.stderr).contains("--allow-precompiled"), "{}", text(&o.stderr));
    let o = kiln(&["run", "--allow-precompiled", "--invoke", "add(2, 3)", cwasm.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "stderr: {}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "5\n");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn preload_satisfies_a_component_import_by_name() {
    let dir = scratch("component-preload");
    let lib = write(&dir, "lib.wat", LIB);
    let main = write(
        &dir,
        "main.wat",
        r#"(component
          (import "math" (instance $math (export "add" (func (param "a" u32) (param "b" u32) (result u32)))))
          (alias export $math "add" (func $add))
          (core func $add' (canon lower (func $add)))
          (core module $M
            (import "" "add" (func $add (param i32 i32) (result i32)))
            (func (export "twice") (param i32) (result i32) (call $add (local.get 0) (local.get 0))))
          (core instance $m (instantiate $M (with "" (instance (export "add" (func $add'))))))
          (func (export "twice") (param "x" u32) (result u32) (canon lift (core func $m "twice"))))"#,
    );
    let preload = format!("math={lib}");
    let o = kiln(&["run", "--preload", &preload, "--invoke", "twice(21)", &main]);
    assert_eq!(o.status.code(), Some(0), "stderr: {}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "42\n");
    // Without it, the missing import is named.
    let o = kiln(&["run", "--invoke", "twice(1)", &main]);
    assert_ne!(o.status.code(), Some(0));
    assert!(text(&o.stderr).contains("math#add"), "{}", text(&o.stderr));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_command_without_run_or_with_an_unsupported_feature_is_refused_clearly() {
    let dir = scratch("component-refused");
    let lib = write(&dir, "lib.wat", LIB);
    let o = kiln(&["run", &lib]);
    assert_ne!(o.status.code(), Some(0));
    assert!(text(&o.stderr).contains("wasi:cli/run"), "{}", text(&o.stderr));
    let async_c = write(
        &dir,
        "async.wat",
        r#"(component
          (core module $M (func (export "f") (result i32) i32.const 0) (func (export "cb") (param i32 i32 i32) (result i32) i32.const 0))
          (core instance $m (instantiate $M))
          (func (export "f") async (canon lift (core func $m "f") async (callback (core func $m "cb")))))"#,
    );
    let o = kiln(&["run", "--invoke", "f()", &async_c]);
    assert_ne!(o.status.code(), Some(0));
    assert!(text(&o.stderr).contains("unsupported: component-model async"), "{}", text(&o.stderr));
    std::fs::remove_dir_all(&dir).unwrap();
}
