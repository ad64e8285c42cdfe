//! Embedding Kiln in a Rust program: compile a module, give it a host function that reads
//! its memory and counts calls in the store's data, call its exports with static types, and
//! recover from a trap. Run it with `cargo run -p kiln --example embed`.
use kiln::{Caller, Engine, Error, Linker, Module, Store, Trap};

/// A module that greets through the host: `greet` passes a string in its memory to
/// `host.log`, and `divide` traps on a zero divisor.
const GUEST: &str = r#"
(module
  (import "host" "log" (func $log (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "hello from wasm")
  (func (export "greet") (call $log (i32.const 16) (i32.const 15)))
  (func (export "divide") (param i32 i32) (result i32)
    (i32.div_u (local.get 0) (local.get 1))))
"#;

/// What the host keeps in the store: every line the guest logged.
#[derive(Default)]
struct Host {
    lines: Vec<String>,
}

fn main() -> Result<(), Error> {
    let engine = Engine::default();
    let module = Module::new(&engine, GUEST)?;

    let mut linker = Linker::<Host>::new(&engine);
    linker.func_wrap("host", "log", |mut caller: Caller<'_, Host>, ptr: u32, len: u32| -> kiln::Result<()> {
        let memory = caller
            .get_export("memory")
            .and_then(|e| e.into_memory())
            .ok_or_else(|| Error::Host("the guest exports no memory".into()))?;
        let bytes = memory.data(&caller).get(ptr as usize..(ptr + len) as usize).map(<[u8]>::to_vec);
        let text = String::from_utf8(bytes.ok_or_else(|| Error::Host("string out of bounds".into()))?)
            .map_err(|e| Error::Host(Box::new(e)))?;
        caller.data_mut().lines.push(text);
        Ok(())
    })?;

    let mut store = Store::new(&engine, Host::default());
    let instance = linker.instantiate(&mut store, &module)?;

    let greet = instance.get_typed_func::<(), ()>(&mut store, "greet")?;
    greet.call(&mut store, ())?;
    println!("the guest said: {}", store.data().lines.join(" / "));

    let divide = instance.get_typed_func::<(i32, i32), i32>(&mut store, "divide")?;
    println!("84 / 2 = {}", divide.call(&mut store, (84, 2))?);
    match divide.call(&mut store, (1, 0)) {
        Err(e) if e.as_trap() == Some(&Trap::IntegerDivisionByZero) => println!("1 / 0 trapped: {e}"),
        other => panic!("expected a division trap, got {other:?}"),
    }
    // A trap leaves the store usable.
    println!("9 / 3 = {}", divide.call(&mut store, (9, 3))?);
    Ok(())
}
