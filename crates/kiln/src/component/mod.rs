//! The component model's embedding API, shaped like wasmtime's `component` module: a
//! [`Component`] is compiled once; a [`Linker`] holds host definitions by name; an
//! [`Instance`] lives in a store and exports [`Func`]s, called with dynamically typed
//! [`Val`]s or, through [`TypedFunc`] and `func_wrap`, with Rust types. Values cross into and out of components by the canonical ABI
//! (`canonical.rs`), resources through per-instance handle tables (`resources.rs`).
mod canonical;
#[allow(clippy::module_inception)]
mod component;
mod instance;
mod linker;
mod macros;
mod resource_table;
mod resources;
pub(crate) mod store;
mod typed;
mod values;
pub mod wave;

pub use component::Component;
pub use instance::{Func, Instance};
pub use kiln_environ::component::{ComponentTypes, InterfaceType};
pub use linker::{Linker, LinkerInstance};
pub use resource_table::ResourceTable;
pub use typed::{ComponentList, ComponentType, Lift, LiftList, Lower, LowerList, Resource, TypedFunc, ValCx};
pub use values::{ResourceAny, ResourceType, Val};

/// What the component macros expand to; not part of the API.
#[doc(hidden)]
pub mod __typed {
    pub use super::typed::{is_unit, kebab, shape_error, type_error};
}
