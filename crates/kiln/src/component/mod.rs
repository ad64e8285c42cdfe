//! The component model's embedding API, shaped like wasmtime's `component` module: a
//! [`Component`] is compiled once; a [`Linker`] holds host definitions by name; an
//! [`Instance`] lives in a store and exports [`Func`]s, called with dynamically typed
//! [`Val`]s. Values cross into and out of components by the canonical ABI
//! (`canonical.rs`), resources through per-instance handle tables (`resources.rs`).
mod canonical;
#[allow(clippy::module_inception)]
mod component;
mod instance;
mod linker;
mod resources;
pub(crate) mod store;
mod values;

pub use component::Component;
pub use instance::{Func, Instance};
pub use linker::{Linker, LinkerInstance};
pub use values::{ResourceAny, ResourceType, Val};
