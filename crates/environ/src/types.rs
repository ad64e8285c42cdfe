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
    /// `(ref null any)`: a reference of GC's `any` hierarchy (`eq`, `i31`, structs, arrays).
    AnyRef,
    /// `(ref null exn)`: an exception (a slot of the store's reference slab, as an
    /// externref's value is).
    ExnRef,
}

/// What a concrete (defined) type is: which hierarchy its references belong to.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum TypeKind {
    /// A function type: its references are `func`s.
    Func,
    /// A struct type: its references are `any`s (and `eq`s and `struct`s).
    Struct,
    /// An array type: its references are `any`s (and `eq`s and `array`s).
    Array,
}

impl TypeKind {
    /// The kind of wasmparser's composite type.
    ///
    /// # Errors
    /// `unsupported` for shared types and continuations.
    pub fn of(ty: &wasmparser::CompositeType) -> Result<TypeKind, CompileError> {
        use wasmparser::CompositeInnerType as C;
        if ty.shared {
            return Err(unsupported("shared types (shared-everything threads)"));
        }
        match ty.inner {
            C::Func(_) => Ok(TypeKind::Func),
            C::Struct(_) => Ok(TypeKind::Struct),
            C::Array(_) => Ok(TypeKind::Array),
            C::Cont(_) => Err(unsupported("continuation types (stack switching)")),
        }
    }
}

/// What the conversions of reference types need to know: the kind of the concrete type an
/// index names (a module's index, or the validator's canonical id), `None` if there is none.
pub type KindOf<'a> = &'a dyn Fn(wasmparser::UnpackedIndex) -> Option<TypeKind>;

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
            WasmValType::AnyRef => "anyref",
            WasmValType::ExnRef => "exnref",
        })
    }
}

fn unsupported(what: impl Into<String>) -> CompileError {
    CompileError::Unsupported(what.into())
}

impl WasmValType {
    /// Convert wasmparser's value type; `kinds` tells what a concrete reference type names.
    ///
    /// # Errors
    /// `unsupported` for reference types Kiln does not compile.
    pub fn from_wasmparser(ty: wasmparser::ValType, kinds: KindOf<'_>) -> Result<Self, CompileError> {
        use wasmparser::ValType as V;
        Ok(match ty {
            V::I32 => WasmValType::I32,
            V::I64 => WasmValType::I64,
            V::F32 => WasmValType::F32,
            V::F64 => WasmValType::F64,
            V::V128 => WasmValType::V128,
            V::Ref(r) => WasmValType::from_ref_type(r, kinds)?,
        })
    }

    /// How a reference of wasmparser's type is represented: every reference of a hierarchy
    /// shares its top type's representation (a `*const VMFuncRef` for functions, a slot of the
    /// store's reference slab for extern and exception references, a GC word for `any`).
    ///
    /// # Errors
    /// `unsupported` for shared references.
    pub fn from_ref_type(r: wasmparser::RefType, kinds: KindOf<'_>) -> Result<Self, CompileError> {
        Ok(heap_type(r.heap_type(), kinds, |_| Some(TypeIndex::from_u32(0)))?.top().representation())
    }

    /// Whether this is a reference type.
    pub fn is_ref(self) -> bool {
        matches!(self, WasmValType::FuncRef | WasmValType::ExternRef | WasmValType::AnyRef | WasmValType::ExnRef)
    }

    /// Whether values of this type are references the store's collector traces: every
    /// reference but a function's (functions live as long as their instances).
    pub fn is_traced(self) -> bool {
        matches!(self, WasmValType::ExternRef | WasmValType::AnyRef | WasmValType::ExnRef)
    }
}

impl WasmHeapType {
    /// Convert wasmparser's heap type, whose concrete type must be a module's index (as in
    /// an operator).
    ///
    /// # Errors
    /// `unsupported` for the heap types Kiln does not compile.
    pub fn from_wasmparser(h: wasmparser::HeapType, kinds: KindOf<'_>) -> Result<Self, CompileError> {
        heap_type(h, kinds, |i| i.as_module_index().map(TypeIndex::from_u32))
    }
}

