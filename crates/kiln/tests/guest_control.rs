//! The controls an embedder has over a guest: fuel (consumed at wasmtime's costs, exactly the
//! same in every configuration), epoch deadlines (a second thread's `increment_epoch` stops
//! a guest that loops forever; a callback can extend the deadline and then stop it), and
//! resource limits (`StoreLimits` refusals return -1 through wasm and fail through the host
//! API, a limiter's error traps, count limits refuse instantiations), each leaving the store
//! usable.
use kiln::{
    AsContextMut, Config, Engine, Error, Instance, Module, ResourceLimiter, Store, StoreLimits, StoreLimitsBuilder,
    Table, TableType, Trap, UpdateDeadline, Val, ValType,
};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// `count(n)` runs a loop n times: 1 unit to enter, 8 per iteration, 1 for the final
/// `local.get`.
const COUNT: &str = r#"(module
  (func (export "count") (param $n i32) (result i32)
    (local $i i32)
    (loop $l
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
    (local.get $i)))"#;

fn engine(settings: &[(&str, &str)]) -> Engine {
    let mut config = Config::new();
    for (k, v) in settings {
        config.set(k, v).unwrap();
    }
    Engine::new(&config).unwrap()
}

fn fuel_engine() -> Engine {
    engine(&[("consume-fuel", "y")])
}

/// Call `count(n)` with `fuel`: the result, and the fuel left.
fn count_with(fuel: u64, n: i32) -> (kiln::Result<i32>, u64) {
    let engine = fuel_engine();
    let module = Module::new(&engine, COUNT).unwrap();
    let mut store = Store::new(&engine, ());
    store.as_context_mut().set_fuel(fuel).unwrap();
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let count = instance.get_typed_func::<i32, i32>(&mut store, "count").unwrap();
    let result = count.call(&mut store, n);
    (result, store.get_fuel().unwrap())
}

#[test]
fn fuel_runs_out_at_the_budget_and_not_before() {
    // 1000 iterations cost 8002; the last check is at the last loop header, after 7993.
    // (wasmtime 48's `-W fuel=N --invoke` agrees: 7994 is the least budget that runs.)
    let (result, left) = count_with(100_000, 1000);
    assert_eq!(result.unwrap(), 1000);
    assert_eq!(100_000 - left, 8002, "consumed");
    let (result, left) = count_with(8002, 1000);
    assert_eq!((result.unwrap(), left), (1000, 0), "exactly enough");
    assert!(count_with(7994, 1000).0.is_ok(), "just above the last check's need");
    let (result, _) = count_with(7993, 1000);
    let err = result.unwrap_err();
    assert_eq!(err.as_trap(), Some(&Trap::OutOfFuel));
    assert_eq!(err.to_string(), "wasm trap: all fuel consumed by WebAssembly");
    assert!(err.backtrace().is_some_and(|bt| !bt.frames.is_empty()), "the trap has a backtrace");
    // Entering costs one unit, so with one unit the entry check stops the first call.
    assert_eq!(count_with(1, 1).0.unwrap_err().as_trap(), Some(&Trap::OutOfFuel));
    assert!(count_with(2, 1).0.is_ok());
}

/// Calls, indirect calls, a host call, branches, `if`/`else`, a bulk operation and a
/// recursive function: everything whose fuel a configuration or inlining could change.
const BUSY: &str = r#"(module
  (import "host" "note" (func $note (param i32)))
  (memory 1)
  (table 2 funcref)
  (elem (i32.const 0) $double $fib)
  (type $unary (func (param i32) (result i32)))
  (func $double (param i32) (result i32) (i32.add (local.get 0) (local.get 0)))
  (func $fib (param $n i32) (result i32)
    (if (result i32) (i32.lt_u (local.get $n) (i32.const 2))
      (then (local.get $n))
      (else (i32.add (call $fib (i32.sub (local.get $n) (i32.const 1)))
                     (call $fib (i32.sub (local.get $n) (i32.const 2)))))))
  (func (export "run") (param $n i32) (result i32)
    (local $acc i32)
    (memory.fill (i32.const 0) (i32.const 7) (i32.const 100))
    (block $done
      (loop $l
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $acc (i32.add (local.get $acc)
          (call_indirect (type $unary) (local.get $n) (i32.rem_u (local.get $n) (i32.const 2)))))
        (call $note (local.get $acc))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $l)))
    (i32.add (local.get $acc) (call $fib (i32.const 10)))))"#;

