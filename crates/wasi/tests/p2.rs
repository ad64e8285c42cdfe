//! WASI 0.2 end to end on the hand-written command `p2.wat`: `run` and its exit statuses,
//! stdout, stdin, arguments and environment, files read through `open-at` and `read-via-stream`
//! (capped per call), writes under a read-only preopen and escapes from a preopen refused
//! with nothing changed on the host, `stat-at` and `read-directory`, random bytes, `poll` on
//! duration pollables, sockets refused, a bad handle trapping without harming the store, and
//! every import of the `wasi:cli/command` world defined with its WIT type
//! (`p2-command-imports.wat`).
use kiln::component::{Component, Instance, Linker, ResourceTable, Val};
use kiln::{Engine, Store};
use kiln_wasi::{DirAccess, I32Exit, InputStream, OutputPipe, OutputStream, Refusal, WasiCtx, WasiCtxBuilder};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

struct State {
    wasi: WasiCtx,
    table: ResourceTable,
}

struct Probe {
    store: Store<State>,
    instance: Instance,
    stdout: OutputPipe,
    linker: Linker<State>,
    component: Component,
}

impl Probe {
    /// The probe with a context that `grant` configured (stdout is captured).
    fn new(grant: impl FnOnce(&mut WasiCtxBuilder)) -> Probe {
        let engine = Engine::default();
        let component = Component::new(&engine, include_str!("p2.wat")).unwrap();
        let mut linker = Linker::new(&engine);
        kiln_wasi::p2::add_to_linker(&mut linker, |s: &mut State| (&mut s.wasi, &mut s.table)).unwrap();
        let stdout = OutputPipe::new();
        let mut builder = WasiCtx::builder();
        builder.stdout(OutputStream::Pipe(stdout.clone()));
        grant(&mut builder);
        let mut store = Store::new(&engine, State { wasi: builder.build(), table: ResourceTable::new() });
        let instance = linker.instantiate(&mut store, &component).unwrap();
        Probe { store, instance, stdout, linker, component }
    }

    /// A new instance of the probe in the same store.
    fn reinstantiate(&mut self) {
        self.instance = self.linker.instantiate(&mut self.store, &self.component).unwrap();
    }

    /// A probe with `dir` preopened as `.`.
    fn with_dir(dir: &Path, access: DirAccess) -> Probe {
        Probe::new(|b| {
            b.preopened_dir(dir, ".", access).unwrap();
        })
    }

    fn call(&mut self, name: &str, args: &[Val]) -> kiln::Result<Val> {
        let f = self.instance.get_func(&mut self.store, name).unwrap_or_else(|| panic!("no export {name}"));
        let mut results = vec![Val::Bool(false); f.results_len(&self.store)];
        f.call(&mut self.store, args, &mut results)?;
        Ok(results.pop().unwrap_or(Val::Tuple(Vec::new())))
    }

    /// Call a probe that returns `result<T, error-code>`: the payload, or the error code's name.
    fn fs(&mut self, name: &str, args: &[Val]) -> Result<Val, String> {
        match self.call(name, args).unwrap() {
            Val::Result(Ok(v)) => Ok(v.map_or(Val::Tuple(Vec::new()), |v| *v)),
            Val::Result(Err(Some(e))) => match *e {
                Val::Enum(code) => Err(code),
                other => panic!("not an error code: {other:?}"),
            },
            other => panic!("not a result: {other:?}"),
        }
    }

    fn read_file(&mut self, path: &str, len: u64) -> Result<Vec<u8>, String> {
        self.fs("read-file", &[Val::String(path.into()), Val::U64(len), Val::Bool(false)]).map(bytes)
    }

    /// As [`Probe::read_file`], following a final symlink.
    fn read_file_following(&mut self, path: &str) -> Result<Vec<u8>, String> {
        self.fs("read-file", &[Val::String(path.into()), Val::U64(100), Val::Bool(true)]).map(bytes)
    }

    fn write_file(&mut self, path: &str, contents: &[u8]) -> Result<(), String> {
        self.fs("write-file", &[Val::String(path.into()), list(contents)]).map(drop)
    }

    fn mkdir(&mut self, path: &str) -> Result<(), String> {
        self.fs("mkdir", &[Val::String(path.into())]).map(drop)
    }

    fn refusal(&self) -> Option<Refusal> {
        self.store.data().wasi.refusal().cloned()
    }
}

