//! Rust types for component values: [`ComponentType`] (which interface type a Rust type
//! stands for), [`Lower`] and [`Lift`] (to and from [`Val`]), implemented for the primitive
//! types, `String`/`&str`, `Vec<T>`, `Option<T>`, `Result<T, E>`, tuples and
//! [`Resource<T>`]; the macros that implement them for records, variants, enums and flags;
//! and [`TypedFunc`], an export called with Rust types, checked once against its type.
use std::marker::PhantomData;

use kiln_environ::component::{ComponentTypes, InterfaceType, TypeFuncIndex};

use super::resources::HostTable;
use super::values::{ResourceAny, ResourceType, Val};
use crate::{AsContextMut, Error, Result};

/// What lifting and lowering a Rust value may need of the store: the host's handle table.
pub struct ValCx<'a> {
    pub(crate) host: &'a mut HostTable,
}

/// A Rust type that stands for a component value type.
pub trait ComponentType {
    /// Whether `ty` (in `types`) is the type this Rust type stands for.
    ///
    /// # Errors
    /// A message saying what differs.
    fn typecheck(ty: InterfaceType, types: &ComponentTypes) -> Result<()>;
}

/// A Rust value that can be passed into a component.
pub trait Lower: ComponentType {
    /// The value as a [`Val`].
    ///
    /// # Errors
    /// When the value cannot cross (a resource that was already moved).
    fn lower_val(&self, cx: &mut ValCx<'_>) -> Result<Val>;
}

/// A Rust value that can be received from a component.
pub trait Lift: ComponentType + Sized {
    /// The value from a [`Val`] of the type `typecheck` accepted.
    ///
    /// # Errors
    /// When the value does not have the expected shape.
    fn lift_val(val: Val, cx: &mut ValCx<'_>) -> Result<Self>;
}

#[doc(hidden)]
pub fn type_error(expected: &str, ty: InterfaceType) -> Error {
    Error::Link(format!("type mismatch: expected {expected}, found {ty:?}"))
}

#[doc(hidden)]
pub fn shape_error(expected: &str) -> Error {
    Error::Other(format!("value of the wrong shape: expected {expected}"))
}

/// A Rust identifier in the kebab case component names use (`my_field` → `my-field`,
/// `MyCase` → `my-case`).
#[doc(hidden)]
pub fn kebab(name: &str) -> String {
    let name = name.strip_prefix("r#").unwrap_or(name);
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c == '_' {
            out.push('-');
        } else if c.is_ascii_uppercase() {
            if i > 0 && !out.ends_with('-') {
                out.push('-');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

macro_rules! primitive {
    ($($rust:ty => $ity:ident, $val:ident;)*) => {$(
        impl ComponentType for $rust {
            fn typecheck(ty: InterfaceType, _: &ComponentTypes) -> Result<()> {
                if ty == InterfaceType::$ity { Ok(()) } else { Err(type_error(stringify!($ity), ty)) }
            }
        }
        impl Lower for $rust {
            fn lower_val(&self, _: &mut ValCx<'_>) -> Result<Val> {
                Ok(Val::$val(*self))
            }
        }
        impl Lift for $rust {
            fn lift_val(val: Val, _: &mut ValCx<'_>) -> Result<Self> {
                match val {
                    Val::$val(v) => Ok(v),
                    _ => Err(shape_error(stringify!($ity))),
                }
            }
        }
    )*};
}

primitive! {
    bool => Bool, Bool;
    i8 => S8, S8;
    u8 => U8, U8;
    i16 => S16, S16;
    u16 => U16, U16;
    i32 => S32, S32;
    u32 => U32, U32;
    i64 => S64, S64;
    u64 => U64, U64;
    f32 => Float32, Float32;
    f64 => Float64, Float64;
    char => Char, Char;
}

impl ComponentType for String {
    fn typecheck(ty: InterfaceType, _: &ComponentTypes) -> Result<()> {
        if ty == InterfaceType::String { Ok(()) } else { Err(type_error("string", ty)) }
    }
}

impl Lower for String {
    fn lower_val(&self, _: &mut ValCx<'_>) -> Result<Val> {
        Ok(Val::String(self.clone()))
    }
}

impl Lift for String {
    fn lift_val(val: Val, _: &mut ValCx<'_>) -> Result<Self> {
        match val {
            Val::String(s) => Ok(s),
            _ => Err(shape_error("string")),
        }
    }
}

impl ComponentType for &str {
    fn typecheck(ty: InterfaceType, types: &ComponentTypes) -> Result<()> {
        String::typecheck(ty, types)
    }
}

impl Lower for &str {
    fn lower_val(&self, _: &mut ValCx<'_>) -> Result<Val> {
        Ok(Val::String((*self).to_string()))
    }
}

impl<T: ComponentType> ComponentType for Vec<T> {
    fn typecheck(ty: InterfaceType, types: &ComponentTypes) -> Result<()> {
        match ty {
            InterfaceType::List(i) => T::typecheck(types.lists[i], types),
            _ => Err(type_error("list", ty)),
        }
    }
}

impl<T: Lower> Lower for Vec<T> {
    fn lower_val(&self, cx: &mut ValCx<'_>) -> Result<Val> {
        Ok(Val::List(self.iter().map(|v| v.lower_val(cx)).collect::<Result<_>>()?))
    }
}

impl<T: Lift> Lift for Vec<T> {
    fn lift_val(val: Val, cx: &mut ValCx<'_>) -> Result<Self> {
        match val {
            Val::List(items) => items.into_iter().map(|v| T::lift_val(v, cx)).collect(),
            _ => Err(shape_error("list")),
        }
    }
}

impl<T: ComponentType> ComponentType for Option<T> {
    fn typecheck(ty: InterfaceType, types: &ComponentTypes) -> Result<()> {
        match ty {
            InterfaceType::Option(i) => T::typecheck(types.options[i], types),
            _ => Err(type_error("option", ty)),
        }
    }
}

impl<T: Lower> Lower for Option<T> {
    fn lower_val(&self, cx: &mut ValCx<'_>) -> Result<Val> {
        Ok(Val::Option(match self {
            Some(v) => Some(Box::new(v.lower_val(cx)?)),
            None => None,
        }))
    }
}

impl<T: Lift> Lift for Option<T> {
    fn lift_val(val: Val, cx: &mut ValCx<'_>) -> Result<Self> {
        match val {
            Val::Option(Some(v)) => Ok(Some(T::lift_val(*v, cx)?)),
            Val::Option(None) => Ok(None),
            _ => Err(shape_error("option")),
        }
    }
}

/// A result side's Rust type: `()` for a side without a payload.
fn check_side<T: ComponentType>(side: Option<InterfaceType>, types: &ComponentTypes, unit: bool) -> Result<()> {
    match (side, unit) {
        (None, true) => Ok(()),
        (Some(t), false) => T::typecheck(t, types),
        (Some(t), true) => Err(type_error("no payload", t)),
        (None, false) => Err(Error::Link("type mismatch: expected a payload, found none".into())),
    }
}

/// Whether `T` is `()`, which stands for "no payload" in results and variants.
#[doc(hidden)]
pub fn is_unit<T: 'static>() -> bool {
    std::any::TypeId::of::<T>() == std::any::TypeId::of::<()>()
}

impl ComponentType for () {
    fn typecheck(ty: InterfaceType, types: &ComponentTypes) -> Result<()> {
        match ty {
            InterfaceType::Tuple(i) if types.tuples[i].types.is_empty() => Ok(()),
            _ => Err(type_error("tuple<>", ty)),
        }
    }
}

impl Lower for () {
    fn lower_val(&self, _: &mut ValCx<'_>) -> Result<Val> {
        Ok(Val::Tuple(Vec::new()))
    }
}

impl Lift for () {
    fn lift_val(_: Val, _: &mut ValCx<'_>) -> Result<Self> {
        Ok(())
    }
}

impl<T: ComponentType + 'static, E: ComponentType + 'static> ComponentType for std::result::Result<T, E> {
    fn typecheck(ty: InterfaceType, types: &ComponentTypes) -> Result<()> {
        match ty {
            InterfaceType::Result(i) => {
                check_side::<T>(types.results[i].ok, types, is_unit::<T>())?;
                check_side::<E>(types.results[i].err, types, is_unit::<E>())
            }
            _ => Err(type_error("result", ty)),
        }
    }
}

impl<T: Lower + 'static, E: Lower + 'static> Lower for std::result::Result<T, E> {
    fn lower_val(&self, cx: &mut ValCx<'_>) -> Result<Val> {
        Ok(Val::Result(match self {
            Ok(v) => Ok(if is_unit::<T>() { None } else { Some(Box::new(v.lower_val(cx)?)) }),
            Err(e) => Err(if is_unit::<E>() { None } else { Some(Box::new(e.lower_val(cx)?)) }),
        }))
    }
}

impl<T: Lift + 'static, E: Lift + 'static> Lift for std::result::Result<T, E> {
    fn lift_val(val: Val, cx: &mut ValCx<'_>) -> Result<Self> {
        let payload = |p: Option<Box<Val>>| p.map(|b| *b).unwrap_or(Val::Tuple(Vec::new()));
        match val {
            Val::Result(Ok(p)) => Ok(Ok(T::lift_val(payload(p), cx)?)),
            Val::Result(Err(p)) => Ok(Err(E::lift_val(payload(p), cx)?)),
            _ => Err(shape_error("result")),
        }
    }
}

/// A list of values: a function's parameters, or its results (none or one), as a tuple.
pub trait ComponentList {
    /// Whether `list` (in `types`) is this tuple's list of types.
    ///
    /// # Errors
    /// A message saying what differs.
    fn typecheck_list(list: &[InterfaceType], types: &ComponentTypes) -> Result<()>;
}

/// A tuple of values that can be passed into a component.
pub trait LowerList: ComponentList {
    /// The values as [`Val`]s.
    ///
    /// # Errors
    /// As for [`Lower::lower_val`].
    fn lower_list(&self, cx: &mut ValCx<'_>) -> Result<Vec<Val>>;
}

/// A tuple of values that can be received from a component.
pub trait LiftList: ComponentList + Sized {
    /// The values from [`Val`]s.
    ///
    /// # Errors
    /// As for [`Lift::lift_val`].
    fn lift_list(vals: Vec<Val>, cx: &mut ValCx<'_>) -> Result<Self>;
}

macro_rules! tuples {
    ($(($($t:ident $i:tt),*);)*) => {$(
        impl<$($t: ComponentType),*> ComponentList for ($($t,)*) {
            fn typecheck_list(list: &[InterfaceType], _types: &ComponentTypes) -> Result<()> {
                let want = [$(stringify!($t)),*].len();
                if list.len() != want {
                    return Err(Error::Link(format!("type mismatch: expected {want} values, found {}", list.len())));
                }
                $($t::typecheck(list[$i], _types)?;)*
                Ok(())
            }
        }
        impl<$($t: Lower),*> LowerList for ($($t,)*) {
            fn lower_list(&self, _cx: &mut ValCx<'_>) -> Result<Vec<Val>> {
                Ok(vec![$(self.$i.lower_val(_cx)?),*])
            }
        }
        impl<$($t: Lift),*> LiftList for ($($t,)*) {
            fn lift_list(vals: Vec<Val>, _cx: &mut ValCx<'_>) -> Result<Self> {
                let mut _it = vals.into_iter();
                Ok(($($t::lift_val(_it.next().ok_or_else(|| shape_error("more values"))?, _cx)?,)*))
            }
        }
        impl<$($t: ComponentType),*> ComponentType for ($($t,)*) {
            fn typecheck(ty: InterfaceType, types: &ComponentTypes) -> Result<()> {
                match ty {
                    InterfaceType::Tuple(i) => <Self as ComponentList>::typecheck_list(&types.tuples[i].types, types),
                    _ => Err(type_error("tuple", ty)),
                }
            }
        }
        impl<$($t: Lower),*> Lower for ($($t,)*) {
            fn lower_val(&self, cx: &mut ValCx<'_>) -> Result<Val> {
                Ok(Val::Tuple(self.lower_list(cx)?))
            }
        }
        impl<$($t: Lift),*> Lift for ($($t,)*) {
            fn lift_val(val: Val, cx: &mut ValCx<'_>) -> Result<Self> {
                match val {
                    Val::Tuple(items) => Self::lift_list(items, cx),
                    _ => Err(shape_error("tuple")),
                }
            }
        }
    )*};
}

tuples! {
    (A 0);
    (A 0, B 1);
    (A 0, B 1, C 2);
    (A 0, B 1, C 2, D 3);
    (A 0, B 1, C 2, D 3, E 4);
    (A 0, B 1, C 2, D 3, E 4, F 5);
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6);
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7);
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8);
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9);
}

impl ComponentList for () {
    fn typecheck_list(list: &[InterfaceType], _: &ComponentTypes) -> Result<()> {
        if list.is_empty() {
            Ok(())
        } else {
            Err(Error::Link(format!("type mismatch: expected no values, found {}", list.len())))
        }
    }
}

impl LowerList for () {
    fn lower_list(&self, _: &mut ValCx<'_>) -> Result<Vec<Val>> {
        Ok(Vec::new())
    }
}

impl LiftList for () {
    fn lift_list(_: Vec<Val>, _: &mut ValCx<'_>) -> Result<Self> {
        Ok(())
    }
}

/// A handle to a resource of the host's type `T`: its representation (an index into the
/// host's own table, such as a [`ResourceTable`](super::ResourceTable)), and whether it is
/// owned or borrowed.
pub struct Resource<T> {
    rep: u32,
    own: bool,
    _marker: PhantomData<fn() -> T>,
}

impl<T> Clone for Resource<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Resource<T> {}

impl<T> std::fmt::Debug for Resource<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Resource({}{})", if self.own { "own " } else { "borrow " }, self.rep)
    }
}

