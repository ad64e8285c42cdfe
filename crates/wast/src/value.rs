//! Conversion of the constants a script passes to `invoke` into kiln values,
//! and rendering of kiln values for failure messages.

use kiln::{AnyRef, Store, Val, ValType};
use wast::WastArg;
use wast::core::{AbstractHeapType, HeapType, WastArgCore};

/// Turns one `invoke` argument into a [`Val`] for a parameter of type `param` (which
/// says the hierarchy of a null of a concrete type); `Err` names what kiln cannot
/// represent (or what the runner does not know).
pub(crate) fn arg_to_val(arg: &WastArg<'_>, param: Option<ValType>, store: &mut Store<()>) -> Result<Val, String> {
    let core = match arg {
        WastArg::Core(core) => core,
        _ => return Err("unsupported: component-model arguments".to_string()),
    };
    Ok(match core {
        WastArgCore::I32(v) => Val::I32(*v),
        WastArgCore::I64(v) => Val::I64(*v),
        WastArgCore::F32(v) => Val::F32(v.bits),
        WastArgCore::F64(v) => Val::F64(v.bits),
        WastArgCore::V128(v) => Val::V128(u128::from_le_bytes(v.to_le_bytes())),
        WastArgCore::RefNull(HeapType::Concrete(_)) => match param {
            Some(ty) if ty.is_ref() => Val::null_of(ty),
            _ => return Err("a null of a concrete type for a parameter that is no reference".to_string()),
        },
        WastArgCore::RefNull(heap) => null_ref(heap)?,
        // `ref.extern N` is a host reference to the number N.
        WastArgCore::RefExtern(n) => Val::ExternRef(Some(host_ref(store, *n)?)),
        // `ref.host N` is the internalized host reference to N (`any.convert_extern` of
        // `ref.extern N`).
        WastArgCore::RefHost(n) => {
            let e = host_ref(&mut *store, *n)?;
            Val::AnyRef(Some(AnyRef::convert_extern(store, e).map_err(|e| e.to_string())?))
        }
    })
}

/// The host reference to the number `n`, in `store`.
fn host_ref(store: &mut Store<()>, n: u32) -> Result<kiln::Rooted<kiln::ExternRef>, String> {
    kiln::ExternRef::new(store, n).map_err(|e| e.to_string())
}

/// The null reference of the hierarchy `heap` belongs to.
fn null_ref(heap: &HeapType<'_>) -> Result<Val, String> {
    match heap {
        HeapType::Abstract { shared: false, ty } => match ty {
            AbstractHeapType::Func | AbstractHeapType::NoFunc => Ok(Val::null_func_ref()),
            AbstractHeapType::Extern | AbstractHeapType::NoExtern => Ok(Val::null_extern_ref()),
            AbstractHeapType::Exn | AbstractHeapType::NoExn => Ok(Val::null_exn_ref()),
            AbstractHeapType::Any
            | AbstractHeapType::Eq
            | AbstractHeapType::I31
            | AbstractHeapType::Struct
            | AbstractHeapType::Array
            | AbstractHeapType::None => Ok(Val::AnyRef(None)),
            other => Err(format!("unsupported: null reference of heap type {other:?}")),
        },
        HeapType::Concrete(_) | HeapType::Exact(_) => Err("unsupported: exact reference types".to_string()),
        HeapType::Abstract { shared: true, .. } => Err("unsupported: shared reference types".to_string()),
    }
}

/// A readable rendering of a value, e.g. `i32.const 5 (0x5)`.
pub(crate) fn describe(val: &Val) -> String {
    match val {
        Val::I32(v) => format!("i32.const {v} ({:#x})", *v as u32),
        Val::I64(v) => format!("i64.const {v} ({:#x})", *v as u64),
        Val::F32(bits) => format!("f32.const {} ({bits:#010x})", f32::from_bits(*bits)),
        Val::F64(bits) => format!("f64.const {} ({bits:#018x})", f64::from_bits(*bits)),
        Val::V128(bits) => format!("v128.const {bits:#034x}"),
        Val::FuncRef(None) => "ref.null func".to_string(),
        Val::FuncRef(Some(_)) => "ref.func".to_string(),
        Val::ExternRef(None) => "ref.null extern".to_string(),
        Val::ExternRef(Some(_)) => "ref.extern".to_string(),
        Val::AnyRef(None) => "ref.null any".to_string(),
        Val::ExnRef(None) => "ref.null exn".to_string(),
        Val::ExnRef(Some(_)) => "ref.exn".to_string(),
        // Which kind of anyref it is takes the store to say (see `matching::actual_text`).
        Val::AnyRef(Some(_)) => "ref.any".to_string(),
    }
}

/// A readable rendering of a list of values, e.g. `[i32.const 1 (0x1), ...]`.
pub(crate) fn describe_all(vals: &[Val]) -> String {
    let parts: Vec<String> = vals.iter().map(describe).collect();
    format!("[{}]", parts.join(", "))
}
