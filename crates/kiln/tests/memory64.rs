//! memory64 and table64 through the embedding API: a 5 GiB memory (sparse: only the pages
//! touched become resident) stores and loads above 4 GiB, traps just past its end and grows
//! to a new end, with guard pages (the default) and with explicit checks everywhere
//! (`memory-reservation=0`); 64-bit memories and tables are created, imported and checked
//! against 32-bit ones from the host; 64-bit table operators take and give `i64`s.
use kiln::{Config, Engine, Instance, Linker, Memory, MemoryType, Module, Store, Table, TableType, Trap, Val, ValType};

const GIB: u64 = 1 << 30;
/// 5 GiB in 64 KiB pages.
const PAGES_5_GIB: u64 = 5 * GIB / 65536;

const BIG: &str = r#"(module
  (memory (export "m") i64 81920)
  (func (export "store") (param i64 i64) (i64.store (local.get 0) (local.get 1)))
  (func (export "load") (param i64) (result i64) (i64.load (local.get 0)))
  (func (export "load_offset") (param i64) (result i64) (i64.load offset=4294967296 (local.get 0)))
  (func (export "store8") (param i64 i32) (i32.store8 (local.get 0) (local.get 1)))
  (func (export "size") (result i64) (memory.size))
  (func (export "grow") (param i64) (result i64) (memory.grow (local.get 0)))
  (func (export "fill") (param i64 i32 i64) (memory.fill (local.get 0) (local.get 1) (local.get 2)))
  (func (export "copy") (param i64 i64 i64) (memory.copy (local.get 0) (local.get 1) (local.get 2))))"#;

fn configs() -> Vec<(&'static str, Config)> {
    let mut checked = Config::new();
    checked.set("memory-reservation", "0").unwrap().set("memory-guard-size", "0").unwrap();
    vec![("default", Config::new()), ("bounds-checks", checked)]
}

/// The process's resident size in bytes.
fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

fn trap_of(err: kiln::Error) -> Trap {
    match err {
        kiln::Error::Trap(t, _) => t,
        other => panic!("expected a trap, got {other}"),
    }
}

#[test]
fn a_5_gib_memory_stores_and_loads_above_4_gib() {
    for (name, config) in configs() {
        let engine = Engine::new(&config).unwrap();
        let module = Module::new(&engine, BIG).unwrap();
        let resident_before = resident_bytes();
        let mut store = Store::new(&engine, ());
        let instance = Instance::new(&mut store, &module, &[]).unwrap();
        let store_fn = instance.get_typed_func::<(u64, u64), ()>(&mut store, "store").unwrap();
        let load = instance.get_typed_func::<u64, u64>(&mut store, "load").unwrap();
        let load_offset = instance.get_typed_func::<u64, u64>(&mut store, "load_offset").unwrap();
        let size = instance.get_typed_func::<(), u64>(&mut store, "size").unwrap();
        assert_eq!(size.call(&mut store, ()).unwrap(), PAGES_5_GIB, "{name}");

        let end = 5 * GIB;
        let places = [0, 4 * GIB - 4, 4 * GIB, 4 * GIB + 12345, end - 8];
        for (i, at) in places.into_iter().enumerate() {
            let value = 0x0123_4567_89ab_cdef ^ (i as u64);
            store_fn.call(&mut store, (at, value)).unwrap();
            assert_eq!(load.call(&mut store, at).unwrap(), value, "{name}: at {at:#x}");
        }
        // An index below 4 GiB plus a 4 GiB static offset reaches the same bytes.
        assert_eq!(load_offset.call(&mut store, 12345).unwrap(), 0x0123_4567_89ab_cdef ^ 3, "{name}");
        // The host sees the same bytes at the same 64-bit offsets.
        let memory = instance.get_memory(&mut store, "m").unwrap();
        let mut buf = [0u8; 8];
        memory.read(&store, usize::try_from(4 * GIB + 12345).unwrap(), &mut buf).unwrap();
        assert_eq!(u64::from_le_bytes(buf), 0x0123_4567_89ab_cdef ^ 3, "{name}");

        // Past the end, and where index + offset overflows 64 bits, the access traps.
        for at in [end - 7, end, u64::MAX - 3, u64::MAX] {
            let err = load.call(&mut store, at).unwrap_err();
            assert_eq!(trap_of(err), Trap::MemoryOutOfBounds, "{name}: at {at:#x}");
        }
        let err = load_offset.call(&mut store, u64::MAX - 10).unwrap_err();
        assert_eq!(trap_of(err), Trap::MemoryOutOfBounds, "{name}");

        // Bulk operators take 64-bit addresses and lengths.
        let fill = instance.get_typed_func::<(u64, u32, u64), ()>(&mut store, "fill").unwrap();
        let copy = instance.get_typed_func::<(u64, u64, u64), ()>(&mut store, "copy").unwrap();
        fill.call(&mut store, (4 * GIB + 64, 0x5a, 16)).unwrap();
        copy.call(&mut store, (4 * GIB + 128, 4 * GIB + 64, 16)).unwrap();
        assert_eq!(load.call(&mut store, 4 * GIB + 136).unwrap(), 0x5a5a_5a5a_5a5a_5a5a, "{name}");
        let err = fill.call(&mut store, (end - 8, 0, 9)).unwrap_err();
        assert_eq!(trap_of(err), Trap::MemoryOutOfBounds, "{name}");

        // Growing keeps the contents and moves the end.
        let grow = instance.get_typed_func::<u64, u64>(&mut store, "grow").unwrap();
        assert_eq!(grow.call(&mut store, 1).unwrap(), PAGES_5_GIB, "{name}");
        assert_eq!(load.call(&mut store, end - 8).unwrap(), 0x0123_4567_89ab_cdef ^ 4, "{name}");
        store_fn.call(&mut store, (end + 65536 - 8, 9)).unwrap();
        assert_eq!(load.call(&mut store, end + 65536 - 8).unwrap(), 9, "{name}");
        // Past the spec's 2^48 pages growth fails with -1, and the memory is unchanged.
        assert_eq!(grow.call(&mut store, 1 << 48).unwrap(), u64::MAX, "{name}");
        assert_eq!(grow.call(&mut store, u64::MAX).unwrap(), u64::MAX, "{name}");
        assert_eq!(size.call(&mut store, ()).unwrap(), PAGES_5_GIB + 1, "{name}");
        // Only the touched pages became resident: the memory is sparse, not copied or zeroed.
        let grown = resident_bytes().saturating_sub(resident_before);
        assert!(grown < 256 << 20, "{name}: resident size grew by {grown} bytes");
    }
}

