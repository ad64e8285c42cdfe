//! Precompiled artifacts: a module serialized and loaded back (from bytes and from a file)
//! behaves the same; an engine with other settings refuses it and names the setting; and
//! bytes that are not an artifact, or an artifact truncated or with bits flipped anywhere
//! (hundreds of seeded cases), give an error, never a crash. These tests live in `vm`
//! because they call the `unsafe` loading API, and Kiln's `unsafe` stays in this module.
use crate::{Config, Engine, Error, Instance, Module, Store};

const WAT: &str = r#"
(module $art
  (memory (export "mem") 1)
  (data (i32.const 16) "kiln")
  (table 2 funcref)
  (elem (i32.const 0) $sq $fact)
  (func $sq (param i32) (result i32) local.get 0 local.get 0 i32.mul)
  (func $fact (export "fact") (param i64) (result i64)
    local.get 0 i64.eqz
    if (result i64) i64.const 1
    else local.get 0 local.get 0 i64.const 1 i64.sub call $fact i64.mul end)
  (func (export "indirect") (param i32 i32) (result i32)
    local.get 1 local.get 0 call_indirect (param i32) (result i32))
  (func (export "load") (param i32) (result i32) local.get 0 i32.load8_u)
  (func (export "trap") unreachable))
"#;

/// `Module::deserialize`, the unsafe API under test.
fn load(engine: &Engine, bytes: impl AsRef<[u8]>) -> crate::Result<Module> {
    // SAFETY: every artifact these tests load is one this process compiled, or a corruption
    // of one that the checks must refuse before any of its code could run; a refusal the
    // checks missed is exactly the bug these tests exist to catch.
    unsafe { Module::deserialize(engine, bytes) }
}

/// `Module::deserialize_file`, the unsafe API under test.
fn load_file(engine: &Engine, path: impl AsRef<std::path::Path>) -> crate::Result<Module> {
    // SAFETY: as for `load`; the files are written by the tests and not changed while loaded.
    unsafe { Module::deserialize_file(engine, path) }
}

fn exercise(engine: &Engine, module: &Module) {
    let mut store = Store::new(engine, ());
    let instance = Instance::new(&mut store, module, &[]).unwrap();
    let fact = instance.get_typed_func::<i64, i64>(&mut store, "fact").unwrap();
    assert_eq!(fact.call(&mut store, 20).unwrap(), 2432902008176640000);
    let indirect = instance.get_typed_func::<(i32, i32), i32>(&mut store, "indirect").unwrap();
    assert_eq!(indirect.call(&mut store, (0, 12)).unwrap(), 144);
    let load = instance.get_typed_func::<i32, i32>(&mut store, "load").unwrap();
    assert_eq!(load.call(&mut store, 17).unwrap(), i32::from(b'i'));
    let trap = instance.get_typed_func::<(), ()>(&mut store, "trap").unwrap();
    let err = trap.call(&mut store, ()).unwrap_err();
    assert!(matches!(err, Error::Trap(crate::Trap::UnreachableCodeReached, _)), "{err}");
    let frames = &err.backtrace().expect("a backtrace").frames;
    assert_eq!(frames[0].module_name.as_deref(), Some("art"), "names survive the artifact");
}

