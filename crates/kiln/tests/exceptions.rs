//! Wasm exceptions through the embedding API: throws that cross 1,000 frames and host
//! frames, rethrow chains, payloads of every kind, traps that no handler catches, uncaught
//! exceptions as errors with their tag and payload, host functions that throw, and the
//! legacy instructions behind their setting.
use kiln::{Engine, Error, ExnRef, ExternRef, Func, Instance, Linker, Module, Store, Tag, Trap, Val};

const DEEP: &str = r#"(module
  (tag $e (export "e") (param i32))
  (func $down (param i32)
    (if (i32.eqz (local.get 0)) (then (throw $e (i32.const 42))))
    (call $down (i32.sub (local.get 0) (i32.const 1))))
  (func (export "deep") (param i32) (result i32)
    (block $h (result i32)
      (try_table (catch $e $h) (call $down (local.get 0)))
      (i32.const -1)))
  (func (export "uncaught") (param i32) (call $down (local.get 0))))"#;

fn setup(wat: &str) -> (Store<()>, Instance) {
    setup_with(&[], wat)
}

/// A store and an instance of `wat` in an engine with `settings`.
fn setup_with(settings: &[(&str, &str)], wat: &str) -> (Store<()>, Instance) {
    let mut config = kiln::Config::new();
    for (key, value) in settings {
        config.set(key, value).unwrap();
    }
    let engine = Engine::new(&config).unwrap();
    let module = Module::new(&engine, wat).unwrap();
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    (store, instance)
}

#[test]
fn a_throw_crosses_a_thousand_frames_to_its_handler() {
    let (mut store, instance) = setup(DEEP);
    let deep = instance.get_typed_func::<i32, i32>(&mut store, "deep").unwrap();
    assert_eq!(deep.call(&mut store, 1000).unwrap(), 42);
    // The store stays usable, and the same again works.
    assert_eq!(deep.call(&mut store, 10).unwrap(), 42);
}

#[test]
fn an_uncaught_exception_reaches_the_host_with_its_tag_and_payload() {
    let (mut store, instance) = setup(DEEP);
    let uncaught = instance.get_typed_func::<i32, ()>(&mut store, "uncaught").unwrap();
    let err = uncaught.call(&mut store, 5).unwrap_err();
    assert_eq!(err.to_string(), "uncaught wasm exception");
    // The frames it left: the thrower, the five recursive calls under the export, the export.
    let frames = err.backtrace().expect("a backtrace").frames.len();
    assert_eq!(frames, 7, "{:?}", err.backtrace());
    let Error::Exception(exn) = err else { panic!("not an exception") };
    let tag = instance.get_export(&mut store, "e").and_then(|e| e.into_tag()).unwrap();
    assert!(Tag::eq(&exn.tag(&store).unwrap(), &tag, &store));
    assert!(matches!(exn.payload(&mut store).unwrap()[..], [Val::I32(42)]));
}

#[test]
fn a_throw_crosses_host_frames_to_the_outer_wasm() {
    // wasm `outer` -> host `middle` -> wasm `inner`, which throws: the host call fails with
    // the exception, the host function returns it with `?`, and `outer` catches it.
    let wat = r#"(module
      (import "host" "middle" (func $middle (param i32)))
      (tag $e (param i32))
      (func (export "inner") (param i32) (throw $e (i32.mul (local.get 0) (i32.const 2))))
      (func (export "outer") (param i32) (result i32)
        (block $h (result i32)
          (try_table (catch $e $h) (call $middle (local.get 0)))
          (i32.const -1))))"#;
    let engine = Engine::default();
    let module = Module::new(&engine, wat).unwrap();
    let mut store = Store::new(&engine, ());
    let mut linker = Linker::new(&engine);
    linker
        .func_wrap("host", "middle", |mut caller: kiln::Caller<'_, ()>, x: i32| -> kiln::Result<()> {
            let inner = caller.get_export("inner").and_then(|e| e.into_func()).unwrap();
            inner.call(&mut caller, &[Val::I32(x)], &mut [])?;
            Ok(())
        })
        .unwrap();
    let instance = linker.instantiate(&mut store, &module).unwrap();
    let outer = instance.get_typed_func::<i32, i32>(&mut store, "outer").unwrap();
    assert_eq!(outer.call(&mut store, 21).unwrap(), 42);
}

