//! Typed function references through the embedding API. Compiled code trusts a `(ref $t)` to
//! be a function of type `$t` (`call_ref` checks nothing) and a non-nullable reference never
//! to be null, so every way the host has of putting a reference into wasm — a call's
//! arguments, `Global::set`, `Table::set` and `grow` — must check the exact type. Types are
//! canonical across modules: a typed function type in one module equals the same type in
//! another, so such functions, globals and tables link.
use kiln::{Engine, Extern, Func, Instance, Linker, Module, Store, Val};

/// A module with a typed table, a typed global and a function taking a typed reference.
const TYPED: &str = r#"(module
  (type $ii (func (param i32) (result i32)))
  (type $v (func))
  (func $inc (export "inc") (type $ii) (i32.add (local.get 0) (i32.const 1)))
  (func $nothing (export "nothing") (type $v))
  (table (export "table") 2 (ref null $ii))
  (global (export "global") (mut (ref null $ii)) (ref.func $inc))
  (global (export "fixed") (ref $ii) (ref.func $inc))
  (elem declare func $inc)
  (func (export "apply") (param $f (ref $ii)) (param i32) (result i32)
    (call_ref $ii (local.get 1) (local.get $f)))
  (func (export "apply_global") (param i32) (result i32)
    (call_ref $ii (local.get 0) (global.get 1)))
  (func (export "apply_table") (param i32) (param i32) (result i32)
    (call_ref $ii (local.get 1) (table.get 0 (local.get 0)))))"#;

fn instance(store: &mut Store<()>) -> kiln::Result<Instance> {
    let module = Module::new(store.engine(), TYPED)?;
    Instance::new(&mut *store, &module, &[])
}

/// A store with `TYPED` instantiated, and its functions `inc` (of type `$ii`) and `nothing`.
fn setup(engine: &Engine) -> kiln::Result<(Store<()>, Instance, Func, Func)> {
    let mut store = Store::new(engine, ());
    let instance = instance(&mut store)?;
    let inc = instance.get_func(&mut store, "inc").expect("inc");
    let nothing = instance.get_func(&mut store, "nothing").expect("nothing");
    Ok((store, instance, inc, nothing))
}

#[test]
fn arguments_of_typed_reference_types_are_checked() -> kiln::Result<()> {
    let (mut store, instance, inc, nothing) = setup(&Engine::default())?;
    let apply = instance.get_func(&mut store, "apply").expect("apply");
    let mut results = [Val::I32(0)];
    apply.call(&mut store, &[Val::FuncRef(Some(inc)), Val::I32(41)], &mut results)?;
    assert_eq!(results[0].i32(), Some(42));

    let err = apply.call(&mut store, &[Val::FuncRef(Some(nothing)), Val::I32(1)], &mut results).unwrap_err();
    assert!(err.to_string().contains("a function of another type"), "{err}");
    let err = apply.call(&mut store, &[Val::FuncRef(None), Val::I32(1)], &mut results).unwrap_err();
    assert!(err.to_string().contains("a null reference"), "{err}");
    // `$ii` mentions no typed reference: a host function of the same signature is of it.
    let host = Func::wrap(&mut store, |x: i32| x * 10);
    apply.call(&mut store, &[Val::FuncRef(Some(host)), Val::I32(4)], &mut results)?;
    assert_eq!(results[0].i32(), Some(40));
    Ok(())
}

