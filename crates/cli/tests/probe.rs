//! The security probe's repro cases (issue 12), each run through the `kiln` command as an
//! attacker would: a guest or a module that tries to make the host allocate without bound,
//! fill its disk, abort, panic, or mistake a signal for a trap. Each must end with a clear
//! error or the right answer, and the process must stay in control of itself. Limits on the
//! child (`ulimit`) turn "the host allocated too much" into a visible failure.
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// A fresh directory for one test.
fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kiln-probe-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Run `kiln ARGS` through `sh -c` after the shell commands in `prefix` (limits,
/// redirections), without the cache.
fn kiln_sh(prefix: &str, args: &[&str]) -> Output {
    let mut script = format!("{prefix}; exec \"$0\" run -C cache=n");
    for i in 1..=args.len() {
        script.push_str(&format!(" \"${i}\""));
    }
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg(env!("CARGO_BIN_EXE_kiln"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run kiln")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn write(dir: &Path, name: &str, contents: impl AsRef<[u8]>) -> String {
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path.to_str().unwrap().to_string()
}

/// The unsigned LEB128 encoding of `n`.
fn leb(mut n: u64) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

/// A module section: its id, then its contents with their length.
fn section(id: u8, contents: &[u8]) -> Vec<u8> {
    let mut s = vec![id];
    s.extend(leb(contents.len() as u64));
    s.extend_from_slice(contents);
    s
}

#[test]
fn many_zero_length_iovecs_cost_the_host_nothing() {
    // 16M iovecs (128 MiB of guest memory, all zero: each names an empty buffer) given to
    // one fd_write. Copying the array and a slice per entry took the host 3 bytes per
    // guest byte; the data limit leaves room for the guest memory and Kiln itself only.
    let dir = scratch("iovecs");
    let wat = write(
        &dir,
        "iovecs.wat",
        r#"(module
             (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
             (memory (export "memory") 2049)
             (func (export "write") (result i32)
               (call $fd_write (i32.const 1) (i32.const 0) (i32.const 0x1000000) (i32.const 0x8000000))
               (i32.load (i32.const 0x8000000))
               (i32.add)))"#,
    );
    let o = kiln_sh("ulimit -d 330000", &["--invoke", "write", &wat]);
    assert_eq!(text(&o.stdout), "0\n", "errno + bytes written; stderr: {}", text(&o.stderr));
    assert!(o.status.success(), "{}", text(&o.stderr));
}

#[test]
fn fd_allocate_is_not_supported() {
    // wasmtime answers `notsup`; reserving real blocks at a size the guest picks would let it
    // fill the host's disk in a fraction of a second.
    let dir = scratch("allocate");
    std::fs::create_dir(dir.join("d")).unwrap();
    let wat = write(
        &dir,
        "allocate.wat",
        r#"(module
             (import "wasi_snapshot_preview1" "path_open"
               (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
             (import "wasi_snapshot_preview1" "fd_allocate" (func $fd_allocate (param i32 i64 i64) (result i32)))
             (memory (export "memory") 1)
             (data (i32.const 16) "big")
             (func (export "allocate") (result i32)
               (if (call $path_open (i32.const 3) (i32.const 0) (i32.const 16) (i32.const 3) (i32.const 1)
                     (i64.const -1) (i64.const -1) (i32.const 0) (i32.const 32))
                 (then (return (i32.const -1))))
               (call $fd_allocate (i32.load (i32.const 32)) (i64.const 0) (i64.const 0x40000000))))"#,
    );
    let d = format!("{}::.", dir.join("d").display());
    let o = kiln_sh("true", &["--dir", &d, "--invoke", "allocate", &wat]);
    assert_eq!(text(&o.stdout), "58\n", "{}", text(&o.stderr));
    assert_eq!(std::fs::metadata(dir.join("d/big")).unwrap().len(), 0);
}

#[test]
fn tables_the_host_cannot_allocate_are_an_error() {
    // 20 tables of 10M elements need 1.6 GB: past a 1.2 GB address-space limit, allocation
    // fails, and that is an instantiation error, not an abort.
    let dir = scratch("tables");
    let mut wat = String::from("(module\n");
    for _ in 0..20 {
        wat.push_str("  (table 10000000 funcref)\n");
    }
    wat.push_str("  (func (export \"size\") (result i32) (table.size 19)))\n");
    let wat = write(&dir, "tables.wat", wat);
    let o = kiln_sh("ulimit -v 1200000", &["--invoke", "size", &wat]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("cannot allocate a table of 10000000 elements"), "{}", text(&o.stderr));
    // Without the limit the same module runs: its null elements cost nothing until written.
    let o = kiln_sh("true", &["--invoke", "size", &wat]);
    assert_eq!(text(&o.stdout), "10000000\n", "{}", text(&o.stderr));
}

#[test]
fn a_huge_br_table_is_refused_before_it_costs_memory() {
    // One function whose `br_table` has 3M targets: 3 MB of module. Compiling it took about
    // 580 bytes per target; it is refused with wasmtime's limit, 65,520 targets.
    let dir = scratch("br-table");
    let module = |targets: u64| {
        let mut body = vec![0x00, 0x02, 0x40, 0x41, 0x00, 0x0e]; // no locals; block; i32.const 0; br_table
        body.extend(leb(targets));
        body.extend(std::iter::repeat_n(0u8, targets as usize + 1)); // every target and the default: depth 0
        body.extend([0x0b, 0x0b]);
        let mut code = leb(1);
        code.extend(leb(body.len() as u64));
        code.extend(body);
        let mut m = b"\0asm\x01\0\0\0".to_vec();
        m.extend(section(1, &[1, 0x60, 0, 0]));
        m.extend(section(3, &[1, 0]));
        m.extend(section(7, &[1, 1, b'f', 0, 0]));
        m.extend(section(10, &code));
        m
    };
    let huge = write(&dir, "huge.wasm", module(3_000_000));
    let o = kiln_sh("ulimit -d 400000", &["--invoke", "f", &huge]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("`br_table` has 3000000 targets, more than the limit of 65520"),
        "{}",
        text(&o.stderr)
    );
    let largest = write(&dir, "largest.wasm", module(65_520));
    let o = kiln_sh("true", &["--invoke", "f", &largest]);
    assert!(o.status.success(), "{}", text(&o.stderr));
}

#[test]
fn a_closed_stderr_or_stdout_is_no_panic() {
    let dir = scratch("closed");
    let wat = write(
        &dir,
        "m.wat",
        r#"(module (func (export "boom") unreachable) (func (export "one") (result i32) (i32.const 1)))"#,
    );
    // The trap's message has nowhere to go; the exit status still says "trap".
    let o = kiln_sh("exec 2>&-", &["--invoke", "boom", &wat]);
    assert_eq!(o.status.code(), Some(134));
    // A result printed to a closed stdout is not a crash either.
    let o = kiln_sh("exec >&-", &["--invoke", "one", &wat]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    // Nor is one printed to a full device: that is an error that says so.
    let o = kiln_sh("exec > /dev/full", &["--invoke", "one", &wat]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("cannot write to stdout"), "{}", text(&o.stderr));
}

#[test]
fn a_sigsegv_sent_from_outside_is_not_a_trap() {
    // Another process's `kill -SEGV` while wasm runs is not a fault of wasm code, even when
    // the program counter happens to be at a trap site: Kiln passes it on, and the default
    // action ends the process by that signal.
    let dir = scratch("kill");
    let wat = write(
        &dir,
        "spin.wat",
        r#"(module (memory 1) (func (export "spin") (loop $l (drop (i32.load (i32.const 0))) (br $l))))"#,
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_kiln"))
        .args(["run", "-C", "cache=n", "--invoke", "spin", &wat])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    let killed = Command::new("kill").args(["-SEGV", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = child.kill();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.signal(), Some(SIGSEGV), "status {:?}, stderr: {}", o.status, text(&o.stderr));
}

/// SIGSEGV's number on Linux.
const SIGSEGV: i32 = 11;

/// Run `kiln ARGS` with the compilation cache in `cache`.
fn kiln_cached(cache: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kiln"))
        .args(args)
        .env("KILN_CACHE_DIR", cache)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .output()
        .expect("run kiln")
}

/// The entries in a cache directory.
fn entries(cache: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(cache)
        .map(|d| d.map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|x| x == "cwasm")).collect())
        .unwrap_or_default();
    found.sort();
    found
}

#[test]
fn a_forged_cache_entry_is_never_run() {
    // Whoever can write the cache can put any well-formed artifact under any entry's name,
    // with a valid checksum (here: `kiln compile` of another module). It must not load.
    let dir = scratch("forged");
    let cache = dir.join("cache");
    let a = write(&dir, "a.wat", r#"(module (func (export "f") (result i32) (i32.const 1)))"#);
    let b = write(&dir, "b.wat", r#"(module (func (export "f") (result i32) (i32.const 2)))"#);
    let o = kiln_cached(&cache, &["run", "--invoke", "f", &a]);
    assert_eq!(text(&o.stdout), "1\n", "{}", text(&o.stderr));
    let Ok([entry]) = <[PathBuf; 1]>::try_from(entries(&cache)) else {
        panic!("one entry expected: {:?}", entries(&cache))
    };
    let forged = dir.join("b.cwasm");
    let o = kiln_cached(&cache, &["compile", &b, "-o", forged.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    std::fs::copy(&forged, &entry).unwrap();
    let o = kiln_cached(&cache, &["run", "--invoke", "f", &a]);
    assert_eq!(text(&o.stdout), "1\n", "the forged entry ran; stderr: {}", text(&o.stderr));
    assert!(text(&o.stderr).contains("does not match this user's cache key"), "{}", text(&o.stderr));
    // The entry was replaced by a real one, which loads silently.
    let o = kiln_cached(&cache, &["run", "--invoke", "f", &a]);
    assert_eq!((text(&o.stdout).as_str(), text(&o.stderr).as_str()), ("1\n", ""));
}

#[test]
fn a_guest_granted_the_cache_gets_no_cache_and_no_key() {
    // The probe's attack: a guest run with a writable directory that holds the cache (and
    // its key) patches an entry for the next run. With the cache inside a grant, the run
    // neither reads nor writes it, and a key the guest could read is discarded.
    let dir = scratch("granted");
    let cache = dir.join("cache");
    let a = write(&dir, "a.wat", r#"(module (func (export "f") (result i32) (i32.const 1)))"#);
    let o = kiln_cached(&cache, &["run", "--invoke", "f", &a]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let key = dir.join("cache.key");
    assert!(key.is_file());
    let before = std::fs::read(&entries(&cache)[0]).unwrap();
    std::fs::remove_file(&entries(&cache)[0]).unwrap();
    let grant = format!("{}::home", dir.display());
    let o = kiln_cached(&cache, &["run", "--dir", &grant, "--invoke", "f", &a]);
    assert_eq!(text(&o.stdout), "1\n", "{}", text(&o.stderr));
    let err = text(&o.stderr);
    assert!(err.contains("the compilation cache is off for this run"), "{err}");
    assert!(err.contains("the key is discarded"), "{err}");
    assert!(entries(&cache).is_empty(), "a run with the cache granted wrote an entry");
    assert!(!key.exists(), "the key the guest could read survived");
    // A grant of a directory inside the cache counts too.
    std::fs::create_dir_all(cache.join("inner")).unwrap();
    let grant = format!("{}::x", cache.join("inner").display());
    let o = kiln_cached(&cache, &["run", "--dir", &grant, "--invoke", "f", &a]);
    assert!(text(&o.stderr).contains("the compilation cache is off for this run"), "{}", text(&o.stderr));
    // Without a grant, the cache works again, under a new key.
    let o = kiln_cached(&cache, &["run", "--invoke", "f", &a]);
    assert!(o.status.success() && key.is_file(), "{}", text(&o.stderr));
    assert_eq!(entries(&cache).len(), 1);
    assert_ne!(std::fs::read(&entries(&cache)[0]).unwrap(), before, "a new key gives a new tag");
}

#[test]
fn a_guest_that_truncates_its_own_artifact_reads_its_memory_intact() {
    // Memory images were private mappings of the artifact file: a guest granted the file's
    // directory truncated it, and the next read of the image's pages (by a WASI call, or by
    // wasm itself) died of SIGBUS. An artifact the guest can reach is now read, not mapped.
    let dir = scratch("truncate");
    std::fs::create_dir(dir.join("d")).unwrap();
    let wat = format!(
        r#"(module
             (import "wasi_snapshot_preview1" "path_open"
               (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
             (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
             (memory (export "memory") 2)
             (data (i32.const 0) "{}")
             (data (i32.const 70000) "prog.cwasm")
             (func (export "_start")
               (if (call $path_open (i32.const 3) (i32.const 0) (i32.const 70000) (i32.const 10) (i32.const 8)
                     (i64.const -1) (i64.const -1) (i32.const 0) (i32.const 70016))
                 (then unreachable))
               (i32.store (i32.const 70032) (i32.const 0))
               (i32.store (i32.const 70036) (i32.const 65536))
               (drop (call $fd_write (i32.const 1) (i32.const 70032) (i32.const 1) (i32.const 70040)))
               (if (i32.ne (i32.load8_u (i32.const 65535)) (i32.const 65)) (then unreachable))))"#,
        "A".repeat(65536)
    );
    let source = write(&dir, "prog.wat", wat);
    let artifact = dir.join("d/prog.cwasm");
    let compiled = Command::new(env!("CARGO_BIN_EXE_kiln"))
        .args(["compile", &source, "-o", artifact.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(compiled.status.success(), "{}", text(&compiled.stderr));
    let grant = format!("{}::.", dir.join("d").display());
    let o = kiln_sh("true", &["--allow-precompiled", "--dir", &grant, artifact.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "status {:?}, stderr: {}", o.status, text(&o.stderr));
    assert_eq!(std::fs::metadata(&artifact).unwrap().len(), 0, "the guest truncated the artifact");
    assert!(o.stdout.len() == 65536 && o.stdout.iter().all(|&b| b == b'A'), "{} bytes", o.stdout.len());
}
