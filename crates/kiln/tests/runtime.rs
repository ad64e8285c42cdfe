//! End-to-end tests of the runtime through the public API: traps and recovery, stack
//! exhaustion, host functions (errors, panics, re-entry), memories in both bounds-check modes,
//! linking between instances.
use kiln::{Caller, Config, Engine, Error, Func, FuncType, Instance, Linker, Module, Store, Trap, Val, ValType};

/// The two memory configurations: guard pages (default) and explicit bounds checks.
fn engines() -> Vec<Engine> {
    let mut checks = Config::new();
    checks.memory_reservation(0).memory_guard_size(0);
    vec![Engine::new(&Config::new()).unwrap(), Engine::new(&checks).unwrap()]
}

fn trap_of(e: Error) -> Trap {
    match e {
        Error::Trap(t, _) => t,
        other => panic!("expected a trap, got {other}"),
    }
}

#[test]
fn a_trap_leaves_the_store_usable() {
    for engine in engines() {
        let module = Module::new(
            &engine,
            r#"(module (func (export "div") (param i32 i32) (result i32) (i32.div_s (local.get 0) (local.get 1))))"#,
        )
        .unwrap();
        let mut store = Store::new(&engine, ());
        let instance = Instance::new(&mut store, &module, &[]).unwrap();
        let div = instance.get_typed_func::<(i32, i32), i32>(&mut store, "div").unwrap();
        assert_eq!(trap_of(div.call(&mut store, (1, 0)).unwrap_err()), Trap::IntegerDivisionByZero);
        assert_eq!(trap_of(div.call(&mut store, (i32::MIN, -1)).unwrap_err()), Trap::IntegerOverflow);
        assert_eq!(div.call(&mut store, (7, 2)).unwrap(), 3);
    }
}

#[test]
fn deep_recursion_exhausts_the_stack_cleanly() {
    for engine in engines() {
        let module = Module::new(
            &engine,
            r#"(module
                (func $down (export "down") (param i32) (result i32)
                  (if (result i32) (i32.eqz (local.get 0)) (then (i32.const 0))
                    (else (i32.add (i32.const 1) (call $down (i32.sub (local.get 0) (i32.const 1)))))))
                (func $forever (export "forever") (call $forever)))"#,
        )
        .unwrap();
        let mut store = Store::new(&engine, ());
        let instance = Instance::new(&mut store, &module, &[]).unwrap();
        let forever = instance.get_typed_func::<(), ()>(&mut store, "forever").unwrap();
        let down = instance.get_typed_func::<i32, i32>(&mut store, "down").unwrap();
        for _ in 0..3 {
            let err = forever.call(&mut store, ()).unwrap_err();
            assert_eq!(err.to_string(), "wasm trap: call stack exhausted");
            assert_eq!(down.call(&mut store, 1000).unwrap(), 1000);
        }
    }
}

#[test]
fn a_trap_inside_a_host_call_chain_leaves_the_store_usable() {
    let engine = Engine::default();
    let module = Module::new(
        &engine,
        r#"(module
            (import "host" "reenter" (func $reenter (param i32) (result i32)))
            (func (export "outer") (param i32) (result i32) (call $reenter (local.get 0)))
            (func (export "inner") (param i32) (result i32)
              (if (i32.eqz (local.get 0)) (then unreachable))
              (i32.mul (local.get 0) (i32.const 10))))"#,
    )
    .unwrap();
    let mut store = Store::new(&engine, 0u32);
    let reenter = Func::new(
        &mut store,
        FuncType::new([ValType::I32], [ValType::I32]),
        |mut caller: Caller<'_, u32>, params, results| {
            *caller.data_mut() += 1;
            let inner = caller.get_export("inner").unwrap().into_func().unwrap();
            let mut out = [Val::I32(0)];
            inner.call(&mut caller, params, &mut out)?;
            results[0] = out[0].clone();
            Ok(())
        },
    );
    let instance = Instance::new(&mut store, &module, &[reenter.into()]).unwrap();
    let outer = instance.get_typed_func::<i32, i32>(&mut store, "outer").unwrap();
    assert_eq!(outer.call(&mut store, 4).unwrap(), 40);
    assert_eq!(trap_of(outer.call(&mut store, 0).unwrap_err()), Trap::UnreachableCodeReached);
    assert_eq!(outer.call(&mut store, 5).unwrap(), 50);
    assert_eq!(*store.data(), 3);
}