#[test]
fn a_host_function_throws_a_wasm_exception() {
    let wat = r#"(module
      (import "host" "tag" (tag $t (param i64 f64)))
      (import "host" "fail" (func $fail))
      (func (export "run") (result i64 f64)
        (block $h (result i64 f64)
          (try_table (catch $t $h) (call $fail))
          (i64.const 0) (f64.const 0))))"#;
    let engine = Engine::default();
    let module = Module::new(&engine, wat).unwrap();
    let mut store = Store::new(&engine, ());
    let ty = kiln::TagType::new(kiln::FuncType::new([kiln::ValType::I64, kiln::ValType::F64], []));
    let tag = Tag::new(&mut store, &ty).unwrap();
    let fail = Func::wrap(&mut store, move |mut caller: kiln::Caller<'_, ()>| -> kiln::Result<()> {
        let exn = ExnRef::new(&mut caller, &tag, &[Val::I64(-7), Val::F64(2.5f64.to_bits())])?;
        Err(Error::Exception(exn))
    });
    let instance = Instance::new(&mut store, &module, &[tag.into(), fail.into()]).unwrap();
    let run = instance.get_typed_func::<(), (i64, f64)>(&mut store, "run").unwrap();
    assert_eq!(run.call(&mut store, ()).unwrap(), (-7, 2.5));
    // A payload of the wrong types is refused.
    assert!(ExnRef::new(&mut store, &tag, &[Val::I32(1)]).is_err());
}

#[test]
fn a_rethrow_chain_keeps_the_exception() {
    let wat = r#"(module
      (tag $e (param i32))
      (func $throw (throw $e (i32.const 7)))
      (func $pass (param i32)
        (block $h (result exnref)
          (try_table (catch_all_ref $h)
            (if (local.get 0)
              (then (call $pass (i32.sub (local.get 0) (i32.const 1))))
              (else (call $throw))))
          (return))
        (throw_ref))
      (func (export "run") (param i32) (result i32)
        (block $h (result i32 exnref)
          (try_table (catch_ref $e $h) (call $pass (local.get 0)))
          (return (i32.const -1)))
        (drop)))"#;
    let (mut store, instance) = setup(wat);
    let run = instance.get_typed_func::<i32, i32>(&mut store, "run").unwrap();
    assert_eq!(run.call(&mut store, 0).unwrap(), 7);
    assert_eq!(run.call(&mut store, 50).unwrap(), 7, "caught and rethrown at each of 50 frames");
}

#[test]
fn payloads_carry_vectors_and_references() {
    let wat = r#"(module
      (tag $e (param v128 externref funcref))
      (func $f (export "f"))
      (elem declare func $f)
      (func (export "run") (param externref) (result v128 externref funcref)
        (block $h (result v128 externref funcref)
          (try_table (catch $e $h)
            (throw $e (v128.const i32x4 1 2 3 4) (local.get 0) (ref.func $f)))
          (unreachable))))"#;
    let (mut store, instance) = setup(wat);
    let run = instance.get_func(&mut store, "run").unwrap();
    let mut results = [Val::I32(0), Val::I32(0), Val::I32(0)];
    let host = ExternRef::new(&mut store, String::from("held by the payload")).unwrap();
    run.call(&mut store, &[Val::ExternRef(Some(host))], &mut results).unwrap();
    let Val::V128(v) = results[0] else { panic!("{:?}", results[0]) };
    assert_eq!(v, 1 | (2 << 32) | (3 << 64) | (4 << 96));
    let Val::ExternRef(Some(r)) = &results[1] else { panic!("{:?}", results[1]) };
    let data = r.data(&store).unwrap().and_then(|d| d.downcast_ref::<String>());
    assert_eq!(data.unwrap(), "held by the payload");
    let Val::FuncRef(Some(f)) = &results[2] else { panic!("{:?}", results[2]) };
    let exported = instance.get_func(&mut store, "f").unwrap();
    assert_eq!(f.ty(&store), exported.ty(&store));
}

#[test]
fn a_trap_in_a_try_table_is_not_caught() {
    let wat = r#"(module
      (func (export "run") (result i32)
        (block $h
          (try_table (catch_all $h) (unreachable)))
        (i32.const 1)))"#;
    let (mut store, instance) = setup(wat);
    let run = instance.get_typed_func::<(), i32>(&mut store, "run").unwrap();
    let err = run.call(&mut store, ()).unwrap_err();
    assert_eq!(err.as_trap(), Some(&Trap::UnreachableCodeReached));
}

