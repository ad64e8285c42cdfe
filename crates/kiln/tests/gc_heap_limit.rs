//! A program that allocates 10 GiB in total through a GC heap limited to 64 MiB finishes,
//! with the process's peak resident memory under 256 MiB. Alone in its test binary, so that
//! the peak it reads is its own.
use kiln::{Config, Engine, Instance, Module, Store};

/// The process's peak resident set, in bytes (`VmHWM`).
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib << 10
}

#[test]
fn ten_gib_through_a_64_mib_heap_stays_small() {
    let mut config = Config::new();
    config.set("gc-heap-max", "64m").unwrap();
    let engine = Engine::new(&config).unwrap();
    let module = Module::new(
        &engine,
        r#"(module
             (type $bytes (array (mut i8)))
             (table $ring 64 anyref)
             ;; Each 64 KiB array replaces one of the 64 the ring keeps, after writing to it.
             (func (export "churn") (param $n i32) (result i32)
               (local $a (ref null $bytes)) (local $sum i32)
               (loop $again
                 (local.set $a (array.new_default $bytes (i32.const 65536)))
                 (array.set $bytes (local.get $a) (i32.const 65535) (local.get $n))
                 (local.set $sum (i32.add (local.get $sum) (array.get_u $bytes (local.get $a) (i32.const 65535))))
                 (table.set $ring (i32.rem_u (local.get $n) (i32.const 64)) (local.get $a))
                 (br_if $again (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
               (local.get $sum)))"#,
    )
    .unwrap();
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let churn = instance.get_typed_func::<i32, i32>(&mut store, "churn").unwrap();
    let n: i32 = 10 << 14; // 10 GiB / 64 KiB
    let expected = (1..=n).fold(0i32, |sum, i| sum.wrapping_add(i & 0xff));
    assert_eq!(churn.call(&mut store, n).unwrap(), expected);
    let peak = peak_rss();
    assert!(peak < 256 << 20, "peak RSS {} MiB", peak >> 20);
}
