//! `Val`: a WebAssembly value as the host sees it, and its conversion to and from the raw
//! 16-byte slots compiled code uses.
use crate::gc_root::sealed::GcRefImpl;
use crate::gc_root::{GcRef, Rooted};
use crate::store::StoreOpaqueExt;
use crate::vm::store::StoreOpaque;
use crate::vm::val_raw::{RawRef, ValRaw};
use crate::{AnyRef, Error, ExnRef, ExternRef, Func, Result, ValType};
use kiln_environ::{Global, SharedTypeIndex, WasmHeapType, WasmRefType};

/// A WebAssembly value. A reference the collector manages comes as a [`Rooted`] in the
/// store's current scope: what a call, `Global::get` or `Table::get` returns outside any
/// [`RootScope`](crate::RootScope) stays rooted until the store drops, so a host that reads
/// many references in a loop gives each iteration a scope.
#[derive(Clone, Debug)]
pub enum Val {
    /// An `i32`.
    I32(i32),
    /// An `i64`.
    I64(i64),
    /// An `f32`, as its bits (so that NaN payloads survive).
    F32(u32),
    /// An `f64`, as its bits.
    F64(u64),
    /// A `v128`.
    V128(u128),
    /// A `funcref` (`None` is null).
    FuncRef(Option<Func>),
    /// An `externref` (`None` is null).
    ExternRef(Option<Rooted<ExternRef>>),
    /// An `anyref` (`None` is null): any reference of the `any` hierarchy (structs, arrays,
    /// i31s…), which the host views through [`AnyRef`]'s casts.
    AnyRef(Option<Rooted<AnyRef>>),
    /// An `exnref` (`None` is null): an exception, held by the host while the `ExnRef` lives.
    ExnRef(Option<ExnRef>),
}

impl Val {
    /// The value's type.
    pub fn ty(&self) -> ValType {
        match self {
            Val::I32(_) => ValType::I32,
            Val::I64(_) => ValType::I64,
            Val::F32(_) => ValType::F32,
            Val::F64(_) => ValType::F64,
            Val::V128(_) => ValType::V128,
            Val::FuncRef(_) => ValType::FuncRef,
            Val::ExternRef(_) => ValType::ExternRef,
            Val::AnyRef(_) => ValType::AnyRef,
            Val::ExnRef(_) => ValType::ExnRef,
        }
    }

    /// The `i32`, if this is one.
    pub fn i32(&self) -> Option<i32> {
        if let Val::I32(v) = self { Some(*v) } else { None }
    }

    /// The `i64`, if this is one.
    pub fn i64(&self) -> Option<i64> {
        if let Val::I64(v) = self { Some(*v) } else { None }
    }

    /// The `f32`, if this is one.
    pub fn f32(&self) -> Option<f32> {
        if let Val::F32(v) = self { Some(f32::from_bits(*v)) } else { None }
    }

    /// The `f64`, if this is one.
    pub fn f64(&self) -> Option<f64> {
        if let Val::F64(v) = self { Some(f64::from_bits(*v)) } else { None }
    }

    /// The `funcref`, if this is one (`Some(None)` for null).
    pub fn funcref(&self) -> Option<Option<&Func>> {
        if let Val::FuncRef(f) = self { Some(f.as_ref()) } else { None }
    }

    /// The `externref`, if this is one (`Some(None)` for null).
    pub fn externref(&self) -> Option<Option<Rooted<ExternRef>>> {
        if let Val::ExternRef(r) = self { Some(*r) } else { None }
    }

    /// The `anyref`, if this is one (`Some(None)` for null).
    pub fn anyref(&self) -> Option<Option<Rooted<AnyRef>>> {
        if let Val::AnyRef(r) = self { Some(*r) } else { None }
    }

    /// The `exnref`, if this is one (`Some(None)` for null).
    pub fn exnref(&self) -> Option<Option<&ExnRef>> {
        if let Val::ExnRef(e) = self { Some(e.as_ref()) } else { None }
    }

