//! Stage 6: pre-link. Every output goes into a `BTreeMap<FuncKey, _>` and is flattened: that
//! order is the layout of `.text` (a module's functions together, then its trampolines) and
//! each key's index, so the artifact does not depend on the number of threads.
use crate::compiled_function::CompiledFunction;
use std::collections::BTreeMap;

/// Sort the outputs by key.
pub fn sort(outputs: Vec<CompiledFunction>) -> Vec<CompiledFunction> {
    let map: BTreeMap<_, _> = outputs.into_iter().map(|f| (f.key, f)).collect();
    map.into_values().collect()
}