#[test]
fn caught_and_dropped_exceptions_are_freed_and_live_ones_are_bounded() {
    // An export that throws $n times, catches each with its reference, and does `then` with it.
    let catch_each = |name: &str, then: &str| {
        format!(
            r#"(func (export "{name}") (param $n i32)
                 (block $done
                   (loop $l
                     (br_if $done (i32.eqz (local.get $n)))
                     (block $h (result exnref)
                       (try_table (catch_all_ref $h) (call $thrower (local.get $n)))
                       (unreachable))
                     {then}
                     (local.set $n (i32.sub (local.get $n) (i32.const 1)))
                     (br $l))))"#
        )
    };
    let drop_each = catch_each("drop_each", "(drop)");
    let keep = catch_each("keep", "(i32.const 1) (if (i32.lt_s (table.grow $kept) (i32.const 0)) (then unreachable))");
    let wat = format!(
        r#"(module
      (tag $e (param i32))
      (func $thrower (param i32) (throw $e (local.get 0)))
      (func (export "run") (param $n i32) (result i32)
        (local $sum i32)
        (block $done
          (loop $l
            (br_if $done (i32.eqz (local.get $n)))
            (local.set $sum (i32.add (local.get $sum)
              (block $h (result i32)
                (try_table (catch $e $h) (call $thrower (local.get $n)))
                (i32.const 0))))
            (local.set $n (i32.sub (local.get $n) (i32.const 1)))
            (br $l)))
        (local.get $sum))
      (table $kept 0 exnref)
      {drop_each}
      {keep}
      (func (export "forget") (table.fill $kept (i32.const 0) (ref.null exn) (table.size $kept))))"#
    );
    let (mut store, instance) = setup(&wat);
    // More throws than the store may hold at once: each caught one is freed at its catch.
    let run = instance.get_typed_func::<i32, i32>(&mut store, "run").unwrap();
    let n: i32 = 1_100_000;
    let expected = (1..=n).fold(0i32, |a, b| a.wrapping_add(b));
    assert_eq!(run.call(&mut store, n).unwrap(), expected);
    // References wasm drops are collected while it runs...
    let drop_each = instance.get_typed_func::<i32, ()>(&mut store, "drop_each").unwrap();
    drop_each.call(&mut store, n).unwrap();
    // ... and past the bound of live ones the throw fails cleanly, and the store works on.
    let keep = instance.get_typed_func::<i32, ()>(&mut store, "keep").unwrap();
    let err = keep.call(&mut store, n).unwrap_err();
    assert!(err.to_string().contains("live exceptions"), "{err}");
    let forget = instance.get_typed_func::<(), ()>(&mut store, "forget").unwrap();
    forget.call(&mut store, ()).unwrap();
    assert_eq!(run.call(&mut store, 3).unwrap(), 6);
}

#[test]
fn legacy_exceptions_are_off_unless_turned_on() {
    let wat = r#"(module
      (tag $e (param i32))
      (func (export "run") (result i32)
        try (result i32)
          (throw $e (i32.const 9))
        catch $e
        end))"#;
    let err = Module::new(&Engine::default(), wat).err().unwrap();
    assert!(
        err.to_string().starts_with("unsupported: legacy-exceptions (enable with -W legacy-exceptions=y)"),
        "{err}"
    );
    let (mut store, instance) = setup_with(&[("legacy-exceptions", "y")], wat);
    let run = instance.get_typed_func::<(), i32>(&mut store, "run").unwrap();
    assert_eq!(run.call(&mut store, ()).unwrap(), 9);
}

#[test]
fn a_loop_of_throws_and_catches_spends_fuel() {
    let wat = r#"(module
      (tag $e)
      (func (export "spin") (loop $l (try_table (catch_all $l) (throw $e)))))"#;
    let (mut store, instance) = setup_with(&[("consume-fuel", "y")], wat);
    store.set_fuel(10_000).unwrap();
    let spin = instance.get_typed_func::<(), ()>(&mut store, "spin").unwrap();
    assert_eq!(spin.call(&mut store, ()).unwrap_err().as_trap(), Some(&Trap::OutOfFuel));
}

