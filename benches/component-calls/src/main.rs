//! Times component calls in Kiln and in wasmtime 48 side by side, on the same components:
//! `host`: the host calls `process(name: string, items: list<record { id: u32, label: string }>)
//! -> string` (lowering a string and a list of records, lifting a string back); `fused`: a
//! guest calls the same function of another component (`run(n)` loops n calls). Prints the
//! time per call of each, best of 5, and Kiln's ratio to wasmtime (lower is better).
use std::time::{Duration, Instant};

const CALLEE: &str = r#"
  (component $Callee
    (core module $M
      (memory (export "mem") 1)
      (global $next (mut i32) (i32.const 4096))
      (func (export "realloc") (param i32 i32 i32 i32) (result i32)
        (local $p i32)
        ;; a bump allocator that starts over when the page is nearly full
        (if (i32.gt_u (i32.add (global.get $next) (local.get 3)) (i32.const 60000))
          (then (global.set $next (i32.const 4096))))
        (local.set $p (i32.and (i32.add (global.get $next) (i32.const 7)) (i32.const -8)))
        (global.set $next (i32.add (local.get $p) (local.get 3)))
        (local.get $p))
      ;; returns its string argument back: (ptr, len) stored at 8
      (func (export "process") (param $s i32) (param $n i32) (param $l i32) (param $ln i32) (result i32)
        (i32.store (i32.const 8) (local.get $s))
        (i32.store (i32.const 12) (local.get $n))
        (i32.const 8)))
    (core instance $m (instantiate $M))
    (type $item' (record (field "id" u32) (field "label" string)))
    (export $item "item" (type $item'))
    (func (export "process") (param "name" string) (param "items" (list $item)) (result string)
      (canon lift (core func $m "process") (memory (core memory $m "mem")) (realloc (core func $m "realloc")))))
"#;

fn component_text() -> String {
    format!(
        r#"(component
  {CALLEE}
  (component $Caller
    (type $item' (record (field "id" u32) (field "label" string)))
    (import "item" (type $item (eq $item')))
    (import "process" (func $process (param "name" string) (param "items" (list $item)) (result string)))
    (core module $Mem
      (memory (export "mem") 1)
      (global $next (mut i32) (i32.const 4096))
      (func (export "realloc") (param i32 i32 i32 i32) (result i32)
        (local $p i32)
        (if (i32.gt_u (i32.add (global.get $next) (local.get 3)) (i32.const 60000))
          (then (global.set $next (i32.const 4096))))
        (local.set $p (i32.and (i32.add (global.get $next) (i32.const 7)) (i32.const -8)))
        (global.set $next (i32.add (local.get $p) (local.get 3)))
        (local.get $p)))
    (core instance $mem (instantiate $Mem))
    (core func $process' (canon lower (func $process) (memory (core memory $mem "mem")) (realloc (core func $mem "realloc"))))
    (core module $M
      (import "" "mem" (memory 1))
      (import "" "process" (func $process (param i32 i32 i32 i32 i32)))
      ;; "kiln" at 100; three records {{id, label}} at 200, labels "a", "bb", "ccc" at 300
      (data (i32.const 100) "kiln")
      (data (i32.const 300) "abbccc")
      (func (export "run") (param $n i32) (result i32)
        (local $i i32)
        (i32.store (i32.const 200) (i32.const 1)) (i32.store (i32.const 204) (i32.const 300)) (i32.store (i32.const 208) (i32.const 1))
        (i32.store (i32.const 212) (i32.const 2)) (i32.store (i32.const 216) (i32.const 301)) (i32.store (i32.const 220) (i32.const 2))
        (i32.store (i32.const 224) (i32.const 3)) (i32.store (i32.const 228) (i32.const 303)) (i32.store (i32.const 232) (i32.const 3))
        (block $done (loop $again
          (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
          (call $process (i32.const 100) (i32.const 4) (i32.const 200) (i32.const 3) (i32.const 16))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $again)))
        (i32.load (i32.const 20))))
    (core instance $m (instantiate $M (with "" (instance (export "mem" (memory $mem "mem")) (export "process" (func $process'))))))
    (func (export "run") (param "n" u32) (result u32) (canon lift (core func $m "run"))))
  (instance $callee (instantiate $Callee))
  (instance $caller (instantiate $Caller (with "item" (type $callee "item")) (with "process" (func $callee "process"))))
  (export "callee" (instance $callee))
  (func (export "run") (alias export $caller "run")))"#
    )
}

fn best<E>(mut f: impl FnMut() -> Result<Duration, E>) -> Result<Duration, E> {
    let mut best = Duration::MAX;
    for _ in 0..5 {
        best = best.min(f()?);
    }
    Ok(best)
}

const HOST_CALLS: u32 = 20_000;
const FUSED_CALLS: u32 = 100_000;

fn kiln_times(text: &str) -> kiln::Result<(Duration, Duration)> {
    use kiln::component::{Component, Linker, Val};
    let engine = kiln::Engine::default();
    let component = Component::new(&engine, text)?;
    let mut store = kiln::Store::new(&engine, ());
    let instance = Linker::new(&engine).instantiate(&mut store, &component)?;
    let process =
        instance.get_func(&mut store, "callee#process").ok_or_else(|| kiln::Error::Other("no export `process`".into()))?;
    let item = |id: u32, label: &str| Val::Record(vec![("id".into(), Val::U32(id)), ("label".into(), Val::String(label.into()))]);
    let args = [Val::String("kiln".into()), Val::List(vec![item(1, "a"), item(2, "bb"), item(3, "ccc")])];
    let host = best(|| -> kiln::Result<Duration> {
        let start = Instant::now();
        for _ in 0..HOST_CALLS {
            let mut results = [Val::Bool(false)];
            process.call(&mut store, &args, &mut results)?;
        }
        Ok(start.elapsed() / HOST_CALLS)
    })?;
    let run = instance.get_typed_func::<(u32,), (u32,)>(&mut store, "run")?;
    let fused = best(|| -> kiln::Result<Duration> {
        let start = Instant::now();
        run.call(&mut store, (FUSED_CALLS,))?;
        Ok(start.elapsed() / FUSED_CALLS)
    })?;
    Ok((host, fused))
}

fn wasmtime_times(text: &str) -> wasmtime::Result<(Duration, Duration)> {
    use wasmtime::component::{Component, ComponentType, Lift, Linker, Lower};
    #[derive(ComponentType, Lift, Lower, Clone)]
    #[component(record)]
    struct Item {
        id: u32,
        label: String,
    }
    let engine = wasmtime::Engine::default();
    let component = Component::new(&engine, text)?;
    let mut store = wasmtime::Store::new(&engine, ());
    let instance = Linker::new(&engine).instantiate(&mut store, &component)?;
    let callee = instance.get_export_index(&mut store, None, "callee").ok_or_else(|| wasmtime::format_err!("no callee"))?;
    let process = instance.get_export_index(&mut store, Some(&callee), "process").ok_or_else(|| wasmtime::format_err!("no process"))?;
    let process = instance.get_typed_func::<(&str, &[Item]), (String,)>(&mut store, &process)?;
    let items = [Item { id: 1, label: "a".into() }, Item { id: 2, label: "bb".into() }, Item { id: 3, label: "ccc".into() }];
    let host = best(|| -> wasmtime::Result<Duration> {
        let start = Instant::now();
        for _ in 0..HOST_CALLS {
            process.call(&mut store, ("kiln", &items))?;
        }
        Ok(start.elapsed() / HOST_CALLS)
    })?;
    let run = instance.get_typed_func::<(u32,), (u32,)>(&mut store, "run")?;
    let fused = best(|| -> wasmtime::Result<Duration> {
        let start = Instant::now();
        run.call(&mut store, (FUSED_CALLS,))?;
        Ok(start.elapsed() / FUSED_CALLS)
    })?;
    Ok((host, fused))
}

fn main() -> anyhow::Result<()> {
    let text = component_text();
    let (kh, kf) = kiln_times(&text).map_err(|e| anyhow::anyhow!("kiln: {e}"))?;
    let (wh, wf) = wasmtime_times(&text).map_err(|e| anyhow::anyhow!("wasmtime: {e:?}"))?;
    println!("{:<8} {:>12} {:>14} {:>8}", "call", "kiln", "wasmtime 48", "ratio");
    for (name, k, w) in [("host", kh, wh), ("fused", kf, wf)] {
        println!("{name:<8} {:>10.0}ns {:>12.0}ns {:>8.2}", k.as_nanos(), w.as_nanos(), k.as_secs_f64() / w.as_secs_f64());
    }
    Ok(())
}