#[test]
fn host_errors_and_panics_come_back_to_the_host() {
    let engine = Engine::default();
    let module = Module::new(
        &engine,
        r#"(module (import "host" "f" (func $f (param i32))) (func (export "run") (param i32) (call $f (local.get 0))))"#,
    )
    .unwrap();
    let mut linker = Linker::new(&engine);
    linker
        .func_wrap("host", "f", |x: i32| -> kiln::Result<()> {
            match x {
                0 => Ok(()),
                1 => Err(Error::Host("no luck".into())),
                _ => panic!("host panic {x}"),
            }
        })
        .unwrap();
    let mut store = Store::new(&engine, ());
    let instance = linker.instantiate(&mut store, &module).unwrap();
    let run = instance.get_typed_func::<i32, ()>(&mut store, "run").unwrap();
    run.call(&mut store, 0).unwrap();
    let err = run.call(&mut store, 1).unwrap_err();
    assert!(matches!(err, Error::Host(_)), "{err}");
    assert_eq!(err.to_string(), "host error: no luck");
    let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run.call(&mut store, 2))).unwrap_err();
    assert_eq!(panic.downcast_ref::<String>().map(|s| s.as_str()), Some("host panic 2"));
    run.call(&mut store, 0).unwrap();
}

#[test]
fn memories_grow_and_trap_out_of_bounds_in_both_modes() {
    for engine in engines() {
        let module = Module::new(
            &engine,
            r#"(module
                (memory (export "mem") 1 3)
                (data (i32.const 8) "\2a")
                (func (export "load") (param i32) (result i32) (i32.load8_u (local.get 0)))
                (func (export "store") (param i32 i32) (i32.store (local.get 0) (local.get 1)))
                (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
                (func (export "size") (result i32) (memory.size)))"#,
        )
        .unwrap();
        let mut store = Store::new(&engine, ());
        let instance = Instance::new(&mut store, &module, &[]).unwrap();
        let load = instance.get_typed_func::<i32, i32>(&mut store, "load").unwrap();
        let st = instance.get_typed_func::<(i32, i32), ()>(&mut store, "store").unwrap();
        let grow = instance.get_typed_func::<i32, i32>(&mut store, "grow").unwrap();
        let size = instance.get_typed_func::<(), i32>(&mut store, "size").unwrap();
        assert_eq!(load.call(&mut store, 8).unwrap(), 42);
        assert_eq!(trap_of(load.call(&mut store, 65536).unwrap_err()), Trap::MemoryOutOfBounds);
        assert_eq!(trap_of(st.call(&mut store, (65534, 1)).unwrap_err()), Trap::MemoryOutOfBounds);
        assert_eq!(trap_of(load.call(&mut store, -1).unwrap_err()), Trap::MemoryOutOfBounds);
        assert_eq!(grow.call(&mut store, 1).unwrap(), 1);
        assert_eq!(size.call(&mut store, ()).unwrap(), 2);
        st.call(&mut store, (65536 + 100, 7)).unwrap();
        assert_eq!(load.call(&mut store, 65536 + 100).unwrap(), 7);
        assert_eq!(load.call(&mut store, 8).unwrap(), 42, "contents survive growth");
        assert_eq!(grow.call(&mut store, 5).unwrap(), -1, "beyond the maximum");
        let mem = instance.get_memory(&mut store, "mem").unwrap();
        assert_eq!(mem.size(&store), 2);
        assert_eq!(mem.data(&store)[65536 + 100], 7);
        mem.data_mut(&mut store)[3] = 9;
        assert_eq!(load.call(&mut store, 3).unwrap(), 9);
    }
}

