//! `fd_readdir` lists a whole directory through a buffer that holds two entries at a time:
//! every entry once, `.` and `..` included, continuing from each call's last cookie.
use kiln::{Engine, Linker, Module, Store};
use kiln_wasi::{DirAccess, WasiCtx};

/// The number of entries the guest counts in `dir`, reading through `buf_len` bytes at a time.
fn count(dir: &std::path::Path, buf_len: i32) -> i32 {
    let engine = Engine::default();
    let module = Module::new(&engine, include_str!("readdir.wat")).unwrap();
    let ctx = WasiCtx::builder().preopened_dir(dir, ".", DirAccess::ReadOnly).unwrap().build();
    let mut store = Store::new(&engine, ctx);
    let mut linker = Linker::new(&engine);
    kiln_wasi::add_to_linker(&mut linker, |c: &mut WasiCtx| c).unwrap();
    let instance = linker.instantiate(&mut store, &module).unwrap();
    let count = instance.get_typed_func::<i32, i32>(&mut store, "count").unwrap();
    count.call(&mut store, buf_len).unwrap()
}

#[test]
fn a_small_buffer_lists_every_entry_once() {
    let dir = std::env::temp_dir().join(format!("kiln-readdir-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for i in 0..3000 {
        std::fs::write(dir.join(format!("f{i:05}")), b"").unwrap();
    }
    // Each entry takes 24 + 6 bytes: 64 bytes hold two and part of a third.
    assert_eq!(count(&dir, 64), 3002);
    assert_eq!(count(&dir, 4096), 3002);
    // A buffer too small for any entry is reported, not looped on.
    assert_eq!(count(&dir, 16), -2);
    std::fs::remove_dir_all(&dir).unwrap();
}
