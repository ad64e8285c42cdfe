//! The WebAssembly types Kiln compiles: value types, function types, and the types of tables,
//! memories and globals, plus constant expressions. Conversions from wasmparser's richer types
//! say `unsupported: <feature>` for what Kiln does not compile yet.
use crate::{CompileError, FuncIndex, GlobalIndex, TypeIndex};
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
            // Exception references are slots of the store's reference slab, as externrefs are.
            H::Abstract { shared: false, ty: A::Extern | A::NoExtern | A::Exn | A::NoExn } => {
                Ok(WasmValType::ExternRef)
            }
            _ => Err(unsupported(format!("reference type {r} (GC)"))),
        }
    }

    /// Whether this is a reference type.
    pub fn is_ref(self) -> bool {
        matches!(self, WasmValType::FuncRef | WasmValType::ExternRef)
    }
}

/// The heap type of a reference: what it may point to. `T` names a concrete (function) type:
/// a module's [`TypeIndex`] at compile time, the engine's canonical index at run time.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum WasmHeapType<T = TypeIndex> {
    /// `func`: any function.
    Func,
    /// `nofunc`: no function (only null has this type).
    NoFunc,
    /// `extern`: any external reference.
    Extern,
    /// `noextern`: no external reference.
    NoExtern,
    /// `exn`: any exception.
    Exn,
    /// `noexn`: no exception (only null has this type).
    NoExn,
    /// A function of exactly this type (Kiln has no declared subtyping yet, so a concrete
    /// function type's only subtypes are itself and `nofunc`).
    Concrete(T),
}

/// A reference type, exactly: `(ref null? <heap type>)`. [`WasmValType`] only says how such
/// a reference is represented.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct WasmRefType<T = TypeIndex> {
    /// Whether null is a value of the type.
    pub nullable: bool,
    /// What a non-null reference points to.
    pub heap: WasmHeapType<T>,
}

impl<T: Copy + Eq> WasmRefType<T> {
    /// `funcref`, `(ref null func)`.
    pub const FUNCREF: Self = WasmRefType { nullable: true, heap: WasmHeapType::Func };
    /// `externref`, `(ref null extern)`.
    pub const EXTERNREF: Self = WasmRefType { nullable: true, heap: WasmHeapType::Extern };

    /// The same type with its concrete type named by `f`.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> WasmRefType<U> {
        let heap = match self.heap {
            WasmHeapType::Func => WasmHeapType::Func,
            WasmHeapType::NoFunc => WasmHeapType::NoFunc,
            WasmHeapType::Extern => WasmHeapType::Extern,
            WasmHeapType::NoExtern => WasmHeapType::NoExtern,
            WasmHeapType::Exn => WasmHeapType::Exn,
            WasmHeapType::NoExn => WasmHeapType::NoExn,
            WasmHeapType::Concrete(t) => WasmHeapType::Concrete(f(t)),
        };
        WasmRefType { nullable: self.nullable, heap }
    }

    /// How a value of this type is represented.
    pub fn representation(self) -> WasmValType {
        match self.heap {
            WasmHeapType::Extern | WasmHeapType::NoExtern | WasmHeapType::Exn | WasmHeapType::NoExn => {
                WasmValType::ExternRef
            }
            WasmHeapType::Func | WasmHeapType::NoFunc | WasmHeapType::Concrete(_) => WasmValType::FuncRef,
        }
    }

    /// Whether this is exactly `funcref` or `externref`, which [`WasmValType`] describes.
    pub fn is_plain(self) -> bool {
        self == Self::FUNCREF || self == Self::EXTERNREF
    }

    /// Whether every value of this type is a value of `other` (the spec's subtyping, with
    /// concrete types compared by identity: `T` must be canonical for that to be right).
    pub fn is_subtype_of(self, other: Self) -> bool {
        use WasmHeapType as H;
        (other.nullable || !self.nullable)
            && match (self.heap, other.heap) {
                (a, b) if a == b => true,
                (H::Concrete(_) | H::NoFunc, H::Func)
                | (H::NoFunc, H::Concrete(_))
                | (H::NoExtern, H::Extern)
                | (H::NoExn, H::Exn) => true,
                _ => false,
            }
    }
}

impl WasmRefType {
    /// Convert wasmparser's reference type (a concrete heap type must name a module type).
    ///
    /// # Errors
    /// `unsupported` for the heap types of GC and exception handling.
    pub fn from_wasmparser(r: wasmparser::RefType) -> Result<Self, CompileError> {
        use wasmparser::{AbstractHeapType as A, HeapType as H};
        let heap = match r.heap_type() {
            H::Abstract { shared: false, ty: A::Func } => WasmHeapType::Func,
            H::Abstract { shared: false, ty: A::NoFunc } => WasmHeapType::NoFunc,
            H::Abstract { shared: false, ty: A::Extern } => WasmHeapType::Extern,
            H::Abstract { shared: false, ty: A::NoExtern } => WasmHeapType::NoExtern,
            H::Abstract { shared: false, ty: A::Exn } => WasmHeapType::Exn,
            H::Abstract { shared: false, ty: A::NoExn } => WasmHeapType::NoExn,
            H::Concrete(wasmparser::UnpackedIndex::Module(t)) => WasmHeapType::Concrete(TypeIndex::from_u32(t)),
            _ => return Err(unsupported(format!("reference type {r} (GC)"))),
        };
        Ok(WasmRefType { nullable: r.is_nullable(), heap })
    }
}