/// An access out of bounds faults where its bounds-check mode puts it — in the guard, or in
/// the null page where a checked access's address goes — and the handler must take both for
/// traps, for every width and for a memory of no pages (found by `kiln-fuzz differential`).
#[test]
fn accesses_of_every_width_trap_out_of_bounds_in_both_modes() {
    for engine in engines() {
        let module = Module::new(
            &engine,
            r#"(module
                (memory 0 6)
                (func (export "i32") (param i32) (result i32) (i32.load (local.get 0)))
                (func (export "i64") (param i32) (i64.store offset=65536 (local.get 0) (i64.const 1)))
                (func (export "v128") (param i32) (result i32) (i16x8.all_true (v128.load (local.get 0)))))"#,
        )
        .unwrap();
        let mut store = Store::new(&engine, ());
        let instance = Instance::new(&mut store, &module, &[]).unwrap();
        for name in ["i32", "i64", "v128"] {
            let f = instance.get_func(&mut store, name).unwrap();
            let mut results = vec![Val::I32(0); f.ty(&store).results().len()];
            for address in [0, 5, 65535, -1] {
                let e = f.call(&mut store, &[Val::I32(address)], &mut results).unwrap_err();
                assert_eq!(trap_of(e), Trap::MemoryOutOfBounds, "{name} at {address}");
            }
        }
    }
}

#[test]
fn instances_link_functions_globals_tables_and_memories() {
    let engine = Engine::default();
    let a = Module::new(
        &engine,
        r#"(module
            (memory (export "mem") 1)
            (global (export "g") (mut i32) (i32.const 5))
            (table (export "tab") 2 funcref)
            (elem (i32.const 0) $seven)
            (func $seven (export "seven") (result i32) (i32.const 7)))"#,
    )
    .unwrap();
    let b = Module::new(
        &engine,
        r#"(module
            (import "a" "mem" (memory 1))
            (import "a" "g" (global $g (mut i32)))
            (import "a" "tab" (table 2 funcref))
            (import "a" "seven" (func $seven (result i32)))
            (type $r (func (result i32)))
            (func (export "run") (result i32)
              (global.set $g (i32.add (global.get $g) (i32.const 1)))
              (i32.store (i32.const 0) (call $seven))
              (i32.add (i32.load (i32.const 0)) (call_indirect (type $r) (i32.const 0))))
            (func (export "bad") (result i32) (call_indirect (type $r) (i32.const 1)))
            (func (export "oob") (result i32) (call_indirect (type $r) (i32.const 2))))"#,
    )
    .unwrap();
    let mut store = Store::new(&engine, ());
    let mut linker = Linker::new(&engine);
    let ia = linker.instantiate(&mut store, &a).unwrap();
    linker.instance(&mut store, "a", ia).unwrap();
    let ib = linker.instantiate(&mut store, &b).unwrap();
    let run = ib.get_typed_func::<(), i32>(&mut store, "run").unwrap();
    assert_eq!(run.call(&mut store, ()).unwrap(), 14);
    let g = ia.get_global(&mut store, "g").unwrap();
    assert_eq!(g.get(&mut store).i32(), Some(6));
    let bad = ib.get_typed_func::<(), i32>(&mut store, "bad").unwrap();
    assert_eq!(trap_of(bad.call(&mut store, ()).unwrap_err()), Trap::IndirectCallToNull);
    let oob = ib.get_typed_func::<(), i32>(&mut store, "oob").unwrap();
    assert_eq!(trap_of(oob.call(&mut store, ()).unwrap_err()), Trap::TableOutOfBounds);

    let missing = Module::new(&engine, r#"(module (import "nowhere" "f" (func)))"#).unwrap();
    let err = linker.instantiate(&mut store, &missing).unwrap_err();
    assert!(matches!(err, Error::Link(_)) && err.to_string().contains("nowhere::f"), "{err}");
}