#[test]
fn serialized_modules_load_back_from_bytes_and_files() {
    let engine = Engine::default();
    let artifact = engine.precompile_module(WAT.as_bytes()).unwrap();
    let module = Module::new(&engine, WAT).unwrap();
    assert_eq!(module.serialize().unwrap(), artifact, "precompile and serialize agree");
    exercise(&engine, &module);
    let loaded = load(&engine, &artifact).unwrap();
    exercise(&engine, &loaded);
    let path = std::env::temp_dir().join(format!("kiln-artifact-{}.cwasm", std::process::id()));
    std::fs::write(&path, &artifact).unwrap();
    let from_file = load_file(&engine, &path).unwrap();
    exercise(&engine, &from_file);
    // Another engine with the same settings loads it too.
    let other = Engine::new(&Config::new()).unwrap();
    exercise(&other, &load(&other, &artifact).unwrap());
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn other_settings_are_refused_by_name() {
    let mut config = Config::new();
    config.set("memory-reservation", "0").unwrap();
    let checked = Engine::new(&config).unwrap();
    let artifact = checked.precompile_module(WAT.as_bytes()).unwrap();
    let err = load(&Engine::default(), &artifact).unwrap_err();
    assert!(matches!(err, Error::Artifact(_)));
    assert_eq!(
        err.to_string(),
        "cannot load this artifact: artifact was compiled with tunable.memory-reservation=0, but this engine has tunable.memory-reservation=4294967296"
    );
    let mut config = Config::new();
    config.set("inlining", "y").unwrap();
    let err =
        load(&Engine::new(&config).unwrap(), Engine::default().precompile_module(WAT.as_bytes()).unwrap()).unwrap_err();
    assert!(err.to_string().contains("tunable.inlining=n, but this engine has tunable.inlining=y"), "{err}");
}

#[test]
fn non_artifacts_are_refused() {
    let engine = Engine::default();
    let wasm = wat::parse_str(WAT).unwrap();
    for (bytes, expect) in [
        (Vec::new(), "not a Kiln artifact"),
        (b"hello".to_vec(), "not a Kiln artifact"),
        (wasm, "not a Kiln artifact"),
        (std::fs::read("/proc/self/exe").unwrap(), "not a Kiln artifact (no checksum section)"),
    ] {
        let err = load(&engine, &bytes).unwrap_err();
        assert!(err.to_string().contains(expect), "{err}");
    }
    let missing = load_file(&engine, "/nonexistent/kiln.cwasm").unwrap_err();
    assert!(missing.to_string().contains("cannot read /nonexistent/kiln.cwasm"), "{missing}");
}

/// A small deterministic generator (64-bit LCG), so that failures reproduce.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn truncated_and_corrupted_artifacts_are_errors() {
    let engine = Engine::default();
    let artifact = engine.precompile_module(WAT.as_bytes()).unwrap();
    let mut rng = Lcg(0x6b696c6e);
    let mut cases = 0;
    // Truncations: every length near both ends, and random ones.
    let mut lengths: Vec<usize> = (0..64).chain(artifact.len() - 64..artifact.len()).collect();
    lengths.extend((0..100).map(|_| rng.below(artifact.len())));
    for len in lengths {
        let err = load(&engine, &artifact[..len]).map(drop).unwrap_err();
        assert!(matches!(err, Error::Artifact(_)), "truncated to {len}: {err}");
        cases += 1;
    }
    // Single bit flips anywhere, half of them in the first 64 bytes (the ELF header).
    for i in 0..400 {
        let mut bytes = artifact.clone();
        let at = if i % 2 == 0 { rng.below(64) } else { rng.below(bytes.len()) };
        bytes[at] ^= 1 << rng.below(8);
        let err = load(&engine, &bytes).map(drop).unwrap_err();
        assert!(matches!(err, Error::Artifact(_)), "bit flip at {at}: {err}");
        cases += 1;
    }
    // Runs of garbage.
    for _ in 0..100 {
        let mut bytes = artifact.clone();
        let at = rng.below(bytes.len());
        for b in bytes.iter_mut().skip(at).take(1 + rng.below(32)) {
            *b = rng.next() as u8;
        }
        if bytes == artifact {
            continue;
        }
        let err = load(&engine, &bytes).map(drop).unwrap_err();
        assert!(matches!(err, Error::Artifact(_)), "garbage at {at}: {err}");
        cases += 1;
    }
    assert!(cases >= 600, "{cases} cases");
    // The original still loads.
    exercise(&engine, &load(&engine, &artifact).unwrap());
}
