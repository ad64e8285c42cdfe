//! wasmi, the oracle, as a [`Side`]: an interpreter with a code base independent of Kiln's,
//! configured for the generator's features and with stack limits above what the generator's
//! fuel lets a module reach.
use crate::generate::FUEL;
use crate::outcome::{Outcome, Ref, TrapKind, Ty, Value};
use crate::side::{NoInstance, Side};
use wasmi::{Engine, Extern, F32, F64, Func, Instance, Module, Ref as Nullable, Store, TrapCode, V128, Val, ValType};

/// The engine every wasmi side of a run shares.
pub fn engine() -> Engine {
    Engine::new(&config())
}

/// The features of the generated modules, and deep stacks.
fn config() -> wasmi::Config {
    let mut config = wasmi::Config::default();
    config
        .wasm_mutable_global(true)
        .wasm_sign_extension(true)
        .wasm_saturating_float_to_int(true)
        .wasm_multi_value(true)
        .wasm_bulk_memory(true)
        .wasm_reference_types(true)
        .wasm_simd(true)
        .wasm_relaxed_simd(false)
        .wasm_tail_call(true)
        .wasm_extended_const(true)
        .wasm_multi_memory(true)
        .wasm_memory64(true)
        // Every call spends fuel, so recursion never gets deeper than the fuel; the stack
        // limits sit well above it, so that a stack overflow here is a real one.
        .set_max_recursion_depth(16 * FUEL as usize)
        .set_max_stack_height(64 << 20);
    config
}

/// How much of wasmi's fuel (about one unit per instruction) a module that timed out in Kiln
/// may spend before it counts as one that runs that long anywhere: far less than what ten
/// seconds of Kiln's native code execute, and still only seconds of interpretation.
pub const HANG_FUEL: u64 = 2_000_000_000;

/// Whether `wasm`, instantiated and then with export `call.0` called with `call.1` (numbers
/// only), is still running when wasmi has spent `fuel`. A module that is, runs that long in
/// any engine, so its timeout in Kiln is not Kiln hanging. False for a module wasmi refuses.
pub fn outlasts(wasm: &[u8], call: Option<(&str, &[Value])>, fuel: u64) -> bool {
    let mut config = config();
    config.consume_fuel(true);
    let engine = Engine::new(&config);
    let Ok(module) = Module::new(&engine, wasm) else { return false };
    let mut store = Store::new(&engine, ());
    if store.set_fuel(fuel).is_err() {
        return false;
    }
    let out_of_fuel = |e: &wasmi::Error| e.as_trap_code() == Some(TrapCode::OutOfFuel);
    let instance = match Instance::new(&mut store, &module, &[]) {
        Ok(instance) => instance,
        Err(e) => return out_of_fuel(&e),
    };
    let Some((name, args)) = call else { return false };
    let Some(f) = instance.get_func(&store, name) else { return false };
    let args: Vec<Val> = args
        .iter()
        .map(|v| match *v {
            Value::I64(v) => Val::I64(v),
            Value::F32(b) => Val::F32(F32::from_bits(b)),
            Value::F64(b) => Val::F64(F64::from_bits(b)),
            Value::I32(v) => Val::I32(v),
            _ => Val::I32(0),
        })
        .collect();
    let mut results: Vec<Val> = f.ty(&store).results().iter().map(|t| Val::default(*t)).collect();
    f.call(&mut store, &args, &mut results).is_err_and(|e| out_of_fuel(&e))
}

/// A wasmi instance and its store.
pub struct WasmiSide {
    store: Store<()>,
    instance: Instance,
    /// The exported functions, in export order: what [`Ref::Export`] arguments name.
    funcs: Vec<Func>,
}