#[test]
fn invalid_and_unsupported_modules_are_errors() {
    let engine = Engine::default();
    let err = Module::new(&engine, b"\0asm\x01\0\0\0\x05").err().unwrap();
    assert!(matches!(err, Error::Invalid(_)), "{err}");
    let err = Module::new(&engine, "(module (func (result i32) (i64.const 1)))").err().unwrap();
    assert!(matches!(err, Error::Invalid(_)), "{err}");
    let err = Module::new(&engine, "(module (memory 1 1 shared))").err().unwrap();
    assert_eq!(err.to_string(), "unsupported: shared memories (threads)");
}

#[test]
fn traps_are_caught_while_other_threads_load_and_drop_code() {
    let engine = Engine::default();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let churn = {
        let (engine, stop) = (engine.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let m = Module::new(&engine, "(module (func (export \"f\") (result i32) i32.const 1))").unwrap();
                drop(m);
            }
        })
    };
    let module = Module::new(
        &engine,
        r#"(module (memory 1) (func (export "oob") (result i32) (i32.load (i32.const 70000)))
                   (func (export "div") (param i32) (result i32) (i32.div_u (i32.const 1) (local.get 0))))"#,
    )
    .unwrap();
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let oob = instance.get_typed_func::<(), i32>(&mut store, "oob").unwrap();
    let div = instance.get_typed_func::<i32, i32>(&mut store, "div").unwrap();
    for _ in 0..2000 {
        assert_eq!(trap_of(oob.call(&mut store, ()).unwrap_err()), Trap::MemoryOutOfBounds);
        assert_eq!(trap_of(div.call(&mut store, 0).unwrap_err()), Trap::IntegerDivisionByZero);
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    churn.join().unwrap();
}

#[test]
fn a_small_maximum_never_exposes_memory_beyond_it() {
    for engine in engines() {
        let module = Module::new(
            &engine,
            r#"(module (memory 1 1)
                (func (export "load") (param i32) (result i32) (i32.load (local.get 0)))
                (func (export "store") (param i32) (i32.store (local.get 0) (i32.const -1))))"#,
        )
        .unwrap();
        let mut store = Store::new(&engine, ());
        let instance = Instance::new(&mut store, &module, &[]).unwrap();
        let load = instance.get_typed_func::<i32, i32>(&mut store, "load").unwrap();
        let st = instance.get_typed_func::<i32, ()>(&mut store, "store").unwrap();
        for at in [65536, 40 << 20, 103 << 20, 140 << 20, 1 << 30, -4] {
            assert_eq!(trap_of(load.call(&mut store, at).unwrap_err()), Trap::MemoryOutOfBounds, "load at {at:#x}");
            assert_eq!(trap_of(st.call(&mut store, at).unwrap_err()), Trap::MemoryOutOfBounds, "store at {at:#x}");
        }
    }
}

#[test]
fn host_functions_reached_only_through_a_table_are_callable() {
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    // A module with the host function's type is instantiated first; then the host function
    // is made and put in a table as its initial value. It is never imported: wasm reaches it
    // only through `call_indirect`.
    let first = Module::new(&engine, r#"(module (func (export "f") (result i32) (i32.const 1)))"#).unwrap();
    Instance::new(&mut store, &first, &[]).unwrap();
    let answer = Func::wrap(&mut store, || 42i32);
    let table =
        kiln::Table::new(&mut store, kiln::TableType::new(ValType::FuncRef, 1, None), Val::FuncRef(Some(answer)))
            .unwrap();
    let module = Module::new(
        &engine,
        r#"(module
            (import "host" "table" (table 1 funcref))
            (type $r (func (result i32)))
            (func (export "call") (result i32) (call_indirect (type $r) (i32.const 0))))"#,
    )
    .unwrap();
    let instance = Instance::new(&mut store, &module, &[table.into()]).unwrap();
    let call = instance.get_typed_func::<(), i32>(&mut store, "call").unwrap();
    assert_eq!(call.call(&mut store, ()).unwrap(), 42);
}

