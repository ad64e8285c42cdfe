//! The sandbox holds: a program given one preopened directory tries to leave it by `..`, by
//! absolute paths, by symlinks pointing out (made by the host or by itself), and by renaming
//! and linking across its edge, and to write under a read-only preopen; every attempt fails
//! with the right errno, and nothing outside the directory changes.
use kiln::{Engine, Linker, Module, Store, TypedFunc};
use kiln_wasi::{DirAccess, Errno, WasiCtx};
use std::path::{Path, PathBuf};

const PROBE: &str = r#"
(module
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_rename"
    (func $path_rename (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_link"
    (func $path_link (param i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_symlink"
    (func $path_symlink (param i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_unlink_file"
    (func $path_unlink_file (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_create_directory"
    (func $path_create_directory (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; open(dirflags, path, len, oflags, rights) -> errno, the new fd at address 0
  (func (export "open") (param i32 i32 i32 i32 i64) (result i32)
    (call $path_open (i32.const 3) (local.get 0) (local.get 1) (local.get 2) (local.get 3)
      (local.get 4) (local.get 4) (i32.const 0) (i32.const 0)))
  (func (export "rename") (param i32 i32 i32 i32) (result i32)
    (call $path_rename (i32.const 3) (local.get 0) (local.get 1) (i32.const 3) (local.get 2) (local.get 3)))
  (func (export "link") (param i32 i32 i32 i32) (result i32)
    (call $path_link (i32.const 3) (i32.const 0) (local.get 0) (local.get 1) (i32.const 3) (local.get 2) (local.get 3)))
  (func (export "symlink") (param i32 i32 i32 i32) (result i32)
    (call $path_symlink (local.get 0) (local.get 1) (i32.const 3) (local.get 2) (local.get 3)))
  (func (export "unlink") (param i32 i32) (result i32)
    (call $path_unlink_file (i32.const 3) (local.get 0) (local.get 1)))
  (func (export "mkdir") (param i32 i32) (result i32)
    (call $path_create_directory (i32.const 3) (local.get 0) (local.get 1))))
"#;

const READ: i64 = 1 << 1;
const WRITE: i64 = 1 << 6;
const CREAT: i32 = 1;
const FOLLOW: i32 = 1;

struct Probe {
    store: Store<WasiCtx>,
    instance: kiln::Instance,
}

impl Probe {
    fn new(dir: &Path, access: DirAccess) -> Probe {
        let engine = Engine::default();
        let module = Module::new(&engine, PROBE).unwrap();
        let ctx = WasiCtx::builder().preopened_dir(dir, ".", access).unwrap().build();
        let mut store = Store::new(&engine, ctx);
        let mut linker = Linker::new(&engine);
        kiln_wasi::add_to_linker(&mut linker, |c: &mut WasiCtx| c).unwrap();
        let instance = linker.instantiate(&mut store, &module).unwrap();
        Probe { store, instance }
    }

    /// Put `a` at 1024 and `b` at 2048; their (ptr, len) pairs.
    fn strings(&mut self, a: &str, b: &str) -> (i32, i32, i32, i32) {
        let mem = self.instance.get_memory(&mut self.store, "memory").unwrap();
        let data = mem.data_mut(&mut self.store);
        data[1024..1024 + a.len()].copy_from_slice(a.as_bytes());
        data[2048..2048 + b.len()].copy_from_slice(b.as_bytes());
        (1024, a.len() as i32, 2048, b.len() as i32)
    }

    fn errno(&self, code: i32) -> Option<Errno> {
        (code != 0).then(|| errno_of(code))
    }

    fn open(&mut self, path: &str, dirflags: i32, oflags: i32, rights: i64) -> Option<Errno> {
        let (p, l, _, _) = self.strings(path, "");
        let f: TypedFunc<(i32, i32, i32, i32, i64), i32> =
            self.instance.get_typed_func(&mut self.store, "open").unwrap();
        let code = f.call(&mut self.store, (dirflags, p, l, oflags, rights)).unwrap();
        self.errno(code)
    }

    fn two(&mut self, func: &str, a: &str, b: &str) -> Option<Errno> {
        let (p, l, q, m) = self.strings(a, b);
        let f: TypedFunc<(i32, i32, i32, i32), i32> = self.instance.get_typed_func(&mut self.store, func).unwrap();
        let code = f.call(&mut self.store, (p, l, q, m)).unwrap();
        self.errno(code)
    }

    fn one(&mut self, func: &str, a: &str) -> Option<Errno> {
        let (p, l, _, _) = self.strings(a, "");
        let f: TypedFunc<(i32, i32), i32> = self.instance.get_typed_func(&mut self.store, func).unwrap();
        let code = f.call(&mut self.store, (p, l)).unwrap();
        self.errno(code)
    }
}

fn errno_of(code: i32) -> Errno {
    match code {
        20 => Errno::Exist,
        31 => Errno::IsDir,
        44 => Errno::NoEnt,
        54 => Errno::NotDir,
        63 => Errno::Perm,
        76 => Errno::NotCapable,
        other => panic!("unexpected errno {other}"),
    }
}

/// `outer/` holds `secret.txt` and the preopened `outer/box/` with `file.txt` and `sub/`.
fn fixture(name: &str) -> (PathBuf, PathBuf) {
    let outer = std::env::temp_dir().join(format!("kiln-sandbox-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&outer);
    let boxed = outer.join("box");
    std::fs::create_dir_all(boxed.join("sub")).unwrap();
    std::fs::write(outer.join("secret.txt"), "secret").unwrap();
    std::fs::write(boxed.join("file.txt"), "inside").unwrap();
    (outer, boxed)
}

fn outside_unchanged(outer: &Path) {
    let mut names: Vec<String> =
        std::fs::read_dir(outer).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["box", "secret.txt"], "something appeared outside the preopen");
    assert_eq!(std::fs::read_to_string(outer.join("secret.txt")).unwrap(), "secret");
}

#[test]
fn dot_dot_and_absolute_paths_are_refused() {
    let (outer, boxed) = fixture("dotdot");
    let mut p = Probe::new(&boxed, DirAccess::ReadWrite);
    assert_eq!(p.open("file.txt", 0, 0, READ), None, "a path inside opens");
    assert_eq!(p.open("sub/../file.txt", 0, 0, READ), None, "`..` that stays inside is fine");
    assert_eq!(p.open("../secret.txt", 0, 0, READ), Some(Errno::NotCapable));
    assert_eq!(p.open("sub/../../secret.txt", 0, 0, READ), Some(Errno::NotCapable));
    assert_eq!(p.open("..", 0, 0, READ), Some(Errno::NotCapable));
    assert_eq!(p.open("../escaped.txt", 0, CREAT, READ | WRITE), Some(Errno::NotCapable));
    assert_eq!(p.open(outer.join("secret.txt").to_str().unwrap(), 0, 0, READ), Some(Errno::NotCapable));
    assert_eq!(p.open("/etc/passwd", FOLLOW, 0, READ), Some(Errno::NotCapable));
    assert_eq!(p.one("mkdir", "../newdir"), Some(Errno::NotCapable));
    assert_eq!(p.one("unlink", "../secret.txt"), Some(Errno::NotCapable));
    outside_unchanged(&outer);
    std::fs::remove_dir_all(&outer).unwrap();
}

#[test]
fn symlinks_pointing_out_are_not_followed() {
    let (outer, boxed) = fixture("symlink");
    // Made by the host: relative and absolute links out, and a link to a directory outside.
    std::os::unix::fs::symlink("../secret.txt", boxed.join("rel")).unwrap();
    std::os::unix::fs::symlink(outer.join("secret.txt"), boxed.join("abs")).unwrap();
    std::os::unix::fs::symlink("..", boxed.join("up")).unwrap();
    let mut p = Probe::new(&boxed, DirAccess::ReadWrite);
    assert_eq!(p.open("rel", FOLLOW, 0, READ), Some(Errno::NotCapable));
    assert_eq!(p.open("abs", FOLLOW, 0, READ), Some(Errno::NotCapable));
    assert_eq!(p.open("up/secret.txt", FOLLOW, 0, READ), Some(Errno::NotCapable));
    assert_eq!(p.open("up/escaped.txt", FOLLOW, CREAT, READ | WRITE), Some(Errno::NotCapable));
    // Made by the guest: a relative link out can be created (it is only text) but never
    // followed; an absolute target is refused outright.
    assert_eq!(p.two("symlink", "../secret.txt", "mine"), None);
    assert_eq!(p.open("mine", FOLLOW, 0, READ), Some(Errno::NotCapable));
    assert_eq!(p.two("symlink", "/etc/passwd", "mine_abs"), Some(Errno::NotCapable));
    outside_unchanged(&outer);
    std::fs::remove_dir_all(&outer).unwrap();
}

#[test]
fn renames_and_links_cannot_cross_the_edge() {
    let (outer, boxed) = fixture("rename");
    let mut p = Probe::new(&boxed, DirAccess::ReadWrite);
    // A file renamed over a directory, and a directory over a file.
    assert_eq!(p.two("rename", "file.txt", "sub"), Some(Errno::IsDir));
    assert_eq!(p.two("rename", "sub", "file.txt"), Some(Errno::NotDir));
    // Out of and into the sandbox.
    assert_eq!(p.two("rename", "file.txt", "../moved.txt"), Some(Errno::NotCapable));
    assert_eq!(p.two("rename", "../secret.txt", "stolen.txt"), Some(Errno::NotCapable));
    assert_eq!(p.two("link", "../secret.txt", "hard.txt"), Some(Errno::NotCapable));
    assert_eq!(p.two("link", "file.txt", "../hard.txt"), Some(Errno::NotCapable));
    // Inside, they work.
    assert_eq!(p.two("rename", "file.txt", "sub/file.txt"), None);
    assert!(boxed.join("sub/file.txt").is_file());
    outside_unchanged(&outer);
    std::fs::remove_dir_all(&outer).unwrap();
}

#[test]
fn a_read_only_preopen_refuses_every_change() {
    let (outer, boxed) = fixture("readonly");
    let mut p = Probe::new(&boxed, DirAccess::ReadOnly);
    assert_eq!(p.open("file.txt", 0, 0, READ), None, "reading is allowed");
    assert_eq!(p.open("file.txt", 0, 0, READ | WRITE), Some(Errno::NotCapable));
    assert_eq!(p.open("new.txt", 0, CREAT, READ), Some(Errno::NotCapable));
    assert_eq!(p.one("mkdir", "newdir"), Some(Errno::NotCapable));
    assert_eq!(p.one("unlink", "file.txt"), Some(Errno::NotCapable));
    assert_eq!(p.two("rename", "file.txt", "renamed.txt"), Some(Errno::NotCapable));
    assert_eq!(p.two("symlink", "file.txt", "link"), Some(Errno::NotCapable));
    let mut names: Vec<String> =
        std::fs::read_dir(&boxed).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["file.txt", "sub"]);
    assert_eq!(std::fs::read_to_string(boxed.join("file.txt")).unwrap(), "inside");
    outside_unchanged(&outer);
    std::fs::remove_dir_all(&outer).unwrap();
}
