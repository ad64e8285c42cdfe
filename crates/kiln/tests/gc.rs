//! The GC heap: objects stay alive exactly as long as something reaches them, wherever the
//! collection happens (in a deep call stack, from the host), the heap stays within its
//! limit and traps cleanly past it, and types are shared by the modules of an engine.
use kiln::{AnyRef, AsContextMut, Config, Engine, Error, I31, Instance, Module, RootScope, Rooted, Store, Trap, Val};

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
fn a_list_that_only_compiled_code_allocated_survives_collections() {
    // The heap is made for an array; every node of the list is then bumped inline, and only
    // junk of another type reaches the runtime (when it overflows the window): the first the
    // store hears of the nodes' type is the collection that must trace them.
    let (mut store, instance) = instance(
        &engine("1m"),
        r#"(type $junk (struct (field i64)))
           (type $bytes (array i8))
           (global $list (mut (ref null $node)) (ref.null $node))
           (func (export "build") (param $n i32)
             (drop (array.new_default $bytes (i32.const 1)))
             (loop $again
               (global.set $list (struct.new $node (global.get $list) (i64.extend_i32_u (local.get $n))))
               (br_if $again (local.tee $n (i32.sub (local.get $n) (i32.const 1))))))
           (func (export "churn") (param $n i32)
             (loop $again
               (drop (struct.new $junk (i64.extend_i32_u (local.get $n))))
               (br_if $again (local.tee $n (i32.sub (local.get $n) (i32.const 1))))))
           (func (export "sum") (result i64) (local $at (ref null $node)) (local $sum i64)
             (local.set $at (global.get $list))
             (block $end
               (loop $walk
                 (br_if $end (ref.is_null (local.get $at)))
                 (local.set $sum (i64.add (local.get $sum) (struct.get $node $v (local.get $at))))
                 (local.set $at (struct.get $node $next (local.get $at)))
                 (br $walk)))
             (local.get $sum))"#,
    );
    let build = instance.get_typed_func::<i32, ()>(&mut store, "build").unwrap();
    let churn = instance.get_typed_func::<i32, ()>(&mut store, "churn").unwrap();
    let sum = instance.get_typed_func::<(), i64>(&mut store, "sum").unwrap();
    build.call(&mut store, 1000).unwrap();
    churn.call(&mut store, 200_000).unwrap();
    assert_eq!(sum.call(&mut store, ()).unwrap(), (1..=1000).sum::<i64>());
}

