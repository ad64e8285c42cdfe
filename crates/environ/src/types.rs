//! The WebAssembly types Kiln compiles: value types, function types, and the types of tables,
//! memories and globals, plus constant expressions. Conversions from wasmparser's richer types
//! say `unsupported: <feature>` for what Kiln does not compile yet.
use crate::{CompileError, FuncIndex, GlobalIndex};
use std::fmt;

/// A value type.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum WasmValType {
    /// A 32-bit integer.
    I32,
    /// A 64-bit integer.
    I64,
    /// A 32-bit float.
    F32,
    /// A 64-bit float.
    F64,
    /// A 128-bit vector.
    V128,
    /// `(ref null func)`.
    FuncRef,
    /// `(ref null extern)`.
    ExternRef,
}

impl fmt::Display for WasmValType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WasmValType::I32 => "i32",
            WasmValType::I64 => "i64",
            WasmValType::F32 => "f32",
            WasmValType::F64 => "f64",
            WasmValType::V128 => "v128",
            WasmValType::FuncRef => "funcref",
            WasmValType::ExternRef => "externref",
        })
    }
}

fn unsupported(what: impl Into<String>) -> CompileError {
    CompileError::Unsupported(what.into())
}

impl WasmValType {
    /// Convert wasmparser's value type.
    ///
    /// # Errors
    /// `unsupported` for reference types of GC and exception handling.
    pub fn from_wasmparser(ty: wasmparser::ValType) -> Result<Self, CompileError> {
        use wasmparser::ValType as V;
        Ok(match ty {
            V::I32 => WasmValType::I32,
            V::I64 => WasmValType::I64,
            V::F32 => WasmValType::F32,
            V::F64 => WasmValType::F64,
            V::V128 => WasmValType::V128,
            V::Ref(r) => WasmValType::from_ref_type(r)?,
        })
    }

    /// Convert wasmparser's reference type. Function references of any kind (`funcref`,
    /// `(ref $t)`, `(ref null nofunc)`…) share one representation, a `*const VMFuncRef`, and so
    /// do extern references; the other heap types belong to GC and exceptions.
    ///
    /// # Errors
    /// `unsupported` for those other heap types.
    pub fn from_ref_type(r: wasmparser::RefType) -> Result<Self, CompileError> {
        use wasmparser::{AbstractHeapType as A, HeapType as H};
        match r.heap_type() {
            H::Abstract { shared: false, ty: A::Func | A::NoFunc } | H::Concrete(_) => Ok(WasmValType::FuncRef),
            H::Abstract { shared: false, ty: A::Extern | A::NoExtern } => Ok(WasmValType::ExternRef),
            _ => Err(unsupported(format!("reference type {r} (GC or exception handling)"))),
        }
    }

    /// Whether a reference type is exactly `funcref` or `externref`, which Kiln's
    /// [`WasmValType`] describes exactly; other function and extern references are
    /// represented the same way but are subtypes or supertypes of them.
    pub fn is_plain_ref(r: wasmparser::RefType) -> bool {
        r == wasmparser::RefType::FUNCREF || r == wasmparser::RefType::EXTERNREF
    }

    /// Whether this is a reference type.
    pub fn is_ref(self) -> bool {
        matches!(self, WasmValType::FuncRef | WasmValType::ExternRef)
    }
}

/// A function type.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct WasmFuncType {
    /// The parameter types.
    pub params: Box<[WasmValType]>,
    /// The result types.
    pub results: Box<[WasmValType]>,
}

impl WasmFuncType {
    /// Convert wasmparser's function type.
    ///
    /// # Errors
    /// `unsupported` when a parameter or result type is.
    pub fn from_wasmparser(ty: &wasmparser::FuncType) -> Result<Self, CompileError> {
        let conv = |tys: &[wasmparser::ValType]| -> Result<Box<[WasmValType]>, CompileError> {
            tys.iter().map(|t| WasmValType::from_wasmparser(*t)).collect()
        };
        Ok(WasmFuncType { params: conv(ty.params())?, results: conv(ty.results())? })
    }
}

impl fmt::Display for WasmFuncType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |tys: &[WasmValType]| tys.iter().map(|t| t.to_string()).collect::<Vec<_>>().join(" ");
        write!(f, "(func (param {}) (result {}))", list(&self.params), list(&self.results))
    }
}

/// A table's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Table {
    /// The element type (for typed references, its representation).
    pub element: WasmValType,
    /// The initial size in elements.
    pub minimum: u64,
    /// The largest size in elements, if bounded.
    pub maximum: Option<u64>,
    /// Whether the element type is a typed reference (`(ref null $t)`, `(ref func)`…),
    /// which `element` only approximates.
    pub typed_reference: bool,
}

impl Table {
    /// Convert wasmparser's table type.
    ///
    /// # Errors
    /// `unsupported` for 64-bit and shared tables and unsupported element types.
    pub fn from_wasmparser(ty: &wasmparser::TableType) -> Result<Self, CompileError> {
        if ty.table64 {
            return Err(unsupported("table64 (memory64 proposal)"));
        }
        if ty.shared {
            return Err(unsupported("shared tables (shared-everything threads)"));
        }
        Ok(Table {
            element: WasmValType::from_ref_type(ty.element_type)?,
            minimum: ty.initial,
            maximum: ty.maximum,
            typed_reference: !WasmValType::is_plain_ref(ty.element_type),
        })
    }

