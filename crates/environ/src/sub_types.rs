//! The types a type section declares: rec groups of sub types, each a function, struct or
//! array type with its `final` flag and its declared supertype. A function type keeps its
//! value types as [`WasmValType`] (what the compiler needs) and its typed references beside
//! them; struct fields and array elements have storage types, packed `i8`/`i16` included.
use crate::{CompileError, KindOf, TypeIndex, TypeKind, WasmRefType, WasmValType};
use std::fmt;

/// A reference in a function type that [`WasmValType`] does not describe exactly (anything
/// but plain `funcref`, `externref` and `anyref`): where it is, and its exact type.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct TypedRef<T = TypeIndex> {
    /// Its position among the parameters, then the results.
    pub position: u32,
    /// Its type.
    pub ty: WasmRefType<T>,
}

/// A function type, as the compiler sees it: the representation of each value.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct WasmFuncType {
    /// The parameter types.
    pub params: Box<[WasmValType]>,
    /// The result types.
    pub results: Box<[WasmValType]>,
}

impl WasmFuncType {
    /// Convert wasmparser's function type, and list its typed references.
    ///
    /// # Errors
    /// `unsupported` when a parameter or result type is.
    pub fn from_wasmparser(
        ty: &wasmparser::FuncType,
        kinds: KindOf<'_>,
    ) -> Result<(Self, Box<[TypedRef]>), CompileError> {
        let conv = |tys: &[wasmparser::ValType]| -> Result<Box<[WasmValType]>, CompileError> {
            tys.iter().map(|t| WasmValType::from_wasmparser(*t, kinds)).collect()
        };
        let mut refs = Vec::new();
        for (position, v) in (0u32..).zip(ty.params().iter().chain(ty.results())) {
            if let wasmparser::ValType::Ref(r) = v {
                let ty = WasmRefType::from_wasmparser(*r, kinds)?;
                if !ty.is_plain() {
                    refs.push(TypedRef { position, ty });
                }
            }
        }
        Ok((WasmFuncType { params: conv(ty.params())?, results: conv(ty.results())? }, refs.into()))
    }

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

/// What a struct field or an array element holds.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum WasmStorageType<T = TypeIndex> {
    /// A packed 8-bit integer (read as an `i32`, sign- or zero-extended).
    I8,
    /// A packed 16-bit integer.
    I16,
    /// A number or a vector (never a reference).
    Val(WasmValType),
    /// A reference.
    Ref(WasmRefType<T>),
}

impl<T: Copy + Eq> WasmStorageType<T> {
    /// The same type with its concrete type named by `f`.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> WasmStorageType<U> {
        match self {
            WasmStorageType::I8 => WasmStorageType::I8,
            WasmStorageType::I16 => WasmStorageType::I16,
            WasmStorageType::Val(v) => WasmStorageType::Val(v),
            WasmStorageType::Ref(r) => WasmStorageType::Ref(r.map(f)),
        }
    }

    /// The value type a read of this storage gives (an `i32` for a packed one).
    pub fn unpacked(self) -> WasmValType {
        match self {
            WasmStorageType::I8 | WasmStorageType::I16 => WasmValType::I32,
            WasmStorageType::Val(v) => v,
            WasmStorageType::Ref(r) => r.representation(),
        }
    }
}

/// A struct field or an array's element type.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct WasmFieldType<T = TypeIndex> {
    /// What it holds.
    pub storage: WasmStorageType<T>,
    /// Whether `struct.set`/`array.set` may change it.
    pub mutable: bool,
}

impl<T: Copy + Eq> WasmFieldType<T> {
    /// The same type with its concrete type named by `f`.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> WasmFieldType<U> {
        WasmFieldType { storage: self.storage.map(f), mutable: self.mutable }
    }
}

/// A function, struct or array type.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum WasmCompositeType<T = TypeIndex> {
    /// A function type, with its typed references.
    Func(WasmFuncType, Box<[TypedRef<T>]>),
    /// A struct type: its fields in order.
    Struct(Box<[WasmFieldType<T>]>),
    /// An array type: its element type.
    Array(WasmFieldType<T>),
}

/// A type of the type section: a composite type, whether it is final, and its declared
/// supertype.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct WasmSubType<T = TypeIndex> {
    /// Whether no type may declare this one its supertype.
    pub is_final: bool,
    /// The declared supertype.
    pub supertype: Option<T>,
    /// What the type is.
    pub composite: WasmCompositeType<T>,
}

impl<T: Copy + Eq> WasmSubType<T> {
    /// Which hierarchy this type's references belong to.
    pub fn kind(&self) -> TypeKind {
        match self.composite {
            WasmCompositeType::Func(..) => TypeKind::Func,
            WasmCompositeType::Struct(_) => TypeKind::Struct,
            WasmCompositeType::Array(_) => TypeKind::Array,
        }
    }

    /// The function type, if this is one.
    pub fn as_func(&self) -> Option<&WasmFuncType> {
        match &self.composite {
            WasmCompositeType::Func(f, _) => Some(f),
            _ => None,
        }
    }