impl<T: fmt::Debug> fmt::Display for WasmRefType<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let heap = match &self.heap {
            WasmHeapType::Func => "func".to_string(),
            WasmHeapType::NoFunc => "nofunc".to_string(),
            WasmHeapType::Extern => "extern".to_string(),
            WasmHeapType::NoExtern => "noextern".to_string(),
            WasmHeapType::Exn => "exn".to_string(),
            WasmHeapType::NoExn => "noexn".to_string(),
            WasmHeapType::Concrete(t) => format!("{t:?}"),
        };
        write!(f, "(ref {}{heap})", if self.nullable { "null " } else { "" })
    }
}

/// A reference in a function type that [`WasmValType`] does not describe exactly (anything
/// but plain `funcref` and `externref`): where it is, and its exact type.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct TypedRef<T = TypeIndex> {
    /// Its position among the parameters, then the results.
    pub position: u32,
    /// Its type.
    pub ty: WasmRefType<T>,
}

/// The typed references of a wasmparser function type, in order.
///
/// # Errors
/// `unsupported` for reference types Kiln does not compile.
pub fn typed_refs(ty: &wasmparser::FuncType) -> Result<Box<[TypedRef]>, CompileError> {
    let mut refs = Vec::new();
    for (position, v) in (0u32..).zip(ty.params().iter().chain(ty.results())) {
        if let wasmparser::ValType::Ref(r) = v {
            let ty = WasmRefType::from_wasmparser(*r)?;
            if !ty.is_plain() {
                refs.push(TypedRef { position, ty });
            }
        }
    }
    Ok(refs.into())
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

impl WasmFuncType {
    /// The type at `position` among the parameters, then the results.
    pub fn param_or_result(&self, position: u32) -> Option<WasmValType> {
        self.params.iter().chain(self.results.iter()).nth(usize::try_from(position).ok()?).copied()
    }
}

impl fmt::Display for WasmFuncType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |tys: &[WasmValType]| tys.iter().map(|t| t.to_string()).collect::<Vec<_>>().join(" ");
        write!(f, "(func (param {}) (result {}))", list(&self.params), list(&self.results))
    }
}

/// The type of the addresses of a memory or the indices of a table: `i32`, or `i64` with
/// memory64's 64-bit memories and tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum IndexType {
    /// 32-bit addresses.
    I32,
    /// 64-bit addresses.
    I64,
}

impl IndexType {
    fn of(is64: bool) -> IndexType {
        if is64 { IndexType::I64 } else { IndexType::I32 }
    }

    /// The largest value an address can have (also the mask that takes an address of this
    /// type out of a wider value).
    pub fn max_value(self) -> u64 {
        match self {
            IndexType::I32 => u64::from(u32::MAX),
            IndexType::I64 => u64::MAX,
        }
    }
}

/// A table's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Table<T = TypeIndex> {
    /// The element type.
    pub element: WasmRefType<T>,
    /// The type of the table's indices.
    pub index_type: IndexType,
    /// The initial size in elements.
    pub minimum: u64,
    /// The largest size in elements, if bounded.
    pub maximum: Option<u64>,
}

impl<T> Table<T> {
    /// The most elements this table may ever have.
    pub fn max_size(&self) -> u64 {
        self.maximum.unwrap_or(u64::MAX).min(self.index_type.max_value())
    }
}

impl<T: Copy + Eq> Table<T> {
    /// How the elements are represented.
    pub fn element_type(&self) -> WasmValType {
        self.element.representation()
    }

    /// The same type with its concrete type named by `f`.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Table<U> {
        Table {
            element: self.element.map(f),
            index_type: self.index_type,
            minimum: self.minimum,
            maximum: self.maximum,
        }
    }

    /// The size of a table of this type for its whole life, when its maximum is its
    /// minimum. Such a table never grows, so its elements never move either; an imported one
    /// is as fixed, since the table linked to it must match both limits.
    pub fn fixed_size(&self) -> Option<u64> {
        self.maximum.filter(|&max| max == self.minimum)
    }
}

impl Table {
    /// Convert wasmparser's table type.
    ///
    /// # Errors
    /// `unsupported` for shared tables and unsupported element types.
    pub fn from_wasmparser(ty: &wasmparser::TableType) -> Result<Self, CompileError> {
        Table::representation_of(ty)?;
        Ok(Table {
            element: WasmRefType::from_wasmparser(ty.element_type)?,
            index_type: IndexType::of(ty.table64),
            minimum: ty.initial,
            maximum: ty.maximum,
        })
    }

