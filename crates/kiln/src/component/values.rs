//! `Val`: a component-model value as the host sees it, dynamically typed, with every case
//! the canonical ABI can lift or lower; and `ResourceAny`, a handle to a resource held by
//! the host.
use kiln_environ::component::ResourceIndex;

/// A component-model value.
#[derive(Clone, Debug, PartialEq)]
pub enum Val {
    /// `bool`
    Bool(bool),
    /// `s8`
    S8(i8),
    /// `u8`
    U8(u8),
    /// `s16`
    S16(i16),
    /// `u16`
    U16(u16),
    /// `s32`
    S32(i32),
    /// `u32`
    U32(u32),
    /// `s64`
    S64(i64),
    /// `u64`
    U64(u64),
    /// `f32`
    Float32(f32),
    /// `f64`
    Float64(f64),
    /// `char`
    Char(char),
    /// `string`
    String(String),
    /// `list<T>`
    List(Vec<Val>),
    /// `record`: fields by name, in the type's order.
    Record(Vec<(String, Val)>),
    /// `tuple`
    Tuple(Vec<Val>),
    /// `variant`: the case's name and its payload.
    Variant(String, Option<Box<Val>>),
    /// `enum`: the case's name.
    Enum(String),
    /// `option<T>`
    Option(Option<Box<Val>>),
    /// `result<T, E>`
    Result(Result<Option<Box<Val>>, Option<Box<Val>>>),
    /// `flags`: the names of the flags that are set.
    Flags(Vec<String>),
    /// `map<K, V>`: its entries, in order.
    Map(Vec<(Val, Val)>),
    /// `own<R>` or `borrow<R>`.
    Resource(ResourceAny),
}

/// A resource type at run time: a type a component instance defines (one per
/// instantiation), or one the host defines.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct ResourceType(pub(crate) ResourceTypeKind);

#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum ResourceTypeKind {
    /// Defined by a component instance: the instance's id and the resource's index.
    Guest(u64, ResourceIndex),
    /// Defined by the host: a Rust type's id.
    Host(std::any::TypeId),
}

impl ResourceType {
    /// The resource type of the host's Rust type `T`.
    pub fn host<T: 'static>() -> ResourceType {
        ResourceType(ResourceTypeKind::Host(std::any::TypeId::of::<T>()))
    }
}

/// A resource handle held by the host: an index into the store's host handle table.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct ResourceAny {
    /// The store whose host table (or, for a borrow, whose component) it belongs to.
    pub(crate) store: crate::vm::ids::StoreId,
    pub(crate) index: u32,
    pub(crate) generation: u32,
    pub(crate) ty: ResourceType,
    pub(crate) own: bool,
}

impl ResourceAny {
    /// Its resource type.
    pub fn ty(&self) -> ResourceType {
        self.ty
    }

    /// Whether it is an `own` handle (rather than a `borrow`).
    pub fn owned(&self) -> bool {
        self.own
    }
}
