//! Bad input from the guest never hurts the host: pointers and lengths outside memory give
//! `fault`, bad UTF-8 paths `ilseq`, closed descriptors `badf`, a program without an exported
//! memory gets an error (not a crash), and the store stays usable afterwards.
use kiln::{Engine, Linker, Module, Store, TypedFunc};
use kiln_wasi::{OutputPipe, OutputStream, WasiCtx};

const PROGRAM: &str = r#"
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "random_get" (func $random_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "\40\00\00\00\05\00\00\00")   ;; iovec: 5 bytes at 64
  (data (i32.const 24) "\f0\ff\00\00\20\00\00\00")   ;; iovec: 32 bytes at 65520 (crosses the end)
  (data (i32.const 64) "hello")
  (data (i32.const 80) "\ff\fe")                     ;; not UTF-8
  (func (export "write_ok") (result i32) (call $fd_write (i32.const 1) (i32.const 16) (i32.const 1) (i32.const 8)))
  (func (export "write_iovec_out") (result i32) (call $fd_write (i32.const 1) (i32.const 24) (i32.const 1) (i32.const 8)))
  (func (export "write_table_out") (result i32) (call $fd_write (i32.const 1) (i32.const 65532) (i32.const 1000) (i32.const 8)))
  (func (export "write_result_out") (result i32) (call $fd_write (i32.const 1) (i32.const 16) (i32.const 1) (i32.const 65534)))
  (func (export "write_closed_fd") (result i32) (call $fd_write (i32.const 77) (i32.const 16) (i32.const 1) (i32.const 8)))
  (func (export "args_out") (result i32) (call $args_get (i32.const -4) (i32.const 0)))
  (func (export "path_bad_utf8") (result i32)
    (call $path_open (i32.const 3) (i32.const 0) (i32.const 80) (i32.const 2) (i32.const 0) (i64.const 0) (i64.const 0) (i32.const 0) (i32.const 0)))
  (func (export "path_len_huge") (result i32)
    (call $path_open (i32.const 3) (i32.const 0) (i32.const 80) (i32.const -1) (i32.const 0) (i64.const 0) (i64.const 0) (i32.const 0) (i32.const 0)))
  (func (export "random_out") (result i32) (call $random_get (i32.const 65000) (i32.const 1000)))
  (func (export "poll_none") (result i32) (call $poll (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 8))))
"#;

#[test]
fn bad_pointers_give_errnos_and_the_store_survives() {
    let engine = Engine::default();
    let module = Module::new(&engine, PROGRAM).unwrap();
    let out = OutputPipe::new();
    let ctx = WasiCtx::builder().arg("prog").stdout(OutputStream::Pipe(out.clone())).build();
    let mut store = Store::new(&engine, ctx);
    let mut linker = Linker::new(&engine);
    kiln_wasi::add_to_linker(&mut linker, |c: &mut WasiCtx| c).unwrap();
    let instance = linker.instantiate(&mut store, &module).unwrap();
    let mut call = |name: &str| -> i32 {
        let f: TypedFunc<(), i32> = instance.get_typed_func(&mut store, name).unwrap();
        f.call(&mut store, ()).unwrap()
    };
    const FAULT: i32 = 21;
    const BADF: i32 = 8;
    const ILSEQ: i32 = 25;
    const INVAL: i32 = 28;
    assert_eq!(call("write_ok"), 0);
    assert_eq!(call("write_iovec_out"), FAULT);
    assert_eq!(call("write_table_out"), FAULT);
    assert_eq!(call("write_result_out"), FAULT);
    assert_eq!(call("write_closed_fd"), BADF);
    assert_eq!(call("args_out"), FAULT);
    assert_eq!(call("path_bad_utf8"), ILSEQ);
    assert_eq!(call("path_len_huge"), FAULT);
    assert_eq!(call("random_out"), FAULT);
    assert_eq!(call("poll_none"), INVAL);
    assert_eq!(call("write_ok"), 0, "the store is still usable");
    // A faulting write wrote nothing; `write_result_out` wrote its bytes before its result
    // pointer failed, as a partial write would.
    assert_eq!(out.contents(), b"hellohellohello");
}

#[test]
fn a_program_without_memory_gets_an_error() {
    let engine = Engine::default();
    let module = Module::new(
        &engine,
        r#"(module (import "wasi_snapshot_preview1" "sched_yield" (func $y (result i32)))
             (func (export "_start") (drop (call $y))))"#,
    )
    .unwrap();
    let mut store = Store::new(&engine, WasiCtx::builder().build());
    let mut linker = Linker::new(&engine);
    kiln_wasi::add_to_linker(&mut linker, |c: &mut WasiCtx| c).unwrap();
    let instance = linker.instantiate(&mut store, &module).unwrap();
    let f: TypedFunc<(), ()> = instance.get_typed_func(&mut store, "_start").unwrap();
    let err = f.call(&mut store, ()).unwrap_err();
    assert!(err.to_string().contains("must export its memory as `memory`"), "{err}");
}