/// Convert wasmparser's heap type, with `index` naming a concrete type's index (`None`
/// when it cannot be named: a canonical id where a module's index is needed).
fn heap_type(
    h: wasmparser::HeapType,
    kinds: KindOf<'_>,
    index: impl FnOnce(wasmparser::UnpackedIndex) -> Option<TypeIndex>,
) -> Result<WasmHeapType, CompileError> {
    use wasmparser::{AbstractHeapType as A, HeapType as H};
    Ok(match h {
        H::Abstract { shared: true, .. } => return Err(unsupported("shared references (shared-everything threads)")),
        H::Abstract { shared: false, ty } => match ty {
            A::Func => WasmHeapType::Func,
            A::NoFunc => WasmHeapType::NoFunc,
            A::Extern => WasmHeapType::Extern,
            A::NoExtern => WasmHeapType::NoExtern,
            A::Exn => WasmHeapType::Exn,
            A::NoExn => WasmHeapType::NoExn,
            A::Any => WasmHeapType::Any,
            A::Eq => WasmHeapType::Eq,
            A::I31 => WasmHeapType::I31,
            A::Struct => WasmHeapType::Struct,
            A::Array => WasmHeapType::Array,
            A::None => WasmHeapType::None,
            A::Cont | A::NoCont => return Err(unsupported("continuation references (stack switching)")),
        },
        H::Exact(_) => return Err(unsupported("exact reference types (custom descriptors)")),
        H::Concrete(i) => {
            let kind = kinds(i).ok_or_else(|| CompileError::Internal(format!("reference to an unknown type {i:?}")))?;
            let index = index(i).ok_or_else(|| CompileError::Internal(format!("type {i:?} has no module index")))?;
            WasmHeapType::Concrete(kind, index)
        }
    })
}

/// The heap type of a reference: what it may point to. `T` names a concrete type: a
/// module's [`TypeIndex`] at compile time, the engine's canonical index at run time. The four
/// hierarchies (`func`, `extern`, `exn`, `any`) have a top type each and a bottom type each
/// (`nofunc`…, `none`), and share nothing.
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
    /// `any`: anything of GC's hierarchy.
    Any,
    /// `eq`: what `ref.eq` compares (`i31`s, structs and arrays).
    Eq,
    /// `i31`: an unboxed 31-bit integer.
    I31,
    /// `struct`: any struct.
    Struct,
    /// `array`: any array.
    Array,
    /// `none`: nothing of GC's hierarchy (only null has this type).
    None,
    /// A value of this concrete type or of one of its declared subtypes: a function, a struct
    /// or an array as the kind says.
    Concrete(TypeKind, T),
}

impl<T: Copy + Eq> WasmHeapType<T> {
    /// The top type of this type's hierarchy.
    pub fn top(self) -> WasmHeapType<T> {
        use WasmHeapType as H;
        match self {
            H::Func | H::NoFunc | H::Concrete(TypeKind::Func, _) => H::Func,
            H::Extern | H::NoExtern => H::Extern,
            H::Exn | H::NoExn => H::Exn,
            H::Any | H::Eq | H::I31 | H::Struct | H::Array | H::None => H::Any,
            H::Concrete(TypeKind::Struct | TypeKind::Array, _) => H::Any,
        }
    }

    /// The bottom type of this type's hierarchy.
    pub fn bottom(self) -> WasmHeapType<T> {
        match self.top() {
            WasmHeapType::Func => WasmHeapType::NoFunc,
            WasmHeapType::Extern => WasmHeapType::NoExtern,
            WasmHeapType::Exn => WasmHeapType::NoExn,
            _ => WasmHeapType::None,
        }
    }

    /// How a reference to this heap type is represented.
    pub fn representation(self) -> WasmValType {
        match self.top() {
            WasmHeapType::Func => WasmValType::FuncRef,
            WasmHeapType::Any => WasmValType::AnyRef,
            WasmHeapType::Exn => WasmValType::ExnRef,
            _ => WasmValType::ExternRef,
        }
    }

