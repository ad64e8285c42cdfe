//! The Kiln artifact format, in one place: [`write`] is its only writer (the linker calls
//! it) and [`Artifact::parse`] its only reader (the runtime's loader and `kiln objdump` call
//! it). An artifact is an ELF file:
//!
//! - `.text`: the machine code of every function, each at the ISA's preferred alignment,
//!   with every call resolved (no relocation records);
//! - `.kiln.traps`: the trap table: `count: u32`, then `count` text offsets (`u32`, sorted
//!   ascending), then `count` trap codes (`u8`, see [`Trap::code`](crate::Trap::code));
//! - `.kiln.funcs`: the function table: `count: u32`, then per function, sorted by key:
//!   `namespace: u32, index: u32, start: u32, len: u32` (the `FuncKey` and its text range);
//! - `.kiln.engine`: the [`EngineInfo`](crate::EngineInfo) lines;
//! - `.kiln.module`: the [`Module`] description, in postcard;
//! - `.kiln.image.<N>`: the copy-on-write image of defined memory N (when the tunables map
//!   images), aligned to [`IMAGE_PAGE_SIZE`](crate::IMAGE_PAGE_SIZE) in the file so that a
//!   loaded artifact file can be mapped straight into memories;
//! - `.kiln.checksum`: the SHA-256 of the whole file with these 32 bytes zeroed, so that any
//!   corruption is caught before anything else is read;
//! - one ELF symbol per function, for tools that read ELF.
//!
//! Reading checks every length, offset and order, so a corrupt artifact is an
//! [`ArtifactError`], never a crash.
mod reader;
mod tables;
mod writer;

pub use reader::Artifact;
pub use tables::{FuncEntry, FuncTable, TrapTable};
pub use writer::{ArtifactParts, write};

use crate::Module;

/// Name of the trap table section.
pub const TRAPS_SECTION: &str = ".kiln.traps";
/// Name of the function table section.
pub const FUNCS_SECTION: &str = ".kiln.funcs";
/// Name of the engine-info section.
pub const ENGINE_SECTION: &str = ".kiln.engine";
/// Name of the module-description section.
pub const MODULE_SECTION: &str = ".kiln.module";
/// Prefix of the memory-image sections (followed by the defined memory's index).
pub const IMAGE_SECTION_PREFIX: &str = ".kiln.image.";
/// Name of the checksum section.
pub const CHECKSUM_SECTION: &str = ".kiln.checksum";

/// The SHA-256 of `file` with the bytes of `hole` (the checksum itself) taken as zeros.
fn checksum(file: &[u8], hole: std::ops::Range<usize>) -> [u8; 32] {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(&file[..hole.start.min(file.len())]);
    h.update(vec![0u8; hole.len()]);
    h.update(&file[hole.end.min(file.len())..]);
    h.finalize().into()
}

/// Why bytes are not a loadable artifact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArtifactError {
    /// Not an artifact at all (not an ELF file, or one without Kiln's sections); says why.
    NotAnArtifact(String),
    /// The checksum does not match: the bytes changed after they were written.
    Corrupted,
    /// A section is missing or does not decode.
    Malformed(String),
    /// A sound artifact that this engine cannot run (other settings, another host); names
    /// the setting.
    Incompatible(String),
}

impl std::fmt::Display for ArtifactError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ArtifactError::NotAnArtifact(why) => write!(f, "not a Kiln artifact ({why})"),
            ArtifactError::Corrupted => f.write_str("the artifact is corrupted (its checksum does not match)"),
            ArtifactError::Malformed(what) => write!(f, "malformed Kiln artifact: {what}"),
            ArtifactError::Incompatible(why) => write!(f, "cannot load this artifact: {why}"),
        }
    }
}

impl std::error::Error for ArtifactError {}

/// Decode `.kiln.module` bytes.
fn decode_module(bytes: &[u8]) -> Result<Module, ArtifactError> {
    postcard::from_bytes(bytes).map_err(|e| ArtifactError::Malformed(format!("module description: {e}")))
}
