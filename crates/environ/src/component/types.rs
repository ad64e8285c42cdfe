//! The component model's value types as Kiln keeps them: `InterfaceType`, a small copyable
//! name for every value type, and `ComponentTypes`, the interned tables its compound types
//! point into. Types are translated from wasmparser's once per component, with every resource
//! already resolved to the [`ResourceIndex`] it has in the flattened component, so the
//! canonical ABI (in the runtime, and later in compiled adapters) reads sizes, alignments and
//! flattenings from here alone.
use std::collections::HashMap;

use cranelift_entity::PrimaryMap;
use serde::{Deserialize, Serialize};

crate::index::index_type! {
    /// A component function type.
    TypeFuncIndex, "type_func";
    /// A record type.
    TypeRecordIndex, "type_record";
    /// A variant type.
    TypeVariantIndex, "type_variant";
    /// A list type.
    TypeListIndex, "type_list";
    /// A tuple type.
    TypeTupleIndex, "type_tuple";
    /// A flags type.
    TypeFlagsIndex, "type_flags";
    /// An enum type.
    TypeEnumIndex, "type_enum";
    /// An option type.
    TypeOptionIndex, "type_option";
    /// A result type.
    TypeResultIndex, "type_result";
    /// A map type.
    TypeMapIndex, "type_map";
    /// A resource type of the flattened component: one per resource definition that
    /// instantiation runs, plus one per resource the root imports.
    ResourceIndex, "resource";
}

/// A component value type.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum InterfaceType {
    /// `bool`
    Bool,
    /// `s8`
    S8,
    /// `u8`
    U8,
    /// `s16`
    S16,
    /// `u16`
    U16,
    /// `s32`
    S32,
    /// `u32`
    U32,
    /// `s64`
    S64,
    /// `u64`
    U64,
    /// `f32`
    Float32,
    /// `f64`
    Float64,
    /// `char`
    Char,
    /// `string`
    String,
    /// `record`
    Record(TypeRecordIndex),
    /// `variant`
    Variant(TypeVariantIndex),
    /// `list`
    List(TypeListIndex),
    /// `tuple`
    Tuple(TypeTupleIndex),
    /// `flags`
    Flags(TypeFlagsIndex),
    /// `enum`
    Enum(TypeEnumIndex),
    /// `option`
    Option(TypeOptionIndex),
    /// `result`
    Result(TypeResultIndex),
    /// `map<K, V>`
    Map(TypeMapIndex),
    /// `own<R>`
    Own(ResourceIndex),
    /// `borrow<R>`
    Borrow(ResourceIndex),
}

/// A component function type.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TypeFunc {
    /// Parameter names and types.
    pub params: Vec<(String, InterfaceType)>,
    /// The result, if any.
    pub result: Option<InterfaceType>,
}

/// A record's fields, in order.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TypeRecord {
    /// Field names and types.
    pub fields: Vec<(String, InterfaceType)>,
}

/// A variant's cases, in order.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TypeVariant {
    /// Case names and payload types.
    pub cases: Vec<(String, Option<InterfaceType>)>,
}

/// The types of a tuple's elements.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TypeTuple {
    /// Element types.
    pub types: Vec<InterfaceType>,
}

/// The names of a flags type or an enum, in order.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TypeNames {
    /// The names.
    pub names: Vec<String>,
}

/// The `ok` and `err` payload types of a result.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TypeResult {
    /// The `ok` payload.
    pub ok: Option<InterfaceType>,
    /// The `err` payload.
    pub err: Option<InterfaceType>,
}

/// The key and value types of a map (laid out in memory as a list of key-value records).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TypeMap {
    /// The key type.
    pub key: InterfaceType,
    /// The value type.
    pub value: InterfaceType,
}

/// A core value type in a flattened (`flat`) lowering.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FlatType {
    /// `i32`
    I32,
    /// `i64`
    I64,
    /// `f32`
    F32,
    /// `f64`
    F64,
}

impl FlatType {
    /// The type two cases' flat types join to in a variant's payload.
    pub fn join(self, other: FlatType) -> FlatType {
        match (self, other) {
            (a, b) if a == b => a,
            (FlatType::I32, FlatType::F32) | (FlatType::F32, FlatType::I32) => FlatType::I32,
            _ => FlatType::I64,
        }
    }
}

