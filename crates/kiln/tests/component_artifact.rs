//! A component's one artifact: serialized and loaded back (from bytes, from a file, through
//! the compilation cache) it runs like the component it came from — host imports called
//! through the right module's trampolines, memory images, traps named from the right
//! module — and a module's artifact is never taken for a component's (or the other way
//! round), nor a truncated or corrupted one for anything: each is an error, never a crash.
//! The loads here go through the `_trusted` forms, which stand in for the `unsafe` ones.
mod common;

use common::call;
use kiln::component::{Component, Linker, Val};
use kiln::{Config, Engine, Error, Module, Store, Trap};

/// Bytes 0..4200 of the first module's memory (an image): a pattern, with "kiln" at 100.
fn pattern() -> String {
    let mut bytes: Vec<u8> = (0..4200).map(|i| b'a' + (i % 26) as u8).collect();
    bytes[100..104].copy_from_slice(b"kiln");
    String::from_utf8(bytes).unwrap()
}

/// Two core modules: module 0 owns the memory (with an image) and a function `$zero`;
/// module 1 imports a lowered host function, reads memory, and traps in `$boom`, its
/// defined function 0 (as `$zero` is module 0's), so a backtrace that looked in the wrong
/// module would name `zero`.
fn guest() -> String {
    format!(
        r#"(component
          (import "host" (instance $host (export "greet" (func (param "name" string) (result u32)))))
          (alias export $host "greet" (func $greet))
          (core module $Mem
            (memory (export "mem") 1)
            (data (i32.const 0) "{}")
            (func $zero (export "zero") (result i32) (i32.load8_u (i32.const 101))))
          (core instance $mem (instantiate $Mem))
          (core func $greet' (canon lower (func $greet) (memory (core memory $mem "mem"))))
          (core module $M
            (import "" "mem" (memory 1))
            (import "" "greet" (func $greet (param i32 i32) (result i32)))
            (func $boom (export "boom") unreachable)
            (func (export "run") (result i32) (call $greet (i32.const 100) (i32.const 4)))
            (func (export "read") (param i32) (result i32) (i32.load8_u (local.get 0))))
          (core instance $m (instantiate $M
            (with "" (instance (export "mem" (memory $mem "mem")) (export "greet" (func $greet'))))))
          (func (export "run") (result u32) (canon lift (core func $m "run")))
          (func (export "read") (param "at" u32) (result u32) (canon lift (core func $m "read")))
          (func (export "boom") (canon lift (core func $m "boom")))
          (func (export "zero") (result u32) (canon lift (core func $mem "zero"))))"#,
        pattern()
    )
}

/// Instantiate `component` and check everything it does.
fn exercise(engine: &Engine, component: &Component) {
    let mut linker = Linker::<Vec<String>>::new(engine);
    linker
        .instance("host")
        .unwrap()
        .func_new("greet", |mut store, params, results| {
            let Val::String(name) = &params[0] else { panic!("a string") };
            store.data_mut().push(name.clone());
            results[0] = Val::U32(name.len() as u32 * 10);
            Ok(())
        })
        .unwrap();
    let mut store = Store::new(engine, Vec::new());
    let instance = linker.instantiate(&mut store, component).unwrap();
    assert_eq!(call(&mut store, &instance, "run", &[]).unwrap(), [Val::U32(40)]);
    assert_eq!(store.data(), &["kiln".to_string()], "the host import was called through module 1's trampoline");
    let pattern = pattern();
    for at in [0u32, 100, 4095, 4096, 4199] {
        let byte = pattern.as_bytes()[at as usize];
        assert_eq!(call(&mut store, &instance, "read", &[Val::U32(at)]).unwrap(), [Val::U32(byte.into())], "byte {at}");
    }
    assert_eq!(call(&mut store, &instance, "zero", &[]).unwrap(), [Val::U32(u32::from(b'i'))]);
    let err = call(&mut store, &instance, "boom", &[]).unwrap_err();
    assert!(matches!(err, Error::Trap(Trap::UnreachableCodeReached, _)), "{err}");
    let frames = &err.backtrace().expect("a backtrace").frames;
    assert_eq!(frames[0].func_name.as_deref(), Some("boom"), "the frame is named from module 1: {frames:?}");
    assert!(frames[0].module_offset().is_some(), "the artifact maps the code back to module 1: {frames:?}");
    assert!(frames[0].func_offset().is_some_and(|f| Some(f) < frames[0].module_offset()), "in its body: {frames:?}");
}

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("kiln-component-artifact-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn serialized_components_load_back_from_bytes_and_files_and_run() {
    let engine = Engine::default();
    let guest = guest();
    let component = Component::new(&engine, &guest).unwrap();
    let artifact = engine.precompile_component(guest.as_bytes()).unwrap();
    assert_eq!(component.serialize().unwrap(), artifact, "precompile and serialize agree");
    exercise(&engine, &component);
    let loaded = Component::deserialize_trusted(&engine, &artifact).unwrap();
    assert_eq!(loaded.serialize().unwrap(), artifact, "a loaded component serializes to its artifact");
    exercise(&engine, &loaded);
    exercise(&engine, &component.reload_from_artifact().unwrap());
    let dir = scratch("file");
    let path = dir.join("guest.cwasm");
    std::fs::write(&path, &artifact).unwrap();
    let from_file = Component::deserialize_trusted_file(&engine, &path).unwrap();
    exercise(&engine, &from_file);
    // Another engine with the same settings loads it too, and compiles the same bytes.
    let other = Engine::new(&Config::new()).unwrap();
    exercise(&other, &Component::deserialize_trusted(&other, &artifact).unwrap());
    assert_eq!(other.precompile_component(guest.as_bytes()).unwrap(), artifact, "compiling is deterministic");
    // Without copy-on-write images, the data segments are copied at instantiation instead.
    let mut config = Config::new();
    config.set("memory-init-cow", "false").unwrap();
    let eager = Engine::new(&config).unwrap();
    let eager_artifact = eager.precompile_component(guest.as_bytes()).unwrap();
    assert!(eager_artifact.len() < artifact.len(), "no image sections");
    exercise(&eager, &Component::deserialize_trusted(&eager, &eager_artifact).unwrap());
    drop(from_file);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn module_and_component_artifacts_are_not_confused() {
    let engine = Engine::default();
    let component = engine.precompile_component(guest().as_bytes()).unwrap();
    let module = engine.precompile_module(b"(module (func (export \"f\")))").unwrap();
    let err = Component::deserialize_trusted(&engine, &module).err().expect("a module's artifact is refused");
    assert!(matches!(err, Error::Artifact(_)), "{err}");
    assert!(err.to_string().contains("holds a core module, not a component"), "{err}");
    let err = Module::deserialize_trusted(&engine, &component).expect_err("a component's artifact is refused");
    assert!(matches!(err, Error::Artifact(_)), "{err}");
    assert!(err.to_string().contains("holds a component, not a core module"), "{err}");
    // Compiling the wrong kind is an error too.
    assert!(engine.precompile_component(b"(module)").is_err());
    assert!(Component::new(&engine, "(module)").is_err());
}

#[test]
fn corrupt_and_mismatched_component_artifacts_are_errors() {
    let engine = Engine::default();
    let artifact = engine.precompile_component(guest().as_bytes()).unwrap();
    let refused = |bytes: &[u8], what: &str| match Component::deserialize_trusted(&engine, bytes) {
        Err(Error::Artifact(_)) => {}
        Err(e) => panic!("{what}: not an artifact error: {e}"),
        Ok(_) => panic!("{what}: loaded"),
    };
    for len in (0..artifact.len()).step_by(97).chain([artifact.len() - 1, 8, 64]) {
        refused(&artifact[..len], &format!("truncated to {len} bytes"));
    }
    let mut state = 0x9e3779b97f4a7c15u64;
    for _ in 0..300 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let mut bytes = artifact.clone();
        let at = (state as usize) % bytes.len();
        bytes[at] ^= 1 << (state >> 61);
        refused(&bytes, &format!("bit flipped at {at}"));
    }
    refused(b"not an artifact at all", "garbage");
    let mut config = Config::new();
    config.set("memory-reservation", "0").unwrap();
    let err = Component::deserialize_trusted(&Engine::new(&config).unwrap(), &artifact).err().expect("refused");
    assert!(err.to_string().contains("tunable.memory-reservation"), "{err}");
}

fn entries(cache: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(cache).unwrap().flatten().map(|e| e.path()).collect();
    v.sort();
    v
}

#[test]
fn components_go_through_the_cache() {
    let dir = scratch("cache");
    let cache = dir.join("cache");
    let mut config = Config::new();
    config.cache_dir(Some(cache.clone()));
    let engine = Engine::new(&config).unwrap();
    let guest = guest();
    let first = Component::new(&engine, &guest).unwrap();
    exercise(&engine, &first);
    let stored = entries(&cache);
    assert_eq!(stored.len(), 1, "a miss stores one entry");
    let bytes = std::fs::read(&stored[0]).unwrap();
    assert_eq!(&bytes[..bytes.len() - 32], first.serialize().unwrap(), "the entry is the artifact and its tag");
    let hit = Component::new(&engine, &guest).unwrap();
    exercise(&engine, &hit);
    assert_eq!(entries(&cache), stored, "a hit stores nothing new");
    assert_eq!(std::fs::read(&stored[0]).unwrap(), bytes, "a hit leaves the entry as it was");
    // A corrupt entry is a miss, recompiled and replaced.
    let mut corrupt = bytes.clone();
    corrupt[bytes.len() / 2] ^= 0x10;
    std::fs::write(&stored[0], &corrupt).unwrap();
    exercise(&engine, &Component::new(&engine, &guest).unwrap());
    assert_eq!(std::fs::read(&stored[0]).unwrap(), bytes, "the corrupt entry was replaced");
    // Modules share the cache without colliding with components.
    Module::new(&engine, "(module (func (export \"f\")))").unwrap();
    assert_eq!(entries(&cache).len(), 2);
    exercise(&engine, &Component::new(&engine, &guest).unwrap());
    std::fs::remove_dir_all(&dir).unwrap();
}
