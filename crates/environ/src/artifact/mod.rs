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
    let module: Module =
        postcard::from_bytes(bytes).map_err(|e| ArtifactError::Malformed(format!("module description: {e}")))?;
    module.check_consistent().map_err(|e| ArtifactError::Malformed(format!("module description: {e}")))?;
    Ok(module)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CompileError, EngineInfo, translate_module};
    use std::collections::BTreeMap;

    /// An artifact of `wat` with no code, as the writer lays it out.
    fn artifact_of(wat: &str) -> Vec<u8> {
        let module = translate_module(&wat::parse_str(wat).unwrap()).unwrap().module;
        let parts = ArtifactParts {
            architecture: object::Architecture::X86_64,
            text: Vec::new(),
            funcs: &FuncTable::default(),
            traps: &TrapTable::default(),
            engine: &EngineInfo::for_target("x86_64-unknown-linux-gnu"),
            module: &module,
            images: &BTreeMap::new(),
        };
        write(parts).unwrap()
    }

    /// Deterministic pseudo-random numbers for the mutations below.
    fn next(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    #[test]
    fn a_resealed_corrupt_description_is_an_error_never_a_panic() -> Result<(), CompileError> {
        let bytes = artifact_of(
            r#"(module (import "a" "f" (func)) (table 2 funcref) (memory 1) (global i32 (i32.const 1))
                (func $g (export "g") (result i32) (global.get 0)) (elem (i32.const 0) $g 0)
                (data (i32.const 4) "hi") (start 0))"#,
        );
        let artifact = Artifact::parse(&bytes).unwrap();
        assert!(artifact.module().is_ok());
        let file = object::File::parse(&*bytes).unwrap();
        use object::{Object, ObjectSection};
        let (at, len) = file.section_by_name(MODULE_SECTION).and_then(|s| s.file_range()).unwrap();
        let (at, len) = (at as usize, len as usize);
        let mut state = 0x9e3779b97f4a7c15;
        let (mut refused, mut accepted) = (0, 0);
        for _ in 0..2000 {
            let mut mutated = bytes.clone();
            for _ in 0..1 + next(&mut state) % 3 {
                let i = at + (next(&mut state) as usize) % len;
                mutated[i] = next(&mut state) as u8;
            }
            writer::seal(&mut mutated)?;
            // Anyone can recompute the checksum: the description itself must be checked.
            match Artifact::parse(&mutated).and_then(|a| a.module()) {
                Ok(module) => {
                    accepted += 1;
                    // What objdump does with a description: name keys, in range or not.
                    for def in [0, 1, 7, u32::MAX - 1] {
                        let def = crate::DefinedFuncIndex::from_u32(def);
                        module.symbol_name(crate::FuncKey::DefinedWasmFunction(crate::StaticModuleIndex::MAIN, def));
                    }
                }
                Err(_) => refused += 1,
            }
        }
        assert!(refused > 0 && accepted > 0, "{refused} refused, {accepted} accepted");
        Ok(())
    }

    #[test]
    fn inconsistent_descriptions_are_refused() {
        let module =
            translate_module(&wat::parse_str(r#"(module (import "a" "f" (func)) (func (export "g")))"#).unwrap())
                .unwrap()
                .module;
        let decode = |m: &Module| decode_module(&postcard::to_allocvec(m).unwrap());
        assert!(decode(&module).is_ok());
        let mut m = module.clone();
        m.num_imported_funcs = u32::MAX as usize;
        assert!(decode(&m).unwrap_err().to_string().contains("imported functions"));
        let mut m = module.clone();
        m.exports[0].index = crate::EntityIndex::Function(crate::FuncIndex::from_u32(9));
        assert!(decode(&m).unwrap_err().to_string().contains("export out of range"));
        // Found by kiln-fuzz mutate: a count of imported functions that no import provides
        // made instantiation panic on the unresolved one.
        let mut m = module.clone();
        m.num_imported_funcs = 2;
        assert!(decode(&m).unwrap_err().to_string().contains("2 imported functions, 1 imports"));
        let mut m = module.clone();
        m.imports[0].index = crate::EntityIndex::Function(crate::FuncIndex::from_u32(1));
        assert!(decode(&m).unwrap_err().to_string().contains("of imported functions 1"));
        let mut m = module;
        m.start = Some(crate::FuncIndex::from_u32(2));
        assert!(decode(&m).is_err());
    }
}