/// The most flat values a function's parameters are passed in before they go to memory.
pub const MAX_FLAT_PARAMS: usize = 16;
/// The most flat values an `async` lowering passes its parameters in before they go to
/// memory.
pub const MAX_FLAT_ASYNC_PARAMS: usize = 4;
/// The most flat values a function's result is returned in before it goes to memory.
pub const MAX_FLAT_RESULTS: usize = 1;

/// Every compound type of one component, interned: equal types share an index.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ComponentTypes {
    /// Function types.
    pub funcs: PrimaryMap<TypeFuncIndex, TypeFunc>,
    /// Record types.
    pub records: PrimaryMap<TypeRecordIndex, TypeRecord>,
    /// Variant types.
    pub variants: PrimaryMap<TypeVariantIndex, TypeVariant>,
    /// List element types.
    pub lists: PrimaryMap<TypeListIndex, InterfaceType>,
    /// Tuple types.
    pub tuples: PrimaryMap<TypeTupleIndex, TypeTuple>,
    /// Flags types.
    pub flags: PrimaryMap<TypeFlagsIndex, TypeNames>,
    /// Enum types.
    pub enums: PrimaryMap<TypeEnumIndex, TypeNames>,
    /// Option payload types.
    pub options: PrimaryMap<TypeOptionIndex, InterfaceType>,
    /// Result types.
    pub results: PrimaryMap<TypeResultIndex, TypeResult>,
    /// Map types.
    pub maps: PrimaryMap<TypeMapIndex, TypeMap>,
}

/// Size and alignment of a type in linear memory (32-bit memories).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Size in bytes, a multiple of `align`.
    pub size: u32,
    /// Alignment in bytes: 1, 2, 4 or 8.
    pub align: u32,
}

fn align_to(offset: u32, align: u32) -> u32 {
    offset.div_ceil(align) * align
}

/// The byte width of a variant's discriminant for `cases` cases.
pub fn discriminant_size(cases: usize) -> u32 {
    if cases <= 1 << 8 {
        1
    } else if cases <= 1 << 16 {
        2
    } else {
        4
    }
}

impl ComponentTypes {
    /// The memory layout of `ty`. Sizes are bounded by validation (wasmparser refuses value
    /// types above its maximum size), so no arithmetic here overflows.
    pub fn layout(&self, ty: InterfaceType) -> Layout {
        let l = |size, align| Layout { size, align };
        match ty {
            InterfaceType::Bool | InterfaceType::S8 | InterfaceType::U8 => l(1, 1),
            InterfaceType::S16 | InterfaceType::U16 => l(2, 2),
            InterfaceType::S32
            | InterfaceType::U32
            | InterfaceType::Float32
            | InterfaceType::Char
            | InterfaceType::Own(_)
            | InterfaceType::Borrow(_) => l(4, 4),
            InterfaceType::S64 | InterfaceType::U64 | InterfaceType::Float64 => l(8, 8),
            InterfaceType::String | InterfaceType::List(_) | InterfaceType::Map(_) => l(8, 4),
            InterfaceType::Record(i) => self.record_layout(self.records[i].fields.iter().map(|(_, t)| *t)),
            InterfaceType::Tuple(i) => self.record_layout(self.tuples[i].types.iter().copied()),
            InterfaceType::Flags(i) => {
                let n = self.flags[i].names.len();
                match n {
                    0 => l(0, 1),
                    1..=8 => l(1, 1),
                    9..=16 => l(2, 2),
                    _ => l(4 * n.div_ceil(32) as u32, 4),
                }
            }
            InterfaceType::Enum(i) => {
                let d = discriminant_size(self.enums[i].names.len());
                l(d, d)
            }
            InterfaceType::Variant(i) => {
                self.variant_layout(self.variants[i].cases.len(), self.variants[i].cases.iter().map(|(_, t)| *t))
            }
            InterfaceType::Option(i) => self.variant_layout(2, [None, Some(self.options[i])].into_iter()),
            InterfaceType::Result(i) => {
                let r = &self.results[i];
                self.variant_layout(2, [r.ok, r.err].into_iter())
            }
        }
    }

    fn record_layout(&self, fields: impl Iterator<Item = InterfaceType>) -> Layout {
        let (mut size, mut align) = (0, 1);
        for f in fields {
            let fl = self.layout(f);
            size = align_to(size, fl.align) + fl.size;
            align = align.max(fl.align);
        }
        Layout { size: align_to(size, align), align }
    }