    /// A null `funcref`.
    pub fn null_func_ref() -> Val {
        Val::FuncRef(None)
    }

    /// A null `externref`.
    pub fn null_extern_ref() -> Val {
        Val::ExternRef(None)
    }

    /// A null `exnref`.
    pub fn null_exn_ref() -> Val {
        Val::ExnRef(None)
    }

    /// The null reference of reference type `ty`'s hierarchy (the zero value of any other
    /// type).
    pub fn null_of(ty: ValType) -> Val {
        Val::default_for(ty)
    }

    /// The zero value of a type (null for references).
    pub(crate) fn default_for(ty: ValType) -> Val {
        match ty {
            ValType::I32 => Val::I32(0),
            ValType::I64 => Val::I64(0),
            ValType::F32 => Val::F32(0),
            ValType::F64 => Val::F64(0),
            ValType::V128 => Val::V128(0),
            ValType::FuncRef => Val::FuncRef(None),
            ValType::ExternRef => Val::ExternRef(None),
            ValType::AnyRef => Val::AnyRef(None),
            ValType::ExnRef => Val::ExnRef(None),
        }
    }

    /// The raw slot of this value, for a store.
    /// Check that this value is of reference type `ty` (the host may only put a function of
    /// the right type where wasm expects `(ref $t)`, and no null where it expects a
    /// non-nullable reference: compiled code trusts both).
    ///
    /// # Errors
    /// [`Error::Other`] naming both types when it is not.
    pub(crate) fn check_ref(&self, store: &StoreOpaque, ty: WasmRefType<SharedTypeIndex>) -> Result<()> {
        let fits = match (self, ty.heap) {
            (Val::FuncRef(None) | Val::ExternRef(None) | Val::AnyRef(None) | Val::ExnRef(None), _) => {
                ty.nullable && ty.representation() == self.ty()
            }
            (Val::FuncRef(Some(_)), WasmHeapType::Func) | (Val::ExternRef(Some(_)), WasmHeapType::Extern) => true,
            (Val::FuncRef(Some(f)), WasmHeapType::Concrete(_, want)) => {
                store.check_store(f.store_id())?;
                store.engine().is_subtype(store.func_ref(f.index()).type_index, want)
            }
            (Val::AnyRef(Some(r)), heap) => store.any_is_of(store.root_word(r.root())?, heap),
            (Val::ExnRef(Some(e)), WasmHeapType::Exn) => {
                store.check_store(e.store())?;
                true
            }
            _ => false,
        };
        if fits {
            return Ok(());
        }
        let what = match self {
            Val::FuncRef(None) | Val::ExternRef(None) | Val::AnyRef(None) | Val::ExnRef(None) => {
                "a null reference".to_string()
            }
            Val::FuncRef(Some(_)) => "a function of another type".to_string(),
            other => format!("a {}", other.ty()),
        };
        Err(Error::Other(format!("{what} where a value of type {} is expected", ty)))
    }

    /// Check that this value may be stored in a global of type `ty`.
    ///
    /// # Errors
    /// [`Error::Other`] naming both types when it may not.
    pub(crate) fn check_global(&self, store: &StoreOpaque, ty: &Global<SharedTypeIndex>) -> Result<()> {
        match ty.reference {
            Some(r) => self.check_ref(store, r),
            None if self.ty() == ty.ty => Ok(()),
            None => Err(Error::Other(format!("a {} where a value of type {} is expected", self.ty(), ty.ty))),
        }
    }

