//! How long `fd_readdir` takes to list 20,000 entries through a 64-byte buffer (about 10,000
//! calls), as a guest would with a small buffer: `cargo bench -p kiln-wasi --bench readdir`.
//! It prints the time; nothing asserts on it.
use kiln::{Engine, Linker, Module, Store};
use kiln_wasi::{DirAccess, WasiCtx};
use std::time::Instant;

fn main() {
    let entries = 20_000;
    let dir = std::env::temp_dir().join(format!("kiln-readdir-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    for i in 0..entries {
        std::fs::write(dir.join(format!("f{i:05}")), b"").expect("a file in it");
    }
    let engine = Engine::default();
    let module = Module::new(&engine, include_str!("../tests/readdir.wat")).expect("the guest compiles");
    let ctx = WasiCtx::builder().preopened_dir(&dir, ".", DirAccess::ReadOnly).expect("the preopen").build();
    let mut store = Store::new(&engine, ctx);
    let mut linker = Linker::new(&engine);
    kiln_wasi::add_to_linker(&mut linker, |c: &mut WasiCtx| c).expect("WASI links");
    let instance = linker.instantiate(&mut store, &module).expect("the guest instantiates");
    let count = instance.get_typed_func::<i32, i32>(&mut store, "count").expect("count");
    let start = Instant::now();
    let listed = count.call(&mut store, 64).expect("the listing runs");
    let elapsed = start.elapsed();
    std::fs::remove_dir_all(&dir).expect("cleaning up");
    println!("fd_readdir: {listed} entries of {entries} files (+ . and ..) through a 64-byte buffer in {elapsed:.2?}");
}