    fn variant_layout(&self, cases: usize, payloads: impl Iterator<Item = Option<InterfaceType>>) -> Layout {
        let d = discriminant_size(cases);
        let (mut size, mut align) = (0, d);
        for p in payloads.flatten() {
            let pl = self.layout(p);
            size = size.max(pl.size);
            align = align.max(pl.align);
        }
        Layout { size: align_to(align_to(d, align) + size, align), align }
    }

    /// The offsets of a record's fields (or a tuple's elements, or a function's parameters
    /// in memory), in order.
    pub fn field_offsets(&self, fields: impl Iterator<Item = InterfaceType>) -> Vec<u32> {
        let mut offset = 0u32;
        fields
            .map(|t| {
                let l = self.layout(t);
                offset = align_to(offset, l.align);
                let at = offset;
                offset += l.size;
                at
            })
            .collect()
    }

    /// The layout of one entry of a map: a record of its key and value.
    pub fn map_entry_layout(&self, map: TypeMapIndex) -> (Layout, u32) {
        let m = &self.maps[map];
        let layout = self.record_layout([m.key, m.value].into_iter());
        let v = self.layout(m.value);
        (layout, self.layout(m.key).size.div_ceil(v.align) * v.align)
    }

    /// The offset of a variant's payload after its discriminant.
    pub fn payload_offset(&self, ty: InterfaceType) -> u32 {
        let cases = match ty {
            InterfaceType::Variant(i) => self.variants[i].cases.len(),
            InterfaceType::Enum(i) => self.enums[i].names.len(),
            _ => 2,
        };
        align_to(discriminant_size(cases), self.layout(ty).align)
    }

    /// Appends the flat core types of `ty` to `out`.
    pub fn push_flat(&self, ty: InterfaceType, out: &mut Vec<FlatType>) {
        match ty {
            InterfaceType::Bool
            | InterfaceType::S8
            | InterfaceType::U8
            | InterfaceType::S16
            | InterfaceType::U16
            | InterfaceType::S32
            | InterfaceType::U32
            | InterfaceType::Char
            | InterfaceType::Enum(_)
            | InterfaceType::Own(_)
            | InterfaceType::Borrow(_) => out.push(FlatType::I32),
            InterfaceType::S64 | InterfaceType::U64 => out.push(FlatType::I64),
            InterfaceType::Float32 => out.push(FlatType::F32),
            InterfaceType::Float64 => out.push(FlatType::F64),
            InterfaceType::String | InterfaceType::List(_) | InterfaceType::Map(_) => {
                out.extend([FlatType::I32, FlatType::I32])
            }
            InterfaceType::Record(i) => self.records[i].fields.iter().for_each(|(_, t)| self.push_flat(*t, out)),
            InterfaceType::Tuple(i) => self.tuples[i].types.iter().for_each(|t| self.push_flat(*t, out)),
            InterfaceType::Flags(i) => {
                out.extend(std::iter::repeat_n(FlatType::I32, self.flags[i].names.len().div_ceil(32)))
            }
            InterfaceType::Variant(i) => self.push_flat_variant(self.variants[i].cases.iter().map(|(_, t)| *t), out),
            InterfaceType::Option(i) => self.push_flat_variant([None, Some(self.options[i])].into_iter(), out),
            InterfaceType::Result(i) => {
                let r = &self.results[i];
                self.push_flat_variant([r.ok, r.err].into_iter(), out)
            }
        }
    }

    fn push_flat_variant(&self, payloads: impl Iterator<Item = Option<InterfaceType>>, out: &mut Vec<FlatType>) {
        out.push(FlatType::I32);
        let mut joined: Vec<FlatType> = Vec::new();
        for p in payloads.flatten() {
            let mut flat = Vec::new();
            self.push_flat(p, &mut flat);
            for (i, f) in flat.into_iter().enumerate() {
                match joined.get_mut(i) {
                    Some(j) => *j = j.join(f),
                    None => joined.push(f),
                }
            }
        }
        out.extend(joined);
    }

    /// The flat core types of `ty`.
    pub fn flat(&self, ty: InterfaceType) -> Vec<FlatType> {
        let mut out = Vec::new();
        self.push_flat(ty, &mut out);
        out
    }