/// The common name of a wasmi error, when it is a trap.
fn trap_kind(code: TrapCode) -> TrapKind {
    match code {
        TrapCode::UnreachableCodeReached => TrapKind::Unreachable,
        TrapCode::MemoryOutOfBounds => TrapKind::MemoryOutOfBounds,
        TrapCode::TableOutOfBounds => TrapKind::TableOutOfBounds,
        TrapCode::IndirectCallToNull => TrapKind::IndirectCallToNull,
        TrapCode::IntegerDivisionByZero => TrapKind::IntegerDivisionByZero,
        TrapCode::IntegerOverflow => TrapKind::IntegerOverflow,
        TrapCode::BadConversionToInteger => TrapKind::BadConversionToInteger,
        TrapCode::StackOverflow => TrapKind::StackOverflow,
        TrapCode::BadSignature => TrapKind::BadSignature,
        other => TrapKind::Other(format!("wasmi: {other}")),
    }
}

fn outcome_of_error(e: &wasmi::Error) -> Outcome {
    use wasmi::errors::{ErrorKind, TableError};
    // wasmi 1.1 gives `table.copy` out of bounds no trap code, though it traps as the spec
    // says (its other out-of-bounds table operations have one).
    if let ErrorKind::Table(TableError::CopyOutOfBounds) = e.kind() {
        return Outcome::Trapped(TrapKind::TableOutOfBounds);
    }
    match e.as_trap_code() {
        Some(code) => Outcome::Trapped(trap_kind(code)),
        None => Outcome::Failed(e.to_string()),
    }
}

fn ty(t: ValType) -> Ty {
    match t {
        ValType::I32 => Ty::I32,
        ValType::I64 => Ty::I64,
        ValType::F32 => Ty::F32,
        ValType::F64 => Ty::F64,
        ValType::V128 => Ty::V128,
        ValType::FuncRef => Ty::FuncRef,
        ValType::ExternRef => Ty::ExternRef,
    }
}

fn value(v: &Val) -> Value {
    let reference = |null: bool| if null { Ref::Null } else { Ref::NonNull };
    match v {
        Val::I32(v) => Value::I32(*v),
        Val::I64(v) => Value::I64(*v),
        Val::F32(f) => Value::F32(f.to_bits()),
        Val::F64(f) => Value::F64(f.to_bits()),
        Val::V128(v) => Value::V128(v.as_u128()),
        Val::FuncRef(f) => Value::FuncRef(reference(f.is_null())),
        Val::ExternRef(r) => Value::ExternRef(reference(r.is_null())),
    }
}

impl WasmiSide {
    /// Compile `wasm` with `engine` and instantiate it.
    ///
    /// # Errors
    /// Why there is no instance.
    pub fn new(engine: &Engine, wasm: &[u8]) -> Result<WasmiSide, NoInstance> {
        let module = Module::new(engine, wasm).map_err(|e| NoInstance::Invalid(e.to_string()))?;
        let mut store = Store::new(engine, ());
        let instance =
            Instance::new(&mut store, &module, &[]).map_err(|e| NoInstance::Instantiation(outcome_of_error(&e)))?;
        let funcs = instance.exports(&store).filter_map(|e| e.into_func()).collect();
        Ok(WasmiSide { store, instance, funcs })
    }

    /// The wasmi value of `v`; `None` for an anyref, which wasmi (without GC) has not.
    fn arg(&mut self, v: &Value) -> Option<Val> {
        Some(match *v {
            Value::I32(v) => Val::I32(v),
            Value::I64(v) => Val::I64(v),
            Value::F32(b) => Val::F32(F32::from_bits(b)),
            Value::F64(b) => Val::F64(F64::from_bits(b)),
            Value::V128(v) => Val::V128(V128::from(v)),
            Value::FuncRef(Ref::Export(n)) => {
                Val::FuncRef(self.funcs.get(n).map_or(Nullable::Null, |f| Nullable::Val(*f)))
            }
            Value::FuncRef(_) => Val::FuncRef(Nullable::Null),
            Value::ExternRef(Ref::Null) => Val::ExternRef(Nullable::Null),
            Value::ExternRef(_) => Val::ExternRef(Nullable::Val(wasmi::ExternRef::new(&mut self.store, 0u32))),
            Value::AnyRef(_) | Value::ExnRef(_) => return None,
        })
    }

