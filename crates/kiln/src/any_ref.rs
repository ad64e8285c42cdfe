//! `AnyRef`, `EqRef` and `I31`: references of GC's `any` hierarchy as the host sees them. An
//! `i31` is an unboxed 31-bit integer: in wasm's word for an anyref it is the integer shifted
//! left by one with bit 0 set, so it needs no heap, and every odd word is one. The host holds
//! any other reference (an object of the store's GC heap, an externref made `any`) through a
//! root (see `gc_root`); an `AnyRef` views it, and casts to the struct and array views check
//! the object's header.
use crate::gc_root::sealed::GcRefImpl;
use crate::gc_root::{GcRef, GcRootIndex, Rooted, gc_ref_type};
use crate::{ArrayRef, AsContext, AsContextMut, Error, ExternRef, Result, StructRef};
use kiln_environ::{SharedTypeIndex, WasmHeapType};

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

/// A non-null reference of the `any` hierarchy (`anyref`: an i31, a struct, an array, or an
/// externref made `any`), held through a root ([`Rooted`] or [`OwnedRooted`]).
#[derive(Copy, Clone, Debug)]
pub struct AnyRef {
    root: GcRootIndex,
}

/// A non-null reference of the `eq` hierarchy (`eqref`: an i31, a struct or an array).
#[derive(Copy, Clone, Debug)]
pub struct EqRef {
    root: GcRootIndex,
}

gc_ref_type!(AnyRef, EqRef);

/// The word of a root, for reading it in `store`.
fn word_of(store: &impl AsContext, root: &impl GcRefImpl) -> Result<usize> {
    store.as_context().opaque().root_word(root.root())
}

/// Whether the root `r` of `store` is of heap type `heap`.
fn is_of(store: &impl AsContext, r: &impl GcRefImpl, heap: WasmHeapType<SharedTypeIndex>) -> Result<bool> {
    let word = word_of(store, r)?;
    Ok(store.as_context().opaque().any_is_of(word, heap))
}

/// `r` viewed as `U`, if it is of heap type `heap`.
fn view_as<U: GcRef>(
    store: &impl AsContext,
    r: &impl GcRefImpl,
    heap: WasmHeapType<SharedTypeIndex>,
) -> Result<Option<Rooted<U>>> {
    Ok(is_of(store, r, heap)?.then(|| Rooted::from_root(r.root())))
}

/// The methods shared by `AnyRef` and `EqRef`: the i31, struct and array views.
macro_rules! any_views {
    ($t:ident) => {
        impl $t {
            /// Whether this is an i31.
            ///
            /// # Errors
            /// [`Error::Unrooted`](crate::Error::Unrooted) when its root is gone;
            /// [`Error::Other`] when it is another store's.
            pub fn is_i31(&self, store: impl AsContext) -> Result<bool> {
                Ok(I31::from_word(word_of(&store, self)?).is_some())
            }

            /// The i31 this is, if it is one.
            ///
            /// # Errors
            /// As [`Self::is_i31`].
            pub fn as_i31(&self, store: impl AsContext) -> Result<Option<I31>> {
                Ok(I31::from_word(word_of(&store, self)?))
            }

            /// The i31 this is.
            ///
            /// # Errors
            /// As [`Self::is_i31`], and when it is no i31.
            pub fn unwrap_i31(&self, store: impl AsContext) -> Result<I31> {
                self.as_i31(store)?.ok_or_else(|| Error::Other("the reference is no i31".into()))
            }

            /// Whether this is a struct.
            ///
            /// # Errors
            /// As [`Self::is_i31`].
            pub fn is_struct(&self, store: impl AsContext) -> Result<bool> {
                is_of(&store, self, WasmHeapType::Struct)
            }

            /// This reference as a struct, if it is one.
            ///
            /// # Errors
            /// As [`Self::is_i31`].
            pub fn as_struct(&self, store: impl AsContext) -> Result<Option<Rooted<StructRef>>> {
                view_as(&store, self, WasmHeapType::Struct)
            }

            /// This reference as a struct.
            ///
            /// # Errors
            /// As [`Self::is_i31`], and when it is no struct.
            pub fn unwrap_struct(&self, store: impl AsContext) -> Result<Rooted<StructRef>> {
                self.as_struct(store)?.ok_or_else(|| Error::Other("the reference is no struct".into()))
            }

            /// Whether this is an array.
            ///
            /// # Errors
            /// As [`Self::is_i31`].
            pub fn is_array(&self, store: impl AsContext) -> Result<bool> {
                is_of(&store, self, WasmHeapType::Array)
            }

            /// This reference as an array, if it is one.
            ///
            /// # Errors
            /// As [`Self::is_i31`].
            pub fn as_array(&self, store: impl AsContext) -> Result<Option<Rooted<ArrayRef>>> {
                view_as(&store, self, WasmHeapType::Array)
            }

            /// This reference as an array.
            ///
            /// # Errors
            /// As [`Self::is_i31`], and when it is no array.
            pub fn unwrap_array(&self, store: impl AsContext) -> Result<Rooted<ArrayRef>> {
                self.as_array(store)?.ok_or_else(|| Error::Other("the reference is no array".into()))
            }
        }
    };
}

any_views!(AnyRef);
any_views!(EqRef);

impl AnyRef {
    /// The reference to an i31, rooted in `store`'s current scope.
    pub fn from_i31(mut store: impl AsContextMut, i31: I31) -> Rooted<AnyRef> {
        Rooted::new(store.as_context_mut().opaque(), i31.to_word())
    }

    /// Whether this is an `eqref`: an i31, a struct or an array (not an externref made
    /// `any`).
    ///
    /// # Errors
    /// [`Error::Unrooted`](crate::Error::Unrooted) when its root is gone; [`Error::Other`]
    /// when it is another store's.
    pub fn is_eqref(&self, store: impl AsContext) -> Result<bool> {
        is_of(&store, self, WasmHeapType::Eq)
    }

    /// This reference as an `eqref`, if it is one.
    ///
    /// # Errors
    /// As [`AnyRef::is_eqref`].
    pub fn as_eqref(&self, store: impl AsContext) -> Result<Option<Rooted<EqRef>>> {
        view_as(&store, self, WasmHeapType::Eq)
    }

    /// `any.convert_extern`: the externref `e` as an anyref (an externalized anyref is that
    /// anyref again).
    ///
    /// # Errors
    /// [`Error::Unrooted`](crate::Error::Unrooted) when `e`'s root is gone;
    /// [`Error::Other`] when it is another store's.
    pub fn convert_extern(store: impl AsContext, e: Rooted<ExternRef>) -> Result<Rooted<AnyRef>> {
        // One word serves both views: a slab slot is an internalized externref, and an
        // externalized anyref keeps its own word.
        e.convert(store)
    }
}

impl Rooted<EqRef> {
    /// The same reference as an `anyref`.
    pub fn to_anyref(self) -> Rooted<AnyRef> {
        self.cast()
    }
}

impl Rooted<StructRef> {
    /// The same reference as an `anyref`.
    pub fn to_anyref(self) -> Rooted<AnyRef> {
        self.cast()
    }

    /// The same reference as an `eqref`.
    pub fn to_eqref(self) -> Rooted<EqRef> {
        self.cast()
    }
}

impl Rooted<ArrayRef> {
    /// The same reference as an `anyref`.
    pub fn to_anyref(self) -> Rooted<AnyRef> {
        self.cast()
    }

    /// The same reference as an `eqref`.
    pub fn to_eqref(self) -> Rooted<EqRef> {
        self.cast()
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