    /// The flat core types of a function's parameters, or `None` when there are more than
    /// [`MAX_FLAT_PARAMS`] (they then go through memory, behind one pointer).
    pub fn flat_params(&self, func: TypeFuncIndex) -> Option<Vec<FlatType>> {
        let mut out = Vec::new();
        for (_, t) in &self.funcs[func].params {
            self.push_flat(*t, &mut out);
            if out.len() > MAX_FLAT_PARAMS {
                return None;
            }
        }
        Some(out)
    }

    /// The flat core types of a function's result, or `None` when there are more than
    /// [`MAX_FLAT_RESULTS`].
    pub fn flat_results(&self, func: TypeFuncIndex) -> Option<Vec<FlatType>> {
        let out = self.funcs[func].result.map(|t| self.flat(t)).unwrap_or_default();
        (out.len() <= MAX_FLAT_RESULTS).then_some(out)
    }

    /// The layout of a function's parameters as one record (when they go through memory).
    pub fn params_layout(&self, func: TypeFuncIndex) -> Layout {
        self.record_layout(self.funcs[func].params.iter().map(|(_, t)| *t))
    }
}

/// Interns types into a [`ComponentTypes`].
#[derive(Default)]
pub struct ComponentTypesBuilder {
    types: ComponentTypes,
    funcs: HashMap<TypeFunc, TypeFuncIndex>,
    records: HashMap<TypeRecord, TypeRecordIndex>,
    variants: HashMap<TypeVariant, TypeVariantIndex>,
    lists: HashMap<InterfaceType, TypeListIndex>,
    tuples: HashMap<TypeTuple, TypeTupleIndex>,
    flags: HashMap<TypeNames, TypeFlagsIndex>,
    enums: HashMap<TypeNames, TypeEnumIndex>,
    options: HashMap<InterfaceType, TypeOptionIndex>,
    results: HashMap<TypeResult, TypeResultIndex>,
    maps: HashMap<TypeMap, TypeMapIndex>,
}

macro_rules! intern {
    ($($method:ident: $field:ident, $ty:ty => $index:ty;)*) => {$(
        /// Interns one type.
        pub fn $method(&mut self, ty: $ty) -> $index {
            if let Some(i) = self.$field.get(&ty) {
                return *i;
            }
            let i = self.types.$field.push(ty.clone());
            self.$field.insert(ty, i);
            i
        }
    )*};
}

impl ComponentTypesBuilder {
    intern! {
        func: funcs, TypeFunc => TypeFuncIndex;
        record: records, TypeRecord => TypeRecordIndex;
        variant: variants, TypeVariant => TypeVariantIndex;
        list: lists, InterfaceType => TypeListIndex;
        tuple: tuples, TypeTuple => TypeTupleIndex;
        flags: flags, TypeNames => TypeFlagsIndex;
        enum_: enums, TypeNames => TypeEnumIndex;
        option: options, InterfaceType => TypeOptionIndex;
        result: results, TypeResult => TypeResultIndex;
        map: maps, TypeMap => TypeMapIndex;
    }

    /// The tables interned so far.
    pub fn types(&self) -> &ComponentTypes {
        &self.types
    }

    /// The finished tables.
    pub fn finish(self) -> ComponentTypes {
        self.types
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_follow_the_canonical_abi() {
        let mut b = ComponentTypesBuilder::default();
        let rec =
            b.record(TypeRecord { fields: vec![("a".into(), InterfaceType::U8), ("b".into(), InterfaceType::U64)] });
        let opt = b.option(InterfaceType::U32);
        let res = b.result(TypeResult { ok: Some(InterfaceType::Float32), err: Some(InterfaceType::U64) });
        let t = b.finish();
        assert_eq!(t.layout(InterfaceType::Record(rec)), Layout { size: 16, align: 8 });
        assert_eq!(t.layout(InterfaceType::Option(opt)), Layout { size: 8, align: 4 });
        assert_eq!(t.payload_offset(InterfaceType::Option(opt)), 4);
        assert_eq!(t.flat(InterfaceType::Result(res)), vec![FlatType::I32, FlatType::I64]);
        assert_eq!(t.flat(InterfaceType::Option(opt)), vec![FlatType::I32, FlatType::I32]);
    }
}
