//! The GC types as the host sees them: [`StructType`] and [`ArrayType`], made of
//! [`FieldType`]s, each a [`StorageType`] and a mutability. A type handle holds its type in
//! the engine's registry (so objects of a type the host made keep a type id that means the
//! same for as long as the handle lives), and two handles of equal types are the same
//! canonical type. The host names reference fields by [`ValType`], whose reference types are
//! the nullable abstract ones (`funcref`, `externref`, `anyref`, `exnref`); a field that wasm
//! declared with a concrete or non-nullable reference type shows as the nullable abstract
//! type of its hierarchy, and writes to it are still checked against the exact type.
use crate::{Engine, Mutability, Result, ValType};
use kiln_environ::{
    SharedTypeIndex, WasmCompositeType, WasmFieldType, WasmRefType, WasmStorageType, WasmSubType, WasmValType,
};
use std::sync::Arc;

/// What a struct field or an array element holds.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum StorageType {
    /// A packed 8-bit integer, read as an `i32`.
    I8,
    /// A packed 16-bit integer, read as an `i32`.
    I16,
    /// A value of a value type.
    ValType(ValType),
}

impl StorageType {
    /// The type a read gives (`i32` for a packed type).
    pub fn unpack(&self) -> ValType {
        match self {
            StorageType::I8 | StorageType::I16 => ValType::I32,
            StorageType::ValType(v) => *v,
        }
    }

    /// Whether this is `i8` or `i16`.
    pub fn is_packed(&self) -> bool {
        matches!(self, StorageType::I8 | StorageType::I16)
    }

    fn to_env(self) -> WasmStorageType<SharedTypeIndex> {
        match self {
            StorageType::I8 => WasmStorageType::I8,
            StorageType::I16 => WasmStorageType::I16,
            StorageType::ValType(WasmValType::FuncRef) => WasmStorageType::Ref(WasmRefType::FUNCREF),
            StorageType::ValType(WasmValType::ExternRef) => WasmStorageType::Ref(WasmRefType::EXTERNREF),
            StorageType::ValType(WasmValType::AnyRef) => WasmStorageType::Ref(WasmRefType::ANYREF),
            StorageType::ValType(WasmValType::ExnRef) => WasmStorageType::Ref(WasmRefType::EXNREF),
            StorageType::ValType(v) => WasmStorageType::Val(v),
        }
    }

    fn from_env(s: WasmStorageType<SharedTypeIndex>) -> StorageType {
        match s {
            WasmStorageType::I8 => StorageType::I8,
            WasmStorageType::I16 => StorageType::I16,
            other => StorageType::ValType(other.unpacked()),
        }
    }
}

/// A struct field's or an array element's type.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct FieldType {
    mutability: Mutability,
    element: StorageType,
}

impl FieldType {
    /// A field holding `element`, which `struct.set`/`array.set` may change if `mutability`
    /// is [`Mutability::Var`].
    pub fn new(mutability: Mutability, element: StorageType) -> FieldType {
        FieldType { mutability, element }
    }

    /// Whether it may change.
    pub fn mutability(&self) -> Mutability {
        self.mutability
    }

    /// What it holds.
    pub fn element_type(&self) -> &StorageType {
        &self.element
    }

    fn to_env(self) -> WasmFieldType<SharedTypeIndex> {
        WasmFieldType { storage: self.element.to_env(), mutable: self.mutability == Mutability::Var }
    }

    pub(crate) fn from_env(f: WasmFieldType<SharedTypeIndex>) -> FieldType {
        let mutability = if f.mutable { Mutability::Var } else { Mutability::Const };
        FieldType { mutability, element: StorageType::from_env(f.storage) }
    }
}

/// One hold of a canonical type in its engine's registry.
struct Registered {
    engine: Engine,
    id: SharedTypeIndex,
    ty: Arc<WasmSubType<SharedTypeIndex>>,
}