    /// The typed references of a function type (none for other types).
    pub fn func_refs(&self) -> &[TypedRef<T>] {
        match &self.composite {
            WasmCompositeType::Func(_, refs) => refs,
            _ => &[],
        }
    }

    /// The same type with its concrete types named by `f`.
    pub fn map<U: Copy + Eq>(&self, mut f: impl FnMut(T) -> U) -> WasmSubType<U> {
        let composite = match &self.composite {
            WasmCompositeType::Func(ty, refs) => WasmCompositeType::Func(
                ty.clone(),
                refs.iter().map(|r| TypedRef { position: r.position, ty: r.ty.map(&mut f) }).collect(),
            ),
            WasmCompositeType::Struct(fields) => {
                WasmCompositeType::Struct(fields.iter().map(|x| x.map(&mut f)).collect())
            }
            WasmCompositeType::Array(element) => WasmCompositeType::Array(element.map(&mut f)),
        };
        WasmSubType { is_final: self.is_final, supertype: self.supertype.map(&mut f), composite }
    }

    /// Every concrete type this type names: its supertype and those its references name.
    pub fn named_types(&self) -> Vec<T> {
        let mut named: Vec<T> = self.supertype.into_iter().collect();
        let mut add = |r: WasmRefType<T>| {
            if let crate::WasmHeapType::Concrete(_, t) = r.heap {
                named.push(t);
            }
        };
        match &self.composite {
            WasmCompositeType::Func(_, refs) => refs.iter().for_each(|r| add(r.ty)),
            WasmCompositeType::Struct(fields) => fields.iter().for_each(|x| {
                if let WasmStorageType::Ref(r) = x.storage {
                    add(r)
                }
            }),
            WasmCompositeType::Array(element) => {
                if let WasmStorageType::Ref(r) = element.storage {
                    add(r)
                }
            }
        }
        named
    }
}

impl WasmSubType {
    /// Convert wasmparser's sub type; `kinds` knows the kinds of every type of the module up
    /// to the end of this one's rec group.
    ///
    /// # Errors
    /// `unsupported` for shared types, continuations and unsupported value types.
    pub fn from_wasmparser(ty: &wasmparser::SubType, kinds: KindOf<'_>) -> Result<Self, CompileError> {
        use wasmparser::CompositeInnerType as C;
        TypeKind::of(&ty.composite_type)?;
        let field = |f: &wasmparser::FieldType| -> Result<WasmFieldType, CompileError> {
            let storage = match f.element_type {
                wasmparser::StorageType::I8 => WasmStorageType::I8,
                wasmparser::StorageType::I16 => WasmStorageType::I16,
                wasmparser::StorageType::Val(wasmparser::ValType::Ref(r)) => {
                    WasmStorageType::Ref(WasmRefType::from_wasmparser(r, kinds)?)
                }
                wasmparser::StorageType::Val(v) => WasmStorageType::Val(WasmValType::from_wasmparser(v, kinds)?),
            };
            Ok(WasmFieldType { storage, mutable: f.mutable })
        };
        let composite = match &ty.composite_type.inner {
            C::Func(f) => {
                let (func, refs) = WasmFuncType::from_wasmparser(f, kinds)?;
                WasmCompositeType::Func(func, refs)
            }
            C::Struct(s) => WasmCompositeType::Struct(s.fields.iter().map(field).collect::<Result<_, _>>()?),
            C::Array(a) => WasmCompositeType::Array(field(&a.0)?),
            C::Cont(_) => return Err(CompileError::Unsupported("continuation types (stack switching)".into())),
        };
        if ty.composite_type.descriptor_idx.is_some() || ty.composite_type.describes_idx.is_some() {
            return Err(CompileError::Unsupported("type descriptors (custom descriptors)".into()));
        }
        let supertype = match ty.supertype_idxs.as_slice() {
            [] => None,
            [s] => Some(
                s.as_module_index()
                    .map(TypeIndex::from_u32)
                    .ok_or_else(|| CompileError::Internal("a supertype without a module index".into()))?,
            ),
            _ => return Err(CompileError::Unsupported("more than one supertype".into())),
        };
        Ok(WasmSubType { is_final: ty.is_final, supertype, composite })
    }
}

/// A rec group of the type section: the types at `start..start + len`. Types of one group
/// may name each other in any order; equal groups (in any modules of one engine) declare the
/// same types.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct RecGroup {
    /// Its first type.
    pub start: TypeIndex,
    /// How many types it has.
    pub len: u32,
}

impl RecGroup {
    /// Its types, in order.
    pub fn types(self) -> impl Iterator<Item = TypeIndex> {
        (self.start.as_u32()..self.start.as_u32() + self.len).map(TypeIndex::from_u32)
    }

    /// Whether `t` is one of its types.
    pub fn contains(self, t: TypeIndex) -> bool {
        t >= self.start && t.as_u32() - self.start.as_u32() < self.len
    }
}
