//! Kiln's shared vocabulary: what a WebAssembly module *is* once parsed and validated
//! (`ModuleTranslation`), the index newtypes of its index spaces, the `FuncKey` that names
//! every piece of compiled code, the `VMContext` layout (`VMOffsets`), trap codes, the
//! builtin list, tunables and the error types. Both the compiler and the runtime speak it; it
//! has no unsafe code and no dependency on Cranelift's code generator.
#![warn(missing_docs, clippy::missing_errors_doc, clippy::missing_panics_doc)]
#![forbid(unsafe_code)]

pub mod artifact;
pub mod builtins;
pub mod component;
mod engine_info;
mod error;
mod func_key;
mod gc_layout;
mod index;
mod memory_image;
mod module;
pub mod settings;
mod sub_types;
mod table_image;
mod translate;
mod trap;
mod tunables;
mod types;
mod vmoffsets;

pub use builtins::BuiltinFunction;
pub use engine_info::{CRANELIFT_SETTINGS, EngineInfo, FORMAT_VERSION, cranelift_settings};
pub use error::{CompileError, invalid_from_wasmparser};
pub use func_key::{FuncKey, FuncKeyKind, clean_symbol_name};
pub use gc_layout::*;
pub use index::*;
pub use memory_image::{IMAGE_PAGE_SIZE, MemoryImage, memory_images};
pub use module::{ElementItems, EntityIndex, Export, FunctionInfo, Import, Module, Segment, SegmentMode};
pub use sub_types::*;
pub use table_image::{TableImage, table_images};
pub use translate::{
    FunctionBodyData, ModuleTranslation, translate_module, translate_module_with, validate_module, wasm_features,
};
pub use trap::Trap;
pub use tunables::{IntraModuleInlining, OptLevel, Tunables};
pub use types::*;
pub use vmoffsets::{VM_MAGIC, VMOffsets};

/// The size of a WebAssembly page, in bytes.
pub const WASM_PAGE_SIZE: u64 = 65536;
/// The largest number of pages a 32-bit memory may have.
pub const WASM32_MAX_PAGES: u64 = 1 << 16;
/// The largest number of pages a 64-bit memory may have (2^64 bytes).
pub const WASM64_MAX_PAGES: u64 = 1 << 48;