/// The fuel `run(12)` of [`BUSY`] consumes in an engine with `settings` (and fuel), and its
/// result; the module is loaded back from its artifact if `through_artifact`.
fn busy_fuel(settings: &[(&str, &str)], through_artifact: bool) -> (i32, u64) {
    let mut all = vec![("consume-fuel", "y")];
    all.extend_from_slice(settings);
    let engine = engine(&all);
    let mut module = Module::new(&engine, BUSY).unwrap();
    if through_artifact {
        module = Module::deserialize_trusted(&engine, module.serialize().unwrap()).unwrap();
    }
    let mut store = Store::new(&engine, ());
    store.set_fuel(1_000_000).unwrap();
    store.set_epoch_deadline(u64::MAX);
    // The host function sees the count as wasm left it before the call.
    let mut linker = kiln::Linker::new(&engine);
    linker
        .func_wrap("host", "note", |caller: kiln::Caller<'_, ()>, _: i32| {
            assert!(caller.get_fuel().unwrap() < 1_000_000)
        })
        .unwrap();
    let instance = linker.instantiate(&mut store, &module).unwrap();
    let run = instance.get_typed_func::<i32, i32>(&mut store, "run").unwrap();
    let result = run.call(&mut store, 12).unwrap();
    (result, 1_000_000 - store.get_fuel().unwrap())
}

#[test]
fn fuel_consumed_is_the_same_in_every_configuration_and_with_inlining() {
    let reference = busy_fuel(&[], false);
    let configurations: &[(&[(&str, &str)], bool)] = &[
        (&[("memory-reservation", "0"), ("memory-guard-size", "0")], false),
        (&[("memory-init-cow", "n"), ("table-lazy-init", "n")], false),
        (
            &[
                ("inlining", "y"),
                ("inlining-small-callee-size", "4294967295"),
                ("inlining-sum-size-threshold", "4294967295"),
            ],
            false,
        ),
        (&[("inlining", "n")], false),
        (&[("epoch-interruption", "y")], false),
        (&[], true),
    ];
    for (settings, through_artifact) in configurations {
        assert_eq!(
            busy_fuel(settings, *through_artifact),
            reference,
            "{settings:?}, through artifact: {through_artifact}"
        );
    }
}

#[test]
fn bulk_operators_are_charged_as_wasmtime_charges_them() {
    let engine = fuel_engine();
    let module = Module::new(
        &engine,
        r#"(module (memory 1)
             (func (export "oob") (memory.fill (i32.const 65530) (i32.const 0) (i32.const 100000)))
             (func (export "copy") (memory.copy (i32.const 0) (i32.const 64) (i32.const 100)))
             (func (export "fill") (param i32) (memory.fill (i32.const 0) (i32.const 0) (local.get 0)))
             (table i64 0 10 funcref)
             (func (export "grow") (param i32)
               (drop (table.grow (ref.null func) (i64.extend_i32_u (local.get 0))))))"#,
    )
    .unwrap();
    let call = |name: &str, fuel: u64, arg: Option<i32>| {
        let mut store = Store::new(&engine, ());
        store.set_fuel(fuel).unwrap();
        let instance = Instance::new(&mut store, &module, &[]).unwrap();
        let f = instance.get_func(&mut store, name).unwrap();
        let args: Vec<Val> = arg.into_iter().map(Val::I32).collect();
        let result = f.call(&mut store, &args, &mut []);
        (result.map_err(|e| e.as_trap().copied()), store.get_fuel().unwrap())
    };
    // Out of bounds is out of bounds, whatever fuel is left.
    assert_eq!(call("oob", 50, None).0, Err(Some(Trap::MemoryOutOfBounds)));
    // A small constant copy is charged without a check: 2 units run it (wasmtime 48 too).
    assert_eq!(call("copy", 2, None).0, Ok(()));
    assert_eq!(call("copy", 1, None).0, Err(Some(Trap::OutOfFuel)));
    // A dynamic fill costs a unit per byte, checked: 1 to enter, 4 operators, 1000 bytes.
    assert_eq!(call("fill", 10_000, Some(1000)), (Ok(()), 10_000 - 1005));
    assert_eq!(call("fill", 1005, Some(1000)).0, Err(Some(Trap::OutOfFuel)), "the check after the charge");
    assert_eq!(call("fill", 1006, Some(1000)).0, Ok(()));
    // table.grow costs a unit per element added: 1 to enter, 4 operators, 3 elements; a grow
    // past the maximum adds none and costs none, however large its 64-bit delta.
    assert_eq!(call("grow", 100, Some(3)), (Ok(()), 100 - 8));
    assert_eq!(call("grow", 100, Some(-1)), (Ok(()), 100 - 5));
}

