//! `AnyRef` and `I31`: references of GC's `any` hierarchy as the host sees them. An `i31` is
//! an unboxed 31-bit integer: in wasm's word for an anyref it is the integer shifted left by
//! one with bit 0 set, so it needs no heap, and every odd word is one. Any other non-null
//! word (an object of the store's GC heap) the host holds through a shared root the store's
//! collector keeps (see `vm::collector`).
use crate::AsContext;
use crate::store::StoreOpaqueExt;
use crate::vm::ids::StoreId;
use kiln_environ::WasmHeapType;
use std::sync::Arc;

/// A 31-bit integer, the value of an `i31ref`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct I31(u32);

impl I31 {
    const MASK: u32 = (1 << 31) - 1;

    /// The low 31 bits of `v` (what `ref.i31` keeps).
    pub fn wrapping_u32(v: u32) -> I31 {
        I31(v & Self::MASK)
    }

    /// The low 31 bits of `v`, as two's complement.
    pub fn wrapping_i32(v: i32) -> I31 {
        I31::wrapping_u32(v as u32)
    }

    /// `v`, if it fits in 31 bits unsigned.
    pub fn new_u32(v: u32) -> Option<I31> {
        (v <= Self::MASK).then_some(I31(v))
    }

    /// `v`, if it fits in 31 bits signed.
    pub fn new_i32(v: i32) -> Option<I31> {
        (-(1 << 30)..(1 << 30)).contains(&v).then(|| I31::wrapping_i32(v))
    }

    /// The value zero-extended (`i31.get_u`).
    pub fn get_u32(self) -> u32 {
        self.0
    }

    /// The value sign-extended (`i31.get_s`).
    pub fn get_i32(self) -> i32 {
        ((self.0 << 1) as i32) >> 1
    }

    /// The word wasm keeps for this i31.
    pub(crate) fn to_word(self) -> usize {
        ((self.0 as usize) << 1) | 1
    }

    /// The i31 of an odd word.
    pub(crate) fn from_word(word: usize) -> Option<I31> {
        (word & 1 == 1).then(|| I31::wrapping_u32((word >> 1) as u32))
    }
}

/// A non-null reference of the `any` hierarchy (`anyref`, `eqref`, `i31ref`, structs and
/// arrays…). An object of a store's GC heap stays alive for as long as the host holds an
/// `AnyRef` to it (a clone shares the hold): this is an owned root, released when the last
/// clone drops.
#[derive(Clone, Debug)]
pub struct AnyRef {
    repr: Repr,
}

#[derive(Clone, Debug)]
enum Repr {
    I31(I31),
    /// An object, or anything else of the hierarchy that is no i31 (an internalized
    /// externref): its word, held as a root of its store.
    Word(Arc<HeldWord>),
}

/// A word of a store that the host holds: a root of the store's collector for as long as
/// some `AnyRef` shares it.
#[derive(Debug)]
pub(crate) struct HeldWord {
    pub(crate) store: StoreId,
    pub(crate) word: usize,
}

impl AnyRef {
    /// The reference to an i31.
    pub fn from_i31(i31: I31) -> AnyRef {
        AnyRef { repr: Repr::I31(i31) }
    }

    /// The i31 this reference is, if it is one.
    pub fn as_i31(&self) -> Option<I31> {
        match self.repr {
            Repr::I31(i) => Some(i),
            Repr::Word(_) => None,
        }
    }

    /// Whether this is an i31.
    pub fn is_i31(&self) -> bool {
        self.as_i31().is_some()
    }

    /// Whether this is an `eqref`: an i31, a struct or an array (not an externref made
    /// `any`).
    ///
    /// # Panics
    /// If the reference is another store's.
    pub fn is_eq(&self, store: impl AsContext) -> bool {
        self.is_of(store, WasmHeapType::Eq)
    }

    /// Whether this is a struct.
    ///
    /// # Panics
    /// If the reference is another store's.
    pub fn is_struct(&self, store: impl AsContext) -> bool {
        self.is_of(store, WasmHeapType::Struct)
    }

