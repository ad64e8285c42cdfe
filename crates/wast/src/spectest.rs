//! The `spectest` host module that spec scripts import from: printing
//! functions that do nothing, four immutable globals, two funcref tables (32- and 64-bit indices)
//! and a memory.

use kiln::{
    FuncType, Global, GlobalType, Linker, Memory, MemoryType, Mutability, Store, Table, TableType, Val, ValType,
};

/// Defines every `spectest` item in `linker`, creating the globals, tables and
/// memory in `store`.
pub(crate) fn define(linker: &mut Linker<()>, store: &mut Store<()>) -> kiln::Result<()> {
    use ValType::{F32, F64, I32, I64};

    let prints: [(&str, &[ValType]); 7] = [
        ("print", &[]),
        ("print_i32", &[I32]),
        ("print_i64", &[I64]),
        ("print_f32", &[F32]),
        ("print_f64", &[F64]),
        ("print_i32_f32", &[I32, F32]),
        ("print_f64_f64", &[F64, F64]),
    ];
    for (name, params) in prints {
        let ty = FuncType::new(params.iter().copied(), []);
        linker.func_new("spectest", name, ty, |_caller, _params, _results| Ok(()))?;
    }

    let globals = [
        ("global_i32", Val::I32(666)),
        ("global_i64", Val::I64(666)),
        ("global_f32", Val::F32(666.6f32.to_bits())),
        ("global_f64", Val::F64(666.6f64.to_bits())),
    ];
    for (name, val) in globals {
        let ty = GlobalType::new(val.ty(), Mutability::Const);
        let global = Global::new(&mut *store, ty, val)?;
        linker.define(&mut *store, "spectest", name, global)?;
    }

    let tables = [
        ("table", TableType::new(ValType::FuncRef, 10, Some(20))),
        ("table64", TableType::new64(ValType::FuncRef, 10, Some(20))),
    ];
    for (name, ty) in tables {
        let table = Table::new(&mut *store, ty, Val::null_func_ref())?;
        linker.define(&mut *store, "spectest", name, table)?;
    }

    let memory = Memory::new(&mut *store, MemoryType::new(1, Some(2)))?;
    linker.define(&mut *store, "spectest", "memory", memory)?;
    Ok(())
}