    /// The same type with its concrete type named by `f`.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> WasmHeapType<U> {
        use WasmHeapType as H;
        match self {
            H::Func => H::Func,
            H::NoFunc => H::NoFunc,
            H::Extern => H::Extern,
            H::NoExtern => H::NoExtern,
            H::Exn => H::Exn,
            H::NoExn => H::NoExn,
            H::Any => H::Any,
            H::Eq => H::Eq,
            H::I31 => H::I31,
            H::Struct => H::Struct,
            H::Array => H::Array,
            H::None => H::None,
            H::Concrete(kind, t) => H::Concrete(kind, f(t)),
        }
    }

    /// Whether every value of this heap type is one of `other` (the spec's subtyping), with
    /// `concrete(a, b)` telling whether concrete type `a` is `b` or a declared subtype of it
    /// (the types must be canonical for that to be a question of identity).
    pub fn is_subtype_of(self, other: Self, concrete: impl FnOnce(T, T) -> bool) -> bool {
        use WasmHeapType as H;
        if self == other {
            return true;
        }
        if self.top() != other.top() {
            return false;
        }
        match (self, other) {
            (H::Concrete(_, a), H::Concrete(_, b)) => concrete(a, b),
            // The bottom type is below everything of its hierarchy, the top type above it.
            (H::NoFunc | H::NoExtern | H::NoExn | H::None, _) => true,
            (_, H::Func | H::Extern | H::Exn | H::Any) => true,
            (H::I31 | H::Struct | H::Array | H::Concrete(..), H::Eq) => true,
            (H::Concrete(TypeKind::Struct, _), H::Struct) | (H::Concrete(TypeKind::Array, _), H::Array) => true,
            _ => false,
        }
    }
}

impl<T: fmt::Debug> fmt::Display for WasmHeapType<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use WasmHeapType as H;
        let name = match self {
            H::Func => "func",
            H::NoFunc => "nofunc",
            H::Extern => "extern",
            H::NoExtern => "noextern",
            H::Exn => "exn",
            H::NoExn => "noexn",
            H::Any => "any",
            H::Eq => "eq",
            H::I31 => "i31",
            H::Struct => "struct",
            H::Array => "array",
            H::None => "none",
            H::Concrete(_, t) => return write!(f, "{t:?}"),
        };
        f.write_str(name)
    }
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
    /// `anyref`, `(ref null any)`.
    pub const ANYREF: Self = WasmRefType { nullable: true, heap: WasmHeapType::Any };
    /// `exnref`, `(ref null exn)`.
    pub const EXNREF: Self = WasmRefType { nullable: true, heap: WasmHeapType::Exn };

    /// The same type with its concrete type named by `f`.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> WasmRefType<U> {
        WasmRefType { nullable: self.nullable, heap: self.heap.map(f) }
    }

    /// How a value of this type is represented.
    pub fn representation(self) -> WasmValType {
        self.heap.representation()
    }

    /// Whether this is exactly `funcref`, `externref` or `anyref`, which [`WasmValType`]
    /// describes.
    pub fn is_plain(self) -> bool {
        self == Self::FUNCREF || self == Self::EXTERNREF || self == Self::ANYREF
    }

    /// The plain type that represents `ty` (`funcref`, `externref`, `anyref`), if it is a
    /// reference.
    pub fn plain(ty: WasmValType) -> Option<Self> {
        match ty {
            WasmValType::FuncRef => Some(Self::FUNCREF),
            WasmValType::ExternRef => Some(Self::EXTERNREF),
            WasmValType::AnyRef => Some(Self::ANYREF),
            WasmValType::ExnRef => Some(Self::EXNREF),
            _ => None,
        }
    }

    /// Whether every value of this type is a value of `other` (the spec's subtyping; see
    /// [`WasmHeapType::is_subtype_of`] for `concrete`).
    pub fn is_subtype_of(self, other: Self, concrete: impl FnOnce(T, T) -> bool) -> bool {
        (other.nullable || !self.nullable) && self.heap.is_subtype_of(other.heap, concrete)
    }
}

impl WasmRefType {
    /// Convert wasmparser's reference type, whose concrete type must be a module's index.
    ///
    /// # Errors
    /// `unsupported` for the heap types Kiln does not compile.
    pub fn from_wasmparser(r: wasmparser::RefType, kinds: KindOf<'_>) -> Result<Self, CompileError> {
        Ok(WasmRefType { nullable: r.is_nullable(), heap: WasmHeapType::from_wasmparser(r.heap_type(), kinds)? })
    }
}