#[test]
fn growth_past_a_declared_maximum_is_minus_one() {
    let engine = Engine::default();
    let wat = r#"(module (memory i64 1 3)
        (func (export "grow") (param i64) (result i64) (memory.grow (local.get 0))))"#;
    let module = Module::new(&engine, wat).unwrap();
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let grow = instance.get_typed_func::<u64, u64>(&mut store, "grow").unwrap();
    assert_eq!(grow.call(&mut store, 3).unwrap(), u64::MAX);
    assert_eq!(grow.call(&mut store, 2).unwrap(), 1);
    assert_eq!(grow.call(&mut store, 1).unwrap(), u64::MAX);
}

#[test]
fn host_memories_and_tables_carry_their_index_type() {
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let memory64 = Memory::new(&mut store, MemoryType::new64(2, Some(70_000))).unwrap();
    assert!(memory64.ty(&store).is_64());
    assert_eq!(memory64.ty(&store).maximum(), Some(70_000));
    let memory32 = Memory::new(&mut store, MemoryType::new(2, None)).unwrap();
    assert!(!memory32.ty(&store).is_64());
    // A 32-bit memory cannot pass 65,536 pages; a 64-bit one can declare more.
    assert!(Memory::new(&mut store, MemoryType::new(1, Some(65_537))).is_err());
    let table64 = Table::new(&mut store, TableType::new64(ValType::FuncRef, 3, None), Val::null_func_ref()).unwrap();
    assert!(table64.ty(&store).is_64());
    let table32 = Table::new(&mut store, TableType::new(ValType::FuncRef, 3, None), Val::null_func_ref()).unwrap();
    // Nor can a 32-bit table declare more elements than its indices reach.
    let huge = TableType::new(ValType::FuncRef, 1, Some(1 << 40));
    assert!(Table::new(&mut store, huge, Val::null_func_ref()).is_err());

    let importer = Module::new(
        &engine,
        r#"(module (import "h" "m" (memory i64 1)) (import "h" "t" (table i64 1 funcref))
             (func (export "peek") (param i64) (result i32) (i32.load8_u (local.get 0)))
             (func (export "table_size") (result i64) (table.size))
             (func (export "table_grow") (param i64) (result i64) (table.grow (ref.null func) (local.get 0))))"#,
    )
    .unwrap();
    let mut linker = Linker::new(&engine);
    linker.define(&store, "h", "m", memory64).unwrap().define(&store, "h", "t", table64).unwrap();
    let instance = linker.instantiate(&mut store, &importer).unwrap();
    memory64.write(&mut store, 70_000, &[42]).unwrap();
    let peek = instance.get_typed_func::<u64, u32>(&mut store, "peek").unwrap();
    assert_eq!(peek.call(&mut store, 70_000).unwrap(), 42);
    let table_size = instance.get_typed_func::<(), u64>(&mut store, "table_size").unwrap();
    let table_grow = instance.get_typed_func::<u64, u64>(&mut store, "table_grow").unwrap();
    assert_eq!(table_size.call(&mut store, ()).unwrap(), 3);
    assert_eq!(table_grow.call(&mut store, 2).unwrap(), 3);
    assert_eq!(table_grow.call(&mut store, 1 << 40).unwrap(), u64::MAX);
    assert_eq!(table64.size(&store), 5);

    // A 32-bit memory or table does not satisfy a 64-bit import, nor the other way round.
    let mut linker = Linker::new(&engine);
    linker.define(&store, "h", "m", memory32).unwrap().define(&store, "h", "t", table64).unwrap();
    let err = linker.instantiate(&mut store, &importer).err().unwrap();
    assert!(err.to_string().contains("memory index types differ"), "{err}");
    let mut linker = Linker::new(&engine);
    linker.define(&store, "h", "m", memory64).unwrap().define(&store, "h", "t", table32).unwrap();
    let err = linker.instantiate(&mut store, &importer).err().unwrap();
    assert!(err.to_string().contains("table types differ"), "{err}");
}
