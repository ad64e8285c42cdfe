//! One engine's instance of a module, as the differential driver sees it: call an export by
//! name, and read the exported state (memories, globals, table sizes) between calls. Kiln and
//! wasmi each implement it ([`crate::kiln_side`], [`crate::wasmi_side`]).
use crate::outcome::{Outcome, Ty, Value};

/// Why an engine has no instance of a module.
#[derive(Debug)]
pub enum NoInstance {
    /// The engine does not run a feature the module uses (`unsupported: …`).
    Unsupported(String),
    /// The engine found the module invalid.
    Invalid(String),
    /// The module compiled but did not instantiate: a segment out of bounds, a start
    /// function that trapped, a limit.
    Instantiation(Outcome),
}

/// An instance in its own store.
pub trait Side {
    /// The parameter types of exported function `name`, if there is one.
    fn params(&mut self, name: &str) -> Option<Vec<Ty>>;

    /// Call exported function `name` with `args`, where [`Ref::Export(n)`] names the `n`-th
    /// exported function in export order.
    ///
    /// [`Ref::Export(n)`]: crate::outcome::Ref::Export
    fn call(&mut self, name: &str, args: &[Value]) -> Outcome;

    /// The bytes of exported memory `name` (its length gives its size).
    fn memory(&self, name: &str) -> Option<&[u8]>;

    /// The value of exported global `name`.
    fn global(&mut self, name: &str) -> Option<Value>;

    /// The size of exported table `name`.
    fn table_size(&self, name: &str) -> Option<u64>;
}
