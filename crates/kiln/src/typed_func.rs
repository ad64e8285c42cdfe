//! Static typing for calls: `TypedFunc<P, R>` calls a wasm function with Rust tuples, and
//! `IntoFunc` turns Rust closures over wasm-typed arguments into host functions
//! (`Func::wrap`, `Linker::func_wrap`).
use crate::{AsContext, AsContextMut, Caller, Error, Func, FuncType, Result, Val, ValType};
use std::marker::PhantomData;
use std::sync::Arc;

/// A Rust type that is a wasm value type.
pub trait WasmTy: Sized + Send + 'static {
    /// The wasm type.
    fn valtype() -> ValType;
    /// The value as a dynamically typed [`Val`].
    fn into_val(self) -> Val;
    /// The value in `v`, if `v` has this type.
    fn from_val(v: &Val) -> Option<Self>;
}

impl WasmTy for i32 {
    fn valtype() -> ValType {
        ValType::I32
    }
    fn into_val(self) -> Val {
        Val::I32(self)
    }
    fn from_val(v: &Val) -> Option<Self> {
        v.i32()
    }
}

impl WasmTy for u32 {
    fn valtype() -> ValType {
        ValType::I32
    }
    fn into_val(self) -> Val {
        Val::I32(self as i32)
    }
    fn from_val(v: &Val) -> Option<Self> {
        v.i32().map(|v| v as u32)
    }
}

impl WasmTy for i64 {
    fn valtype() -> ValType {
        ValType::I64
    }
    fn into_val(self) -> Val {
        Val::I64(self)
    }
    fn from_val(v: &Val) -> Option<Self> {
        v.i64()
    }
}

impl WasmTy for u64 {
    fn valtype() -> ValType {
        ValType::I64
    }
    fn into_val(self) -> Val {
        Val::I64(self as i64)
    }
    fn from_val(v: &Val) -> Option<Self> {
        v.i64().map(|v| v as u64)
    }
}

impl WasmTy for f32 {
    fn valtype() -> ValType {
        ValType::F32
    }
    fn into_val(self) -> Val {
        Val::from(self)
    }
    fn from_val(v: &Val) -> Option<Self> {
        v.f32()
    }
}

impl WasmTy for f64 {
    fn valtype() -> ValType {
        ValType::F64
    }
    fn into_val(self) -> Val {
        Val::from(self)
    }
    fn from_val(v: &Val) -> Option<Self> {
        v.f64()
    }
}

/// `WasmTy` for a nullable reference type: `Option<$host>` is the `Val` variant `$variant`.
macro_rules! nullable_reference_ty {
    ($($host:ty => $variant:ident),*) => {$(
        impl WasmTy for Option<$host> {
            fn valtype() -> ValType {
                ValType::$variant
            }
            fn into_val(self) -> Val {
                Val::$variant(self)
            }
            fn from_val(v: &Val) -> Option<Self> {
                if let Val::$variant(r) = v { Some(r.clone()) } else { None }
            }
        }
    )*};
}

nullable_reference_ty!(
    Func => FuncRef,
    crate::Rooted<crate::ExternRef> => ExternRef,
    crate::Rooted<crate::AnyRef> => AnyRef,
    crate::ExnRef => ExnRef
);

/// A tuple of wasm parameters.
pub trait WasmParams: Send + 'static {
    /// The parameters' wasm types.
    fn types() -> Vec<ValType>;
    /// The parameters as dynamically typed values.
    fn into_vals(self) -> Vec<Val>;
}

/// A tuple (or single value, or `()`) of wasm results.
pub trait WasmResults: Sized + Send + 'static {
    /// The results' wasm types.
    fn types() -> Vec<ValType>;
    /// The results in `vals`, if they have these types.
    fn from_vals(vals: &[Val]) -> Option<Self>;
    /// The results as dynamically typed values.
    fn into_vals(self) -> Vec<Val>;
}

impl<A: WasmTy> WasmParams for A {
    fn types() -> Vec<ValType> {
        vec![A::valtype()]
    }
    fn into_vals(self) -> Vec<Val> {
        vec![self.into_val()]
    }
}

impl<A: WasmTy> WasmResults for A {
    fn types() -> Vec<ValType> {
        vec![A::valtype()]
    }
    fn from_vals(vals: &[Val]) -> Option<Self> {
        A::from_val(vals.first()?)
    }
    fn into_vals(self) -> Vec<Val> {
        vec![self.into_val()]
    }
}

macro_rules! tuples {
    ($(($($t:ident),*))*) => {$(
        #[allow(non_snake_case, unused_variables, unused_mut)]
        impl<$($t: WasmTy),*> WasmParams for ($($t,)*) {
            fn types() -> Vec<ValType> { vec![$($t::valtype()),*] }
            fn into_vals(self) -> Vec<Val> { let ($($t,)*) = self; vec![$($t.into_val()),*] }
        }

        #[allow(non_snake_case, unused_variables, unused_mut, unused_assignments)]
        impl<$($t: WasmTy),*> WasmResults for ($($t,)*) {
            fn types() -> Vec<ValType> { vec![$($t::valtype()),*] }
            fn from_vals(vals: &[Val]) -> Option<Self> {
                let mut it = vals.iter();
                Some(($($t::from_val(it.next()?)?,)*))
            }
            fn into_vals(self) -> Vec<Val> { let ($($t,)*) = self; vec![$($t.into_val()),*] }
        }
    )*};
}