impl<T: 'static> Resource<T> {
    /// An owned handle with representation `rep`.
    pub fn new_own(rep: u32) -> Resource<T> {
        Resource { rep, own: true, _marker: PhantomData }
    }

    /// A borrowed handle with representation `rep`.
    pub fn new_borrow(rep: u32) -> Resource<T> {
        Resource { rep, own: false, _marker: PhantomData }
    }

    /// Its representation.
    pub fn rep(&self) -> u32 {
        self.rep
    }

    /// Whether it is owned.
    pub fn owned(&self) -> bool {
        self.own
    }
}

impl<T: 'static> ComponentType for Resource<T> {
    fn typecheck(ty: InterfaceType, _: &ComponentTypes) -> Result<()> {
        match ty {
            InterfaceType::Own(_) | InterfaceType::Borrow(_) => Ok(()),
            _ => Err(type_error("own or borrow", ty)),
        }
    }
}

impl<T: 'static> Lower for Resource<T> {
    fn lower_val(&self, cx: &mut ValCx<'_>) -> Result<Val> {
        let ty = ResourceType::host::<T>();
        Ok(Val::Resource(if self.own { cx.host.insert(self.rep, ty)? } else { cx.host.borrowed(self.rep, ty) }))
    }
}

impl<T: 'static> Lift for Resource<T> {
    fn lift_val(val: Val, cx: &mut ValCx<'_>) -> Result<Self> {
        let Val::Resource(r) = val else { return Err(shape_error("resource")) };
        if r.ty != ResourceType::host::<T>() {
            return Err(Error::Other("a resource of another type".into()));
        }
        cx.host.check(&r)?;
        Ok(if r.own { Resource::new_own(cx.host.take(&r)?) } else { Resource::new_borrow(r.index) })
    }
}

