//! `kiln compile` and `kiln objdump` on components: a component compiles to one artifact
//! whose listing names every function with its core module's index, and whose bytes are
//! the same whatever the thread count.
mod common;

use common::{scratch, text};
use std::path::Path;
use std::process::Output;

fn kiln(args: &[&str], threads: Option<&str>) -> Output {
    let mut c = common::kiln();
    c.args(args).env_remove("KILN_CACHE_DIR");
    match threads {
        Some(t) => c.env("RAYON_NUM_THREADS", t),
        None => c.env_remove("RAYON_NUM_THREADS"),
    };
    c.output().expect("run kiln")
}

/// A component of two core modules with `n` functions each calling each other; module 1's
/// `$boom` traps.
fn component(n: usize) -> String {
    let functions = |prefix: &str| {
        (0..n)
            .map(|i| {
                let callee =
                    if i == 0 { String::new() } else { format!("(drop (call ${prefix}{} (local.get 0)))", i / 2) };
                format!(
                    "(func ${prefix}{i} (export \"{prefix}{i}\") (param i32) (result i32) {callee} \
                     (i32.mul (local.get 0) (i32.const {})))\n",
                    i + 1
                )
            })
            .collect::<String>()
    };
    format!(
        r#"(component
          (core module $A {})
          (core module $B (import "a" "a0" (func (param i32) (result i32))) (func $boom (export "boom") unreachable) {})
          (core instance $a (instantiate $A))
          (core instance $b (instantiate $B (with "a" (instance $a))))
          (func (export "a0") (param "x" u32) (result u32) (canon lift (core func $a "a0")))
          (func (export "boom") (canon lift (core func $b "boom"))))"#,
        functions("a"),
        functions("b")
    )
}

fn compile(wat: &Path, out: &Path, inlining: &str, threads: Option<&str>) -> Vec<u8> {
    let o = kiln(
        &[
            "compile",
            "-C",
            "cache=n",
            "-O",
            &format!("inlining={inlining}"),
            "-o",
            out.to_str().unwrap(),
            wat.to_str().unwrap(),
        ],
        threads,
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    std::fs::read(out).unwrap()
}

#[test]
fn a_component_compiles_to_one_artifact_that_objdump_lists_by_module() {
    let dir = scratch("component-objdump");
    let wat = dir.join("comp.wat");
    std::fs::write(&wat, component(3)).unwrap();
    let o = kiln(&["compile", "-C", "cache=n", wat.to_str().unwrap()], None);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let cwasm = dir.join("comp.cwasm");
    let o = kiln(&["objdump", cwasm.to_str().unwrap()], None);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let listing = text(&o.stdout);
    for expected in [
        "Kiln artifact (component of 2 core modules)",
        "wasm[0]::function[2]::a2",
        "wasm[1]::function[0]::boom",
        "wasm[1]::function[1]::b0",
        "wasm[0]::array_to_wasm_trampoline[0]",
        "wasm[1]::array_to_wasm_trampoline[0]",
        "wasm[1]::wasm_to_array_trampoline[0]",
        ": unreachable",
    ] {
        assert!(listing.contains(expected), "no `{expected}` in\n{listing}");
    }
    // A truncated artifact is an error, not a crash.
    let bytes = std::fs::read(&cwasm).unwrap();
    std::fs::write(&cwasm, &bytes[..bytes.len() / 2]).unwrap();
    let o = kiln(&["objdump", cwasm.to_str().unwrap()], None);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn component_artifacts_are_identical_whatever_the_thread_count() {
    let dir = scratch("component-determinism");
    let wat = dir.join("many.wat");
    std::fs::write(&wat, component(200)).unwrap();
    for inlining in ["n", "y"] {
        let one = compile(&wat, &dir.join(format!("one-{inlining}.cwasm")), inlining, Some("1"));
        let many = compile(&wat, &dir.join(format!("many-{inlining}.cwasm")), inlining, None);
        let four = compile(&wat, &dir.join(format!("four-{inlining}.cwasm")), inlining, Some("4"));
        assert!(one == many && one == four, "inlining={inlining}: artifact bytes differ between thread counts");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