tuples! {
    () (A1) (A1, A2) (A1, A2, A3) (A1, A2, A3, A4) (A1, A2, A3, A4, A5) (A1, A2, A3, A4, A5, A6) (A1, A2, A3, A4, A5, A6, A7) (A1, A2, A3, A4, A5, A6, A7, A8)
    (A1, A2, A3, A4, A5, A6, A7, A8, A9) (A1, A2, A3, A4, A5, A6, A7, A8, A9, A10)
}

/// What a wrapped host closure may return: results, or a `Result` of them.
pub trait WasmRet: Send + 'static {
    /// The results.
    type Results: WasmResults;
    /// The results, or the error the closure returned.
    ///
    /// # Errors
    /// The closure's own error.
    fn into_result(self) -> Result<Self::Results>;
}

impl<R: WasmResults> WasmRet for R {
    type Results = R;
    fn into_result(self) -> Result<R> {
        Ok(self)
    }
}

impl<R: WasmResults> WasmRet for Result<R> {
    type Results = R;
    fn into_result(self) -> Result<R> {
        self
    }
}

type DynHostFn<T> = Arc<dyn Fn(Caller<'_, T>, &[Val], &mut [Val]) -> Result<()> + Send + Sync>;

/// A Rust closure that can become a host function.
pub trait IntoFunc<T, Params, Results>: Send + Sync + 'static {
    /// Its wasm type and a dynamically typed form of it.
    fn into_dynamic(self) -> (FuncType, DynHostFn<T>);
}

fn write_results<R: WasmRet>(r: R, results: &mut [Val]) -> Result<()> {
    for (slot, v) in results.iter_mut().zip(r.into_result()?.into_vals()) {
        *slot = v;
    }
    Ok(())
}

fn bad_args() -> Error {
    Error::Other("host function called with arguments of the wrong types".into())
}

macro_rules! into_func {
    ($(($($a:ident),*))*) => {$(
        #[allow(non_snake_case, unused_variables, unused_mut)]
        impl<T: 'static, F, R, $($a: WasmTy),*> IntoFunc<T, ($($a,)*), R> for F
        where F: Fn($($a),*) -> R + Send + Sync + 'static, R: WasmRet {
            fn into_dynamic(self) -> (FuncType, DynHostFn<T>) {
                let ty = FuncType::new(vec![$($a::valtype()),*], R::Results::types());
                (ty, Arc::new(move |_caller, params, results| {
                    let mut it = params.iter();
                    $(let $a = $a::from_val(it.next().ok_or_else(bad_args)?).ok_or_else(bad_args)?;)*
                    write_results(self($($a),*), results)
                }))
            }
        }

        #[allow(non_snake_case, unused_variables, unused_mut)]
        impl<T: 'static, F, R, $($a: WasmTy),*> IntoFunc<T, (Caller<'static, T>, $($a,)*), R> for F
        where F: Fn(Caller<'_, T>, $($a),*) -> R + Send + Sync + 'static, R: WasmRet {
            fn into_dynamic(self) -> (FuncType, DynHostFn<T>) {
                let ty = FuncType::new(vec![$($a::valtype()),*], R::Results::types());
                (ty, Arc::new(move |caller, params, results| {
                    let mut it = params.iter();
                    $(let $a = $a::from_val(it.next().ok_or_else(bad_args)?).ok_or_else(bad_args)?;)*
                    write_results(self(caller, $($a),*), results)
                }))
            }
        }
    )*};
}

into_func! {
    () (A1) (A1, A2) (A1, A2, A3) (A1, A2, A3, A4) (A1, A2, A3, A4, A5) (A1, A2, A3, A4, A5, A6) (A1, A2, A3, A4, A5, A6, A7) (A1, A2, A3, A4, A5, A6, A7, A8)
    (A1, A2, A3, A4, A5, A6, A7, A8, A9) (A1, A2, A3, A4, A5, A6, A7, A8, A9, A10)
}

/// A function with a static type.
pub struct TypedFunc<P, R> {
    func: Func,
    _marker: PhantomData<fn(P) -> R>,
}

impl<P, R> Clone for TypedFunc<P, R> {
    fn clone(&self) -> Self {
        TypedFunc { func: self.func, _marker: PhantomData }
    }
}

impl<P: WasmParams, R: WasmResults> TypedFunc<P, R> {
    /// Call it.
    ///
    /// # Errors
    /// As for [`Func::call`].
    pub fn call(&self, store: impl AsContextMut, params: P) -> Result<R> {
        let mut results: Vec<Val> = R::types().into_iter().map(Val::default_for).collect();
        self.func.call(store, &params.into_vals(), &mut results)?;
        R::from_vals(&results).ok_or_else(|| Error::Other("function returned values of unexpected types".into()))
    }

    /// The untyped function.
    pub fn func(&self) -> &Func {
        &self.func
    }
}

impl Func {
    /// This function with a static type, checked against its real type.
    ///
    /// # Errors
    /// When `P` and `R` are not the function's parameter and result types.
    ///
    /// # Panics
    /// If the function belongs to another store.
    pub fn typed<P: WasmParams, R: WasmResults>(&self, store: impl AsContext) -> Result<TypedFunc<P, R>> {
        let ty = self.ty(store);
        if ty.params() != P::types() || ty.results() != R::types() {
            return Err(Error::Other(format!("type mismatch: the function's type is {ty}")));
        }
        Ok(TypedFunc { func: *self, _marker: PhantomData })
    }

    /// A host function from a typed closure.
    pub fn wrap<T: 'static, Params, Results>(
        store: impl AsContextMut<Data = T>,
        f: impl IntoFunc<T, Params, Results>,
    ) -> Func {
        let (ty, f) = f.into_dynamic();
        Func::new(store, ty, move |c, p, r| f(c, p, r))
    }
}
