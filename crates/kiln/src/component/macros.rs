//! Macros that give Rust records, variants, enums and flags their component types:
//! [`component_record!`](crate::component_record), [`component_variant!`](crate::component_variant),
//! [`component_enum!`](crate::component_enum) and [`component_flags!`](crate::component_flags).
//! Each defines the Rust type as written and implements `ComponentType`, `Lower` and `Lift`
//! for it; names cross in kebab case (`field_name` ↔ `field-name`, `CaseName` ↔ `case-name`).

/// Defines a struct that stands for a component `record` with the same fields.
///
/// ```
/// kiln::component_record! {
///     #[derive(Debug, PartialEq)]
///     pub struct Point { pub x: u32, pub y_pos: u32 }
/// }
/// ```
#[macro_export]
macro_rules! component_record {
    ($(#[$m:meta])* $vis:vis struct $name:ident { $($fvis:vis $field:ident : $ty:ty),* $(,)? }) => {
        $(#[$m])* $vis struct $name { $($fvis $field: $ty),* }

        impl $crate::component::ComponentType for $name {
            fn typecheck(
                ty: $crate::component::InterfaceType,
                types: &$crate::component::ComponentTypes,
            ) -> $crate::Result<()> {
                let $crate::component::InterfaceType::Record(i) = ty else {
                    return Err($crate::component::__typed::type_error("record", ty));
                };
                let fields = &types.records[i].fields;
                let names: &[&str] = &[$(stringify!($field)),*];
                if fields.len() != names.len() {
                    return Err($crate::component::__typed::type_error(stringify!($name), ty));
                }
                let mut _it = fields.iter();
                $(
                    let (n, t) = _it.next().ok_or_else(|| $crate::component::__typed::type_error(stringify!($name), ty))?;
                    if *n != $crate::component::__typed::kebab(stringify!($field)) {
                        return Err($crate::component::__typed::type_error(stringify!($field), ty));
                    }
                    <$ty as $crate::component::ComponentType>::typecheck(*t, types)?;
                )*
                Ok(())
            }
        }

        impl $crate::component::Lower for $name {
            fn lower_val(&self, _cx: &mut $crate::component::ValCx<'_>) -> $crate::Result<$crate::component::Val> {
                Ok($crate::component::Val::Record(vec![$(
                    ($crate::component::__typed::kebab(stringify!($field)), $crate::component::Lower::lower_val(&self.$field, _cx)?)
                ),*]))
            }
        }

        impl $crate::component::Lift for $name {
            fn lift_val(val: $crate::component::Val, _cx: &mut $crate::component::ValCx<'_>) -> $crate::Result<Self> {
                let $crate::component::Val::Record(fields) = val else {
                    return Err($crate::component::__typed::shape_error(stringify!($name)));
                };
                let mut _it = fields.into_iter();
                Ok($name { $(
                    $field: <$ty as $crate::component::Lift>::lift_val(
                        _it.next().ok_or_else(|| $crate::component::__typed::shape_error(stringify!($name)))?.1,
                        _cx,
                    )?,
                )* })
            }
        }
    };
}

/// Defines an enum whose cases (each with at most one payload) stand for a component
/// `variant`.
///
/// ```
/// kiln::component_variant! {
///     #[derive(Debug, PartialEq)]
///     pub enum Shape { Circle(f32), Unknown }
/// }
/// ```
#[macro_export]
macro_rules! component_variant {
    ($(#[$m:meta])* $vis:vis enum $name:ident { $($case:ident $(($payload:ty))?),* $(,)? }) => {
        $(#[$m])* $vis enum $name { $($case $(($payload))?),* }

        impl $crate::component::ComponentType for $name {
            fn typecheck(
                ty: $crate::component::InterfaceType,
                types: &$crate::component::ComponentTypes,
            ) -> $crate::Result<()> {
                let $crate::component::InterfaceType::Variant(i) = ty else {
                    return Err($crate::component::__typed::type_error("variant", ty));
                };
                let cases = &types.variants[i].cases;
                let names: &[&str] = &[$(stringify!($case)),*];
                if cases.len() != names.len() {
                    return Err($crate::component::__typed::type_error(stringify!($name), ty));
                }
                let mut _it = cases.iter();
                $(
                    let (n, _t) = _it.next().ok_or_else(|| $crate::component::__typed::type_error(stringify!($name), ty))?;
                    if *n != $crate::component::__typed::kebab(stringify!($case)) {
                        return Err($crate::component::__typed::type_error(stringify!($case), ty));
                    }
                    let _has: bool = false $(|| {
                        let t = _t.ok_or_else(|| $crate::component::__typed::type_error("a payload", ty))?;
                        <$payload as $crate::component::ComponentType>::typecheck(t, types)?;
                        true
                    })?;
                    if !_has && _t.is_some() {
                        return Err($crate::component::__typed::type_error("no payload", ty));
                    }
                )*
                Ok(())
            }
        }

        impl $crate::component::Lower for $name {
            fn lower_val(&self, _cx: &mut $crate::component::ValCx<'_>) -> $crate::Result<$crate::component::Val> {
                $crate::component_variant!(@lower self, _cx, $name, $($case $(($payload))?),*)
            }
        }

        impl $crate::component::Lift for $name {
            fn lift_val(val: $crate::component::Val, _cx: &mut $crate::component::ValCx<'_>) -> $crate::Result<Self> {
                let $crate::component::Val::Variant(case, _payload) = val else {
                    return Err($crate::component::__typed::shape_error(stringify!($name)));
                };
                $(
                    if case == $crate::component::__typed::kebab(stringify!($case)) {
                        return Ok($crate::component_variant!(@lift $name, $case, _payload, _cx $(, $payload)?));
                    }
                )*
                Err($crate::component::__typed::shape_error(stringify!($name)))
            }
        }
    };
    (@lower $self:ident, $cx:ident, $name:ident, $($case:ident $(($payload:ty))?),*) => {
        match $self {
            $($crate::component_variant!(@pat $name, $case, v $(, $payload)?) => Ok($crate::component::Val::Variant(
                $crate::component::__typed::kebab(stringify!($case)),
                $crate::component_variant!(@val v, $cx $(, $payload)?),
            )),)*
        }
    };
    (@pat $name:ident, $case:ident, $v:ident, $payload:ty) => { $name::$case($v) };
    (@pat $name:ident, $case:ident, $v:ident) => { $name::$case };
    (@val $v:ident, $cx:ident, $payload:ty) => { Some(Box::new($crate::component::Lower::lower_val($v, $cx)?)) };
    (@val $v:ident, $cx:ident) => { None };
    (@lift $name:ident, $case:ident, $p:ident, $cx:ident, $payload:ty) => {
        $name::$case(<$payload as $crate::component::Lift>::lift_val(
            *$p.ok_or_else(|| $crate::component::__typed::shape_error("a payload"))?,
            $cx,
        )?)
    };
    (@lift $name:ident, $case:ident, $p:ident, $cx:ident) => { $name::$case };
}

/// Defines a fieldless enum that stands for a component `enum`.
///
/// ```
/// kiln::component_enum! {
///     #[derive(Debug, Clone, Copy, PartialEq)]
///     pub enum Color { Red, DarkGreen }
/// }
/// ```
#[macro_export]
macro_rules! component_enum {
    ($(#[$m:meta])* $vis:vis enum $name:ident { $($case:ident),* $(,)? }) => {
        $(#[$m])* $vis enum $name { $($case),* }

        impl $crate::component::ComponentType for $name {
            fn typecheck(
                ty: $crate::component::InterfaceType,
                types: &$crate::component::ComponentTypes,
            ) -> $crate::Result<()> {
                let $crate::component::InterfaceType::Enum(i) = ty else {
                    return Err($crate::component::__typed::type_error("enum", ty));
                };
                let names: Vec<String> = vec![$($crate::component::__typed::kebab(stringify!($case))),*];
                if types.enums[i].names == names { Ok(()) } else { Err($crate::component::__typed::type_error(stringify!($name), ty)) }
            }
        }

        impl $crate::component::Lower for $name {
            fn lower_val(&self, _: &mut $crate::component::ValCx<'_>) -> $crate::Result<$crate::component::Val> {
                Ok($crate::component::Val::Enum(match self {
                    $($name::$case => $crate::component::__typed::kebab(stringify!($case)),)*
                }))
            }
        }

        impl $crate::component::Lift for $name {
            fn lift_val(val: $crate::component::Val, _: &mut $crate::component::ValCx<'_>) -> $crate::Result<Self> {
                let $crate::component::Val::Enum(case) = val else {
                    return Err($crate::component::__typed::shape_error(stringify!($name)));
                };
                $(if case == $crate::component::__typed::kebab(stringify!($case)) { return Ok($name::$case); })*
                Err($crate::component::__typed::shape_error(stringify!($name)))
            }
        }
    };
}

/// Defines a struct of `bool`s that stands for a component `flags` type.
///
/// ```
/// kiln::component_flags! {
///     #[derive(Debug, Default, PartialEq)]
///     pub struct Access { pub read: bool, pub write: bool }
/// }
/// ```
#[macro_export]
macro_rules! component_flags {
    ($(#[$m:meta])* $vis:vis struct $name:ident { $($fvis:vis $flag:ident : bool),* $(,)? }) => {
        $(#[$m])* $vis struct $name { $($fvis $flag: bool),* }

        impl $crate::component::ComponentType for $name {
            fn typecheck(
                ty: $crate::component::InterfaceType,
                types: &$crate::component::ComponentTypes,
            ) -> $crate::Result<()> {
                let $crate::component::InterfaceType::Flags(i) = ty else {
                    return Err($crate::component::__typed::type_error("flags", ty));
                };
                let names: Vec<String> = vec![$($crate::component::__typed::kebab(stringify!($flag))),*];
                if types.flags[i].names == names { Ok(()) } else { Err($crate::component::__typed::type_error(stringify!($name), ty)) }
            }
        }

        impl $crate::component::Lower for $name {
            fn lower_val(&self, _: &mut $crate::component::ValCx<'_>) -> $crate::Result<$crate::component::Val> {
                let mut set = Vec::new();
                $(if self.$flag { set.push($crate::component::__typed::kebab(stringify!($flag))); })*
                Ok($crate::component::Val::Flags(set))
            }
        }

        impl $crate::component::Lift for $name {
            fn lift_val(val: $crate::component::Val, _: &mut $crate::component::ValCx<'_>) -> $crate::Result<Self> {
                let $crate::component::Val::Flags(set) = val else {
                    return Err($crate::component::__typed::shape_error(stringify!($name)));
                };
                Ok($name { $($flag: set.iter().any(|s| *s == $crate::component::__typed::kebab(stringify!($flag))),)* })
            }
        }
    };
}
