//! `ExternRef`: a reference to a host value (`externref`), held like every other reference
//! the collector manages, through a root. The value itself lives in the store's slab (see
//! `vm::extern_refs`) for as long as a root, a table, a global or a wasm frame names it. An
//! externref that wasm made from an anyref (`extern.convert_any`) keeps that anyref's word
//! and has no host value.
use crate::gc_root::sealed::GcRefImpl;
use crate::gc_root::{GcRootIndex, Rooted, gc_ref_type};
use crate::vm::val_raw::RawRef;
use crate::{AnyRef, AsContext, AsContextMut, Result};
use std::any::Any;
use std::sync::Arc;

/// A non-null `externref`, held through a root ([`Rooted`] or
/// [`OwnedRooted`](crate::OwnedRooted)).
#[derive(Copy, Clone, Debug)]
pub struct ExternRef {
    root: GcRootIndex,
}

gc_ref_type!(ExternRef);

impl ExternRef {
    /// A new reference to `value`, rooted in `store`'s current scope.
    ///
    /// # Errors
    /// None today; the `Result` leaves room for a bounded slab.
    pub fn new(mut store: impl AsContextMut, value: impl Any + Send + Sync) -> Result<Rooted<ExternRef>> {
        let mut cx = store.as_context_mut();
        let s = cx.opaque();
        s.maybe_gc();
        let value: Arc<dyn Any + Send + Sync> = Arc::new(value);
        let word = s.externs.reference_to(&value).any_word();
        Ok(Rooted::new(s, word))
    }

    /// The host value this references: `None` for an anyref made extern.
    ///
    /// # Errors
    /// [`Error::Unrooted`](crate::Error::Unrooted) when its root is gone;
    /// [`Error::Other`](crate::Error::Other) when it is another store's.
    pub fn data<'a, C: AsContext + ?Sized>(&self, store: &'a C) -> Result<Option<&'a (dyn Any + Send + Sync)>> {
        let opaque = store.as_context().into_opaque();
        let word = opaque.root_word(self.root())?;
        Ok(opaque.externs.value_ref(RawRef::any(word)))
    }

    /// `extern.convert_any`: the anyref `a` as an externref (an internalized externref is
    /// that externref again).
    ///
    /// # Errors
    /// [`Error::Unrooted`](crate::Error::Unrooted) when `a`'s root is gone;
    /// [`Error::Other`](crate::Error::Other) when it is another store's.
    pub fn convert_any(store: impl AsContext, a: Rooted<AnyRef>) -> Result<Rooted<ExternRef>> {
        a.convert(store)
    }
}