#[test]
fn fuel_needs_the_setting_and_survives_large_amounts() {
    let plain = Engine::default();
    let mut store = Store::new(&plain, ());
    assert_eq!(store.set_fuel(1).unwrap_err().to_string(), "fuel is not configured in this store");
    assert!(store.get_fuel().is_err());
    // More than the store context holds: the rest waits in the reserve.
    let (result, left) = count_with(u64::MAX, 10);
    assert_eq!(result.unwrap(), 10);
    assert_eq!(left, u64::MAX - 82);
    // An artifact compiled without fuel does not load into an engine with it.
    let artifact = Module::new(&plain, COUNT).unwrap().serialize().unwrap();
    let err = Module::deserialize_trusted(&fuel_engine(), artifact).err().unwrap().to_string();
    assert!(err.contains("tunable.consume-fuel=n, but this engine has tunable.consume-fuel=y"), "{err}");
}

const SPIN: &str = r#"(module (func (export "spin") (loop $l (br $l))))"#;

#[test]
fn another_threads_increment_epoch_stops_a_loop_forever() {
    let engine = engine(&[("epoch-interruption", "y")]);
    let module = Module::new(&engine, SPIN).unwrap();
    let mut store = Store::new(&engine, ());
    store.set_epoch_deadline(1);
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let spin = instance.get_typed_func::<(), ()>(&mut store, "spin").unwrap();
    let ticked = Arc::new(Mutex::new(None));
    let ticker = {
        let (engine, ticked) = (engine.clone(), ticked.clone());
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            *ticked.lock().unwrap() = Some(Instant::now());
            engine.increment_epoch();
        })
    };
    let err = spin.call(&mut store, ()).unwrap_err();
    let stopped = Instant::now();
    ticker.join().unwrap();
    assert_eq!(err.as_trap(), Some(&Trap::Interrupt));
    assert_eq!(err.to_string(), "wasm trap: interrupt");
    let lag = stopped.duration_since(ticked.lock().unwrap().unwrap());
    assert!(lag < Duration::from_millis(100), "stopped {lag:?} after the deadline");
    // A new deadline lets it run again (and stop again).
    store.set_epoch_deadline(0);
    assert_eq!(spin.call(&mut store, ()).unwrap_err().as_trap(), Some(&Trap::Interrupt));
}

#[test]
fn a_callback_extends_the_deadline_then_stops_the_guest() {
    let engine = engine(&[("epoch-interruption", "y")]);
    let module = Module::new(&engine, SPIN).unwrap();
    let mut store = Store::new(&engine, 0usize);
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(|mut cx| {
        *cx.data_mut() += 1;
        if *cx.data() < 3 { Ok(UpdateDeadline::Continue(1)) } else { Err(Error::Other("enough".into())) }
    });
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let spin = instance.get_typed_func::<(), ()>(&mut store, "spin").unwrap();
    let stop = Arc::new(AtomicUsize::new(0));
    let ticker = {
        let (engine, stop) = (engine.clone(), stop.clone());
        std::thread::spawn(move || {
            while stop.load(Ordering::Relaxed) == 0 {
                std::thread::sleep(Duration::from_millis(5));
                engine.increment_epoch();
            }
        })
    };
    let err = spin.call(&mut store, ()).unwrap_err();
    assert_eq!(err.to_string(), "enough");
    assert_eq!(*store.data(), 3, "two extensions, then the error");
    // Interrupt from the callback traps.
    store.epoch_deadline_callback(|_| Ok(UpdateDeadline::Interrupt));
    assert_eq!(spin.call(&mut store, ()).unwrap_err().as_trap(), Some(&Trap::Interrupt));
    // And back to trapping by default.
    store.epoch_deadline_trap();
    store.set_epoch_deadline(0);
    assert_eq!(spin.call(&mut store, ()).unwrap_err().as_trap(), Some(&Trap::Interrupt));
    stop.store(1, Ordering::Relaxed);
    ticker.join().unwrap();
}