impl<T: fmt::Debug> fmt::Display for WasmRefType<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "(ref {}{})", if self.nullable { "null " } else { "" }, self.heap)
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
    pub fn from_wasmparser(ty: &wasmparser::TableType, kinds: KindOf<'_>) -> Result<Self, CompileError> {
        Table::representation_of(ty, kinds)?;
        Ok(Table {
            element: WasmRefType::from_wasmparser(ty.element_type, kinds)?,
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
    pub fn representation_of(ty: &wasmparser::TableType, kinds: KindOf<'_>) -> Result<WasmValType, CompileError> {
        if ty.shared {
            return Err(unsupported("shared tables (shared-everything threads)"));
        }
        WasmValType::from_ref_type(ty.element_type, kinds)
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
        Global { ty, mutable, reference: WasmRefType::plain(ty) }
    }

    /// The same type with its concrete type named by `f`.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Global<U> {
        Global { ty: self.ty, mutable: self.mutable, reference: self.reference.map(|r| r.map(f)) }
    }

    /// Whether a global of this type may be imported where `want` is expected: the same
    /// mutability, and the same type for a mutable global, a subtype for an immutable one
    /// (with `concrete` as for [`WasmHeapType::is_subtype_of`]).
    pub fn matches(&self, want: &Self, concrete: impl FnOnce(T, T) -> bool) -> bool {
        self.ty == want.ty
            && self.mutable == want.mutable
            && match (self.reference, want.reference) {
                (Some(have), Some(want)) if self.mutable => have == want,
                (Some(have), Some(want)) => have.is_subtype_of(want, concrete),
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
    pub fn from_wasmparser(ty: &wasmparser::GlobalType, kinds: KindOf<'_>) -> Result<Self, CompileError> {
        let representation = Global::representation_of(ty, kinds)?;
        let reference = match ty.content_type {
            wasmparser::ValType::Ref(r) => Some(WasmRefType::from_wasmparser(r, kinds)?),
            _ => None,
        };
        Ok(Global { ty: representation, mutable: ty.mutable, reference })
    }

    /// How a global of wasmparser's type is represented. Unlike [`Global::from_wasmparser`],
    /// this takes the validator's canonicalized types too.
    ///
    /// # Errors
    /// `unsupported` for shared globals and unsupported value types.
    pub fn representation_of(ty: &wasmparser::GlobalType, kinds: KindOf<'_>) -> Result<WasmValType, CompileError> {
        if ty.shared {
            return Err(unsupported("shared globals (shared-everything threads)"));
        }
        WasmValType::from_wasmparser(ty.content_type, kinds)
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
    /// `ref.i31` of the `i32` on top of the stack.
    RefI31,
    /// `struct.new`: a struct of the type from its fields on the stack.
    StructNew(TypeIndex),
    /// `struct.new_default`.
    StructNewDefault(TypeIndex),
    /// `array.new`: an array of the type from its initial value and length.
    ArrayNew(TypeIndex),
    /// `array.new_default`: from its length.
    ArrayNewDefault(TypeIndex),
    /// `array.new_fixed`: from this many elements on the stack.
    ArrayNewFixed(TypeIndex, u32),
    /// `any.convert_extern` and `extern.convert_any`, which keep the word.
    Convert,
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
                O::RefI31 => ConstOp::RefI31,
                O::StructNew { struct_type_index } => ConstOp::StructNew(TypeIndex::from_u32(struct_type_index)),
                O::StructNewDefault { struct_type_index } => {
                    ConstOp::StructNewDefault(TypeIndex::from_u32(struct_type_index))
                }
                O::ArrayNew { array_type_index } => ConstOp::ArrayNew(TypeIndex::from_u32(array_type_index)),
                O::ArrayNewDefault { array_type_index } => {
                    ConstOp::ArrayNewDefault(TypeIndex::from_u32(array_type_index))
                }
                O::ArrayNewFixed { array_type_index, array_size } => {
                    ConstOp::ArrayNewFixed(TypeIndex::from_u32(array_type_index), array_size)
                }
                O::AnyConvertExtern | O::ExternConvertAny => ConstOp::Convert,
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

    /// Whether evaluating this expression allocates GC objects (so that it must be evaluated
    /// once: each evaluation makes other objects).
    pub fn allocates(&self) -> bool {
        self.ops.iter().any(|op| {
            matches!(
                op,
                ConstOp::StructNew(_)
                    | ConstOp::StructNewDefault(_)
                    | ConstOp::ArrayNew(_)
                    | ConstOp::ArrayNewDefault(_)
                    | ConstOp::ArrayNewFixed(..)
            )
        })
    }

    /// The functions this expression takes a reference to.
    pub fn func_refs(&self) -> impl Iterator<Item = FuncIndex> + '_ {
        self.ops.iter().filter_map(|op| match op {
            ConstOp::RefFunc(f) => Some(*f),
            _ => None,
        })
    }
}
