//! The parts of the embedding API a wasmtime user reaches for first: a linker that refuses
//! a second definition unless shadowing is allowed, `instantiate_pre`, `Linker::module`,
//! imports defined as traps, `Module::validate`, `Engine::detect_precompiled`,
//! `Memory::read`/`write`, host functions failing with `Error::msg`, and modules named
//! after their files.
use kiln::{Engine, Error, Extern, Instance, Linker, Module, Precompiled, Store};

const USES_HOST: &str = r#"(module
  (import "host" "f" (func $f (param i32) (result i32)))
  (memory (export "mem") 1)
  (func (export "run") (param i32) (result i32) (call $f (local.get 0))))"#;

#[test]
fn a_second_definition_is_refused_unless_shadowing_is_allowed() -> kiln::Result<()> {
    let engine = Engine::default();
    let mut linker = Linker::<()>::new(&engine);
    linker.func_wrap("host", "f", |x: i32| x + 1)?;
    let err = linker.func_wrap("host", "f", |x: i32| x + 2).err().expect("refused");
    assert!(matches!(err, Error::Link(_)) && err.to_string().contains("`host::f` is defined twice"), "{err}");
    linker.allow_shadowing(true).func_wrap("host", "f", |x: i32| x + 2)?;
    let module = Module::new(&engine, USES_HOST)?;
    let mut store = Store::new(&engine, ());
    let instance = linker.instantiate(&mut store, &module)?;
    let run = instance.get_typed_func::<i32, i32>(&mut store, "run")?;
    assert_eq!(run.call(&mut store, 1)?, 3, "the second definition replaced the first");
    Ok(())
}

#[test]
fn an_instance_pre_instantiates_a_thousand_times() -> kiln::Result<()> {
    let engine = Engine::default();
    let mut linker = Linker::<u32>::new(&engine);
    linker.func_wrap("host", "f", |x: i32| x * 2)?;
    let pre = linker.instantiate_pre(&Module::new(&engine, USES_HOST)?)?;
    let mut store = Store::new(&engine, 0);
    for i in 0..1000 {
        let instance = pre.instantiate(&mut store)?;
        let run = instance.get_typed_func::<i32, i32>(&mut store, "run")?;
        assert_eq!(run.call(&mut store, i)?, i * 2);
    }
    // Another store, the same resolution: host functions are made in each store.
    let mut other = Store::new(&engine, 0);
    let instance = pre.clone().instantiate(&mut other)?;
    assert_eq!(instance.get_typed_func::<i32, i32>(&mut other, "run")?.call(&mut other, 21)?, 42);
    let err = Linker::<u32>::new(&engine).instantiate_pre(pre.module()).err().expect("unresolved");
    assert!(err.to_string().contains("unknown import: `host::f`"), "{err}");
    Ok(())
}

#[test]
fn linker_module_registers_an_initialized_reactor() -> kiln::Result<()> {
    let engine = Engine::default();
    let reactor = Module::new(
        &engine,
        r#"(module
          (global $ready (mut i32) (i32.const 0))
          (func (export "_initialize") (global.set $ready (i32.const 40)))
          (func (export "f") (param i32) (result i32) (i32.add (global.get $ready) (local.get 0))))"#,
    )?;
    let mut store = Store::new(&engine, ());
    let mut linker = Linker::new(&engine);
    linker.module(&mut store, "host", &reactor)?;
    let instance = linker.instantiate(&mut store, &Module::new(&engine, USES_HOST)?)?;
    assert_eq!(instance.get_typed_func::<i32, i32>(&mut store, "run")?.call(&mut store, 2)?, 42);
    Ok(())
}