    /// How the elements of a table of wasmparser's type are represented. Unlike
    /// [`Table::from_wasmparser`], this takes the validator's canonicalized types too.
    ///
    /// # Errors
    /// `unsupported` for shared tables and unsupported element types.
    pub fn representation_of(ty: &wasmparser::TableType) -> Result<WasmValType, CompileError> {
        if ty.shared {
            return Err(unsupported("shared tables (shared-everything threads)"));
        }
        WasmValType::from_ref_type(ty.element_type)
    }
}

/// A linear memory's type, in 64 KiB pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Memory {
    /// The type of the memory's addresses.
    pub index_type: IndexType,
    /// The initial size in pages.
    pub minimum: u64,
    /// The largest size in pages, if bounded.
    pub maximum: Option<u64>,
}

impl Memory {
    /// Convert wasmparser's memory type.
    ///
    /// # Errors
    /// `unsupported` for shared memories and custom page sizes.
    pub fn from_wasmparser(ty: &wasmparser::MemoryType) -> Result<Self, CompileError> {
        if ty.shared {
            return Err(unsupported("shared memories (threads)"));
        }
        if ty.page_size_log2.is_some_and(|p| p != 16) {
            return Err(unsupported("custom page sizes"));
        }
        Ok(Memory { index_type: IndexType::of(ty.memory64), minimum: ty.initial, maximum: ty.maximum })
    }

    /// The most pages any memory of this index type may have: what its addresses reach.
    pub fn page_limit(&self) -> u64 {
        match self.index_type {
            IndexType::I32 => crate::WASM32_MAX_PAGES,
            IndexType::I64 => crate::WASM64_MAX_PAGES,
        }
    }

    /// The most pages this memory may ever have: its maximum, or what its addresses reach.
    pub fn max_pages(&self) -> u64 {
        self.maximum.unwrap_or(u64::MAX).min(self.page_limit())
    }

    /// The most bytes this memory may ever have (saturating: a 64-bit memory's 2^64).
    pub fn max_bytes(&self) -> u64 {
        self.max_pages().saturating_mul(crate::WASM_PAGE_SIZE)
    }
}

/// A global's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Global<T = TypeIndex> {
    /// The value type (for a reference, its representation).
    pub ty: WasmValType,
    /// Whether `global.set` may change it.
    pub mutable: bool,
    /// For a reference (and only then), its exact type.
    pub reference: Option<WasmRefType<T>>,
}

impl<T: Copy + Eq> Global<T> {
    /// A global of a numeric or vector type, or of a reference type.
    pub fn new(ty: WasmValType, mutable: bool) -> Self {
        let reference = match ty {
            WasmValType::FuncRef => Some(WasmRefType::FUNCREF),
            WasmValType::ExternRef => Some(WasmRefType::EXTERNREF),
            _ => None,
        };
        Global { ty, mutable, reference }
    }

    /// The same type with its concrete type named by `f`.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Global<U> {
        Global { ty: self.ty, mutable: self.mutable, reference: self.reference.map(|r| r.map(f)) }
    }

    /// Whether a global of this type may be imported where `want` is expected: the same
    /// mutability, and the same type for a mutable global, a subtype for an immutable one.
    pub fn matches(&self, want: &Self) -> bool {
        self.ty == want.ty
            && self.mutable == want.mutable
            && match (self.reference, want.reference) {
                (Some(have), Some(want)) if self.mutable => have == want,
                (Some(have), Some(want)) => have.is_subtype_of(want),
                (None, None) => true,
                _ => false,
            }
    }
}

impl Global {
    /// Convert wasmparser's global type.
    ///
    /// # Errors
    /// `unsupported` for shared globals and unsupported value types.
    pub fn from_wasmparser(ty: &wasmparser::GlobalType) -> Result<Self, CompileError> {
        let representation = Global::representation_of(ty)?;
        let reference = match ty.content_type {
            wasmparser::ValType::Ref(r) => Some(WasmRefType::from_wasmparser(r)?),
            _ => None,
        };
        Ok(Global { ty: representation, mutable: ty.mutable, reference })
    }

    /// How a global of wasmparser's type is represented. Unlike [`Global::from_wasmparser`],
    /// this takes the validator's canonicalized types too.
    ///
    /// # Errors
    /// `unsupported` for shared globals and unsupported value types.
    pub fn representation_of(ty: &wasmparser::GlobalType) -> Result<WasmValType, CompileError> {
        if ty.shared {
            return Err(unsupported("shared globals (shared-everything threads)"));
        }
        WasmValType::from_wasmparser(ty.content_type)
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

    /// The value of a segment offset that is a single constant, `i32` (unsigned) or `i64`
    /// as the memory's or table's index type has it; `None` when it must be evaluated.
    pub fn constant_offset(&self) -> Option<u64> {
        match self.ops.as_slice() {
            [ConstOp::I32Const(v)] => Some(u64::from(*v as u32)),
            [ConstOp::I64Const(v)] => Some(*v as u64),
            _ => None,
        }
    }

    /// The functions this expression takes a reference to.
    pub fn func_refs(&self) -> impl Iterator<Item = FuncIndex> + '_ {
        self.ops.iter().filter_map(|op| match op {
            ConstOp::RefFunc(f) => Some(*f),
            _ => None,
        })
    }
}
