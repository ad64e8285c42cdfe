//! The API's type descriptions — value, function, global, table, memory and extern types — and
//! their conversions to and from `kiln_environ`'s.
use kiln_environ::{Global, IndexType, Memory, SharedTypeIndex, Table, WasmFuncType, WasmRefType};
use std::fmt;

/// A value type (the same type the compiler uses).
pub use kiln_environ::WasmValType as ValType;

/// A function type.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FuncType {
    params: Vec<ValType>,
    results: Vec<ValType>,
}

impl FuncType {
    /// A function type with these params and results.
    pub fn new(params: impl IntoIterator<Item = ValType>, results: impl IntoIterator<Item = ValType>) -> FuncType {
        FuncType { params: params.into_iter().collect(), results: results.into_iter().collect() }
    }

    /// The parameter types.
    pub fn params(&self) -> &[ValType] {
        &self.params
    }

    /// The result types.
    pub fn results(&self) -> &[ValType] {
        &self.results
    }

    pub(crate) fn from_env(t: &WasmFuncType) -> FuncType {
        FuncType::new(t.params.iter().copied(), t.results.iter().copied())
    }

    pub(crate) fn to_env(&self) -> WasmFuncType {
        WasmFuncType { params: self.params.clone().into(), results: self.results.clone().into() }
    }
}

impl fmt::Display for FuncType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.to_env().fmt(f)
    }
}

/// Whether a global can be set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mutability {
    /// It cannot change.
    Const,
    /// `global.set` (or [`Global::set`](crate::Global::set)) may change it.
    Var,
}

/// A global's type.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct GlobalType {
    content: ValType,
    mutability: Mutability,
}

impl GlobalType {
    /// A global type.
    pub fn new(content: ValType, mutability: Mutability) -> GlobalType {
        GlobalType { content, mutability }
    }

    /// The value type.
    pub fn content(&self) -> ValType {
        self.content
    }

    /// The mutability.
    pub fn mutability(&self) -> Mutability {
        self.mutability
    }

    pub(crate) fn from_env<T>(g: Global<T>) -> GlobalType {
        GlobalType::new(g.ty, if g.mutable { Mutability::Var } else { Mutability::Const })
    }

    pub(crate) fn to_env(&self) -> Global<SharedTypeIndex> {
        Global::new(self.content, self.mutability == Mutability::Var)
    }
}

/// A table's type.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TableType {
    element: ValType,
    index_type: IndexType,
    minimum: u64,
    maximum: Option<u64>,
}

impl TableType {
    /// A table type with 32-bit indices (`element` is `FuncRef` or `ExternRef`).
    pub fn new(element: ValType, minimum: u64, maximum: Option<u64>) -> TableType {
        TableType { element, index_type: IndexType::I32, minimum, maximum }
    }

    /// A table type with 64-bit indices (memory64's `table64`).
    pub fn new64(element: ValType, minimum: u64, maximum: Option<u64>) -> TableType {
        TableType { element, index_type: IndexType::I64, minimum, maximum }
    }

    /// Whether the table's indices are 64-bit.
    pub fn is_64(&self) -> bool {
        self.index_type == IndexType::I64
    }

    /// The element type.
    pub fn element(&self) -> ValType {
        self.element
    }

    /// The minimum size.
    pub fn minimum(&self) -> u64 {
        self.minimum
    }

    /// The maximum size.
    pub fn maximum(&self) -> Option<u64> {
        self.maximum
    }

    pub(crate) fn from_env<T: Copy + Eq>(t: Table<T>) -> TableType {
        TableType { element: t.element_type(), index_type: t.index_type, minimum: t.minimum, maximum: t.maximum }
    }

    pub(crate) fn to_env(&self) -> Table<SharedTypeIndex> {
        let element = if self.element == ValType::ExternRef { WasmRefType::EXTERNREF } else { WasmRefType::FUNCREF };
        Table { element, index_type: self.index_type, minimum: self.minimum, maximum: self.maximum }
    }
}

/// A memory's type, in 64 KiB pages.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MemoryType {
    index_type: IndexType,
    minimum: u64,
    maximum: Option<u64>,
}

impl MemoryType {
    /// A memory type with 32-bit addresses.
    pub fn new(minimum: u64, maximum: Option<u64>) -> MemoryType {
        MemoryType { index_type: IndexType::I32, minimum, maximum }
    }

    /// A memory type with 64-bit addresses (memory64).
    pub fn new64(minimum: u64, maximum: Option<u64>) -> MemoryType {
        MemoryType { index_type: IndexType::I64, minimum, maximum }
    }

    /// Whether the memory's addresses are 64-bit.
    pub fn is_64(&self) -> bool {
        self.index_type == IndexType::I64
    }

    /// The minimum size in pages.
    pub fn minimum(&self) -> u64 {
        self.minimum
    }

    /// The maximum size in pages.
    pub fn maximum(&self) -> Option<u64> {
        self.maximum
    }

    pub(crate) fn from_env(m: Memory) -> MemoryType {
        MemoryType { index_type: m.index_type, minimum: m.minimum, maximum: m.maximum }
    }

    pub(crate) fn to_env(&self) -> Memory {
        Memory { index_type: self.index_type, minimum: self.minimum, maximum: self.maximum }
    }
}

/// The type of an import or export.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExternType {
    /// A function's type.
    Func(FuncType),
    /// A global's type.
    Global(GlobalType),
    /// A table's type.
    Table(TableType),
    /// A memory's type.
    Memory(MemoryType),
    /// An exception tag's type.
    Tag(TagType),
}

/// The type of an exception tag: a function type whose parameters are the exception's
/// payload and which has no results.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TagType {
    ty: FuncType,
}

impl TagType {
    /// The tag type of `ty`'s parameters.
    pub fn new(ty: FuncType) -> TagType {
        TagType { ty }
    }

    /// The function type.
    pub fn ty(&self) -> &FuncType {
        &self.ty
    }
}

impl fmt::Display for ExternType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExternType::Func(t) => t.fmt(f),
            ExternType::Global(g) => match g.mutability {
                Mutability::Const => write!(f, "(global {})", g.content),
                Mutability::Var => write!(f, "(global (mut {}))", g.content),
            },
            ExternType::Table(t) => {
                let at = if t.is_64() { "i64 " } else { "" };
                match t.maximum {
                    Some(max) => write!(f, "(table {at}{} {} {})", t.minimum, max, t.element),
                    None => write!(f, "(table {at}{} {})", t.minimum, t.element),
                }
            }
            ExternType::Memory(m) => {
                let at = if m.is_64() { "i64 " } else { "" };
                match m.maximum {
                    Some(max) => write!(f, "(memory {at}{} {})", m.minimum, max),
                    None => write!(f, "(memory {at}{})", m.minimum),
                }
            }
            ExternType::Tag(t) => {
                let params: Vec<String> = t.ty.params().iter().map(|p| p.to_string()).collect();
                write!(f, "(tag (param {}))", params.join(" "))
            }
        }
    }
}