impl ComponentType for ResourceAny {
    fn typecheck(ty: InterfaceType, types: &ComponentTypes) -> Result<()> {
        Resource::<()>::typecheck(ty, types)
    }
}

impl Lower for ResourceAny {
    fn lower_val(&self, _: &mut ValCx<'_>) -> Result<Val> {
        Ok(Val::Resource(*self))
    }
}

impl Lift for ResourceAny {
    fn lift_val(val: Val, _: &mut ValCx<'_>) -> Result<Self> {
        match val {
            Val::Resource(r) => Ok(r),
            _ => Err(shape_error("resource")),
        }
    }
}

/// Checks a function type against a parameter tuple `P` and a result tuple `R`.
pub(crate) fn typecheck_func<P: ComponentList, R: ComponentList>(
    types: &ComponentTypes,
    f: TypeFuncIndex,
) -> Result<()> {
    let ty = &types.funcs[f];
    let params: Vec<InterfaceType> = ty.params.iter().map(|(_, t)| *t).collect();
    P::typecheck_list(&params, types).map_err(|e| Error::Link(format!("parameters: {e}")))?;
    let results: Vec<InterfaceType> = ty.result.into_iter().collect();
    R::typecheck_list(&results, types).map_err(|e| Error::Link(format!("results: {e}")))
}

/// An exported function with Rust parameter and result types, checked against its type
/// once, when it is looked up.
pub struct TypedFunc<P, R> {
    func: super::Func,
    _marker: PhantomData<fn(P) -> R>,
}

impl<P, R> Clone for TypedFunc<P, R> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<P, R> Copy for TypedFunc<P, R> {}

impl<P: LowerList, R: LiftList> TypedFunc<P, R> {
    pub(crate) fn new(func: super::Func) -> TypedFunc<P, R> {
        TypedFunc { func, _marker: PhantomData }
    }

    /// The untyped function.
    pub fn func(&self) -> super::Func {
        self.func
    }

    /// Calls the function.
    ///
    /// # Errors
    /// As for [`Func::call`](super::Func::call).
    pub fn call<T>(&self, mut store: impl AsContextMut<Data = T>, params: P) -> Result<R> {
        let mut cx = store.as_context_mut();
        let args = params.lower_list(&mut ValCx { host: &mut cx.0.opaque.components.host })?;
        let mut results = vec![Val::Bool(false); self.func.results_len(&cx)];
        self.func.call(&mut cx, &args, &mut results)?;
        R::lift_list(results, &mut ValCx { host: &mut cx.0.opaque.components.host })
    }
}