#[test]
fn default_structs_in_reused_memory_are_all_zero() {
    // Structs of every storage type, all ones, fill the heap and are collected; the default
    // structs bumped into that memory next must read zero and null in every field.
    let (mut store, instance) = instance(
        &engine("1m"),
        r#"(type $all (struct (field (mut i8)) (field (mut i16)) (field (mut f32)) (field (mut f64))
                              (field (mut v128)) (field (mut funcref)) (field (mut anyref)) (field (mut i64))))
           (func $f)
           (elem declare func $f)
           (func (export "dirty") (param $n i32)
             (loop $again
               (drop (struct.new $all (i32.const -1) (i32.const -1) (f32.const -nan:0x7fffff)
                 (f64.const -nan:0xfffffffffffff) (v128.const i64x2 -1 -1) (ref.func $f)
                 (ref.i31 (i32.const -1)) (i64.const -1)))
               (br_if $again (local.tee $n (i32.sub (local.get $n) (i32.const 1))))))
           (func (export "clean") (param $n i32) (result i32) (local $s (ref null $all)) (local $ok i32)
             (local.set $ok (i32.const 1))
             (loop $again
               (local.set $s (struct.new_default $all))
               (local.set $ok (i32.and (local.get $ok) (i32.and
                 (i32.and (i32.eqz (struct.get_u $all 0 (local.get $s))) (i32.eqz (struct.get_u $all 1 (local.get $s))))
                 (i32.and
                   (i32.and (i32.eqz (i32.reinterpret_f32 (struct.get $all 2 (local.get $s))))
                            (i64.eqz (i64.reinterpret_f64 (struct.get $all 3 (local.get $s)))))
                   (i32.and
                     (i32.and (i32.eqz (v128.any_true (struct.get $all 4 (local.get $s))))
                              (ref.is_null (struct.get $all 5 (local.get $s))))
                     (i32.and (ref.is_null (struct.get $all 6 (local.get $s)))
                              (i64.eqz (struct.get $all 7 (local.get $s)))))))))
               (br_if $again (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
             (local.get $ok))"#,
    );
    let dirty = instance.get_typed_func::<i32, ()>(&mut store, "dirty").unwrap();
    let clean = instance.get_typed_func::<i32, i32>(&mut store, "clean").unwrap();
    dirty.call(&mut store, 20_000).unwrap();
    store.gc();
    assert_eq!(clean.call(&mut store, 20_000).unwrap(), 1);
}

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
fn a_rooted_object_survives_collections_and_is_refused_after_its_scope() {
    let (mut store, instance) = instance(
        &engine("1m"),
        &format!(
            r#"{CHURN}
            (func (export "make") (param $v i64) (result anyref) (struct.new $node (ref.null $node) (local.get $v)))
            (func (export "value") (param anyref) (result i64)
              (struct.get $node $v (ref.cast (ref $node) (local.get 0))))"#
        ),
    );
    let make = instance.get_typed_func::<i64, Option<Rooted<AnyRef>>>(&mut store, "make").unwrap();
    let value = instance.get_typed_func::<Option<Rooted<AnyRef>>, i64>(&mut store, "value").unwrap();
    let churn = instance.get_typed_func::<i32, ()>(&mut store, "churn").unwrap();
    let (escaped, owned) = {
        let mut scope = RootScope::new(&mut store);
        let held = make.call(&mut scope, 42).unwrap().unwrap();
        assert!(held.is_struct(&scope).unwrap());
        churn.call(&mut scope, 200_000).unwrap();
        scope.as_context_mut().gc();
        assert_eq!(value.call(&mut scope, Some(held)).unwrap(), 42, "it survived 200k allocations");
        assert_eq!(held.unwrap_struct(&scope).unwrap().field(&mut scope, 1).unwrap().i64(), Some(42));
        (held, held.to_owned_rooted(&mut scope).unwrap())
    };
    // The scope's entries are reused: the escaped root still is refused.
    let _reused = AnyRef::from_i31(&mut store, I31::wrapping_u32(1));
    assert!(matches!(escaped.is_struct(&store), Err(Error::Unrooted)));
    assert!(!escaped.is_rooted(&store));
    assert!(matches!(value.call(&mut store, Some(escaped)), Err(Error::Unrooted)));
    // The owned root outlives the scope.
    churn.call(&mut store, 200_000).unwrap();
    store.gc();
    let again = owned.to_rooted(&mut store).unwrap();
    assert_eq!(value.call(&mut store, Some(again)).unwrap(), 42);
    // Once its last owner drops, a copy of the reference is refused too, and a collection
    // may reuse its room.
    let copy: AnyRef = *owned;
    drop(owned);
    assert!(matches!(copy.is_struct(&store), Err(Error::Unrooted)));
    assert!(again.is_struct(&store).unwrap(), "a scoped root of it still holds it");
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

const HOARD: &str = r#"(module
   (type $bytes (array (mut i8)))
   (table $keep 0 anyref)
   (func (export "hoard")
     (loop $again
       (drop (table.grow $keep (array.new_default $bytes (i32.const 65536)) (i32.const 1)))
       (br $again)))
   (func (export "kept") (result i32) (table.size $keep)))"#;

/// A limiter that records what the GC heap asked, allowing `allow` bytes, failing past
/// `fail` bytes.
struct Watch {
    asked: Vec<(usize, usize, Option<usize>)>,
    allow: usize,
    fail: usize,
}

impl kiln::ResourceLimiter for Watch {
    fn memory_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> kiln::Result<bool> {
        self.asked.push((current, desired, maximum));
        if desired > self.fail {
            return Err(Error::msg("the host says no"));
        }
        Ok(desired <= self.allow)
    }
    fn table_growing(&mut self, _current: usize, _desired: usize, _maximum: Option<usize>) -> kiln::Result<bool> {
        Ok(true)
    }
}

#[test]
fn the_resource_limiter_bounds_the_heap() {
    let engine = Engine::default();
    let module = Module::new(&engine, HOARD).unwrap();
    // The limiter refuses past 2 MiB, though gc-heap-max is 4 GiB.
    let mut store = Store::new(&engine, Watch { asked: Vec::new(), allow: 2 << 20, fail: usize::MAX });
    store.limiter(|w| w);
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let hoard = instance.get_typed_func::<(), ()>(&mut store, "hoard").unwrap();
    let err = hoard.call(&mut store, ()).unwrap_err();
    assert_eq!(err.as_trap(), Some(&Trap::GcHeapOutOfMemory), "{err}");
    let kept = instance.get_typed_func::<(), i32>(&mut store, "kept").unwrap().call(&mut store, ()).unwrap();
    assert!((20..=32).contains(&kept), "{kept} arrays of 64 KiB in 2 MiB");
    let asked = &store.data().asked;
    assert_eq!(asked[0].0, 0, "asked before the heap is made: {asked:?}");
    assert!(asked.iter().all(|(c, d, m)| c < d && *m == Some(4 << 30)), "{asked:?}");
    // Refused doubling to 4 MiB, it asks for the least that serves, refused too.
    let refused: Vec<usize> = asked.iter().map(|a| a.1).filter(|d| *d > 2 << 20).collect();
    assert!(refused.len() >= 2 && refused.iter().any(|d| *d < 4 << 20), "{asked:?}");

    // A limiter's error is what the allocation fails with.
    let mut store = Store::new(&engine, Watch { asked: Vec::new(), allow: usize::MAX, fail: 1 << 20 });
    store.limiter(|w| w);
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let hoard = instance.get_typed_func::<(), ()>(&mut store, "hoard").unwrap();
    let err = hoard.call(&mut store, ()).unwrap_err();
    assert!(matches!(err, Error::Host(_)) && err.to_string().contains("the host says no"), "{err}");

    // StoreLimits' memory size bounds the heap as a memory.
    let limits = kiln::StoreLimitsBuilder::new().memory_size(1 << 20).build();
    let mut store = Store::new(&engine, limits);
    store.limiter(|l| l);
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let hoard = instance.get_typed_func::<(), ()>(&mut store, "hoard").unwrap();
    assert_eq!(hoard.call(&mut store, ()).unwrap_err().as_trap(), Some(&Trap::GcHeapOutOfMemory));
    let kept = instance.get_typed_func::<(), i32>(&mut store, "kept").unwrap().call(&mut store, ()).unwrap();
    assert!((8..=16).contains(&kept), "{kept} arrays of 64 KiB in 1 MiB");
}

#[test]
fn a_growth_the_allocation_did_not_need_fails_nothing() {
    // 640 KiB stay live in a heap the limiter fails past 1 MiB: every collection finds the
    // heap crowded and asks to grow, and the failure must not fail allocations that fit.
    let module = r#"(module
       (type $bytes (array (mut i8)))
       (table $keep 10 anyref)
       (func (export "run") (param $n i32) (local $i i32)
         (loop $fill
           (table.set $keep (local.get $i) (array.new_default $bytes (i32.const 65536)))
           (br_if $fill (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (i32.const 10))))
         (loop $churn
           (drop (array.new_default $bytes (i32.const 1000)))
           (br_if $churn (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))))"#;
    let engine = Engine::default();
    let module = Module::new(&engine, module).unwrap();
    let mut store = Store::new(&engine, Watch { asked: Vec::new(), allow: usize::MAX, fail: 1 << 20 });
    store.limiter(|w| w);
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let run = instance.get_typed_func::<i32, ()>(&mut store, "run").unwrap();
    run.call(&mut store, 20_000).unwrap();
    assert!(store.data().asked.iter().any(|a| a.1 > 1 << 20), "a growth past 1 MiB was asked and failed");
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
fn scopes_and_dropped_owners_release_what_the_host_held() {
    let (mut store, instance) = instance(
        &engine("1m"),
        "(global $g anyref (struct.new $node (ref.null $node) (i64.const 5))) (func (export \"get\") (result anyref) (global.get $g))",
    );
    let get = instance.get_typed_func::<(), Option<Rooted<AnyRef>>>(&mut store, "get").unwrap();
    let kept = get.call(&mut store, ()).unwrap().unwrap().to_owned_rooted(&mut store).unwrap();
    for _ in 0..100_000 {
        let mut scope = RootScope::new(&mut store);
        let r = get.call(&mut scope, ()).unwrap().unwrap();
        drop(r.to_owned_rooted(&mut scope).unwrap());
    }
    assert!(kept.is_struct(&store).unwrap());
    assert!(kept.as_eqref(&store).unwrap().is_some());
    assert!(kept.as_array(&store).unwrap().is_none());
}