const GROWER: &str = r#"(module
  (memory (export "memory") 1)
  (table (export "table") 1 funcref)
  (func (export "grow_memory") (param i32) (result i32) (memory.grow (local.get 0)))
  (func (export "grow_table") (param i32) (result i32) (table.grow (ref.null func) (local.get 0)))
  (func (export "size") (result i32) (memory.size)))"#;

struct Limited {
    limits: StoreLimits,
}

fn limited(limits: StoreLimits) -> (Store<Limited>, Instance) {
    let engine = Engine::default();
    let module = Module::new(&engine, GROWER).unwrap();
    let mut store = Store::new(&engine, Limited { limits });
    store.limiter(|l| &mut l.limits);
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    (store, instance)
}

#[test]
fn store_limits_refuse_growth_with_minus_one_and_the_store_stays_usable() {
    let (mut store, instance) = limited(StoreLimitsBuilder::new().memory_size(4 << 16).table_elements(10).build());
    let grow_memory = instance.get_typed_func::<i32, i32>(&mut store, "grow_memory").unwrap();
    let grow_table = instance.get_typed_func::<i32, i32>(&mut store, "grow_table").unwrap();
    assert_eq!(grow_memory.call(&mut store, 4).unwrap(), -1, "to 5 pages, past 4");
    assert_eq!(grow_memory.call(&mut store, 3).unwrap(), 1, "to 4 pages");
    assert_eq!(grow_memory.call(&mut store, 1).unwrap(), -1);
    assert_eq!(grow_table.call(&mut store, 10).unwrap(), -1, "to 11 elements, past 10");
    assert_eq!(grow_table.call(&mut store, 9).unwrap(), 1);
    // The host API asks the same limiter.
    let memory = instance.get_memory(&mut store, "memory").unwrap();
    assert!(memory.grow(&mut store, 1).is_err());
    assert_eq!(memory.grow(&mut store, 0).unwrap(), 4);
    let table = instance.get_table(&mut store, "table").unwrap();
    assert!(table.grow(&mut store, 1, Val::FuncRef(None)).is_err());
    assert!(table.grow(&mut store, 0, Val::FuncRef(None)).is_ok());
    let err = Table::new(&mut store, TableType::new(ValType::FuncRef, 11, None), Val::FuncRef(None)).err().unwrap();
    assert_eq!(err.to_string(), "table minimum size of 11 elements exceeds table limits");
    let err = kiln::Memory::new(&mut store, kiln::MemoryType::new(5, None)).err().unwrap();
    assert_eq!(err.to_string(), "memory minimum size of 5 pages exceeds memory limits");
    let size = instance.get_typed_func::<(), i32>(&mut store, "size").unwrap();
    assert_eq!(size.call(&mut store, ()).unwrap(), 4, "usable after the refusals");
}

#[test]
fn trap_on_grow_failure_traps_and_the_store_stays_usable() {
    let limits = StoreLimitsBuilder::new().memory_size(2 << 16).trap_on_grow_failure(true).build();
    let (mut store, instance) = limited(limits);
    let grow_memory = instance.get_typed_func::<i32, i32>(&mut store, "grow_memory").unwrap();
    let err = grow_memory.call(&mut store, 5).unwrap_err();
    assert_eq!(err.to_string(), "forcing trap when growing memory to 393216 bytes");
    assert_eq!(grow_memory.call(&mut store, 1).unwrap(), 1);
}

/// A limiter that fails with an error, or panics, when asked about memory.
struct Failing {
    panic: bool,
}

impl ResourceLimiter for Failing {
    fn memory_growing(&mut self, current: usize, _desired: usize, _maximum: Option<usize>) -> kiln::Result<bool> {
        if current == 0 {
            return Ok(true); // creation
        }
        if self.panic {
            panic!("limiter panicked");
        }
        Err(Error::Other("the limiter says no".into()))
    }