#[test]
fn impossible_memory_and_table_types_are_errors() {
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    assert!(kiln::Memory::new(&mut store, kiln::MemoryType::new(1 << 48, None)).is_err());
    assert!(kiln::Memory::new(&mut store, kiln::MemoryType::new(3, Some(2))).is_err());
    assert!(kiln::Memory::new(&mut store, kiln::MemoryType::new(70000, None)).is_err());
    let t = kiln::TableType::new(ValType::FuncRef, 3, Some(2));
    assert!(kiln::Table::new(&mut store, t, Val::FuncRef(None)).is_err());
}

#[test]
fn extern_refs_round_trip_and_are_released_when_nothing_holds_them() {
    use kiln::{AsContext, AsContextMut, ExternRef, RootScope, Rooted};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    struct Payload(u32, Arc<AtomicBool>);
    impl Drop for Payload {
        fn drop(&mut self) {
            self.1.store(true, Ordering::SeqCst);
        }
    }
    let engine = Engine::default();
    let module = Module::new(
        &engine,
        r#"(module
            (import "host" "check" (func $check (param externref) (result i32)))
            (table $t 1 externref)
            (global $g (mut externref) (ref.null extern))
            (func (export "id") (param externref) (result externref) (local.get 0))
            (func (export "check") (param externref) (result i32) (call $check (local.get 0)))
            (func (export "stash") (param externref) (table.set $t (i32.const 0) (local.get 0)) (global.set $g (local.get 0)))
            (func (export "clear_table") (table.set $t (i32.const 0) (ref.null extern)))
            (func (export "clear_global") (global.set $g (ref.null extern)))
            (func (export "get") (result externref) (table.get $t (i32.const 0))))"#,
    )
    .unwrap();
    let mut store = Store::new(&engine, ());
    let check =
        Func::new(&mut store, FuncType::new([ValType::ExternRef], [ValType::I32]), |caller, params, results| {
            let n = match &params[0] {
                Val::ExternRef(Some(r)) => payload(&caller, r).map_or(-1, |p| p as i32),
                _ => -2,
            };
            results[0] = Val::I32(n);
            Ok(())
        });
    let instance = Instance::new(&mut store, &module, &[check.into()]).unwrap();
    fn payload(store: &impl AsContext, r: &ExternRef) -> Option<u32> {
        r.data(store).unwrap().and_then(|d| d.downcast_ref::<Payload>()).map(|p| p.0)
    }
    fn call(store: &mut impl AsContextMut, instance: &Instance, name: &str, args: &[Val], n: usize) -> Vec<Val> {
        let f = instance.get_func(&mut *store, name).unwrap();
        let mut out = vec![Val::I32(0); n];
        f.call(store, args, &mut out).unwrap();
        out
    }

    let dropped = Arc::new(AtomicBool::new(false));
    let escaped = {
        let mut scope = RootScope::new(&mut store);
        let r = ExternRef::new(&mut scope, Payload(7, dropped.clone())).unwrap();
        let back = call(&mut scope, &instance, "id", &[Val::ExternRef(Some(r))], 1);
        assert!(matches!(&back[0], Val::ExternRef(Some(b)) if Rooted::ref_eq(&scope, b, &r).unwrap()));
        assert_eq!(call(&mut scope, &instance, "check", &[Val::ExternRef(Some(r))], 1)[0].i32(), Some(7));
        call(&mut scope, &instance, "stash", &[Val::ExternRef(Some(r))], 0);
        r
    };
    assert!(matches!(escaped.data(&store), Err(Error::Unrooted)), "its scope ended");
    store.gc();
    assert!(!dropped.load(Ordering::SeqCst), "the table and the global hold it");
    {
        let mut scope = RootScope::new(&mut store);
        let got = call(&mut scope, &instance, "get", &[], 1);
        assert!(matches!(&got[0], Val::ExternRef(Some(g)) if payload(&scope, g) == Some(7)));
    }
    call(&mut store, &instance, "clear_table", &[], 0);
    store.gc();
    assert!(!dropped.load(Ordering::SeqCst), "the global still holds it");
    call(&mut store, &instance, "clear_global", &[], 0);
    store.gc();
    assert!(dropped.load(Ordering::SeqCst), "nothing holds it any more");
}