#[test]
fn unknown_imports_can_be_defined_as_traps() -> kiln::Result<()> {
    let engine = Engine::default();
    let module = Module::new(&engine, USES_HOST)?;
    let mut store = Store::new(&engine, ());
    let mut linker = Linker::new(&engine);
    linker.define_unknown_imports_as_traps(&module)?;
    let instance = linker.instantiate(&mut store, &module)?;
    let err = instance.get_typed_func::<i32, i32>(&mut store, "run")?.call(&mut store, 1).unwrap_err();
    assert!(err.to_string().contains("called the undefined import `host::f`"), "{err}");
    Ok(())
}

#[test]
fn host_functions_fail_with_a_message() -> kiln::Result<()> {
    fn parse(x: i32) -> kiln::Result<i32> {
        let digits = x.to_string();
        let n: i32 = digits.parse().map_err(Error::msg)?;
        if n > 9 { Err(Error::msg(format!("{n} has more than one digit"))) } else { Ok(n) }
    }
    let engine = Engine::default();
    let mut linker = Linker::new(&engine);
    linker.func_wrap("host", "f", parse)?;
    let mut store = Store::new(&engine, ());
    let instance = linker.instantiate(&mut store, &Module::new(&engine, USES_HOST)?)?;
    let run = instance.get_typed_func::<i32, i32>(&mut store, "run")?;
    assert_eq!(run.call(&mut store, 7)?, 7);
    let err = run.call(&mut store, 12).unwrap_err();
    assert!(matches!(err, Error::Host(_)) && err.to_string().contains("12 has more than one digit"), "{err}");
    Ok(())
}

#[test]
fn host_functions_use_question_mark_on_anyhow_errors() -> kiln::Result<()> {
    use anyhow::Context;
    fn lookup(x: i32) -> anyhow::Result<i32> {
        let table = [10, 20, 30];
        table.get(x as usize).copied().with_context(|| format!("no entry {x}"))
    }
    let engine = Engine::default();
    let mut linker = Linker::new(&engine);
    linker.func_wrap("host", "f", |x: i32| -> kiln::Result<i32> { Ok(lookup(x)?) })?;
    let mut store = Store::new(&engine, ());
    let instance = linker.instantiate(&mut store, &Module::new(&engine, USES_HOST)?)?;
    let run = instance.get_typed_func::<i32, i32>(&mut store, "run")?;
    assert_eq!(run.call(&mut store, 1)?, 20);
    let err = run.call(&mut store, 7).unwrap_err();
    assert!(matches!(err, Error::Host(_)) && err.to_string().contains("no entry 7"), "{err}");
    Ok(())
}