    pub(crate) fn to_raw(&self, store: &mut StoreOpaque) -> Result<ValRaw> {
        Ok(match self {
            Val::I32(v) => ValRaw::from_bits(*v as u32 as u128),
            Val::I64(v) => ValRaw::from_bits(*v as u64 as u128),
            Val::F32(v) => ValRaw::from_bits(*v as u128),
            Val::F64(v) => ValRaw::from_bits(*v as u128),
            Val::V128(v) => ValRaw::from_bits(*v),
            Val::FuncRef(None) | Val::ExternRef(None) | Val::AnyRef(None) | Val::ExnRef(None) => {
                ValRaw::from_ref(RawRef::NULL)
            }
            Val::AnyRef(Some(r)) => ValRaw::from_ref(RawRef::any(store.root_word(r.root())?)),
            Val::ExternRef(Some(r)) => ValRaw::from_ref(RawRef::any(store.root_word(r.root())?)),
            Val::ExnRef(Some(e)) => {
                store.check_store(e.store())?;
                ValRaw::from_ref(store.externs.reference_to(&e.value()))
            }
            Val::FuncRef(Some(f)) => {
                store.check_store(f.store_id())?;
                ValRaw::from_ref(RawRef::func(Some(store.func_ref_ptr(f.index()))))
            }
        })
    }

    /// The value of type `ty` in a raw slot.
    pub(crate) fn from_raw(store: &mut StoreOpaque, raw: ValRaw, ty: ValType) -> Val {
        let bits = raw.bits();
        match ty {
            ValType::I32 => Val::I32(bits as u32 as i32),
            ValType::I64 => Val::I64(bits as u64 as i64),
            ValType::F32 => Val::F32(bits as u32),
            ValType::F64 => Val::F64(bits as u64),
            ValType::V128 => Val::V128(bits),
            ValType::FuncRef => {
                let func = raw.to_ref().as_func().and_then(|f| {
                    let found = store.func_of_ref(f);
                    if found.is_none() {
                        log::error!("a function reference {f:?} that its store does not know; read as null");
                    }
                    found
                });
                Val::FuncRef(func.map(|f| Func::from_index(store.id(), f)))
            }
            ValType::ExternRef => Val::ExternRef(root_of(store, raw)),
            ValType::AnyRef => Val::AnyRef(root_of(store, raw)),
            ValType::ExnRef => Val::ExnRef(store.externs.value_of(raw.to_ref()).and_then(ExnRef::from_value)),
        }
    }
}

impl From<i32> for Val {
    fn from(v: i32) -> Val {
        Val::I32(v)
    }
}

impl From<i64> for Val {
    fn from(v: i64) -> Val {
        Val::I64(v)
    }
}

impl From<f32> for Val {
    fn from(v: f32) -> Val {
        Val::F32(v.to_bits())
    }
}

impl From<f64> for Val {
    fn from(v: f64) -> Val {
        Val::F64(v.to_bits())
    }
}

impl From<Func> for Val {
    fn from(f: Func) -> Val {
        Val::FuncRef(Some(f))
    }
}

impl From<Rooted<ExternRef>> for Val {
    fn from(r: Rooted<ExternRef>) -> Val {
        Val::ExternRef(Some(r))
    }
}

impl From<Rooted<AnyRef>> for Val {
    fn from(r: Rooted<AnyRef>) -> Val {
        Val::AnyRef(Some(r))
    }
}

impl From<Rooted<crate::EqRef>> for Val {
    fn from(r: Rooted<crate::EqRef>) -> Val {
        Val::AnyRef(Some(r.to_anyref()))
    }
}

impl From<Rooted<crate::StructRef>> for Val {
    fn from(r: Rooted<crate::StructRef>) -> Val {
        Val::AnyRef(Some(r.to_anyref()))
    }
}

impl From<Rooted<crate::ArrayRef>> for Val {
    fn from(r: Rooted<crate::ArrayRef>) -> Val {
        Val::AnyRef(Some(r.to_anyref()))
    }
}

impl From<ExnRef> for Val {
    fn from(e: ExnRef) -> Val {
        Val::ExnRef(Some(e))
    }
}

/// A scoped root of the reference in `raw`, `None` for null.
fn root_of<T: GcRef>(store: &mut StoreOpaque, raw: ValRaw) -> Option<Rooted<T>> {
    match raw.to_ref().any_word() {
        0 => None,
        word => Some(Rooted::new(store, word)),
    }
}
