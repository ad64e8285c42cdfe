//! Calls from one component to another, which Kiln compiles as fused adapters: values of
//! every fused kind cross both ways between two memories (flat, through memory, strings,
//! lists copied whole and element by element, variants), canonical-ABI violations inside
//! the adapter trap with the canonical ABI's message and poison the instances, a host
//! function cannot re-enter the callee while the adapter is in it, and handles move and are
//! lent between three components.
mod common;

use common::call;
use kiln::component::{Component, Linker, Val};
use kiln::{Engine, Store};

/// The callee: each `echo-*` returns its argument (through memory where the result is not
/// one flat value); `bad-*` return a malformed string and char; `call-host` calls the host.
const CALLEE: &str = r#"
(component $callee
  (import "host" (func $host))
  (core func $host (canon lower (func $host)))
  (core module $M
    (import "" "host" (func $host))
    (memory (export "mem") 1)
    (global $next (mut i32) (i32.const 1024))
    (func (export "realloc") (param i32 i32 i32 i32) (result i32)
      (local $p i32)
      (local.set $p (i32.and (i32.add (global.get $next) (i32.sub (local.get 2) (i32.const 1)))
                             (i32.sub (i32.const 0) (local.get 2))))
      (global.set $next (i32.add (local.get $p) (local.get 3)))
      (local.get $p))
    (func (export "echo-pair") (param i32 i32) (result i32)
      (i32.store (i32.const 0) (local.get 0))
      (i32.store (i32.const 4) (local.get 1))
      (i32.const 0))
    (func (export "echo-i32") (param i32) (result i32) (local.get 0))
    (func (export "echo-opt") (param i32 i32) (result i32)
      (i32.store (i32.const 16) (local.get 0))
      (i32.store (i32.const 20) (local.get 1))
      (i32.const 16))
    (func (export "bad-utf8") (result i32)
      (i32.store (i32.const 0) (i32.const 8))
      (i32.store (i32.const 4) (i32.const 1))
      (i32.store8 (i32.const 8) (i32.const 0xff))
      (i32.const 0))
    (func (export "bad-char") (result i32) (i32.const 0xd800))
    (func (export "call-host") (call $host)))
  (core instance $m (instantiate $M (with "" (instance (export "host" (func $host))))))
  (type $rec' (record (field "a" u8) (field "b" string)))
  (export $rec "rec" (type $rec'))
  (func (export "echo-string") (param "s" string) (result string)
    (canon lift (core func $m "echo-pair") (memory (core memory $m "mem")) (realloc (core func $m "realloc"))))
  (func (export "echo-list") (param "l" (list u16)) (result (list u16))
    (canon lift (core func $m "echo-pair") (memory (core memory $m "mem")) (realloc (core func $m "realloc"))))
  (func (export "echo-records") (param "l" (list $rec)) (result (list $rec))
    (canon lift (core func $m "echo-pair") (memory (core memory $m "mem")) (realloc (core func $m "realloc"))))
  (func (export "echo-u8") (param "x" u8) (result u8) (canon lift (core func $m "echo-i32")))
  (func (export "echo-opt") (param "x" (option u32)) (result (option u32))
    (canon lift (core func $m "echo-opt") (memory (core memory $m "mem"))))
  (func (export "bad-utf8") (result string) (canon lift (core func $m "bad-utf8") (memory (core memory $m "mem"))))
  (func (export "bad-char") (result char) (canon lift (core func $m "bad-char")))
  (func (export "call-host") (canon lift (core func $m "call-host")))
)
"#;

/// The caller: forwards each of its exports to the callee's function of the same name, from
/// a memory of its own.
const CALLER: &str = r#"
(component $caller
  (type $rec'' (record (field "a" u8) (field "b" string)))
  (import "rec" (type $rec' (eq $rec'')))
  (import "echo-string" (func $es (param "s" string) (result string)))
  (import "echo-list" (func $el (param "l" (list u16)) (result (list u16))))
  (import "echo-records" (func $er (param "l" (list $rec')) (result (list $rec'))))
  (import "echo-u8" (func $eu (param "x" u8) (result u8)))
  (import "echo-opt" (func $eo (param "x" (option u32)) (result (option u32))))
  (import "bad-utf8" (func $bad (result string)))
  (import "bad-char" (func $badc (result char)))
  (import "call-host" (func $ch))
  (core module $Mem
    (memory (export "mem") 1)
    (global $next (mut i32) (i32.const 4096))
    (func (export "realloc") (param i32 i32 i32 i32) (result i32)
      (local $p i32)
      (local.set $p (i32.and (i32.add (global.get $next) (i32.sub (local.get 2) (i32.const 1)))
                             (i32.sub (i32.const 0) (local.get 2))))
      (global.set $next (i32.add (local.get $p) (local.get 3)))
      (local.get $p)))
  (core instance $mem (instantiate $Mem))
  (core func $es' (canon lower (func $es) (memory (core memory $mem "mem")) (realloc (core func $mem "realloc"))))
  (core func $el' (canon lower (func $el) (memory (core memory $mem "mem")) (realloc (core func $mem "realloc"))))
  (core func $er' (canon lower (func $er) (memory (core memory $mem "mem")) (realloc (core func $mem "realloc"))))
  (core func $eu' (canon lower (func $eu)))
  (core func $eo' (canon lower (func $eo) (memory (core memory $mem "mem"))))
  (core func $bad' (canon lower (func $bad) (memory (core memory $mem "mem")) (realloc (core func $mem "realloc"))))
  (core func $badc' (canon lower (func $badc)))
  (core func $ch' (canon lower (func $ch)))
  (core module $F
    (import "" "es" (func $es (param i32 i32 i32)))
    (import "" "el" (func $el (param i32 i32 i32)))
    (import "" "er" (func $er (param i32 i32 i32)))
    (import "" "eu" (func $eu (param i32) (result i32)))
    (import "" "eo" (func $eo (param i32 i32 i32)))
    (import "" "bad" (func $bad (param i32)))
    (import "" "badc" (func $badc (result i32)))
    (import "" "ch" (func $ch))
    (func (export "es") (param i32 i32) (result i32) (call $es (local.get 0) (local.get 1) (i32.const 64)) (i32.const 64))
    (func (export "el") (param i32 i32) (result i32) (call $el (local.get 0) (local.get 1) (i32.const 64)) (i32.const 64))
    (func (export "er") (param i32 i32) (result i32) (call $er (local.get 0) (local.get 1) (i32.const 64)) (i32.const 64))
    (func (export "eu") (param i32) (result i32) (call $eu (local.get 0)))
    (func (export "eo") (param i32 i32) (result i32) (call $eo (local.get 0) (local.get 1) (i32.const 64)) (i32.const 64))
    (func (export "bad") (result i32) (call $bad (i32.const 64)) (i32.const 64))
    (func (export "badc") (result i32) (call $badc))
    (func (export "ch") (call $ch)))
  (core instance $f (instantiate $F (with "" (instance
    (export "es" (func $es')) (export "el" (func $el')) (export "er" (func $er')) (export "eu" (func $eu'))
    (export "eo" (func $eo')) (export "bad" (func $bad')) (export "badc" (func $badc')) (export "ch" (func $ch'))))))
  (func (export "echo-string") (param "s" string) (result string)
    (canon lift (core func $f "es") (memory (core memory $mem "mem")) (realloc (core func $mem "realloc"))))
  (func (export "echo-list") (param "l" (list u16)) (result (list u16))
    (canon lift (core func $f "el") (memory (core memory $mem "mem")) (realloc (core func $mem "realloc"))))
  (func (export "echo-records") (param "l" (list $rec')) (result (list $rec'))
    (canon lift (core func $f "er") (memory (core memory $mem "mem")) (realloc (core func $mem "realloc"))))
  (func (export "echo-u8") (param "x" u8) (result u8) (canon lift (core func $f "eu")))
  (func (export "echo-opt") (param "x" (option u32)) (result (option u32))
    (canon lift (core func $f "eo") (memory (core memory $mem "mem"))))
  (func (export "bad-utf8") (result string) (canon lift (core func $f "bad") (memory (core memory $mem "mem")) (realloc (core func $mem "realloc"))))
  (func (export "bad-char") (result char) (canon lift (core func $f "badc")))
  (func (export "call-host") (canon lift (core func $f "ch")))
)
"#;

const NAMES: [&str; 8] =
    ["echo-string", "echo-list", "echo-records", "echo-u8", "echo-opt", "bad-utf8", "bad-char", "call-host"];

/// The two composed: the outer component exports the caller's functions, and the callee's
/// `echo-u8` directly (so the host can try to enter the callee).
fn composed() -> String {
    let with: String = NAMES.iter().map(|n| format!(r#"(with "{n}" (func $callee_i "{n}"))"#)).collect();
    // A function whose type names a record is exported with the outer component's own
    // name for it.
    let exports: String = NAMES
        .iter()
        .map(|n| match *n {
            "echo-records" => {
                format!(r#"(export "{n}" (func $caller_i "{n}") (func (param "l" (list $rec)) (result (list $rec))))"#)
            }
            _ => format!(r#"(export "{n}" (func $caller_i "{n}"))"#),
        })
        .collect();
    format!(
        r#"(component
          (import "host" (func $host))
          {CALLEE}
          {CALLER}
          (instance $callee_i (instantiate $callee (with "host" (func $host))))
          (instance $caller_i (instantiate $caller (with "rec" (type $callee_i "rec")) {with}))
          (export $rec "rec" (type $callee_i "rec"))
          {exports}
          (export "callee-echo-u8" (func $callee_i "echo-u8")))"#
    )
}

/// What the host keeps: the instance (for `host` to try to re-enter) and what it saw.
#[derive(Default)]
struct Host {
    instance: Option<kiln::component::Instance>,
    reentry: Option<String>,
}

fn instantiate(engine: &Engine, store: &mut Store<Host>) -> kiln::component::Instance {
    let component = Component::new(engine, composed()).expect("the composition compiles");
    let mut linker = Linker::<Host>::new(engine);
    linker
        .root()
        .func_new("host", |mut store, _, _| {
            // The callee is in this call (entered through the adapter): entering it again
            // must be refused.
            let instance = store.data().instance.expect("instance recorded");
            let f = instance.get_func(&mut store, "callee-echo-u8").expect("export exists");
            let mut out = [Val::Bool(false)];
            let outcome = f.call(&mut store, &[Val::U8(1)], &mut out);
            store.data_mut().reentry = Some(match outcome {
                Ok(()) => "entered".into(),
                Err(e) => e.to_string(),
            });
            Ok(())
        })
        .expect("defines host");
    let instance = linker.instantiate(&mut *store, &component).expect("instantiates");
    store.data_mut().instance = Some(instance);
    instance
}

#[test]
fn values_cross_between_two_components() -> kiln::Result<()> {
    let engine = Engine::default();
    let mut store = Store::new(&engine, Host::default());
    let instance = instantiate(&engine, &mut store);
    let s = Val::String("☃ snow, ok".into());
    assert_eq!(call(&mut store, &instance, "echo-string", std::slice::from_ref(&s))?, vec![s]);
    // ASCII for two eight-byte steps, then not: the adapter's scan hands it to the host.
    let long = Val::String("0123456789abcdef☃ and more ASCII after it".into());
    assert_eq!(call(&mut store, &instance, "echo-string", std::slice::from_ref(&long))?, vec![long]);
    let empty = Val::String(String::new());
    assert_eq!(call(&mut store, &instance, "echo-string", std::slice::from_ref(&empty))?, vec![empty]);
    let list = Val::List((0..3000).map(Val::U16).collect());
    assert_eq!(call(&mut store, &instance, "echo-list", std::slice::from_ref(&list))?, vec![list]);
    let rec = |a: u8, b: &str| Val::Record(vec![("a".into(), Val::U8(a)), ("b".into(), Val::String(b.into()))]);
    let records = Val::List(vec![rec(1, "one"), rec(2, ""), rec(255, "ünïcödé")]);
    assert_eq!(call(&mut store, &instance, "echo-records", std::slice::from_ref(&records))?, vec![records]);
    assert_eq!(call(&mut store, &instance, "echo-u8", &[Val::U8(200)])?, vec![Val::U8(200)]);
    let some = Val::Option(Some(Box::new(Val::U32(7))));
    assert_eq!(call(&mut store, &instance, "echo-opt", std::slice::from_ref(&some))?, vec![some]);
    assert_eq!(call(&mut store, &instance, "echo-opt", &[Val::Option(None)])?, vec![Val::Option(None)]);
    // Many calls: each allocates in both memories, and nothing leaks on the host.
    for i in 0..1000u32 {
        let v = Val::Option(Some(Box::new(Val::U32(i))));
        assert_eq!(call(&mut store, &instance, "echo-opt", std::slice::from_ref(&v))?, vec![v]);
    }
    Ok(())
}

#[test]
fn violations_in_a_fused_call_trap_and_poison_both_instances() -> kiln::Result<()> {
    let engine = Engine::default();
    for (name, message) in [("bad-utf8", "invalid utf-8"), ("bad-char", "invalid `char` bit pattern")] {
        let mut store = Store::new(&engine, Host::default());
        let instance = instantiate(&engine, &mut store);
        let err = call(&mut store, &instance, name, &[]).unwrap_err();
        assert!(err.to_string().contains(message), "{name}: {err}");
        // The callee trapped inside the adapter (its result was malformed): neither it nor
        // the caller may be entered again; the store is still usable.
        for entry in ["echo-u8", "callee-echo-u8"] {
            let err = call(&mut store, &instance, entry, &[Val::U8(1)]).unwrap_err();
            assert!(err.to_string().contains("cannot enter component instance"), "{name} then {entry}: {err}");
        }
        let fresh = instantiate(&engine, &mut store);
        assert_eq!(call(&mut store, &fresh, "echo-u8", &[Val::U8(2)])?, vec![Val::U8(2)]);
    }
    Ok(())
}

#[test]
fn the_host_cannot_reenter_a_callee_a_fused_call_is_in() -> kiln::Result<()> {
    let engine = Engine::default();
    let mut store = Store::new(&engine, Host::default());
    let instance = instantiate(&engine, &mut store);
    call(&mut store, &instance, "call-host", &[])?;
    let seen = store.data().reentry.clone().expect("the host function ran");
    assert!(seen.contains("cannot enter component instance"), "{seen}");
    // Once the fused call has returned, the callee may be entered again.
    assert_eq!(call(&mut store, &instance, "callee-echo-u8", &[Val::U8(9)])?, vec![Val::U8(9)]);
    Ok(())
}

/// Handles across fused calls: `A` defines a resource, `C` borrows it without owning it, and
/// `B` makes one in `A`, lends it to both, then gives it back to `A`.
const HANDLES: &str = r#"
(component
  (component $A
    (type $r' (resource (rep i32)))
    (export $r "r" (type $r'))
    (core func $new (canon resource.new $r'))
    (core func $rep (canon resource.rep $r'))
    (core func $drop (canon resource.drop $r'))
    (core module $M
      (import "" "new" (func $new (param i32) (result i32)))
      (import "" "rep" (func $rep (param i32) (result i32)))
      (import "" "drop" (func $drop (param i32)))
      (func (export "make") (param i32) (result i32) (call $new (local.get 0)))
      ;; a borrow given to the resource's owner is its representation
      (func (export "value") (param i32) (result i32) (local.get 0))
      (func (export "consume") (param i32) (result i32)
        (local $v i32)
        (local.set $v (call $rep (local.get 0)))
        (call $drop (local.get 0))
        (local.get $v)))
    (core instance $m (instantiate $M (with "" (instance
      (export "new" (func $new)) (export "rep" (func $rep)) (export "drop" (func $drop))))))
    (func (export "make") (param "v" u32) (result (own $r)) (canon lift (core func $m "make")))
    (func (export "value") (param "h" (borrow $r)) (result u32) (canon lift (core func $m "value")))
    (func (export "consume") (param "h" (own $r)) (result u32) (canon lift (core func $m "consume"))))
  (component $C
    (import "r" (type $r (sub resource)))
    (core func $drop (canon resource.drop $r))
    (core module $M
      (import "" "drop" (func $drop (param i32)))
      (func (export "peek") (param i32) (result i32) (call $drop (local.get 0)) (i32.const 7))
      (func (export "keep") (param i32)))
    (core instance $m (instantiate $M (with "" (instance (export "drop" (func $drop))))))
    (func (export "peek") (param "h" (borrow $r)) (result u32) (canon lift (core func $m "peek")))
    (func (export "keep") (param "h" (borrow $r)) (canon lift (core func $m "keep"))))
  (component $B
    (import "r" (type $r (sub resource)))
    (import "make" (func $make (param "v" u32) (result (own $r))))
    (import "value" (func $value (param "h" (borrow $r)) (result u32)))
    (import "consume" (func $consume (param "h" (own $r)) (result u32)))
    (import "peek" (func $peek (param "h" (borrow $r)) (result u32)))
    (import "keep" (func $keep (param "h" (borrow $r))))
    (core func $make' (canon lower (func $make)))
    (core func $value' (canon lower (func $value)))
    (core func $consume' (canon lower (func $consume)))
    (core func $peek' (canon lower (func $peek)))
    (core func $keep' (canon lower (func $keep)))
    (core module $M
      (import "" "make" (func $make (param i32) (result i32)))
      (import "" "value" (func $value (param i32) (result i32)))
      (import "" "consume" (func $consume (param i32) (result i32)))
      (import "" "peek" (func $peek (param i32) (result i32)))
      (import "" "keep" (func $keep (param i32)))
      (func (export "run") (result i32)
        (local $h i32)
        (local.set $h (call $make (i32.const 41)))
        (i32.add (i32.add (call $value (local.get $h)) (call $peek (local.get $h)))
                 (call $consume (local.get $h))))
      (func (export "run-keep") (call $keep (call $make (i32.const 1)))))
    (core instance $m (instantiate $M (with "" (instance
      (export "make" (func $make')) (export "value" (func $value')) (export "consume" (func $consume'))
      (export "peek" (func $peek')) (export "keep" (func $keep'))))))
    (func (export "run") (result u32) (canon lift (core func $m "run")))
    (func (export "run-keep") (canon lift (core func $m "run-keep"))))
  (instance $a (instantiate $A))
  (instance $c (instantiate $C (with "r" (type $a "r"))))
  (instance $b (instantiate $B (with "r" (type $a "r"))
    (with "make" (func $a "make")) (with "value" (func $a "value")) (with "consume" (func $a "consume"))
    (with "peek" (func $c "peek")) (with "keep" (func $c "keep"))))
  (export "run" (func $b "run"))
  (export "run-keep" (func $b "run-keep")))
"#;

#[test]
fn handles_move_and_lend_through_fused_calls() -> kiln::Result<()> {
    let engine = Engine::default();
    let component = Component::new(&engine, HANDLES)?;
    let mut store = Store::new(&engine, Host::default());
    let instance = Linker::<Host>::new(&engine).instantiate(&mut store, &component)?;
    // 41 (A reads its own rep) + 7 (C drops its borrow) + 41 (A takes the handle back).
    assert_eq!(call(&mut store, &instance, "run", &[])?, vec![Val::U32(89)]);
    assert_eq!(call(&mut store, &instance, "run", &[])?, vec![Val::U32(89)], "nothing was left behind");
    let err = call(&mut store, &instance, "run-keep", &[]).unwrap_err();
    assert!(err.to_string().contains("borrow handles still remain at the end of the call"), "{err}");
    // The trap left no call scope behind: a new instance in the same store lends as before.
    let fresh = Linker::<Host>::new(&engine).instantiate(&mut store, &component)?;
    assert_eq!(call(&mut store, &fresh, "run", &[])?, vec![Val::U32(89)]);
    Ok(())
}