    fn export(&self, name: &str) -> Option<Extern> {
        self.instance.get_export(&self.store, name)
    }
}

impl Side for WasmiSide {
    fn params(&mut self, name: &str) -> Option<Vec<Ty>> {
        let f = self.export(name)?.into_func()?;
        Some(f.ty(&self.store).params().iter().map(|t| ty(*t)).collect())
    }

    fn call(&mut self, name: &str, args: &[Value]) -> Outcome {
        let Some(f) = self.export(name).and_then(Extern::into_func) else {
            return Outcome::Failed(format!("no exported function `{name}`"));
        };
        let Some(args) = args.iter().map(|a| self.arg(a)).collect::<Option<Vec<Val>>>() else {
            return Outcome::Failed("an anyref argument, which wasmi has not".into());
        };
        let mut results: Vec<Val> = f.ty(&self.store).results().iter().map(|t| Val::default(*t)).collect();
        match f.call(&mut self.store, &args, &mut results) {
            Ok(()) => Outcome::Returned(results.iter().map(value).collect()),
            Err(e) => outcome_of_error(&e),
        }
    }

    fn memory(&self, name: &str) -> Option<&[u8]> {
        Some(self.export(name)?.into_memory()?.data(&self.store))
    }

    fn global(&mut self, name: &str) -> Option<Value> {
        let g = self.export(name)?.into_global()?;
        Some(value(&g.get(&self.store)))
    }

    fn table_size(&self, name: &str) -> Option<u64> {
        Some(self.export(name)?.into_table()?.size(&self.store))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endless_modules_outlast_the_fuel_and_others_do_not() {
        let wasm = wat::parse_str(
            r#"(module
                 (func (export "spin") (param i32) (loop $l (br $l)))
                 (func (export "count") (param i32) (loop $l (br_if $l (local.tee 0 (i32.sub (local.get 0) (i32.const 1)))))))"#,
        )
        .unwrap();
        assert!(outlasts(&wasm, Some(("spin", &[Value::I32(0)])), 100_000));
        assert!(!outlasts(&wasm, Some(("count", &[Value::I32(1000)])), 100_000));
        assert!(outlasts(&wasm, Some(("count", &[Value::I32(1_000_000)])), 100_000));
        assert!(!outlasts(b"not wasm", None, 100_000));
    }

    #[test]
    fn a_table_copy_out_of_bounds_is_a_trap() {
        let wasm = wat::parse_str(
            r#"(module (table 2 funcref)
                 (func (export "f") (table.copy (i32.const 1) (i32.const 0) (i32.const 2))))"#,
        )
        .unwrap();
        let mut side = WasmiSide::new(&engine(), &wasm).unwrap_or_else(|e| panic!("{e:?}"));
        assert!(matches!(side.call("f", &[]), Outcome::Trapped(TrapKind::TableOutOfBounds)));
    }

    /// wasmi 2.0.0 returns 0 here; the oracle must not, or every module with a guarded
    /// division would diverge (see the workspace's Cargo.toml).
    #[test]
    fn the_oracle_selects_the_right_operand() {
        let wasm = wat::parse_str(
            r#"(module
                 (global $g (mut i32) (i32.const 1000))
                 (func (export "f") (result i32 i32) (local $x i32)
                   global.get $g
                   (select (i32.const 1) (local.get $x) (i32.eqz (local.get $x)))))"#,
        )
        .unwrap();
        let mut side = WasmiSide::new(&engine(), &wasm).unwrap_or_else(|e| panic!("{e:?}"));
        match side.call("f", &[]) {
            Outcome::Returned(v) => assert_eq!(format!("{} {}", v[0], v[1]), "i32:1000 i32:1"),
            other => panic!("{other}"),
        }
    }
}