#[test]
fn modules_validate_and_artifacts_are_recognized() -> kiln::Result<()> {
    let engine = Engine::default();
    let wasm = wat::parse_str(USES_HOST).expect("parses");
    Module::validate(&engine, &wasm)?;
    let invalid = wat::parse_str(r#"(module (func (result i32) (i64.const 1)))"#).expect("parses");
    assert!(matches!(Module::validate(&engine, &invalid), Err(Error::Invalid(_))));
    assert!(Module::validate(&engine, b"not wasm").is_err());
    let artifact = engine.precompile_module(&wasm)?;
    assert_eq!(engine.detect_precompiled(&artifact), Some(Precompiled::Module));
    let component = engine.precompile_component(&wat::parse_str("(component)").expect("parses"))?;
    assert_eq!(engine.detect_precompiled(&component), Some(Precompiled::Component));
    assert_eq!(engine.detect_precompiled(&wasm), None);
    assert_eq!(engine.detect_precompiled(b"\x7fELF and then nothing"), None);
    // Validation follows the engine's features.
    let tail_call = wat::parse_str(r#"(module (func $f (return_call $f)))"#).expect("parses");
    Module::validate(&engine, &tail_call)?;
    let mut config = kiln::Config::new();
    config.set("tail-call", "n")?;
    let without = Engine::new(&config)?;
    // A feature the engine turned off is unsupported there, and says how to turn it on.
    let err = Module::validate(&without, &tail_call).unwrap_err();
    assert!(matches!(err, Error::Unsupported(_)) && err.to_string().contains("(enable with -W tail-call=y)"), "{err}");
    assert!(matches!(Module::new(&without, &tail_call), Err(Error::Unsupported(_))));
    Ok(())
}

#[test]
fn memories_are_read_and_written_within_bounds() -> kiln::Result<()> {
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let mut linker = Linker::new(&engine);
    linker.func_wrap("host", "f", |x: i32| x)?;
    let instance: Instance = linker.instantiate(&mut store, &Module::new(&engine, USES_HOST)?)?;
    let Some(Extern::Memory(memory)) = instance.get_export(&mut store, "mem") else { panic!("a memory") };
    memory.write(&mut store, 65_532, b"kiln")?;
    let mut buf = [0u8; 4];
    memory.read(&store, 65_532, &mut buf)?;
    assert_eq!(&buf, b"kiln");
    assert!(memory.write(&mut store, 65_533, b"kiln").is_err(), "one byte past the end");
    assert!(memory.read(&store, usize::MAX, &mut buf).is_err(), "an offset that overflows");
    memory.read(&store, 65_532, &mut buf)?;
    assert_eq!(&buf, b"kiln", "a refused write writes nothing");
    Ok(())
}

#[test]
fn an_engine_can_compile_for_a_targets_baseline_cpu() -> kiln::Result<()> {
    let mut config = kiln::Config::new();
    config.target("x86_64-unknown-linux-gnu").cranelift_opt_level(kiln::OptLevel::SpeedAndSize);
    let engine = Engine::new(&config)?;
    let settings = engine.artifact_settings();
    let get = |key: &str| settings.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    assert_eq!(get("cpu.avx2").as_deref(), Some("false"));
    assert_eq!(get("cpu.sse41").as_deref(), Some("true"));
    assert_eq!(get("cranelift.opt_level").as_deref(), Some("speed_and_size"));
    // Baseline code runs on this (x86-64) host.
    let mut linker = Linker::new(&engine);
    linker.func_wrap("host", "f", |x: i32| x + 1)?;
    let mut store = Store::new(&engine, ());
    let instance = linker.instantiate(&mut store, &Module::new(&engine, USES_HOST)?)?;
    assert_eq!(instance.get_typed_func::<i32, i32>(&mut store, "run")?.call(&mut store, 1)?, 2);
    let mut other = kiln::Config::new();
    other.target("riscv64gc-unknown-linux-gnu");
    assert!(matches!(Engine::new(&other), Err(Error::Unsupported(_))));
    Ok(())
}

#[test]
fn tables_are_read_written_and_grown_from_the_host() -> kiln::Result<()> {
    use kiln::{TableType, Val, ValType};
    let engine = Engine::default();
    let module = Module::new(
        &engine,
        r#"(module
          (table (export "t") 2 4 funcref)
          (func $f (export "f") (result i32) (i32.const 7))
          (elem (i32.const 0) $f)
          (type $r (func (result i32)))
          (func (export "call") (param i32) (result i32) (call_indirect (type $r) (local.get 0))))"#,
    )?;
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[])?;
    let Some(Extern::Table(table)) = instance.get_export(&mut store, "t") else { panic!("a table") };
    let call = instance.get_typed_func::<i32, i32>(&mut store, "call")?;
    assert_eq!(table.size(&store), 2);
    let Some(Val::FuncRef(Some(f))) = table.get(&mut store, 0) else { panic!("element 0 is $f") };
    assert!(matches!(table.get(&mut store, 1), Some(Val::FuncRef(None))));
    assert!(table.get(&mut store, 2).is_none(), "past the end");
    table.set(&mut store, 1, Val::FuncRef(Some(f)))?;
    assert_eq!(call.call(&mut store, 1)?, 7, "wasm sees the host's write");
    let err = table.set(&mut store, 2, Val::FuncRef(None)).unwrap_err();
    assert!(err.to_string().contains("table index out of bounds: 2"), "{err}");
    let err = table.set(&mut store, 0, Val::I32(1)).unwrap_err();
    assert!(err.to_string().contains("a i32 where a value of type (ref null func) is expected"), "{err}");
    assert_eq!(table.grow(&mut store, 2, Val::FuncRef(Some(f)))?, 2);
    assert_eq!(call.call(&mut store, 3)?, 7);
    assert!(table.grow(&mut store, 1, Val::FuncRef(None)).is_err(), "past the maximum of 4");
    let host = kiln::Table::new(&mut store, TableType::new(ValType::FuncRef, 1, None), Val::FuncRef(None))?;
    assert_eq!(host.size(&store), 1);
    Ok(())
}