impl Registered {
    fn new(engine: &Engine, ty: WasmSubType<SharedTypeIndex>) -> Registered {
        let id = engine.register_host_type(&ty);
        Registered { engine: engine.clone(), id, ty: engine.sub_type(id) }
    }

    fn of(engine: &Engine, id: SharedTypeIndex) -> Registered {
        engine.hold_type(id);
        Registered { engine: engine.clone(), id, ty: engine.sub_type(id) }
    }
}

impl Clone for Registered {
    fn clone(&self) -> Registered {
        Registered::of(&self.engine, self.id)
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.engine.release_types([self.id]);
    }
}

impl std::fmt::Debug for Registered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.ty.composite)
    }
}

impl PartialEq for Registered {
    fn eq(&self, other: &Registered) -> bool {
        Engine::same(&self.engine, &other.engine) && self.id == other.id
    }
}

/// A struct type.
#[derive(Clone, Debug, PartialEq)]
pub struct StructType {
    registered: Registered,
}

impl StructType {
    /// The final struct type of `engine` with these fields, in order.
    ///
    /// # Errors
    /// None today: every field the host can name is valid; the `Result` leaves room for
    /// fields of concrete types.
    pub fn new(engine: &Engine, fields: impl IntoIterator<Item = FieldType>) -> Result<StructType> {
        let fields = fields.into_iter().map(FieldType::to_env).collect();
        let ty = WasmSubType { is_final: true, supertype: None, composite: WasmCompositeType::Struct(fields) };
        Ok(StructType { registered: Registered::new(engine, ty) })
    }

    /// The struct type with canonical id `id` (which the caller holds).
    pub(crate) fn from_id(engine: &Engine, id: SharedTypeIndex) -> StructType {
        StructType { registered: Registered::of(engine, id) }
    }

    /// The engine the type belongs to.
    pub fn engine(&self) -> &Engine {
        &self.registered.engine
    }

    /// The fields, in order.
    pub fn fields(&self) -> impl ExactSizeIterator<Item = FieldType> + '_ {
        self.env_fields().iter().map(|f| FieldType::from_env(*f))
    }

    /// Field `index`, if there is one.
    pub fn field(&self, index: usize) -> Option<FieldType> {
        self.env_fields().get(index).map(|f| FieldType::from_env(*f))
    }

    pub(crate) fn id(&self) -> SharedTypeIndex {
        self.registered.id
    }

    pub(crate) fn env_fields(&self) -> &[WasmFieldType<SharedTypeIndex>] {
        match &self.registered.ty.composite {
            WasmCompositeType::Struct(fields) => fields,
            _ => &[],
        }
    }
}

/// An array type.
#[derive(Clone, Debug, PartialEq)]
pub struct ArrayType {
    registered: Registered,
}

impl ArrayType {
    /// The final array type of `engine` whose elements are of type `element`.
    pub fn new(engine: &Engine, element: FieldType) -> ArrayType {
        let ty = WasmSubType { is_final: true, supertype: None, composite: WasmCompositeType::Array(element.to_env()) };
        ArrayType { registered: Registered::new(engine, ty) }
    }

    /// The array type with canonical id `id` (which the caller holds).
    pub(crate) fn from_id(engine: &Engine, id: SharedTypeIndex) -> ArrayType {
        ArrayType { registered: Registered::of(engine, id) }
    }

    /// The engine the type belongs to.
    pub fn engine(&self) -> &Engine {
        &self.registered.engine
    }

    /// The elements' type.
    pub fn field_type(&self) -> FieldType {
        FieldType::from_env(self.env_element())
    }

    pub(crate) fn id(&self) -> SharedTypeIndex {
        self.registered.id
    }

    pub(crate) fn env_element(&self) -> WasmFieldType<SharedTypeIndex> {
        match &self.registered.ty.composite {
            WasmCompositeType::Array(element) => *element,
            // An array type's registration is an array type.
            _ => WasmFieldType { storage: WasmStorageType::I8, mutable: false },
        }
    }
}