#[test]
fn lazily_initialized_tables_read_the_same_as_eager_ones() {
    for lazy in [true, false] {
        let mut config = Config::new();
        config.table_lazy_init(lazy);
        let engine = Engine::new(&config).unwrap();
        let module = Module::new(
            &engine,
            r#"(module
                (type $r (func (result i32)))
                (table $t (export "t") 100000 funcref)
                (table $u 10 funcref)
                (elem (table $t) (i32.const 5000) func $a $b)
                (func $a (result i32) (i32.const 1))
                (func $b (result i32) (i32.const 2))
                (func (export "call") (param i32) (result i32) (call_indirect $t (type $r) (local.get 0)))
                (func (export "copy_and_call") (result i32)
                  (table.copy $u $t (i32.const 0) (i32.const 4999) (i32.const 3))
                  (i32.add (call_indirect $u (type $r) (i32.const 1)) (call_indirect $u (type $r) (i32.const 2))))
                (func (export "is_null") (param i32) (result i32) (ref.is_null (table.get $t (local.get 0)))))"#,
        )
        .unwrap();
        let mut store = Store::new(&engine, ());
        let instance = Instance::new(&mut store, &module, &[]).unwrap();
        let table = instance.get_table(&mut store, "t").unwrap();
        // The host reads an entry wasm never touched.
        assert!(matches!(table.get(&mut store, 5001), Some(Val::FuncRef(Some(_)))));
        assert!(matches!(table.get(&mut store, 4999), Some(Val::FuncRef(None))));
        let copy_and_call = instance.get_typed_func::<(), i32>(&mut store, "copy_and_call").unwrap();
        assert_eq!(copy_and_call.call(&mut store, ()).unwrap(), 3, "lazy={lazy}");
        let call = instance.get_typed_func::<i32, i32>(&mut store, "call").unwrap();
        assert_eq!(call.call(&mut store, 5000).unwrap(), 1);
        assert_eq!(trap_of(call.call(&mut store, 7).unwrap_err()), Trap::IndirectCallToNull);
        let is_null = instance.get_typed_func::<i32, i32>(&mut store, "is_null").unwrap();
        assert_eq!((is_null.call(&mut store, 5001).unwrap(), is_null.call(&mut store, 99999).unwrap()), (0, 1));
    }
}

#[test]
fn handles_of_another_store_are_refused() {
    let engine = Engine::default();
    let mut a = Store::new(&engine, ());
    let mut b = Store::new(&engine, ());
    let memory = kiln::Memory::new(&mut a, kiln::MemoryType::new(1, None)).unwrap();
    let _ = kiln::Memory::new(&mut b, kiln::MemoryType::new(2, None)).unwrap();
    assert!(memory.grow(&mut b, 1).is_err());
    let size = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| memory.size(&b)));
    let message = size.unwrap_err();
    assert_eq!(message.downcast_ref::<&str>(), Some(&"object used with the wrong store"));
    let f = Func::wrap(&mut a, || 1i32);
    let module = Module::new(&engine, r#"(module (import "h" "f" (func (result i32))))"#).unwrap();
    assert!(Instance::new(&mut b, &module, &[f.into()]).is_err());
}

