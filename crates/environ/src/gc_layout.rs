//! The layout of GC objects in a store's GC heap, which compiled code and the runtime share.
//! An object starts with an 8-byte header: its canonical type id (`u32`) and the collector's
//! word (`u32`: the object's size in bytes, a multiple of 8, with the mark in bit 0 and
//! [`GC_ARRAY_BIT`] set for an array).
//! A struct's fields follow in declaration order, each at an offset aligned to its size (at
//! most 8); an array has its length (`u32`) at offset 8 and its elements from offset 16.
//! References of the `func` hierarchy take 8 bytes (a `VMFuncRef` address); every other
//! reference is stored as its 32-bit word. Sizes are rounded up to 8.
use crate::{WasmCompositeType, WasmHeapType, WasmStorageType, WasmSubType, WasmValType};

/// The size of every object's header.
pub const GC_HEADER_SIZE: u32 = 8;
/// Where an array keeps its length.
pub const GC_ARRAY_LENGTH_OFFSET: u32 = 8;
/// Where an array's elements start.
pub const GC_ARRAY_ELEMENTS_OFFSET: u32 = 16;
/// Where the collector's word is in the header.
pub const GC_INFO_OFFSET: u32 = 4;
/// The bit of the collector's word that says the object is an array.
pub const GC_ARRAY_BIT: u32 = 2;
/// The type id in a free block's header.
pub const GC_FREE_TYPE: u32 = u32::MAX;

/// Where one struct field or array element lives.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct GcField {
    /// Its offset in the object (for an array element, of the first).
    pub offset: u32,
    /// Its size in bytes.
    pub size: u32,
    /// Whether it holds a reference the collector traces (a 32-bit word).
    pub traced: bool,
}

/// The layout of a struct or array type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GcLayout {
    /// A struct: its size and its fields.
    Struct {
        /// The whole object's size, header included, a multiple of 8.
        size: u32,
        /// Each field, in order.
        fields: Box<[GcField]>,
    },
    /// An array: where its elements start and how large each is.
    Array {
        /// Its element.
        element: GcField,
    },
}

/// The size in an object of a value of storage type `s`, and whether the collector traces it.
pub fn storage_size<T: Copy + Eq>(s: WasmStorageType<T>) -> (u32, bool) {
    match s {
        WasmStorageType::I8 => (1, false),
        WasmStorageType::I16 => (2, false),
        WasmStorageType::Val(WasmValType::I32 | WasmValType::F32) => (4, false),
        WasmStorageType::Val(WasmValType::V128) => (16, false),
        WasmStorageType::Val(_) => (8, false),
        WasmStorageType::Ref(r) if r.heap.top() == WasmHeapType::Func => (8, false),
        WasmStorageType::Ref(_) => (4, true),
    }
}

impl GcLayout {
    /// The layout of `ty`, or `None` for a function type.
    pub fn of<T: Copy + Eq>(ty: &WasmSubType<T>) -> Option<GcLayout> {
        match &ty.composite {
            WasmCompositeType::Func(..) => None,
            WasmCompositeType::Struct(fields) => {
                let mut at = u64::from(GC_HEADER_SIZE);
                let mut out = Vec::with_capacity(fields.len());
                for f in fields.iter() {
                    let (size, traced) = storage_size(f.storage);
                    let align = u64::from(size.min(8));
                    at = at.div_ceil(align) * align;
                    out.push(GcField { offset: u32::try_from(at).ok()?, size, traced });
                    at += u64::from(size);
                }
                let size = u32::try_from(at.div_ceil(8) * 8).ok()?;
                Some(GcLayout::Struct { size, fields: out.into() })
            }
            WasmCompositeType::Array(element) => {
                let (size, traced) = storage_size(element.storage);
                Some(GcLayout::Array { element: GcField { offset: GC_ARRAY_ELEMENTS_OFFSET, size, traced } })
            }
        }
    }

    /// The size of an object of this layout with `length` elements (for an array), rounded
    /// up to 8, or `None` when it would not fit in 32 bits.
    pub fn object_size(&self, length: u32) -> Option<u32> {
        match self {
            GcLayout::Struct { size, .. } => Some(*size),
            GcLayout::Array { element } => {
                let bytes = u64::from(element.offset) + u64::from(element.size) * u64::from(length);
                u32::try_from(bytes.div_ceil(8) * 8).ok()
            }
        }
    }

    /// The most elements an array of this layout may have (its size must fit in 32 bits).
    pub fn max_length(&self) -> u32 {
        match self {
            GcLayout::Struct { .. } => 0,
            GcLayout::Array { element } => (u32::MAX - 7 - element.offset) / element.size,
        }
    }
}
