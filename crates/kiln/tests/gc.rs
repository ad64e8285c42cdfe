//! The GC heap: objects stay alive exactly as long as something reaches them, wherever the
//! collection happens (in a deep call stack, from the host), the heap stays within its
//! limit and traps cleanly past it, and types are shared by the modules of an engine.
use kiln::{AnyRef, Config, Engine, Error, Instance, Module, Store, Trap, Val};

/// An engine whose stores' GC heaps may grow to `max` bytes (`-W gc-heap-max` spelled).
fn engine(max: &str) -> Engine {
    let mut config = Config::new();
    config.set("gc-heap-max", max).unwrap();
    let engine = Engine::new(&config).unwrap();
    let bytes = kiln::parse_bytes("gc-heap-max", max).unwrap();
    let mut typed = Config::new();
    typed.gc_heap_max(bytes);
    assert_eq!(engine.settings(), Engine::new(&typed).unwrap().settings(), "the two ways to say it agree");
    engine
}

const NODE: &str = "(type $node (struct (field $next (mut (ref null $node))) (field $v i64)))";

fn instance(engine: &Engine, body: &str) -> (Store<()>, Instance) {
    let module = Module::new(engine, format!("(module {NODE} {body})")).unwrap();
    let mut store = Store::new(engine, ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    (store, instance)
}

/// Allocates `$n` nodes that nothing keeps.
const CHURN: &str = r#"
    (func $churn (export "churn") (param $n i32)
      (loop $again
        (drop (struct.new $node (ref.null $node) (i64.extend_i32_u (local.get $n))))
        (br_if $again (local.tee $n (i32.sub (local.get $n) (i32.const 1))))))"#;

#[test]
fn rings_that_only_reference_each_other_are_collected() {
    // 300k rings of three nodes are about 20 MiB of objects, through a heap of 1 MiB.
    let (mut store, instance) = instance(
        &engine("1m"),
        r#"(func (export "rings") (param $n i32) (result i64)
             (local $a (ref null $node)) (local $b (ref null $node)) (local $sum i64)
             (loop $again
               (local.set $a (struct.new $node (ref.null $node) (i64.const 1)))
               (local.set $b (struct.new $node (local.get $a) (i64.const 2)))
               (struct.set $node $next (local.get $a) (struct.new $node (local.get $b) (i64.const 3)))
               ;; Around the ring once: 1 + 3 + 2.
               (local.set $sum (i64.add (local.get $sum) (i64.add (struct.get $node $v (local.get $a))
                 (i64.add (struct.get $node $v (struct.get $node $next (local.get $a)))
                   (struct.get $node $v (struct.get $node $next (struct.get $node $next (local.get $a))))))))
               (br_if $again (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
             (local.get $sum))"#,
    );
    let rings = instance.get_typed_func::<i32, i64>(&mut store, "rings").unwrap();
    assert_eq!(rings.call(&mut store, 300_000).unwrap(), 300_000 * 6);
}

#[test]
fn a_collection_deep_in_the_stack_keeps_every_frames_objects() {
    let (mut store, instance) = instance(
        &engine("1m"),
        &format!(
            r#"{CHURN}
            ;; Each frame keeps a node of its own depth across the call below it; the
            ;; deepest churns through many collections; every frame reads its node back.
            (func $deep (export "deep") (param $d i32) (result i64)
              (local $mine (ref null $node))
              (local.set $mine (struct.new $node (ref.null $node) (i64.extend_i32_u (local.get $d))))
              (if (result i64) (local.get $d)
                (then (call $deep (i32.sub (local.get $d) (i32.const 1))))
                (else (call $churn (i32.const 200000)) (i64.const 0)))
              (if (i64.ne (struct.get $node $v (local.get $mine)) (i64.extend_i32_u (local.get $d)))
                (then unreachable))
              (i64.add (struct.get $node $v (local.get $mine))))"#
        ),
    );
    let deep = instance.get_typed_func::<i32, i64>(&mut store, "deep").unwrap();
    assert_eq!(deep.call(&mut store, 1000).unwrap(), (0..=1000).sum::<i64>());
}

#[test]
fn an_object_the_host_holds_survives_collections() {
    let (mut store, instance) = instance(
        &engine("1m"),
        &format!(
            r#"{CHURN}
            (func (export "make") (param $v i64) (result anyref) (struct.new $node (ref.null $node) (local.get $v)))
            (func (export "value") (param anyref) (result i64)
              (struct.get $node $v (ref.cast (ref $node) (local.get 0))))"#
        ),
    );
    let make = instance.get_typed_func::<i64, Option<AnyRef>>(&mut store, "make").unwrap();
    let value = instance.get_typed_func::<Option<AnyRef>, i64>(&mut store, "value").unwrap();
    let churn = instance.get_typed_func::<i32, ()>(&mut store, "churn").unwrap();
    let held = make.call(&mut store, 42).unwrap();
    assert!(held.as_ref().is_some_and(|r| r.is_struct(&store)));
    churn.call(&mut store, 200_000).unwrap();
    store.gc();
    assert_eq!(value.call(&mut store, held.clone()).unwrap(), 42);
    // Once the host lets go, a collection may reuse its room.
    drop(held);
    store.gc();
    churn.call(&mut store, 1000).unwrap();
}

#[test]
fn the_heap_limit_traps_and_leaves_the_store_usable() {
    let (mut store, instance) = instance(
        &engine("4m"),
        r#"(type $bytes (array (mut i8)))
           (table $keep 0 anyref)
           ;; Keeps 64 KiB arrays until the heap is full.
           (func (export "hoard")
             (loop $again
               (drop (table.grow $keep (array.new_default $bytes (i32.const 65536)) (i32.const 1)))
               (br $again)))
           (func (export "forget") (table.fill $keep (i32.const 0) (ref.null any) (table.size $keep)))
           (func (export "one") (result i32) (array.len (array.new_default $bytes (i32.const 65536))))
           (func (export "huge") (drop (array.new_default $bytes (i32.const -1))))"#,
    );
    let hoard = instance.get_typed_func::<(), ()>(&mut store, "hoard").unwrap();
    let err = hoard.call(&mut store, ()).unwrap_err();
    assert_eq!(err.as_trap(), Some(&Trap::GcHeapOutOfMemory), "{err}");
    let one = instance.get_typed_func::<(), i32>(&mut store, "one").unwrap();
    assert!(matches!(one.call(&mut store, ()), Err(Error::Trap(Trap::GcHeapOutOfMemory, _))), "still full");
    instance.get_typed_func::<(), ()>(&mut store, "forget").unwrap().call(&mut store, ()).unwrap();
    assert_eq!(one.call(&mut store, ()).unwrap(), 65536, "the store works on once the table lets go");
    let huge = instance.get_typed_func::<(), ()>(&mut store, "huge").unwrap();
    assert_eq!(huge.call(&mut store, ()).unwrap_err().as_trap(), Some(&Trap::AllocationTooLarge));
}

#[test]
fn casts_across_modules_follow_their_rec_groups() {
    let engine = Engine::default();
    let group = "(rec (type $a (sub (struct (field i32)))) (type $b (sub $a (struct (field i32) (field i64)))))";
    let maker = Module::new(
        &engine,
        format!(
            r#"(module {group}
                 (func (export "make_b") (result anyref) (struct.new $b (i32.const 7) (i64.const 8))))"#
        ),
    )
    .unwrap();
    // The same group (after a type of another group) is the same types; a group that
    // differs only in a field's mutability is not.
    let user = Module::new(
        &engine,
        format!(
            r#"(module (type (func)) {group}
                 (rec (type $c (sub (struct (field (mut i32))))) (type $d (sub $c (struct (field (mut i32)) (field i64)))))
                 (import "m" "make_b" (func $make_b (result anyref)))
                 (func (export "is_a") (result i32) (ref.test (ref $a) (call $make_b)))
                 (func (export "is_c") (result i32) (ref.test (ref $c) (call $make_b)))
                 (func (export "field") (result i32)
                   (block $no (result anyref)
                     (struct.get $a 0 (br_on_cast_fail $no anyref (ref $b) (call $make_b)))
                     (return))
                   (drop) (i32.const -1)))"#
        ),
    )
    .unwrap();
    let mut store = Store::new(&engine, ());
    let m = Instance::new(&mut store, &maker, &[]).unwrap();
    let make_b = m.get_func(&mut store, "make_b").unwrap();
    let u = Instance::new(&mut store, &user, &[make_b.into()]).unwrap();
    let call = |store: &mut Store<()>, name: &str| {
        let mut out = [Val::I32(0)];
        u.get_func(&mut *store, name).unwrap().call(&mut *store, &[], &mut out).unwrap();
        out[0].i32().unwrap()
    };
    assert_eq!(call(&mut store, "is_a"), 1);
    assert_eq!(call(&mut store, "is_c"), 0);
    assert_eq!(call(&mut store, "field"), 7);
}

#[test]
fn gc_can_be_turned_off() {
    let mut config = Config::new();
    config.set("gc", "n").unwrap();
    let engine = Engine::new(&config).unwrap();
    let err = Module::new(&engine, format!("(module {NODE} (func (drop (struct.new_default $node))))")).err().unwrap();
    assert!(matches!(err, Error::Invalid(_)) && err.to_string().contains("GC proposal is disabled"), "{err}");
    assert!(Module::new(&Engine::default(), format!("(module {NODE})")).is_ok(), "on by default");
}

#[test]
fn forgetting_the_references_the_host_dropped_keeps_those_it_holds() {
    let (mut store, instance) = instance(
        &engine("1m"),
        "(global $g anyref (struct.new $node (ref.null $node) (i64.const 5))) (func (export \"get\") (result anyref) (global.get $g))",
    );
    let get = instance.get_typed_func::<(), Option<AnyRef>>(&mut store, "get").unwrap();
    let kept = get.call(&mut store, ()).unwrap();
    for _ in 0..100_000 {
        drop(get.call(&mut store, ()).unwrap());
    }
    assert!(kept.is_some_and(|k| k.is_struct(&store)));
}
