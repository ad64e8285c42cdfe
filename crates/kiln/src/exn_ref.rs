//! `ExnRef`: a wasm exception as the host sees it — an `exnref` value (`Val::ExnRef`), the
//! error of a call whose exception no wasm frame caught, whose tag and payload the host can
//! read, and which a host function can return to throw it on into the wasm that called it.
//! The host holds an exception for as long as an `ExnRef` of it lives (the store's slab keeps
//! a value another clone of which lives).
use crate::store::StoreOpaqueExt;
use crate::vm::exception::Exception;
use crate::{AsContext, AsContextMut, Error, Result, Tag, Val};
use std::sync::Arc;

/// A wasm exception.
#[derive(Clone)]
pub struct ExnRef {
    inner: Arc<Exception>,
    /// Where it was thrown, when no wasm frame caught it: the wasm frames it left.
    backtrace: Option<Arc<crate::WasmBacktrace>>,
}

impl std::fmt::Debug for ExnRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExnRef").field("tag", &self.inner.tag).field("payload", &self.inner.types).finish()
    }
}

impl ExnRef {
    pub(crate) fn from_exception(inner: Arc<Exception>) -> ExnRef {
        ExnRef { inner, backtrace: None }
    }

    /// The same exception, with the wasm frames it left uncaught.
    pub(crate) fn with_backtrace(self, backtrace: crate::WasmBacktrace) -> ExnRef {
        ExnRef { backtrace: Some(Arc::new(backtrace)), ..self }
    }

    /// The wasm frames an uncaught exception left, innermost first, if it is one.
    pub fn backtrace(&self) -> Option<&crate::WasmBacktrace> {
        self.backtrace.as_deref()
    }

    /// A new exception of tag `tag` with `payload`, for a host function to throw into the
    /// wasm that called it (by returning `Err(Error::Exception(exn))`).
    ///
    /// # Errors
    /// When the payload's values are not of the tag's parameter types, or the tag or a
    /// reference belongs to another store.
    pub fn new(mut store: impl AsContextMut, tag: &Tag, payload: &[Val]) -> Result<ExnRef> {
        let ty = tag.ty(&store);
        let mut cx = store.as_context_mut();
        let s = cx.opaque();
        s.check_store(tag.store)?;
        let types: Box<[crate::ValType]> = ty.ty().params().into();
        if payload.len() != types.len() || payload.iter().zip(types.iter()).any(|(v, t)| v.ty() != *t) {
            return Err(Error::Other(format!("the payload of an exception of {} does not match its types", ty.ty())));
        }
        let values = payload.iter().map(|v| v.to_raw(s)).collect::<Result<Box<[_]>>>()?;
        // In the slab from the start, so that a collection keeps what its payload names for
        // as long as the host holds it.
        let (inner, _) = crate::vm::exception::add_exception(s, tag.index, values, types, true);
        Ok(ExnRef { inner, backtrace: None })
    }

    /// The exception in a slab value, if it holds one.
    pub(crate) fn from_value(value: crate::vm::extern_refs::ExternValue) -> Option<ExnRef> {
        value.downcast::<Exception>().ok().map(ExnRef::from_exception)
    }

    /// The store whose exception it is.
    pub(crate) fn store(&self) -> crate::vm::ids::StoreId {
        self.inner.store
    }

    /// The exception as a value of the store's reference slab.
    pub(crate) fn value(&self) -> crate::vm::extern_refs::ExternValue {
        self.inner.clone()
    }

    /// The exception's tag.
    ///
    /// # Errors
    /// When the exception belongs to another store.
    pub fn tag(&self, store: impl AsContext) -> Result<Tag> {
        let cx = store.as_context();
        cx.opaque().check_store(self.inner.store)?;
        Ok(Tag { store: self.inner.store, index: self.inner.tag })
    }

    /// The exception's payload: the values it was thrown with.
    ///
    /// # Errors
    /// When the exception belongs to another store.
    pub fn payload(&self, mut store: impl AsContextMut) -> Result<Vec<Val>> {
        let mut cx = store.as_context_mut();
        let s = cx.opaque();
        s.check_store(self.inner.store).map_err(|_| Error::Other("exception of another store".into()))?;
        Ok(self.inner.payload.iter().zip(&self.inner.types).map(|(v, t)| Val::from_raw(s, *v, *t)).collect())
    }
}