fn list(b: &[u8]) -> Val {
    Val::List(b.iter().map(|&b| Val::U8(b)).collect())
}

fn bytes(v: Val) -> Vec<u8> {
    let Val::List(items) = v else { panic!("not a list: {v:?}") };
    items.into_iter().map(|v| if let Val::U8(b) = v { b } else { panic!("not a byte: {v:?}") }).collect()
}

fn strings(v: Val) -> Vec<String> {
    let Val::List(items) = v else { panic!("not a list: {v:?}") };
    items.into_iter().map(|v| if let Val::String(s) = v { s } else { panic!("not a string: {v:?}") }).collect()
}

fn u32s(v: Val) -> Vec<u32> {
    let Val::List(items) = v else { panic!("not a list: {v:?}") };
    items.into_iter().map(|v| if let Val::U32(n) = v { n } else { panic!("not a u32: {v:?}") }).collect()
}

/// `outer/` holds `secret.txt` and the preopened `outer/box/` with `file.txt` and `sub/`.
fn fixture(name: &str) -> (PathBuf, PathBuf) {
    let outer = std::env::temp_dir().join(format!("kiln-p2-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&outer);
    let boxed = outer.join("box");
    std::fs::create_dir_all(boxed.join("sub")).unwrap();
    std::fs::write(outer.join("secret.txt"), "secret").unwrap();
    std::fs::write(boxed.join("file.txt"), "inside").unwrap();
    (outer, boxed)
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    names
}

fn outside_unchanged(outer: &Path) {
    assert_eq!(names_in(outer), ["box", "secret.txt"], "something appeared outside the preopen");
    assert_eq!(std::fs::read_to_string(outer.join("secret.txt")).unwrap(), "secret");
}

#[test]
fn run_writes_to_stdout_and_returns_or_exits() {
    let exit = |e: kiln::Error| match e {
        kiln::Error::Host(h) => h.downcast_ref::<I32Exit>().map(|e| e.0),
        _ => None,
    };
    for (mode, expected) in [(0, Ok(Ok(()))), (1, Ok(Err(()))), (2, Err(0)), (3, Err(1)), (4, Err(42))] {
        let mut p = Probe::new(|_| {});
        p.call("set-mode", &[Val::U32(mode)]).unwrap();
        // The command exports `wasi:cli/run@0.2.3`, which `run` finds.
        let outcome = kiln_wasi::p2::run(&mut p.store, &p.instance).map_err(|e| exit(e).expect("an exit"));
        assert_eq!(outcome, expected, "mode {mode}");
        assert_eq!(p.stdout.contents(), b"hello from run\n", "mode {mode}");
    }
    let mut p = Probe::new(|_| {});
    assert_eq!(p.call("write-stdout", &[list(b"more")]).unwrap(), Val::U32(0));
    assert_eq!(p.stdout.contents(), b"more");
}

#[test]
fn stdin_reads_the_contexts_input_then_closes() {
    let mut p = Probe::new(|b| {
        b.stdin(InputStream::Bytes(std::io::Cursor::new(b"abc".to_vec())));
    });
    let mut read = |len| match p.call("read-stdin", &[Val::U64(len)]).unwrap() {
        Val::Result(Ok(Some(v))) => Some(bytes(*v)),
        Val::Result(Err(None)) => None,
        other => panic!("not a result: {other:?}"),
    };
    assert_eq!(read(2), Some(b"ab".to_vec()));
    assert_eq!(read(0), Some(Vec::new()));
    assert_eq!(read(10), Some(b"c".to_vec()));
    assert_eq!(read(10), None, "the end of input closes the stream");
}

#[test]
fn arguments_and_environment_are_the_contexts() {
    let mut p = Probe::new(|b| {
        b.args(["prog", "one", "two words"]).env("A", "1").env("B", "x=y");
    });
    assert_eq!(strings(p.call("args", &[]).unwrap()), ["prog", "one", "two words"]);
    let pair = |k: &str, v: &str| Val::Tuple(vec![Val::String(k.into()), Val::String(v.into())]);
    assert_eq!(p.call("env", &[]).unwrap(), Val::List(vec![pair("A", "1"), pair("B", "x=y")]));
    let mut empty = Probe::new(|_| {});
    assert_eq!(strings(empty.call("args", &[]).unwrap()), Vec::<String>::new());
}

#[test]
fn a_preopened_file_reads_through_a_stream() {
    let (outer, boxed) = fixture("read");
    let mut p = Probe::with_dir(&boxed, DirAccess::ReadOnly);
    assert_eq!(p.read_file("file.txt", 100).unwrap(), b"inside");
    assert_eq!(p.read_file("sub/../file.txt", 3).unwrap(), b"ins");
    assert_eq!(p.read_file("missing.txt", 100), Err("no-entry".into()));
    assert_eq!(p.read_file("sub", 100), Err("bad-descriptor".into()), "a directory has no byte stream");
    // One read moves at most 64 KiB, however much is asked for.
    std::fs::write(boxed.join("big"), vec![7u8; 200 * 1024]).unwrap();
    assert_eq!(p.read_file("big", 1 << 30).unwrap(), vec![7u8; 64 * 1024]);
    std::fs::remove_dir_all(&outer).unwrap();
}

#[test]
fn a_read_only_preopen_refuses_every_write() {
    let (outer, boxed) = fixture("readonly");
    let mut p = Probe::with_dir(&boxed, DirAccess::ReadOnly);
    assert_eq!(p.write_file("new.txt", b"x"), Err("read-only".into()));
    assert_eq!(p.refusal(), Some(Refusal::NotGranted("new.txt".into())));
    assert_eq!(p.write_file("file.txt", b"changed"), Err("read-only".into()));
    assert_eq!(p.mkdir("newdir"), Err("read-only".into()));
    assert_eq!(p.read_file("file.txt", 100).unwrap(), b"inside", "reading is allowed");
    assert_eq!(names_in(&boxed), ["file.txt", "sub"]);
    assert_eq!(std::fs::read_to_string(boxed.join("file.txt")).unwrap(), "inside");
    // The same operations under a read-write preopen.
    let mut p = Probe::with_dir(&boxed, DirAccess::ReadWrite);
    assert_eq!(p.write_file("new.txt", b"written"), Ok(()));
    assert_eq!(p.mkdir("newdir"), Ok(()));
    assert_eq!(p.mkdir("newdir"), Err("exist".into()));
    assert_eq!(std::fs::read_to_string(boxed.join("new.txt")).unwrap(), "written");
    assert!(boxed.join("newdir").is_dir());
    outside_unchanged(&outer);
    std::fs::remove_dir_all(&outer).unwrap();
}

#[test]
fn escapes_from_a_preopen_are_refused() {
    let (outer, boxed) = fixture("escape");
    std::os::unix::fs::symlink("../secret.txt", boxed.join("rel")).unwrap();
    std::os::unix::fs::symlink(outer.join("secret.txt"), boxed.join("abs")).unwrap();
    std::os::unix::fs::symlink("..", boxed.join("up")).unwrap();
    let mut p = Probe::with_dir(&boxed, DirAccess::ReadWrite);
    for path in ["../secret.txt", "sub/../../secret.txt", "..", "/etc/passwd", "rel", "abs", "up/secret.txt"] {
        assert_eq!(p.read_file_following(path), Err("not-permitted".into()), "{path}");
    }
    assert_eq!(p.refusal(), Some(Refusal::Outside("up/secret.txt".into())));
    // Not following a final symlink, opening one is `loop`, as `O_NOFOLLOW` says.
    assert_eq!(p.read_file("rel", 100), Err("loop".into()));
    let absolute = outer.join("secret.txt");
    assert_eq!(p.read_file(absolute.to_str().unwrap(), 100), Err("not-permitted".into()));
    assert_eq!(p.write_file("../escaped.txt", b"x"), Err("not-permitted".into()));
    assert_eq!(p.write_file("up/escaped.txt", b"x"), Err("not-permitted".into()));
    assert_eq!(p.mkdir("../newdir"), Err("not-permitted".into()));
    assert_eq!(p.fs("stat", &[Val::String("../secret.txt".into())]), Err("not-permitted".into()));
    outside_unchanged(&outer);
    std::fs::remove_dir_all(&outer).unwrap();
}

#[test]
fn stat_and_read_directory() {
    const DIRECTORY: u8 = 3;
    const REGULAR_FILE: u8 = 6;
    let (outer, boxed) = fixture("stat");
    let mut p = Probe::with_dir(&boxed, DirAccess::ReadOnly);
    let stat = |p: &mut Probe, path: &str| p.fs("stat", &[Val::String(path.into())]);
    assert_eq!(stat(&mut p, "file.txt"), Ok(Val::Tuple(vec![Val::U8(REGULAR_FILE), Val::U64(6)])));
    let Ok(Val::Tuple(sub)) = stat(&mut p, "sub") else { panic!("stat of a directory") };
    assert_eq!(sub[0], Val::U8(DIRECTORY));
    assert_eq!(stat(&mut p, "missing"), Err("no-entry".into()));
    assert_eq!(stat(&mut p, ""), Err("no-entry".into()));
    assert_eq!(p.call("preopen-type", &[]).unwrap(), Val::U8(DIRECTORY));
    // No `.` or `..`.
    let mut names = strings(p.call("list-dir", &[]).unwrap());
    names.sort();
    assert_eq!(names, ["file.txt", "sub"]);
    std::fs::remove_dir_all(&outer).unwrap();
}

#[test]
fn random_bytes_have_the_length_asked_for() {
    let mut p = Probe::new(|_| {});
    assert_eq!(bytes(p.call("random", &[Val::U64(0)]).unwrap()), b"");
    let b = bytes(p.call("random", &[Val::U64(1000)]).unwrap());
    assert_eq!(b.len(), 1000);
    assert!(b.iter().any(|&x| x != 0), "1000 random bytes are not all zero");
    // More than the host gives at once is an implementation limit, not an allocation.
    let err = p.call("random", &[Val::U64(u64::MAX)]).unwrap_err();
    assert!(matches!(err, kiln::Error::Limit(_)), "{err}");
}

#[test]
fn poll_waits_for_the_earliest_duration() {
    let mut p = Probe::new(|_| {});
    let before = p.call("now", &[]).unwrap();
    let start = Instant::now();
    assert_eq!(u32s(p.call("sleep", &[Val::U64(30_000_000), Val::U64(0)]).unwrap()), [0]);
    assert!(start.elapsed() >= Duration::from_millis(30));
    let (Val::U64(before), Val::U64(after)) = (before, p.call("now", &[]).unwrap()) else { panic!("now") };
    assert!(after - before >= 30_000_000, "the monotonic clock advanced by the sleep");
    // Of a long and a short duration, only the short one is ready when poll returns.
    let start = Instant::now();
    assert_eq!(u32s(p.call("sleep", &[Val::U64(60_000_000_000), Val::U64(10_000_000)]).unwrap()), [1]);
    assert!(start.elapsed() < Duration::from_secs(30));
}

#[test]
fn a_bad_handle_traps_and_leaves_the_store_usable() {
    let mut p = Probe::new(|b| {
        b.arg("prog");
    });
    let err = p.call("bad-handle", &[]).unwrap_err();
    assert!(err.to_string().contains("unknown handle index"), "{err}");
    // The instance that trapped may not be entered again; the store and its WASI state can.
    p.reinstantiate();
    assert_eq!(strings(p.call("args", &[]).unwrap()), ["prog"]);
    assert_eq!(p.call("write-stdout", &[list(b"still here")]).unwrap(), Val::U32(0));
    assert_eq!(p.stdout.contents(), b"still here");
}

#[test]
fn sockets_grant_nothing() {
    let mut p = Probe::new(|_| {});
    assert_eq!(p.fs("tcp-socket", &[]), Err("access-denied".into()));
    // Asking for the network does not make it available yet.
    let mut p = Probe::new(|b| {
        b.allow_network(true);
    });
    assert_eq!(p.fs("tcp-socket", &[]), Err("not-supported".into()));
}

#[test]
fn every_import_of_the_command_world_is_defined_with_its_type() {
    let engine = Engine::default();
    let component = Component::new(&engine, include_str!("p2-command-imports.wat")).unwrap();
    let imports = component.imports();
    let functions = imports.iter().filter(|(_, ty)| ty.starts_with("func")).count();
    // 14 resource types: a type an interface only re-exports from another (`(eq ..)`) is the
    // same import, not a new one.
    assert_eq!((functions, imports.len() - functions), (123, 14), "the fixture declares the whole world");
    let mut linker = Linker::new(&engine);
    kiln_wasi::p2::add_to_linker(&mut linker, |s: &mut State| (&mut s.wasi, &mut s.table)).unwrap();
    let mut store = Store::new(&engine, State { wasi: WasiCtx::builder().build(), table: ResourceTable::new() });
    linker.instantiate(&mut store, &component).unwrap();
}
