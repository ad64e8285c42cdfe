//! The component model, compile-time side: translating a component (validation and one
//! record per body, `translate`), flattening it into the initializers a runtime runs
//! (`inline`), and the description that results (`info`) with its value types (`types`).
//! Calls from one component instance to another are compiled as fused adapters
//! (`adapter`). A description decoded from an artifact is checked before use (`check`).
//! The runtime's side is `kiln::component`.
mod adapter;
mod check;
mod info;
mod inline;
mod translate;
mod types;

pub use adapter::{ADAPTER_EXPORT, AdapterTrap, FLAG_MAY_ENTER, FLAG_MAY_LEAVE};
pub use info::*;
pub use types::*;

use crate::CompileError;

/// The wasmparser features components are validated with: Kiln's core features plus the
/// component model with the extensions its reference tests are written for; what Kiln does
/// not run yet (async, maps, fixed-length lists) validates, then is refused as unsupported.
pub fn component_features(core: wasmparser::WasmFeatures) -> wasmparser::WasmFeatures {
    use wasmparser::WasmFeatures as F;
    core | F::COMPONENT_MODEL
        | F::CM_ASYNC
        | F::CM_ERROR_CONTEXT
        | F::CM_MORE_ASYNC_BUILTINS
        | F::CM_ASYNC_STACKFUL
        | F::CM_THREADING
        | F::CM_IMPLEMENTS
        | F::CM_FIXED_LENGTH_LISTS
        | F::CM_MAP
}

/// A component, translated and flattened.
pub struct ComponentTranslation {
    /// What instantiation runs.
    pub info: ComponentInfo,
    /// The byte range of every core module the component defines, by static index.
    pub modules: Vec<std::ops::Range<usize>>,
    /// The fused adapters' modules, whose static indices follow those of `modules`.
    pub adapters: Vec<Vec<u8>>,
}

/// Validates and flattens the component `wasm`.
///
/// # Errors
/// [`CompileError::Invalid`] for an invalid component; [`CompileError::Unsupported`] for
/// features Kiln does not run yet; [`CompileError::Limit`] when flattening would be too large.
pub fn translate_component(wasm: &[u8]) -> Result<ComponentTranslation, CompileError> {
    translate_component_with(wasm, crate::wasm_features())
}

/// [`translate_component`], validating core wasm with `features`.
///
/// # Errors
/// As for [`translate_component`].
pub fn translate_component_with(
    wasm: &[u8],
    features: wasmparser::WasmFeatures,
) -> Result<ComponentTranslation, CompileError> {
    let translation = translate::translate(wasm, component_features(features))?;
    let mut info = inline::inline(&translation)?;
    let adapters = adapter::fuse(&mut info, translation.modules.len());
    Ok(ComponentTranslation { info, modules: translation.modules.iter().map(|m| m.range.clone()).collect(), adapters })
}

/// Whether `wasm` starts with a component's header rather than a core module's.
pub fn is_component(wasm: &[u8]) -> bool {
    wasm.len() >= 8 && wasm[0..4] == *b"\0asm" && wasm[6..8] == [1, 0]
}
