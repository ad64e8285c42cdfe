//! The store's collector while wasm runs: references that wasm's suspended frames hold
//! survive a collection made from a host function (found through the stack maps of the
//! frames' call sites), and references nothing holds any more are released, even before the
//! call that made them returns.
use kiln::{Caller, Engine, ExternRef, Linker, Module, Rooted, Store};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A host value that counts its drops.
struct Counted(i32, Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.1.fetch_add(1, Ordering::SeqCst);
    }
}

/// What the host functions share: how many values were made and dropped.
#[derive(Default)]
struct Counts {
    made: usize,
    dropped: Arc<AtomicUsize>,
}

impl Counts {
    fn live(&self) -> usize {
        self.made - self.dropped.load(Ordering::SeqCst)
    }
}

fn linker(engine: &Engine) -> Linker<Counts> {
    let mut linker = Linker::<Counts>::new(engine);
    linker
        .func_wrap("host", "make", |mut caller: Caller<'_, Counts>, n: i32| {
            caller.data_mut().made += 1;
            let dropped = caller.data().dropped.clone();
            Some(ExternRef::new(&mut caller, Counted(n, dropped)).unwrap())
        })
        .unwrap();
    linker.func_wrap("host", "collect", |mut caller: Caller<'_, Counts>| caller.gc()).unwrap();
    linker.func_wrap("host", "live", |caller: Caller<'_, Counts>| caller.data().live() as i32).unwrap();
    linker
        .func_wrap("host", "value", |caller: Caller<'_, Counts>, r: Option<Rooted<ExternRef>>| {
            let data = r.and_then(|r| r.data(&caller).unwrap());
            data.and_then(|d| d.downcast_ref::<Counted>()).map_or(i32::MIN, |c| c.0)
        })
        .unwrap();
    linker
}

const IMPORTS: &str = r#"
    (import "host" "make" (func $make (param i32) (result externref)))
    (import "host" "collect" (func $collect))
    (import "host" "value" (func $value (param externref) (result i32)))
    (import "host" "live" (func $live (result i32)))"#;

#[test]
fn a_collection_while_wasm_runs_keeps_what_its_frames_hold() {
    let engine = Engine::default();
    let module = Module::new(
        &engine,
        format!(
            r#"(module {IMPORTS}
                 ;; Keeps one value across a loop that makes a value, collects, and forgets it.
                 (func (export "loop") (param $n i32) (result i32)
                   (local $keep externref) (local $tmp externref)
                   (local.set $keep (call $make (i32.const -1)))
                   (loop $again
                     (local.set $tmp (call $make (local.get $n)))
                     (call $collect)
                     ;; The kept value and this iteration's are alive, no other.
                     (if (i32.ne (call $live) (i32.const 2)) (then unreachable))
                     (br_if $again (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
                   ;; The last temporary and the kept one are both still alive.
                   (i32.add (call $value (local.get $keep)) (call $value (local.get $tmp))))
                 ;; Each frame holds its own value (and one on the operand stack) across
                 ;; the recursive call; the deepest frame collects.
                 (func $down (export "down") (param $depth i32) (result i32)
                   (local $mine externref)
                   (local.set $mine (call $make (local.get $depth)))
                   (call $value (call $make (i32.const 1000)))
                   (if (result i32) (local.get $depth)
                     (then (call $down (i32.sub (local.get $depth) (i32.const 1))))
                     (else
                       (call $collect)
                       ;; Every frame's own value is alive; the temporaries are not.
                       (if (i32.ne (call $live) (i32.const 201)) (then unreachable))
                       (i32.const 0)))
                   (i32.add)
                   (i32.add (call $value (local.get $mine)))))"#
        ),
    )
    .unwrap();
    let mut store = Store::new(&engine, Counts::default());
    let instance = linker(&engine).instantiate(&mut store, &module).unwrap();

    let run = instance.get_typed_func::<i32, i32>(&mut store, "loop").unwrap();
    assert_eq!(run.call(&mut store, 500).unwrap(), -1 + 1);
    assert_eq!(store.data().made, 501);
    // Everything was released once the call ended...
    store.gc();
    assert_eq!(store.data().live(), 0);

    // ... and while it ran, a collection released all but what the frame still held.
    let probe = Module::new(
        &engine,
        format!(
            r#"(module {IMPORTS}
                 (func (export "probe") (param $n i32)
                   (local $keep externref)
                   (local.set $keep (call $make (i32.const 7)))
                   (loop $again
                     (drop (call $make (local.get $n)))
                     (br_if $again (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
                   (call $collect)
                   ;; Only the kept value is alive, and it is intact.
                   (if (i32.ne (call $live) (i32.const 1)) (then unreachable))
                   (if (i32.ne (call $value (local.get $keep)) (i32.const 7)) (then unreachable))))"#
        ),
    )
    .unwrap();
    let probe_instance = linker(&engine).instantiate(&mut store, &probe).unwrap();
    let probe_fn = probe_instance.get_typed_func::<i32, ()>(&mut store, "probe").unwrap();
    probe_fn.call(&mut store, 100).unwrap();
    store.gc();
    assert_eq!(store.data().live(), 0);

    // Depth 200: 201 frames, each holding one value live across its call.
    let down = instance.get_typed_func::<i32, i32>(&mut store, "down").unwrap();
    let expected: i32 = (0..=200).sum::<i32>() + 201 * 1000;
    assert_eq!(down.call(&mut store, 200).unwrap(), expected);
    store.gc();
    assert_eq!(store.data().live(), 0);
}

#[test]
fn values_made_in_a_long_call_do_not_accumulate() {
    let engine = Engine::default();
    let module = Module::new(
        &engine,
        format!(
            r#"(module {IMPORTS}
                 (func (export "churn") (param $n i32)
                   (loop $again
                     (drop (call $value (call $make (local.get $n))))
                     (br_if $again (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))))"#
        ),
    )
    .unwrap();
    let mut store = Store::new(&engine, Counts::default());
    let peak = Arc::new(AtomicUsize::new(0));
    let mut linker = linker(&engine);
    linker.allow_shadowing(true);
    let watch = peak.clone();
    linker
        .func_wrap("host", "make", move |mut caller: Caller<'_, Counts>, n: i32| {
            caller.data_mut().made += 1;
            watch.fetch_max(caller.data().live(), Ordering::SeqCst);
            let dropped = caller.data().dropped.clone();
            Some(ExternRef::new(&mut caller, Counted(n, dropped)).unwrap())
        })
        .unwrap();
    let instance = linker.instantiate(&mut store, &module).unwrap();
    let churn = instance.get_typed_func::<i32, ()>(&mut store, "churn").unwrap();
    churn.call(&mut store, 100_000).unwrap();
    assert_eq!(store.data().made, 100_000);
    let peak = peak.load(Ordering::SeqCst);
    assert!(peak < 1_000, "{peak} values were alive at once in a call that holds at most one");
}
