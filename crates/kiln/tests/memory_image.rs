//! Copy-on-write memory images: instantiating a module with a large initialized memory maps
//! its image instead of copying it, so resident memory stays small until pages are written;
//! with `memory-init-cow=n` the same module copies (which shows the measurement works), and
//! both give the same contents. A module loaded from an artifact file maps its image straight
//! from that file. Its own test binary, so that no other test moves the process's resident
//! size while it measures.
use kiln::{Config, Engine, Instance, Module, Store};

const DATA_MIB: usize = 24;

/// The tests of this binary measure the process's resident size: one at a time.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn resident_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: usize = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

fn wat() -> String {
    let data = "k".repeat(DATA_MIB << 20);
    format!(
        r#"(module (memory (export "m") 512)
            (data (i32.const 65536) "{data}")
            (func (export "load") (param i32) (result i32) (i32.load8_u (local.get 0)))
            (func (export "store") (param i32) (i32.store8 (local.get 0) (i32.const 7))))"#
    )
}

/// Instantiate and return (resident growth, a few checked reads and writes).
fn instantiate(cow: bool, wasm: &[u8]) -> usize {
    let mut config = Config::new();
    config.memory_init_cow(cow);
    let engine = Engine::new(&config).unwrap();
    let module = Module::new(&engine, wasm).unwrap();
    instantiate_module(&engine, &module)
}

fn instantiate_module(engine: &Engine, module: &Module) -> usize {
    let (engine, module) = (engine.clone(), module.clone());
    let mut store = Store::new(&engine, ());
    let before = resident_bytes();
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let grown = resident_bytes().saturating_sub(before);
    let load = instance.get_typed_func::<i32, i32>(&mut store, "load").unwrap();
    let store_fn = instance.get_typed_func::<i32, ()>(&mut store, "store").unwrap();
    assert_eq!(load.call(&mut store, 65535).unwrap(), 0);
    assert_eq!(load.call(&mut store, 65536).unwrap(), i32::from(b'k'));
    assert_eq!(load.call(&mut store, 65536 + (DATA_MIB << 20) as i32 - 1).unwrap(), i32::from(b'k'));
    assert_eq!(load.call(&mut store, 65536 + (DATA_MIB << 20) as i32).unwrap(), 0);
    store_fn.call(&mut store, 70000).unwrap();
    assert_eq!(load.call(&mut store, 70000).unwrap(), 7);
    // A second instance of the same module sees the pristine image, not the first's write.
    let mut store2 = Store::new(&engine, ());
    let second = Instance::new(&mut store2, &module, &[]).unwrap();
    let load2 = second.get_typed_func::<i32, i32>(&mut store2, "load").unwrap();
    assert_eq!(load2.call(&mut store2, 70000).unwrap(), i32::from(b'k'));
    grown
}

#[test]
fn large_initialized_memories_are_mapped_not_copied() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let wasm = wat::parse_str(wat()).unwrap();
    let copied = instantiate(false, &wasm);
    let mapped = instantiate(true, &wasm);
    assert!(copied >= (DATA_MIB - 4) << 20, "copying should grow resident memory by the data size, grew {copied}");
    assert!(mapped < 2 << 20, "mapping should not grow resident memory, grew {mapped} (copying grew {copied})");
}

#[test]
fn an_artifact_file_backs_its_memory_images() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let wasm = wat::parse_str(wat()).unwrap();
    let engine = Engine::default();
    let artifact = engine.precompile_module(&wasm).unwrap();
    let path = std::env::temp_dir().join(format!("kiln-image-{}.cwasm", std::process::id()));
    std::fs::write(&path, &artifact).unwrap();
    // The file was just written from this engine's artifact and is not changed while the
    // module lives: trusted, as `deserialize_trusted_file` requires.
    let module = Module::deserialize_trusted_file(&engine, &path).unwrap();
    let grown = instantiate_module(&engine, &module);
    assert!(grown < 2 << 20, "mapping from the file should not grow resident memory, grew {grown}");
    // While an instance lives, its image pages are a private mapping of the artifact file.
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let store_fn = instance.get_typed_func::<i32, ()>(&mut store, "store").unwrap();
    store_fn.call(&mut store, 80000).unwrap();
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    let name = path.to_str().unwrap();
    let image_maps = maps.lines().filter(|l| l.ends_with(name) && l.contains(" rw-p ")).count();
    assert!(image_maps >= 1, "no writable private mapping of {name}:\n{maps}");
    // Writes went to private copies: the file is unchanged.
    assert!(std::fs::read(&path).unwrap() == artifact, "instances wrote through to the artifact");
    drop(module);
    std::fs::remove_file(&path).unwrap();
}