#[test]
fn typed_globals_and_tables_take_only_their_type() -> kiln::Result<()> {
    let (mut store, instance, inc, nothing) = setup(&Engine::default())?;
    let global = instance.get_global(&mut store, "global").expect("global");
    let table = instance.get_table(&mut store, "table").expect("table");

    assert!(global.set(&mut store, Val::FuncRef(Some(nothing))).is_err());
    global.set(&mut store, Val::FuncRef(None))?;
    global.set(&mut store, Val::FuncRef(Some(inc)))?;
    let apply_global = instance.get_typed_func::<i32, i32>(&mut store, "apply_global")?;
    assert_eq!(apply_global.call(&mut store, 1)?, 2);

    assert!(table.set(&mut store, 0, Val::FuncRef(Some(nothing))).is_err());
    assert!(table.grow(&mut store, 1, Val::FuncRef(Some(nothing))).is_err());
    assert_eq!(table.size(&store), 2, "a refused grow changes nothing");
    table.set(&mut store, 1, Val::FuncRef(Some(inc)))?;
    let apply_table = instance.get_typed_func::<(i32, i32), i32>(&mut store, "apply_table")?;
    assert_eq!(apply_table.call(&mut store, (1, 9))?, 10);
    let err = apply_table.call(&mut store, (0, 9)).unwrap_err();
    assert!(err.to_string().contains("null function reference"), "{err}");
    Ok(())
}

#[test]
fn typed_function_types_are_equal_across_modules() -> kiln::Result<()> {
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let exporter = instance(&mut store)?;
    let mut linker = Linker::new(&engine);
    linker.instance(&mut store, "m", exporter)?;
    // The same types, declared again (in another order, under other names).
    let importer = Module::new(
        &engine,
        r#"(module
          (type $unit (func))
          (type $f (func (param i32) (result i32)))
          (type $takes (func (param (ref $f)) (param i32) (result i32)))
          (import "m" "apply" (func $apply (type $takes)))
          (import "m" "inc" (func $inc (type $f)))
          (import "m" "fixed" (global $fixed (ref $f)))
          (import "m" "global" (global (mut (ref null $f))))
          (import "m" "table" (table 2 (ref null $f)))
          (func (export "run") (result i32)
            (call $apply (global.get $fixed) (i32.const 6))))"#,
    )?;
    let run = linker.instantiate(&mut store, &importer)?.get_typed_func::<(), i32>(&mut store, "run")?;
    assert_eq!(run.call(&mut store, ())?, 7);

    // A mutable global's type must be equal, an immutable one's a subtype; a table's equal.
    for (import, ok) in [
        ("(import \"m\" \"fixed\" (global (ref null $f)))", true),
        ("(import \"m\" \"fixed\" (global (ref func)))", true),
        ("(import \"m\" \"fixed\" (global funcref))", true),
        ("(import \"m\" \"fixed\" (global (ref $g)))", false),
        ("(import \"m\" \"global\" (global (mut (ref null func))))", false),
        ("(import \"m\" \"global\" (global (mut (ref $f))))", false),
        ("(import \"m\" \"table\" (table 2 funcref))", false),
        ("(import \"m\" \"inc\" (func (type $g)))", false),
    ] {
        let wat = format!(
            "(module (type $f (func (param i32) (result i32))) (type $g (func (param i64) (result i32))) {import})"
        );
        let module = Module::new(&engine, &wat)?;
        let linked = linker.instantiate(&mut store, &module);
        assert_eq!(linked.is_ok(), ok, "{import}: {:?}", linked.err());
    }
    Ok(())
}

#[test]
fn self_referential_types_are_canonical_and_forgotten() -> kiln::Result<()> {
    let engine = Engine::default();
    let wat = r#"(module
      (type $t (func (param (ref null $t)) (result i32)))
      (func $f (export "f") (type $t) (i32.const 5))
      (elem declare func $f)
      (func (export "call") (result i32) (call_ref $t (ref.func $f) (ref.func $f))))"#;
    let mut store = Store::new(&engine, ());
    let a = Instance::new(&mut store, &Module::new(&engine, wat)?, &[])?;
    let f = a.get_export(&mut store, "f").and_then(Extern::into_func).expect("f");
    // A second module of the same type imports the first's function.
    let importer = Module::new(
        &engine,
        r#"(module (type $u (func (param (ref null $u)) (result i32)))
             (import "a" "f" (func (type $u))))"#,
    )?;
    Instance::new(&mut store, &importer, &[f.into()])?;
    let call = a.get_typed_func::<(), i32>(&mut store, "call")?;
    assert_eq!(call.call(&mut store, ())?, 5);
    Ok(())
}