    /// Whether this is an array.
    ///
    /// # Panics
    /// If the reference is another store's.
    pub fn is_array(&self, store: impl AsContext) -> bool {
        self.is_of(store, WasmHeapType::Array)
    }

    fn is_of(&self, store: impl AsContext, heap: WasmHeapType<kiln_environ::SharedTypeIndex>) -> bool {
        let cx = store.as_context();
        let opaque = cx.opaque();
        if let Repr::Word(w) = &self.repr {
            opaque.assert_store(w.store);
        }
        opaque.any_is_of(self, heap)
    }

    /// `any.convert_extern`: the externref `e` as an anyref of `store` (an externalized anyref
    /// is that anyref again).
    pub fn convert_extern(mut store: impl crate::AsContextMut, e: crate::ExternRef) -> AnyRef {
        if let Some(a) = e.data().downcast_ref::<AnyRef>() {
            return a.clone();
        }
        let mut cx = store.as_context_mut();
        let opaque = cx.opaque();
        let word = opaque.externs.reference_to(e.arc()).any_word();
        opaque.hold_any(word)
    }

    /// `extern.convert_any`: this anyref as an externref of `store` (an internalized
    /// externref is that externref again).
    ///
    /// # Panics
    /// If the reference is another store's.
    pub fn convert_to_extern(&self, store: impl AsContext) -> crate::ExternRef {
        let cx = store.as_context();
        let opaque = cx.opaque();
        if let Repr::Word(w) = &self.repr
            && let Some(value) = opaque.assert_store(w.store).externs.value_of(crate::vm::val_raw::RawRef::any(w.word))
        {
            return crate::ExternRef::from_arc(value);
        }
        crate::ExternRef::new(self.clone())
    }

    /// Whether two references are the same (`ref.eq`).
    pub fn ptr_eq(a: &AnyRef, b: &AnyRef) -> bool {
        match (&a.repr, &b.repr) {
            (Repr::I31(x), Repr::I31(y)) => x == y,
            (Repr::Word(x), Repr::Word(y)) => x.store == y.store && x.word == y.word,
            _ => false,
        }
    }

    /// The word wasm keeps for this reference, which must be of store `store` (an i31 is of
    /// every store).
    pub(crate) fn to_word(&self, store: StoreId) -> Option<usize> {
        match &self.repr {
            Repr::I31(i) => Some(i.to_word()),
            Repr::Word(w) => (w.store == store).then_some(w.word),
        }
    }

    /// The reference of a non-null word of store `store`, for the host to hold: an i31, or a
    /// word the store keeps as a root while `held` (which the store registers) lives.
    pub(crate) fn from_word(store: StoreId, word: usize) -> (AnyRef, Option<Arc<HeldWord>>) {
        match I31::from_word(word) {
            Some(i) => (AnyRef::from_i31(i), None),
            None => {
                let held = Arc::new(HeldWord { store, word });
                (AnyRef { repr: Repr::Word(held.clone()) }, Some(held))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn i31_wraps_and_extends() {
        assert_eq!(I31::wrapping_i32(-1).get_u32(), 0x7fff_ffff);
        assert_eq!(I31::wrapping_i32(-1).get_i32(), -1);
        assert_eq!(I31::wrapping_u32(0x4000_0000).get_i32(), -(1 << 30));
        assert_eq!(I31::wrapping_u32(0x8000_0001).get_u32(), 1);
        assert_eq!(I31::new_i32(1 << 30), None);
        assert_eq!(I31::new_i32(-(1 << 30)).map(I31::get_i32), Some(-(1 << 30)));
        assert_eq!(I31::new_u32(1 << 31), None);
        let word = I31::wrapping_i32(-5).to_word();
        assert_eq!(word & 1, 1);
        assert_eq!(I31::from_word(word).map(I31::get_i32), Some(-5));
        assert_eq!(I31::from_word(2), None);
    }
}
