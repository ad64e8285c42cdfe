//! `kiln compile`, `kiln run --allow-precompiled`, `kiln objdump` and the compilation cache:
//! artifacts run like their modules, are byte-identical whatever the thread count, and the
//! cache hits, misses on changed settings, and recovers from a corrupt entry.
mod common;

use common::{scratch, text};
use std::path::{Path, PathBuf};
use std::process::Output;

fn kiln(args: &[&str], cache: Option<&Path>) -> Output {
    let mut c = common::kiln();
    c.args(args);
    match cache {
        Some(dir) => c.env("KILN_CACHE_DIR", dir),
        None => c.args::<[&str; 0], &str>([]).env_remove("KILN_CACHE_DIR"),
    };
    c.output().expect("run kiln")
}

const PROGRAM: &str = r#"(module $prog
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 8) "\10\00\00\00\06\00\00\00")
  (data (i32.const 16) "hello\n")
  (func $boom (export "boom") i32.const 1 i32.const 0 i32.div_s drop)
  (tag $oops)
  (func (export "guarded") (block $h (try_table (catch $oops $h) (call $boom))))
  (func (export "_start") (drop (call $fd_write (i32.const 1) (i32.const 8) (i32.const 1) (i32.const 0)))))"#;

#[test]
fn compiled_artifacts_run_only_when_allowed() {
    let dir = scratch("run");
    let wat = dir.join("prog.wat");
    std::fs::write(&wat, PROGRAM).unwrap();
    let wat = wat.to_str().unwrap();
    let o = kiln(&["compile", wat], None);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let cwasm = dir.join("prog.cwasm");
    let cwasm = cwasm.to_str().unwrap();
    let o = kiln(&["run", "--allow-precompiled", "-C", "cache=n", cwasm], None);
    assert_eq!((o.status.code(), text(&o.stdout)), (Some(0), "hello\n".into()), "{}", text(&o.stderr));
    let o = kiln(&["run", "--allow-precompiled", "-C", "cache=n", "--invoke", "boom", cwasm], None);
    assert_eq!(o.status.code(), Some(134));
    assert!(
        text(&o.stderr).contains("integer divide by zero") && text(&o.stderr).contains("prog!boom"),
        "{}",
        text(&o.stderr)
    );
    let o = kiln(&["run", "-C", "cache=n", cwasm], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("is a precompiled artifact") && text(&o.stderr).contains("--allow-precompiled"),
        "{}",
        text(&o.stderr)
    );
    // Other settings, and corruption, are refused with the reason.
    let o = kiln(&["run", "--allow-precompiled", "-C", "cache=n", "-O", "memory-reservation=0", cwasm], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("artifact was compiled with tunable.memory-reservation=4294967296, but this engine has tunable.memory-reservation=0"), "{}", text(&o.stderr));
    let mut bytes = std::fs::read(cwasm).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    std::fs::write(cwasm, &bytes).unwrap();
    let o = kiln(&["run", "--allow-precompiled", "-C", "cache=n", cwasm], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("the artifact is corrupted"), "{}", text(&o.stderr));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A module of `n` functions that call each other, so inlining and parallel compilation
/// have something to do; some catch what others throw, so the exception table has sites.
fn many_functions(n: usize) -> String {
    let mut m = String::from("(module (memory (export \"memory\") 1) (tag $e (param i32))\n");
    for i in 0..n {
        let callee = if i == 0 {
            "local.get 0".to_string()
        } else {
            let call = format!("local.get 0 i32.const {i} i32.add call $f{}", (i * 7) % i);
            let call = if i % 5 == 0 {
                format!("block $h (result i32) try_table (result i32) (catch $e $h) {call} end end")
            } else {
                call
            };
            if i % 11 == 0 { format!("local.get 0 i32.eqz if local.get 0 throw $e end {call}") } else { call }
        };
        m.push_str(&format!(
            "(func $f{i} (export \"f{i}\") (param i32) (result i32) {callee} i32.const {} i32.mul)\n",
            i + 1
        ));
    }
    m.push(')');
    m
}

#[test]
fn artifacts_are_identical_whatever_the_thread_count() {
    let dir = scratch("determinism");
    let wat = dir.join("many.wat");
    std::fs::write(&wat, many_functions(400)).unwrap();
    let mut outputs = Vec::new();
    for (threads, inlining) in [(Some("1"), "n"), (None, "n"), (Some("1"), "n"), (Some("1"), "y"), (None, "y")] {
        let out = dir.join(format!("out-{}-{inlining}-{}.cwasm", threads.unwrap_or("default"), outputs.len()));
        let mut c = common::kiln();
        c.args(["compile", "-O", &format!("inlining={inlining}"), "-o", out.to_str().unwrap(), wat.to_str().unwrap()]);
        match threads {
            Some(t) => c.env("RAYON_NUM_THREADS", t),
            None => c.env_remove("RAYON_NUM_THREADS"),
        };
        let o = c.output().unwrap();
        assert!(o.status.success(), "{}", text(&o.stderr));
        outputs.push((inlining, std::fs::read(&out).unwrap()));
    }
    for (inlining, bytes) in &outputs[1..] {
        let first = outputs.iter().find(|(i, _)| i == inlining).unwrap();
        assert!(first.1 == *bytes, "inlining={inlining}: artifact bytes differ between runs or thread counts");
    }
    assert!(outputs[0].1 != outputs[3].1, "inlining changes the code");
    std::fs::remove_dir_all(&dir).unwrap();
}

fn entries(cache: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> =
        std::fs::read_dir(cache).map(|r| r.flatten().map(|e| e.path()).collect()).unwrap_or_default();
    v.sort();
    v
}

#[test]
fn the_cache_hits_misses_on_new_settings_and_recovers_from_corruption() {
    let dir = scratch("cache");
    let cache = dir.join("cache");
    let wat = dir.join("prog.wat");
    std::fs::write(&wat, PROGRAM).unwrap();
    let wat = wat.to_str().unwrap();
    let run = |extra: &[&str]| {
        let mut args = vec!["run"];
        args.extend_from_slice(extra);
        args.push(wat);
        let o = kiln(&args, Some(&cache));
        assert_eq!((o.status.code(), text(&o.stdout)), (Some(0), "hello\n".into()), "{}", text(&o.stderr));
    };
    run(&[]);
    let first = entries(&cache);
    assert_eq!(first.len(), 1, "a miss stores one entry");
    let stored = std::fs::read(&first[0]).unwrap();
    let modified = std::fs::metadata(&first[0]).unwrap().modified().unwrap();
    run(&[]);
    assert_eq!(entries(&cache), first, "a hit stores nothing new");
    assert_eq!(std::fs::metadata(&first[0]).unwrap().modified().unwrap(), modified, "a hit does not rewrite the entry");
    run(&["-O", "inlining=y"]);
    assert_eq!(entries(&cache).len(), 2, "other settings are another key");
    // A corrupt entry is a miss: recompiled and replaced.
    std::fs::write(&first[0], &stored[..stored.len() / 3]).unwrap();
    run(&[]);
    assert_eq!(std::fs::read(&first[0]).unwrap(), stored, "the corrupt entry was replaced");
    // -C cache=n neither reads nor writes it.
    std::fs::remove_file(&first[0]).unwrap();
    run(&["-C", "cache=n"]);
    assert_eq!(entries(&cache).len(), 1);
    // `kiln cache dir` and `kiln cache clean`.
    let o = kiln(&["cache", "dir"], Some(&cache));
    assert_eq!(text(&o.stdout).trim(), cache.to_str().unwrap());
    let o = kiln(&["cache", "clean"], Some(&cache));
    assert!(o.status.success() && text(&o.stdout).contains("removed 1 cached artifacts"), "{}", text(&o.stdout));
    assert!(entries(&cache).is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn objdump_lists_functions_traps_and_code() {
    let dir = scratch("objdump");
    let wat = dir.join("prog.wat");
    std::fs::write(&wat, PROGRAM).unwrap();
    let out = dir.join("prog.cwasm");
    assert!(kiln(&["compile", "-o", out.to_str().unwrap(), wat.to_str().unwrap()], None).status.success());
    let o = kiln(&["objdump", out.to_str().unwrap()], None);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let listing = text(&o.stdout);
    assert!(listing.contains("Kiln artifact") && listing.contains("target: x86_64"), "{listing}");
    assert!(listing.contains("wasm[0]::function[0]::boom"), "{listing}");
    assert!(listing.contains(": integer divide by zero"), "{listing}");
    assert!(listing.contains("catches tag 0 -> 0x"), "{listing}");
    let o = kiln(&["objdump", "--disassemble", out.to_str().unwrap()], None);
    let listing = text(&o.stdout);
    if cfg!(feature = "disassemble") {
        assert!(listing.contains("push rbp") && listing.contains("ret"), "{listing}");
    } else {
        assert!(text(&o.stderr).contains("unsupported: disassembly"));
    }
    let o = kiln(&["objdump", wat.to_str().unwrap()], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains(": not a Kiln artifact (not an ELF file)"), "{}", text(&o.stderr));
    std::fs::remove_dir_all(&dir).unwrap();
}