    /// The size of a table of this type for its whole life, when its maximum is its
    /// minimum. Such a table never grows, so its elements never move either; an imported one
    /// is as fixed, since the table linked to it must match both limits.
    pub fn fixed_size(&self) -> Option<u64> {
        self.maximum.filter(|&max| max == self.minimum)
    }
}

/// A linear memory's type, in 64 KiB pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Memory {
    /// The initial size in pages.
    pub minimum: u64,
    /// The largest size in pages, if bounded.
    pub maximum: Option<u64>,
}

impl Memory {
    /// Convert wasmparser's memory type.
    ///
    /// # Errors
    /// `unsupported` for 64-bit and shared memories and custom page sizes.
    pub fn from_wasmparser(ty: &wasmparser::MemoryType) -> Result<Self, CompileError> {
        if ty.memory64 {
            return Err(unsupported("memory64"));
        }
        if ty.shared {
            return Err(unsupported("shared memories (threads)"));
        }
        if ty.page_size_log2.is_some_and(|p| p != 16) {
            return Err(unsupported("custom page sizes"));
        }
        Ok(Memory { minimum: ty.initial, maximum: ty.maximum })
    }

    /// The most pages this memory may ever have.
    pub fn max_pages(&self) -> u64 {
        self.maximum.unwrap_or(crate::WASM32_MAX_PAGES).min(crate::WASM32_MAX_PAGES)
    }
}

/// A global's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Global {
    /// The value type (for typed references, its representation).
    pub ty: WasmValType,
    /// Whether `global.set` may change it.
    pub mutable: bool,
    /// Whether the type is a typed reference, which `ty` only approximates.
    pub typed_reference: bool,
}

impl Global {
    /// Convert wasmparser's global type.
    ///
    /// # Errors
    /// `unsupported` for shared globals and unsupported value types.
    pub fn from_wasmparser(ty: &wasmparser::GlobalType) -> Result<Self, CompileError> {
        if ty.shared {
            return Err(unsupported("shared globals (shared-everything threads)"));
        }
        Ok(Global {
            ty: WasmValType::from_wasmparser(ty.content_type)?,
            mutable: ty.mutable,
            typed_reference: matches!(ty.content_type, wasmparser::ValType::Ref(r) if !WasmValType::is_plain_ref(r)),
        })
    }
}

/// One operation of a constant expression.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum ConstOp {
    /// `i32.const`.
    I32Const(i32),
    /// `i64.const`.
    I64Const(i64),
    /// `f32.const`, as its bits.
    F32Const(u32),
    /// `f64.const`, as its bits.
    F64Const(u64),
    /// `v128.const`.
    V128Const(u128),
    /// `global.get`.
    GlobalGet(GlobalIndex),
    /// `ref.null` of any type.
    RefNull,
    /// `ref.func`.
    RefFunc(FuncIndex),
    /// `i32.add`.
    I32Add,
    /// `i32.sub`.
    I32Sub,
    /// `i32.mul`.
    I32Mul,
    /// `i64.add`.
    I64Add,
    /// `i64.sub`.
    I64Sub,
    /// `i64.mul`.
    I64Mul,
}

/// A constant expression (global initializers, segment offsets, element items): a short
/// stack program evaluated at instantiation.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize)]
pub struct ConstExpr {
    /// The operations, in order (the final `end` left out).
    pub ops: Vec<ConstOp>,
}

impl ConstExpr {
    /// Convert wasmparser's (already validated) constant expression.
    ///
    /// # Errors
    /// `invalid` when the expression does not decode, `unsupported` for operators Kiln does
    /// not evaluate yet.
    pub fn from_wasmparser(expr: &wasmparser::ConstExpr<'_>) -> Result<Self, CompileError> {
        use wasmparser::Operator as O;
        let mut ops = Vec::new();
        let mut reader = expr.get_operators_reader();
        while !reader.eof() {
            let op = reader.read().map_err(crate::invalid_from_wasmparser)?;
            ops.push(match op {
                O::I32Const { value } => ConstOp::I32Const(value),
                O::I64Const { value } => ConstOp::I64Const(value),
                O::F32Const { value } => ConstOp::F32Const(value.bits()),
                O::F64Const { value } => ConstOp::F64Const(value.bits()),
                O::V128Const { value } => ConstOp::V128Const(value.i128() as u128),
                O::GlobalGet { global_index } => ConstOp::GlobalGet(GlobalIndex::from_u32(global_index)),
                O::RefNull { .. } => ConstOp::RefNull,
                O::RefFunc { function_index } => ConstOp::RefFunc(FuncIndex::from_u32(function_index)),
                O::I32Add => ConstOp::I32Add,
                O::I32Sub => ConstOp::I32Sub,
                O::I32Mul => ConstOp::I32Mul,
                O::I64Add => ConstOp::I64Add,
                O::I64Sub => ConstOp::I64Sub,
                O::I64Mul => ConstOp::I64Mul,
                O::End => continue,
                other => {
                    return Err(unsupported(format!("constant expression operator {other:?}")));
                }
            });
        }
        Ok(ConstExpr { ops })
    }

    /// The functions this expression takes a reference to.
    pub fn func_refs(&self) -> impl Iterator<Item = FuncIndex> + '_ {
        self.ops.iter().filter_map(|op| match op {
            ConstOp::RefFunc(f) => Some(*f),
            _ => None,
        })
    }
}