#[test]
fn a_legacy_rethrow_after_an_inner_clause_completed_rethrows_the_same_exception() {
    let wat = r#"(module
      (tag $e (param i32))
      (func (export "run") (result i32)
        (block $h (result i32)
          (try_table (catch $e $h)
            try
              (throw $e (i32.const 11))
            catch_all
              try
                (rethrow 1)
              catch_all
              end
              (rethrow 0)
            end)
          (i32.const -1))))"#;
    let (mut store, instance) = setup_with(&[("legacy-exceptions", "y")], wat);
    let run = instance.get_typed_func::<(), i32>(&mut store, "run").unwrap();
    for _ in 0..3 {
        assert_eq!(run.call(&mut store, ()).unwrap(), 11);
    }
}

#[test]
fn another_stores_exception_is_not_caught_here() {
    // Store `a`'s wasm throws; a host function of store `b` returns that error to `b`'s
    // wasm, whose `catch_all` must not take an exception of another store.
    let engine = Engine::default();
    let (a, a_instance) = {
        let module = Module::new(&engine, DEEP).unwrap();
        let mut store = Store::new(&engine, ());
        let instance = Instance::new(&mut store, &module, &[]).unwrap();
        (std::sync::Mutex::new(store), instance)
    };
    let b_wat = r#"(module
      (import "host" "call_a" (func $call_a))
      (func (export "run") (result i32)
        (block $h (try_table (catch_all $h) (call $call_a)) (return (i32.const 0)))
        (i32.const 1)))"#;
    let module = Module::new(&engine, b_wat).unwrap();
    let mut store = Store::new(&engine, ());
    let mut linker = Linker::new(&engine);
    linker
        .func_wrap("host", "call_a", move || -> kiln::Result<()> {
            let mut a = a.lock().unwrap();
            let uncaught = a_instance.get_typed_func::<i32, ()>(&mut *a, "uncaught").unwrap();
            uncaught.call(&mut *a, 3)
        })
        .unwrap();
    let instance = linker.instantiate(&mut store, &module).unwrap();
    let run = instance.get_typed_func::<(), i32>(&mut store, "run").unwrap();
    let err = run.call(&mut store, ()).unwrap_err();
    assert!(matches!(err, Error::Exception(_)), "{err}");
}

#[test]
fn an_exnref_reaches_the_host_as_one_and_goes_back() {
    let (mut store, instance) = setup(
        r#"(module
          (tag $e (export "e") (param i32))
          (global $kept (export "kept") (mut exnref) (ref.null exn))
          (func (export "catch") (param i32) (result exnref)
            (block $h (result exnref)
              (try_table (catch_all_ref $h) (throw $e (local.get 0)))
              (unreachable)))
          (func (export "keep") (param exnref) (global.set $kept (local.get 0)))
          (func (export "rethrow") (param exnref) (throw_ref (local.get 0))))"#,
    );
    let catch = instance.get_typed_func::<i32, Option<ExnRef>>(&mut store, "catch").unwrap();
    let exn = catch.call(&mut store, 7).unwrap().unwrap();
    let tag = instance.get_export(&mut store, "e").unwrap().into_tag().unwrap();
    assert!(Tag::eq(&exn.tag(&store).unwrap(), &tag, &store));
    assert!(matches!(exn.payload(&mut store).unwrap()[..], [Val::I32(7)]));

    // As a dynamically typed value, through a global, and thrown again.
    let keep = instance.get_func(&mut store, "keep").unwrap();
    keep.call(&mut store, &[Val::ExnRef(Some(exn.clone()))], &mut []).unwrap();
    store.gc();
    let kept = instance.get_global(&mut store, "kept").unwrap().get(&mut store);
    let Val::ExnRef(Some(kept)) = kept else { panic!("{kept:?}") };
    assert!(matches!(kept.payload(&mut store).unwrap()[..], [Val::I32(7)]));
    let rethrow = instance.get_func(&mut store, "rethrow").unwrap();
    let err = rethrow.call(&mut store, &[Val::ExnRef(Some(kept))], &mut []).unwrap_err();
    let Error::Exception(thrown) = err else { panic!("{err}") };
    assert!(matches!(thrown.payload(&mut store).unwrap()[..], [Val::I32(7)]));
    assert_eq!(rethrow.ty(&store).params(), &[kiln::ValType::ExnRef]);
    assert!(rethrow.call(&mut store, &[Val::ExternRef(None)], &mut []).is_err(), "an externref is no exnref");
    assert!(matches!(
        rethrow.call(&mut store, &[Val::null_exn_ref()], &mut []).unwrap_err().as_trap(),
        Some(Trap::NullExceptionReference)
    ));
}