    fn table_growing(&mut self, _current: usize, _desired: usize, _maximum: Option<usize>) -> kiln::Result<bool> {
        Ok(true)
    }
}

#[test]
fn a_limiter_that_fails_traps_cleanly() {
    let engine = Engine::default();
    let module = Module::new(&engine, GROWER).unwrap();
    let mut store = Store::new(&engine, Failing { panic: false });
    store.limiter(|f| f as &mut dyn ResourceLimiter);
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let grow_memory = instance.get_typed_func::<i32, i32>(&mut store, "grow_memory").unwrap();
    assert_eq!(grow_memory.call(&mut store, 1).unwrap_err().to_string(), "the limiter says no");
    let grow_table = instance.get_typed_func::<i32, i32>(&mut store, "grow_table").unwrap();
    assert_eq!(grow_table.call(&mut store, 2).unwrap(), 1, "the store is usable after the trap");
    store.data_mut().panic = true;
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| grow_memory.call(&mut store, 1)));
    assert!(panicked.is_err(), "the limiter's panic resumes in the host");
    store.data_mut().panic = false;
    assert_eq!(grow_table.call(&mut store, 1).unwrap(), 3);
}

/// Records what the limiter is asked.
#[derive(Default)]
struct Recorder {
    asked: Vec<(usize, usize, Option<usize>)>,
    failures: Vec<String>,
}

impl ResourceLimiter for Recorder {
    fn memory_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> kiln::Result<bool> {
        self.asked.push((current, desired, maximum));
        Ok(true)
    }

    fn memory_grow_failed(&mut self, error: Error) -> kiln::Result<()> {
        self.failures.push(error.to_string());
        Ok(())
    }

    fn table_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> kiln::Result<bool> {
        self.asked.push((current, desired, maximum));
        Ok(true)
    }
}

#[test]
fn the_limiter_is_asked_with_wasmtimes_values() {
    let engine = Engine::default();
    let module = Module::new(&engine, GROWER).unwrap();
    let mut store = Store::new(&engine, Recorder::default());
    store.limiter(|r| r as &mut dyn ResourceLimiter);
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let grow_memory = instance.get_typed_func::<i32, i32>(&mut store, "grow_memory").unwrap();
    assert_eq!(grow_memory.call(&mut store, 2).unwrap(), 1);
    assert_eq!(grow_memory.call(&mut store, -1).unwrap(), -1, "past the type's 65536 pages");
    let (page, four_gib) = (1 << 16, Some(1 << 32));
    assert_eq!(
        store.data().asked,
        vec![(0, page, four_gib), (0, 1, Some(u32::MAX as usize)), (page, 3 * page, four_gib)],
        "creation of the memory and the table, then one growth"
    );
    assert_eq!(store.data().failures, vec!["memory growth exceeds memory type's limits".to_string()]);
}

#[test]
fn count_limits_refuse_instantiations() {
    let engine = Engine::default();
    let module = Module::new(&engine, GROWER).unwrap();
    let mut store = Store::new(&engine, Limited { limits: StoreLimitsBuilder::new().instances(2).build() });
    store.limiter(|l| &mut l.limits);
    Instance::new(&mut store, &module, &[]).unwrap();
    Instance::new(&mut store, &module, &[]).unwrap();
    let err = Instance::new(&mut store, &module, &[]).err().unwrap();
    assert_eq!(err.to_string(), "resource limit exceeded: instance count too high at 3");
    for (limits, message) in [
        (StoreLimitsBuilder::new().memories(0).build(), "resource limit exceeded: memory count too high at 1"),
        (StoreLimitsBuilder::new().tables(0).build(), "resource limit exceeded: table count too high at 1"),
        (StoreLimitsBuilder::new().memory_size(0).build(), "memory minimum size of 1 pages exceeds memory limits"),
        (StoreLimitsBuilder::new().table_elements(0).build(), "table minimum size of 1 elements exceeds table limits"),
    ] {
        let mut store = Store::new(&engine, Limited { limits });
        store.limiter(|l| &mut l.limits);
        assert_eq!(Instance::new(&mut store, &module, &[]).err().unwrap().to_string(), message);
    }
}
