//! The component API end to end on hand-written components: host calls that pass and
//! return every kind of value through the canonical ABI, host imports, resources and their
//! handle rules, post-return, and canonical-ABI violations that must trap, never crash.
mod common;

use common::call;
use kiln::component::{Component, Linker, Val};
use kiln::{Engine, Store};

/// A guest with a bump allocator, exporting `echo-*` functions that return their argument
/// (lifted with memory and realloc), so every value makes a full lower → lift round trip.
const ECHO: &str = r#"
(component
  (core module $M
    (memory (export "mem") 1)
    (global $next (mut i32) (i32.const 1024))
    (func (export "realloc") (param i32 i32 i32 i32) (result i32)
      (local $p i32)
      (local.set $p (i32.and (i32.add (global.get $next) (i32.sub (local.get 2) (i32.const 1)))
                             (i32.sub (i32.const 0) (local.get 2))))
      (global.set $next (i32.add (local.get $p) (local.get 3)))
      (local.get $p))
    ;; (string) -> string: store the (ptr, len) pair and return its address
    (func (export "echo-pair") (param i32 i32) (result i32)
      (i32.store (i32.const 0) (local.get 0))
      (i32.store (i32.const 4) (local.get 1))
      (i32.const 0))
    (func (export "echo-u8") (param i32) (result i32) (local.get 0))
    (func (export "echo-f64") (param f64) (result f64) (local.get 0))
    ;; option<u32>: flat (i32 disc, i32 payload) -> stored at 16
    (func (export "echo-opt") (param i32 i32) (result i32)
      (i32.store (i32.const 16) (local.get 0))
      (i32.store (i32.const 20) (local.get 1))
      (i32.const 16))
    (func (export "bad-utf8") (result i32)
      (i32.store (i32.const 0) (i32.const 8))
      (i32.store (i32.const 4) (i32.const 1))
      (i32.store8 (i32.const 8) (i32.const 0xff))
      (i32.const 0))
  )
  (core instance $m (instantiate $M))
  (type $rec' (record (field "a" u8) (field "b" string)))
  (export $rec "rec" (type $rec'))
  (func (export "echo-string") (param "s" string) (result string)
    (canon lift (core func $m "echo-pair") (memory (core memory $m "mem")) (realloc (core func $m "realloc"))))
  (func (export "echo-list") (param "l" (list u16)) (result (list u16))
    (canon lift (core func $m "echo-pair") (memory (core memory $m "mem")) (realloc (core func $m "realloc"))))
  (func (export "echo-records") (param "l" (list $rec)) (result (list $rec))
    (canon lift (core func $m "echo-pair") (memory (core memory $m "mem")) (realloc (core func $m "realloc"))))
  (func (export "echo-u8") (param "x" u8) (result u8) (canon lift (core func $m "echo-u8")))
  (func (export "echo-f64") (param "x" f64) (result f64) (canon lift (core func $m "echo-f64")))
  (func (export "echo-opt") (param "x" (option u32)) (result (option u32))
    (canon lift (core func $m "echo-opt") (memory (core memory $m "mem"))))
  (func (export "bad-utf8") (result string) (canon lift (core func $m "bad-utf8") (memory (core memory $m "mem"))))
)
"#;

#[test]
fn values_round_trip_through_the_canonical_abi() -> kiln::Result<()> {
    let engine = Engine::default();
    let component = Component::new(&engine, ECHO)?;
    let mut store = Store::new(&engine, ());
    let instance = Linker::new(&engine).instantiate(&mut store, &component)?;
    let s = Val::String("☃ snow, ok".into());
    assert_eq!(call(&mut store, &instance, "echo-string", std::slice::from_ref(&s))?, vec![s]);
    let list = Val::List((0..300).map(Val::U16).collect());
    assert_eq!(call(&mut store, &instance, "echo-list", std::slice::from_ref(&list))?, vec![list]);
    let rec = |a: u8, b: &str| Val::Record(vec![("a".into(), Val::U8(a)), ("b".into(), Val::String(b.into()))]);
    let records = Val::List(vec![rec(1, "one"), rec(2, ""), rec(255, "ünïcödé")]);
    assert_eq!(call(&mut store, &instance, "echo-records", std::slice::from_ref(&records))?, vec![records]);
    assert_eq!(call(&mut store, &instance, "echo-u8", &[Val::U8(200)])?, vec![Val::U8(200)]);
    assert_eq!(call(&mut store, &instance, "echo-f64", &[Val::Float64(-0.5)])?, vec![Val::Float64(-0.5)]);
    let some = Val::Option(Some(Box::new(Val::U32(7))));
    assert_eq!(call(&mut store, &instance, "echo-opt", std::slice::from_ref(&some))?, vec![some]);
    assert_eq!(call(&mut store, &instance, "echo-opt", &[Val::Option(None)])?, vec![Val::Option(None)]);
    Ok(())
}

#[test]
fn canonical_abi_violations_trap_poison_the_instance_and_leave_the_store_usable() -> kiln::Result<()> {
    let engine = Engine::default();
    let component = Component::new(&engine, ECHO)?;
    let mut store = Store::new(&engine, ());
    let instance = Linker::new(&engine).instantiate(&mut store, &component)?;
    // An argument of the wrong type is the caller's error, not a trap.
    let err = call(&mut store, &instance, "echo-u8", &[Val::String("x".into())]).unwrap_err();
    assert!(err.to_string().contains("type mismatch"), "{err}");
    assert_eq!(call(&mut store, &instance, "echo-u8", &[Val::U8(1)])?, vec![Val::U8(1)]);
    let err = call(&mut store, &instance, "bad-utf8", &[]).unwrap_err();
    assert!(err.to_string().contains("invalid utf-8"), "{err}");
    // The trap poisons the instance, as the canonical ABI says; the store is still usable.
    let err = call(&mut store, &instance, "echo-u8", &[Val::U8(1)]).unwrap_err();
    assert!(err.to_string().contains("cannot enter component instance"), "{err}");
    let fresh = Linker::new(&engine).instantiate(&mut store, &component)?;
    assert_eq!(call(&mut store, &fresh, "echo-u8", &[Val::U8(2)])?, vec![Val::U8(2)]);
    Ok(())
}

#[test]
fn host_imports_receive_lifted_values() -> kiln::Result<()> {
    let engine = Engine::default();
    let component = Component::new(
        &engine,
        r#"(component
          (import "host" (instance $host (export "greet" (func (param "name" string) (result u32)))))
          (alias export $host "greet" (func $greet))
          (core module $Mem (memory (export "mem") 1))
          (core instance $mem (instantiate $Mem))
          (core func $greet' (canon lower (func $greet) (memory (core memory $mem "mem"))))
          (core module $M
            (import "" "mem" (memory 1))
            (import "" "greet" (func $greet (param i32 i32) (result i32)))
            (data (i32.const 100) "kiln")
            (func (export "run") (result i32) (call $greet (i32.const 100) (i32.const 4))))
          (core instance $m (instantiate $M (with "" (instance (export "mem" (memory $mem "mem")) (export "greet" (func $greet'))))))
          (func (export "run") (result u32) (canon lift (core func $m "run"))))"#,
    )?;
    let mut linker = Linker::<Vec<String>>::new(&engine);
    linker.instance("host")?.func_new("greet", |mut store, params, results| {
        let Val::String(name) = &params[0] else { panic!("a string") };
        store.data_mut().push(name.clone());
        results[0] = Val::U32(name.len() as u32 * 10);
        Ok(())
    })?;
    let mut store = Store::new(&engine, Vec::new());
    let instance = linker.instantiate(&mut store, &component)?;
    let f = instance.get_func(&mut store, "run").expect("run");
    let mut results = [Val::Bool(false)];
    f.call(&mut store, &[], &mut results)?;
    assert_eq!(results[0], Val::U32(40));
    assert_eq!(store.data(), &["kiln".to_string()]);
    // A missing import is a link error naming it.
    let err = Linker::<()>::new(&engine).instantiate(&mut Store::new(&engine, ()), &component).unwrap_err();
    assert!(err.to_string().contains("host#greet"), "{err}");
    Ok(())
}

#[test]
fn malformed_components_are_errors() {
    let engine = Engine::default();
    for bytes in [&b"\0asm\x0d\0\x01\0\xff"[..], b"\0asm\x0d\0\x01", b"(component (core module (func (result i32))))"] {
        let err = Component::new(&engine, bytes).err().expect("refused");
        assert!(matches!(err, kiln::Error::Invalid(_)), "{err}");
    }
    let err = Component::new(&engine, "(module)").err().expect("a core module is not a component");
    assert!(err.to_string().contains("not a component"), "{err}");
}

kiln::component_record! {
    #[derive(Debug, Clone, PartialEq)]
    struct Rec { a: u8, b: String }
}

#[test]
fn typed_functions_check_their_types_once() -> kiln::Result<()> {
    let engine = Engine::default();
    let component = Component::new(&engine, ECHO)?;
    let mut store = Store::new(&engine, ());
    let instance = Linker::new(&engine).instantiate(&mut store, &component)?;
    let echo = instance.get_typed_func::<(Vec<Rec>,), (Vec<Rec>,)>(&mut store, "echo-records")?;
    let recs = vec![Rec { a: 1, b: "x".into() }, Rec { a: 2, b: "yz".into() }];
    assert_eq!(echo.call(&mut store, (recs.clone(),))?.0, recs);
    let opt = instance.get_typed_func::<(Option<u32>,), (Option<u32>,)>(&mut store, "echo-opt")?;
    assert_eq!(opt.call(&mut store, (Some(9),))?.0, Some(9));
    let s = instance.get_typed_func::<(&str,), (String,)>(&mut store, "echo-string")?;
    assert_eq!(s.call(&mut store, ("typed",))?.0, "typed");
    let err = instance.get_typed_func::<(u32,), (u32,)>(&mut store, "echo-u8").err().expect("u8 is not u32");
    assert!(err.to_string().contains("type mismatch"), "{err}");
    Ok(())
}

/// A host resource the guest creates, borrows twice and drops.
struct Counter(u32);

struct Host {
    table: kiln::component::ResourceTable,
    drops: u32,
}

#[test]
fn host_resources_are_created_borrowed_and_destroyed() -> kiln::Result<()> {
    use kiln::component::{Resource, ResourceType};
    let engine = Engine::default();
    let component = Component::new(
        &engine,
        r#"(component
          (import "host" (instance $h
            (export "counter" (type $c (sub resource)))
            (export "[constructor]counter" (func (param "start" u32) (result (own $c))))
            (export "[method]counter.bump" (func (param "self" (borrow $c)) (result u32)))))
          (alias export $h "counter" (type $c))
          (alias export $h "[constructor]counter" (func $new))
          (alias export $h "[method]counter.bump" (func $bump))
          (core func $new' (canon lower (func $new)))
          (core func $bump' (canon lower (func $bump)))
          (core func $drop (canon resource.drop $c))
          (core module $M
            (import "" "new" (func $new (param i32) (result i32)))
            (import "" "bump" (func $bump (param i32) (result i32)))
            (import "" "drop" (func $drop (param i32)))
            (func (export "run") (result i32)
              (local $h i32) (local $r i32)
              (local.set $h (call $new (i32.const 10)))
              (drop (call $bump (local.get $h)))
              (local.set $r (call $bump (local.get $h)))
              (call $drop (local.get $h))
              (local.get $r))
            (func (export "use-after-drop") (result i32)
              (local $h i32)
              (local.set $h (call $new (i32.const 0)))
              (call $drop (local.get $h))
              (call $bump (local.get $h))))
          (core instance $m (instantiate $M (with "" (instance
            (export "new" (func $new')) (export "bump" (func $bump')) (export "drop" (func $drop))))))
          (func (export "run") (result u32) (canon lift (core func $m "run")))
          (func (export "use-after-drop") (result u32) (canon lift (core func $m "use-after-drop"))))"#,
    )?;
    let mut linker = Linker::<Host>::new(&engine);
    let mut host = linker.instance("host")?;
    host.resource("counter", ResourceType::host::<Counter>(), |mut store, rep| {
        store.data_mut().table.delete(Resource::<Counter>::new_own(rep))?;
        store.data_mut().drops += 1;
        Ok(())
    })?;
    host.func_wrap("[constructor]counter", |mut store, (start,): (u32,)| {
        Ok((store.data_mut().table.push(Counter(start))?,))
    })?;
    host.func_wrap("[method]counter.bump", |mut store, (c,): (Resource<Counter>,)| {
        assert!(!c.owned(), "a method gets a borrow");
        let counter = store.data_mut().table.get_mut(&c)?;
        counter.0 += 1;
        Ok((counter.0,))
    })?;
    let mut store = Store::new(&engine, Host { table: kiln::component::ResourceTable::new(), drops: 0 });
    let instance = linker.instantiate(&mut store, &component)?;
    let run = instance.get_typed_func::<(), (u32,)>(&mut store, "run")?;
    assert_eq!(run.call(&mut store, ())?.0, 12);
    assert_eq!(store.data().drops, 1, "dropping the own handle ran the destructor");
    let err = instance.get_typed_func::<(), (u32,)>(&mut store, "use-after-drop")?.call(&mut store, ()).unwrap_err();
    assert!(err.to_string().contains("unknown handle index"), "{err}");
    // A host function whose Rust types disagree with the import is a link error.
    let mut bad = Linker::<Host>::new(&engine);
    let mut h = bad.instance("host")?;
    h.resource("counter", ResourceType::host::<Counter>(), |_, _| Ok(()))?;
    h.func_wrap("[constructor]counter", |_, (_s,): (String,)| Ok((Resource::<Counter>::new_own(0),)))?;
    h.func_wrap("[method]counter.bump", |_, (_c,): (Resource<Counter>,)| Ok((0u32,)))?;
    let err = bad.instantiate(&mut store, &component).unwrap_err();
    assert!(err.to_string().contains("[constructor]counter"), "{err}");
    Ok(())
}

/// A callee that keeps a borrow past its call traps, the borrow is taken back, and the
/// callee may not be entered again.
#[test]
fn a_borrow_kept_past_the_call_traps_and_poisons_the_callee() -> kiln::Result<()> {
    let engine = Engine::default();
    let component = Component::new(
        &engine,
        r#"(component
          (component $A
            (type $r (resource (rep i32)))
            (core func $new (canon resource.new $r))
            (core module $M
              (import "" "new" (func $new (param i32) (result i32)))
              (func (export "make") (result i32) (call $new (i32.const 7))))
            (core instance $m (instantiate $M (with "" (instance (export "new" (func $new))))))
            (export $r' "r" (type $r))
            (func (export "make") (result (own $r')) (canon lift (core func $m "make"))))
          (instance $a (instantiate $A))
          (alias export $a "r" (type $r))
          (component $B
            (import "r" (type $r (sub resource)))
            (core module $M (func (export "keep") (param i32)))
            (core instance $m (instantiate $M))
            (func (export "keep") (param "x" (borrow $r)) (canon lift (core func $m "keep"))))
          (instance $b (instantiate $B (with "r" (type $r))))
          (export "a" (instance $a))
          (export "b" (instance $b)))"#,
    )?;
    let mut store = Store::new(&engine, ());
    let instance = Linker::new(&engine).instantiate(&mut store, &component)?;
    let made = call(&mut store, &instance, "a#make", &[])?;
    let err = call(&mut store, &instance, "b#keep", &made).unwrap_err();
    assert!(err.to_string().contains("borrow handles still remain"), "{err}");
    let err = call(&mut store, &instance, "b#keep", &made).unwrap_err();
    assert!(err.to_string().contains("cannot enter component instance"), "{err}");
    Ok(())
}

/// Strings that all point at the same bytes cannot make the host lift more than a bounded
/// multiple of the guest's memory.
#[test]
fn aliased_strings_cannot_make_the_host_allocate_without_bound() -> kiln::Result<()> {
    let engine = Engine::default();
    let component = Component::new(
        &engine,
        r#"(component
          (core module $M
            (memory (export "mem") 2)
            ;; 4000 entries at 65536, each the string (0, 65536): zeros, valid UTF-8
            (func (export "f") (result i32)
              (local $i i32)
              (block $done (loop $again
                (br_if $done (i32.ge_u (local.get $i) (i32.const 4000)))
                (i32.store (i32.add (i32.const 65536) (i32.mul (local.get $i) (i32.const 8))) (i32.const 0))
                (i32.store (i32.add (i32.const 65540) (i32.mul (local.get $i) (i32.const 8))) (i32.const 65536))
                (local.set $i (i32.add (local.get $i) (i32.const 1)))
                (br $again)))
              (i32.store (i32.const 100000) (i32.const 65536))
              (i32.store (i32.const 100004) (i32.const 4000))
              (i32.const 100000)))
          (core instance $m (instantiate $M))
          (func (export "f") (result (list string)) (canon lift (core func $m "f") (memory (core memory $m "mem")))))"#,
    )?;
    let mut store = Store::new(&engine, ());
    let instance = Linker::new(&engine).instantiate(&mut store, &component)?;
    let err = call(&mut store, &instance, "f", &[]).unwrap_err();
    assert!(matches!(err, kiln::Error::Limit(_)), "{err}");
    Ok(())
}

/// An `own` the host got from a component is dropped by the host with its destructor run,
/// once.
#[test]
fn the_host_drops_a_guest_resource_and_its_destructor_runs() -> kiln::Result<()> {
    let engine = Engine::default();
    let component = Component::new(
        &engine,
        r#"(component
          (core module $D
            (global $drops (mut i32) (i32.const 0))
            (func (export "dtor") (param i32) (global.set $drops (i32.add (global.get $drops) (i32.const 1))))
            (func (export "drops") (result i32) (global.get $drops)))
          (core instance $d (instantiate $D))
          (type $r (resource (rep i32) (dtor (core func $d "dtor"))))
          (core func $new (canon resource.new $r))
          (core module $M
            (import "" "new" (func $new (param i32) (result i32)))
            (func (export "make") (result i32) (call $new (i32.const 5))))
          (core instance $m (instantiate $M (with "" (instance (export "new" (func $new))))))
          (export $r' "r" (type $r))
          (func (export "make") (result (own $r')) (canon lift (core func $m "make")))
          (func (export "drops") (result u32) (canon lift (core func $d "drops"))))"#,
    )?;
    let mut store = Store::new(&engine, ());
    let instance = Linker::new(&engine).instantiate(&mut store, &component)?;
    let [Val::Resource(r)] = call(&mut store, &instance, "make", &[])?[..] else { panic!("an own") };
    assert_eq!(call(&mut store, &instance, "drops", &[])?, vec![Val::U32(0)]);
    // A handle belongs to its store: another store with the same component refuses it.
    let mut other = Store::new(&engine, ());
    let there = Linker::new(&engine).instantiate(&mut other, &component)?;
    let [Val::Resource(theirs)] = call(&mut other, &there, "make", &[])?[..] else { panic!("an own") };
    let err = r.resource_drop(&mut other).unwrap_err();
    assert!(err.to_string().contains("another store"), "{err}");
    assert_eq!(call(&mut other, &there, "drops", &[])?, vec![Val::U32(0)], "nothing of the other store dropped");
    theirs.resource_drop(&mut other)?;
    r.resource_drop(&mut store)?;
    assert_eq!(call(&mut store, &instance, "drops", &[])?, vec![Val::U32(1)]);
    assert!(r.resource_drop(&mut store).is_err(), "a handle drops once");
    Ok(())
}