#[test]
fn compiling_on_one_thread_gives_the_same_artifact() -> kiln::Result<()> {
    let wasm = wat::parse_str(USES_HOST).expect("parses");
    let parallel = Engine::default().precompile_module(&wasm)?;
    let mut config = kiln::Config::new();
    config.parallel_compilation(false);
    assert_eq!(Engine::new(&config)?.precompile_module(&wasm)?, parallel);
    let mut refused = kiln::Config::new();
    refused.cranelift_flag_set("enable_probestack", "true");
    assert!(matches!(Engine::new(&refused), Err(Error::Unsupported(_))));
    Ok(())
}

#[test]
fn trap_frames_give_module_and_function_offsets() -> kiln::Result<()> {
    let engine = Engine::default();
    let module = Module::new(
        &engine,
        r#"(module $demo
             (func $inner (param i32) (result i32) local.get 0 i32.const 0 i32.div_u)
             (func $middle (export "run") (result i32) i32.const 7 call $inner))"#,
    )?;
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[])?;
    let err = instance.get_typed_func::<(), i32>(&mut store, "run")?.call(&mut store, ()).unwrap_err();
    let frames = &err.backtrace().expect("a backtrace").frames;
    // i32.div_u is five bytes into $inner's body (its locals, local.get 0, i32.const 0), the
    // call three into $middle's; the module offsets are those wasmtime 48 prints.
    let offsets: Vec<_> = frames.iter().map(|f| (f.module_offset(), f.func_offset())).collect();
    assert_eq!(offsets, [(Some(0x2b), Some(5)), (Some(0x31), Some(3))], "{frames:?}");
    assert_eq!(frames[0].to_string(), "0x2b - demo!inner");
    Ok(())
}

#[test]
fn a_module_from_a_file_without_a_name_is_named_after_the_file() -> kiln::Result<()> {
    let engine = Engine::default();
    let dir = std::env::temp_dir().join(format!("kiln-from-file-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| Error::msg(e.to_string()))?;
    let (unnamed, named) = (dir.join("boom.wat"), dir.join("other.wat"));
    let write = |path: &std::path::Path, wat: &str| std::fs::write(path, wat).map_err(|e| Error::msg(e.to_string()));
    write(&unnamed, r#"(module (func (export "run") unreachable))"#)?;
    write(&named, r#"(module $mine (func (export "run") unreachable))"#)?;
    for (path, name) in [(&unnamed, "boom"), (&named, "mine")] {
        let module = Module::from_file(&engine, path)?;
        assert_eq!(module.name(), Some(name));
        let mut store = Store::new(&engine, ());
        let run = Instance::new(&mut store, &module, &[])?.get_typed_func::<(), ()>(&mut store, "run")?;
        let Error::Trap(_, Some(backtrace)) = run.call(&mut store, ()).unwrap_err() else { panic!("a trap") };
        assert_eq!(backtrace.frames[0].module_name.as_deref(), Some(name));
    }
    assert_eq!(Module::new(&engine, r#"(module)"#)?.name(), None, "bytes alone name nothing");
    std::fs::remove_dir_all(&dir).map_err(|e| Error::msg(e.to_string()))?;
    Ok(())
}