#[test]
fn tail_calls_reuse_the_frame_and_reach_host_functions() {
    for engine in engines() {
        let module = Module::new(
            &engine,
            r#"(module
                (import "host" "peek" (func $peek (param i32) (result i32)))
                (memory (export "mem") 1)
                (data (i32.const 8) "\2a")
                (type $pred (func (param i64) (result i32)))
                (table funcref (elem $even $odd))
                ;; A million mutual tail calls, half of them indirect: no stack growth.
                (func $even (export "even") (param i64) (result i32)
                  (if (result i32) (i64.eqz (local.get 0)) (then (i32.const 1))
                    (else (return_call_indirect (type $pred) (i64.sub (local.get 0) (i64.const 1)) (i32.const 1)))))
                (func $odd (param i64) (result i32)
                  (if (result i32) (i64.eqz (local.get 0)) (then (i32.const 0))
                    (else (return_call $even (i64.sub (local.get 0) (i64.const 1))))))
                ;; The host function's frame replaces this one; it still sees this memory.
                (func (export "peek") (param i32) (result i32) (return_call $peek (local.get 0)))
                (func $fail (unreachable))
                (func $middle (return_call $fail))
                (func (export "fail") (call $middle)))"#,
        )
        .unwrap();
        let mut linker = Linker::new(&engine);
        linker
            .func_wrap("host", "peek", |mut caller: Caller<'_, ()>, at: i32| -> kiln::Result<i32> {
                let Some(kiln::Extern::Memory(mem)) = caller.get_export("mem") else { panic!("no memory export") };
                Ok(i32::from(mem.data(&caller)[at as usize]))
            })
            .unwrap();
        let mut store = Store::new(&engine, ());
        let instance = linker.instantiate(&mut store, &module).unwrap();
        let even = instance.get_typed_func::<i64, i32>(&mut store, "even").unwrap();
        assert_eq!(even.call(&mut store, 1_000_000).unwrap(), 1);
        assert_eq!(even.call(&mut store, 1_000_001).unwrap(), 0);
        let peek = instance.get_typed_func::<i32, i32>(&mut store, "peek").unwrap();
        assert_eq!(peek.call(&mut store, 8).unwrap(), 42);
        // `$middle` tail-called `$fail`, so its frame is gone from the backtrace.
        let fail = instance.get_typed_func::<(), ()>(&mut store, "fail").unwrap();
        let err = fail.call(&mut store, ()).unwrap_err();
        let frames: Vec<u32> = err.backtrace().expect("a backtrace").frames.iter().map(|f| f.func_index).collect();
        assert_eq!(frames, [4, 6], "{err}");
        assert_eq!(even.call(&mut store, 10).unwrap(), 1, "the store is usable after the trap");
    }
}

#[test]
fn host_functions_return_more_values_than_registers() {
    // Twenty results: more than any target returns in registers, in both directions.
    let engine = Engine::default();
    let results = "i64 ".repeat(20);
    let module = Module::new(
        &engine,
        format!(
            r#"(module
                (import "host" "many" (func $many (param i64) (result {results})))
                (func (export "sum") (param i64) (result i64)
                  (call $many (local.get 0))
                  {adds})
                (func (export "many") (param i64) (result {results}) (call $many (local.get 0))))"#,
            adds = "(i64.add) ".repeat(19)
        ),
    )
    .unwrap();
    let mut store = Store::new(&engine, ());
    let many = Func::new(&mut store, FuncType::new([ValType::I64], vec![ValType::I64; 20]), |_, params, results| {
        let base = params[0].i64().unwrap_or_default();
        for (i, r) in results.iter_mut().enumerate() {
            *r = Val::I64(base + i as i64);
        }
        Ok(())
    });
    let instance = Instance::new(&mut store, &module, &[many.into()]).unwrap();
    let mut out = [Val::I64(0)];
    instance.get_func(&mut store, "sum").unwrap().call(&mut store, &[Val::I64(100)], &mut out).unwrap();
    assert_eq!(out[0].i64(), Some(20 * 100 + 190));
    let mut out = vec![Val::I64(0); 20];
    instance.get_func(&mut store, "many").unwrap().call(&mut store, &[Val::I64(7)], &mut out).unwrap();
    assert_eq!(out.iter().map(|v| v.i64().unwrap()).collect::<Vec<_>>(), (7..27).collect::<Vec<_>>());
}
