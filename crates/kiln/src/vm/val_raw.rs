//! The raw forms values take between the host and compiled code: `ValRaw`, the 16-byte slot
//! of the array ABI, and `RawRef`, a reference value as wasm passes it to builtins and keeps
//! it in globals and (decoded) in tables. A funcref is the address of its `VMFuncRef`; null
//! is 0. Every other reference is a word that says what it is by its low bits, so that a word
//! found on the stack needs no type to be traced: bit 0 set, an i31 (the value above it);
//! `0b10`, a slot of the store's reference slab (externrefs and exceptions: the slot above
//! the two bits). Every conversion between these words and
//! typed pointers or slots is here.
use super::ids::ExternSlot;
use super::vm_ptr::VmPtr;
use super::vmcontext::VMFuncRef;
use cranelift_entity::EntityRef;

/// The low bits of a word that names a slot of the reference slab.
const SLAB_TAG: usize = 0b10;

/// One 16-byte value slot of the array ABI.
#[repr(C, align(16))]
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct ValRaw(pub [u8; 16]);

impl ValRaw {
    /// A slot holding `bits` (little-endian; narrower values use the low bytes).
    pub fn from_bits(bits: u128) -> ValRaw {
        ValRaw(bits.to_le_bytes())
    }

    /// The slot's bits.
    pub fn bits(self) -> u128 {
        u128::from_le_bytes(self.0)
    }

    /// A slot holding a reference.
    pub fn from_ref(r: RawRef) -> ValRaw {
        ValRaw::from_bits(r.0 as u128)
    }

    /// The reference in a slot that holds one.
    pub fn to_ref(self) -> RawRef {
        // A reference occupies the low pointer-sized bytes.
        RawRef(self.bits() as usize)
    }
}

/// A reference value: a funcref's `VMFuncRef` address, a word of the other hierarchies (see
/// the module docs), or 0 for null. Whether it is a funcref follows from the type of the
/// place that holds it.
#[repr(transparent)]
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq, Hash)]
pub struct RawRef(usize);

impl RawRef {
    /// The null reference of either type.
    pub const NULL: RawRef = RawRef(0);

    /// A funcref.
    pub fn func(f: Option<VmPtr<VMFuncRef>>) -> RawRef {
        RawRef(f.map_or(0, VmPtr::expose))
    }

    /// This funcref's `VMFuncRef`, or `None` for null.
    pub fn as_func(self) -> Option<VmPtr<VMFuncRef>> {
        VmPtr::from_exposed(self.0)
    }

    /// The reference to slab slot `slot` (an externref or an exception).
    pub fn extern_ref(slot: Option<ExternSlot>) -> RawRef {
        RawRef(slot.map_or(0, |s| (s.index() << 2) | SLAB_TAG))
    }

    /// The slab slot this word names, or `None` for null and words of other kinds.
    pub fn as_extern(self) -> Option<ExternSlot> {
        let slot = (self.0 & 3 == SLAB_TAG).then_some(self.0 >> 2)?;
        // A slot past the entity range is no slot the store handed out.
        (slot < u32::MAX as usize).then(|| ExternSlot::new(slot))
    }

    /// An anyref, from its word (0 is null, an odd word an i31).
    pub fn any(word: usize) -> RawRef {
        RawRef(word)
    }

    /// This anyref's word.
    pub fn any_word(self) -> usize {
        self.0
    }

    /// The word as a table stores it (see `TableStorage`'s encoding).
    pub(super) fn word(self) -> usize {
        self.0
    }

    /// A reference from the word a table stores.
    pub(super) fn from_word(word: usize) -> RawRef {
        RawRef(word)
    }
}
