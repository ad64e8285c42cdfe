//! Kiln as a [`Side`]: the module compiled by the engine of the case's configuration and
//! instantiated with no imports in a store of its own.
use crate::outcome::{Outcome, Ref, TrapKind, Ty, Value};
use crate::side::{NoInstance, Side};
use kiln::{Engine, Error, Extern, Func, Instance, Module, RootScope, Store, Trap, Val, ValType};

/// A Kiln instance and its store.
pub struct KilnSide {
    store: Store<()>,
    /// Every export, in order.
    exports: Vec<(String, Extern)>,
    /// The exported functions, in export order: what [`Ref::Export`] arguments name.
    funcs: Vec<Func>,
}

/// The common name of a Kiln trap.
fn trap_kind(t: Trap) -> TrapKind {
    match t {
        Trap::StackOverflow => TrapKind::StackOverflow,
        Trap::MemoryOutOfBounds => TrapKind::MemoryOutOfBounds,
        Trap::TableOutOfBounds => TrapKind::TableOutOfBounds,
        Trap::IndirectCallToNull => TrapKind::IndirectCallToNull,
        Trap::BadSignature => TrapKind::BadSignature,
        Trap::IntegerOverflow => TrapKind::IntegerOverflow,
        Trap::IntegerDivisionByZero => TrapKind::IntegerDivisionByZero,
        Trap::BadConversionToInteger => TrapKind::BadConversionToInteger,
        Trap::UnreachableCodeReached => TrapKind::Unreachable,
        Trap::NullReference => TrapKind::NullReference,
        other => TrapKind::Other(format!("kiln: {other}")),
    }
}

fn outcome_of_error(e: Error) -> Outcome {
    match e {
        Error::Trap(t, _) => Outcome::Trapped(trap_kind(t)),
        other => Outcome::Failed(other.to_string()),
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
        ValType::AnyRef => Ty::AnyRef,
        ValType::ExnRef => Ty::ExnRef,
    }
}

fn value(v: &Val) -> Value {
    let reference = |non_null: bool| if non_null { Ref::NonNull } else { Ref::Null };
    match v {
        Val::I32(v) => Value::I32(*v),
        Val::I64(v) => Value::I64(*v),
        Val::F32(b) => Value::F32(*b),
        Val::F64(b) => Value::F64(*b),
        Val::V128(v) => Value::V128(*v),
        Val::FuncRef(f) => Value::FuncRef(reference(f.is_some())),
        Val::ExternRef(r) => Value::ExternRef(reference(r.is_some())),
        Val::AnyRef(r) => Value::AnyRef(reference(r.is_some())),
        Val::ExnRef(r) => Value::ExnRef(reference(r.is_some())),
    }
}

impl KilnSide {
    /// Compile `wasm` with `engine` and instantiate it.
    ///
    /// # Errors
    /// Why there is no instance.
    pub fn new(engine: &Engine, wasm: &[u8]) -> Result<KilnSide, NoInstance> {
        let module = Module::from_binary(engine, wasm).map_err(|e| match e {
            Error::Unsupported(_) => NoInstance::Unsupported(e.to_string()),
            Error::Invalid(_) => NoInstance::Invalid(e.to_string()),
            other => NoInstance::Instantiation(Outcome::Failed(format!("compiling: {other}"))),
        })?;
        let mut store = Store::new(engine, ());
        // Under the `guest-control` configuration, run as far as without it. (Setting fuel
        // fails only in an engine that consumes none.)
        let _ = store.set_fuel(u64::MAX);
        store.set_epoch_deadline(u64::MAX);
        let instance =
            Instance::new(&mut store, &module, &[]).map_err(|e| NoInstance::Instantiation(outcome_of_error(e)))?;
        let exports = instance.exports(&mut store);
        let funcs = exports.iter().filter_map(|(_, e)| e.into_func()).collect();
        Ok(KilnSide { store, exports, funcs })
    }

    fn export(&self, name: &str) -> Option<Extern> {
        self.exports.iter().find(|(n, _)| n == name).map(|(_, e)| *e)
    }
}

impl Side for KilnSide {
    fn params(&mut self, name: &str) -> Option<Vec<Ty>> {
        let f = self.export(name)?.into_func()?;
        Some(f.ty(&self.store).params().iter().map(|t| ty(*t)).collect())
    }

    fn call(&mut self, name: &str, args: &[Value]) -> Outcome {
        let Some(f) = self.export(name).and_then(Extern::into_func) else {
            return Outcome::Failed(format!("no exported function `{name}`"));
        };
        // The call's references are released with its scope.
        let mut scope = RootScope::new(&mut self.store);
        let args = match args.iter().map(|a| arg(&mut scope, &self.funcs, a)).collect::<Result<Vec<Val>, _>>() {
            Ok(args) => args,
            Err(e) => return Outcome::Failed(format!("an argument: {e}")),
        };
        let mut results: Vec<Val> = f.ty(&scope).results().iter().map(|_| Val::I32(0)).collect();
        match f.call(&mut scope, &args, &mut results) {
            Ok(()) => Outcome::Returned(results.iter().map(value).collect()),
            Err(e) => outcome_of_error(e),
        }
    }

    fn memory(&self, name: &str) -> Option<&[u8]> {
        Some(self.export(name)?.into_memory()?.data(&self.store))
    }

    fn global(&mut self, name: &str) -> Option<Value> {
        let g = self.export(name)?.into_global()?;
        Some(value(&g.get(&mut self.store)))
    }

    fn table_size(&self, name: &str) -> Option<u64> {
        Some(self.export(name)?.into_table()?.size(&self.store))
    }
}

/// The kiln value of a generated argument, in `store` (a root of the call's scope).
fn arg(store: &mut RootScope<&mut Store<()>>, funcs: &[Func], v: &Value) -> Result<Val, Error> {
    Ok(match *v {
        Value::I32(v) => Val::I32(v),
        Value::I64(v) => Val::I64(v),
        Value::F32(b) => Val::F32(b),
        Value::F64(b) => Val::F64(b),
        Value::V128(v) => Val::V128(v),
        Value::FuncRef(Ref::Export(n)) => Val::FuncRef(funcs.get(n).copied()),
        Value::FuncRef(_) => Val::FuncRef(None),
        Value::ExternRef(Ref::Null) => Val::ExternRef(None),
        Value::ExternRef(_) => Val::ExternRef(Some(kiln::ExternRef::new(store, 0u32)?)),
        Value::AnyRef(Ref::Null) => Val::AnyRef(None),
        Value::AnyRef(_) => Val::AnyRef(Some(kiln::AnyRef::from_i31(store, kiln::I31::wrapping_u32(0)))),
        Value::ExnRef(Ref::Null) => Val::ExnRef(None),
        Value::ExnRef(_) => return Err(Error::Other("the fuzzer passes no exceptions".into())),
    })
}
