//! The Kiln artifact format, in one place: [`write`] is its only writer (the linker calls
//! it) and [`Artifact::parse`] its only reader (the runtime's loader and `kiln objdump` call
//! it). An artifact holds the code of one core module, or of a whole component (all of its
//! static core modules, linked together), and is an ELF file:
//!
//! - `.text`: the machine code of every function, each at the ISA's preferred alignment,
//!   with every call resolved (no relocation records);
//! - `.kiln.traps`: the trap table: `count: u32`, then `count` text offsets (`u32`, sorted
//!   ascending), then `count` trap codes (`u8`, see [`Trap::code`](crate::Trap::code));
//! - `.kiln.callsites`: the call-site table: every call site with exception handlers or live
//!   traced references (see [`CallSiteTable::encode`]), sorted by return address;
//! - `.kiln.addrmap`: the address map: `count: u32`, then `count` text offsets (`u32`,
//!   sorted), then `count` module offsets (`u32`) of the operators their code comes from;
//! - `.kiln.funcs`: the function table: `count: u32`, then per function, sorted by key:
//!   `namespace: u32, index: u32, start: u32, len: u32` (the `FuncKey`, whose module index
//!   says which module's code it is, and its text range);
//! - `.kiln.engine`: the [`EngineInfo`](crate::EngineInfo) lines;
//! - `.kiln.module`: the [`Module`] descriptions, by static module index (exactly one in a
//!   module's artifact), as one postcard list;
//! - `.kiln.component`: only in a component's artifact, and what makes it one: the
//!   flattened [`ComponentInfo`], in postcard;
//! - `.kiln.image.<M>.<N>`: the copy-on-write image of defined memory N of module M (when the
//!   tunables map images), aligned to [`IMAGE_PAGE_SIZE`](crate::IMAGE_PAGE_SIZE) in the
//!   file so that a loaded artifact file can be mapped straight into memories;
//! - `.kiln.checksum`: the SHA-256 of the whole file with these 32 bytes zeroed, so that any
//!   corruption is caught before anything else is read;
//! - one ELF symbol per function, for tools that read ELF.
//!
//! Reading checks every length, offset and order, and decoding a description checks every
//! index in it, so a corrupt artifact is an [`ArtifactError`], never a crash; a module's
//! artifact read as a component's, or the other way round, is [`ArtifactError::WrongKind`].
mod reader;
mod tables;
mod writer;

pub use reader::{Artifact, ArtifactKind};
pub use tables::{AddressMap, CallSite, CallSiteTable, FuncEntry, FuncTable, Handler, TrapTable};
pub use writer::{ArtifactModule, ArtifactParts, write};

use crate::{FuncKey, Module};

/// Name of the trap table section.
pub const TRAPS_SECTION: &str = ".kiln.traps";
/// Name of the exception table section.
pub const CALL_SITES_SECTION: &str = ".kiln.callsites";
/// The address map's section.
pub const ADDRESS_MAP_SECTION: &str = ".kiln.addrmap";
/// Name of the function table section.
pub const FUNCS_SECTION: &str = ".kiln.funcs";
/// Name of the engine-info section.
pub const ENGINE_SECTION: &str = ".kiln.engine";
/// Name of the module-descriptions section.
pub const MODULE_SECTION: &str = ".kiln.module";
/// Name of the component-description section, which only a component's artifact has.
pub const COMPONENT_SECTION: &str = ".kiln.component";
/// Prefix of the memory-image sections (followed by `<module index>.<defined memory index>`).
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
    /// A sound artifact of the other kind: a component's where a module's was expected, or
    /// the other way round.
    WrongKind {
        /// What the caller asked for.
        expected: ArtifactKind,
        /// What the artifact holds.
        found: ArtifactKind,
    },
}

impl std::fmt::Display for ArtifactError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ArtifactError::NotAnArtifact(why) => write!(f, "not a Kiln artifact ({why})"),
            ArtifactError::Corrupted => f.write_str("the artifact is corrupted (its checksum does not match)"),
            ArtifactError::Malformed(what) => write!(f, "malformed Kiln artifact: {what}"),
            ArtifactError::Incompatible(why) => write!(f, "cannot load this artifact: {why}"),
            ArtifactError::WrongKind { expected, found } => {
                write!(f, "this artifact holds {found}, not {expected}: load it as {found}")
            }
        }
    }
}

impl std::error::Error for ArtifactError {}

/// Decode `.kiln.module` bytes, checking every description.
fn decode_modules(bytes: &[u8]) -> Result<Vec<Module>, ArtifactError> {
    let modules: Vec<Module> =
        postcard::from_bytes(bytes).map_err(|e| ArtifactError::Malformed(format!("module descriptions: {e}")))?;
    for (i, module) in modules.iter().enumerate() {
        module.check_consistent().map_err(|e| ArtifactError::Malformed(format!("module description {i}: {e}")))?;
    }
    Ok(modules)
}

/// The symbol of the code `key` names, given the description of its module (if the artifact
/// has it): what the ELF symbols, `kiln objdump` and perf maps call a function.
pub fn symbol_name(module: Option<&Module>, key: FuncKey) -> String {
    match module {
        Some(module) => module.symbol_name(key),
        None => key.symbol_name(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CompileError, EngineInfo, translate_module};
    use std::collections::BTreeMap;

    /// An artifact of `wat` with no code, as the writer lays it out.
    fn artifact_of(wat: &str) -> Vec<u8> {
        let module = translate_module(&wat::parse_str(wat).unwrap()).unwrap().module;
        let images = BTreeMap::new();
        let parts = ArtifactParts {
            architecture: object::Architecture::X86_64,
            text: Vec::new(),
            funcs: &FuncTable::default(),
            traps: &TrapTable::default(),
            call_sites: &CallSiteTable::default(),
            addresses: &AddressMap::default(),
            engine: &EngineInfo::for_target("x86_64-unknown-linux-gnu"),
            modules: &[ArtifactModule { module: &module, images: &images }],
            component: None,
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
                        module.symbol_name(FuncKey::DefinedWasmFunction(crate::StaticModuleIndex::MAIN, def));
                    }
                }
                Err(_) => refused += 1,
            }
        }
        assert!(refused > 0 && accepted > 0, "{refused} refused, {accepted} accepted");
        Ok(())
    }

    /// Two modules, the first with enough data for a memory image.
    const COMPONENT: &str = r#"(component
        (core module $a (memory (export "mem") 1) (data (i32.const 8) "IMAGE")
          (func (export "f") (param i32) (result i32) local.get 0))
        (core module $b (import "a" "f" (func (param i32) (result i32))) (func))
        (core instance $ia (instantiate $a))
        (core instance $ib (instantiate $b (with "a" (instance $ia))))
        (func (export "f") (param "x" u32) (result u32) (canon lift (core func $ia "f")))
    )"#;

    /// A component's artifact of `wat` with placeholder code: one function per module, plus
    /// the entries of `extra`.
    fn component_artifact_of(wat: &str, extra: &[FuncEntry]) -> Vec<u8> {
        let wasm = wat::parse_str(wat.replace("IMAGE", &"i".repeat(4096))).unwrap();
        let t = crate::component::translate_component(&wasm).unwrap();
        let modules: Vec<Module> =
            t.modules.iter().map(|r| translate_module(&wasm[r.clone()]).unwrap().module).collect();
        let images: Vec<_> = modules.iter().map(crate::memory_images).collect();
        let parts: Vec<ArtifactModule<'_>> =
            modules.iter().zip(&images).map(|(module, images)| ArtifactModule { module, images }).collect();
        let func = |m: usize| FuncEntry {
            key: FuncKey::DefinedWasmFunction(
                crate::StaticModuleIndex::from_u32(m as u32),
                crate::DefinedFuncIndex::from_u32(0),
            ),
            start: 16 * m as u32,
            len: 16,
        };
        let mut entries: Vec<FuncEntry> = (0..modules.len()).map(func).chain(extra.iter().copied()).collect();
        entries.sort_by_key(|e| e.key);
        write(ArtifactParts {
            architecture: object::Architecture::X86_64,
            text: vec![0; 16 * modules.len()],
            funcs: &FuncTable { entries },
            traps: &TrapTable::default(),
            call_sites: &CallSiteTable::default(),
            addresses: &AddressMap::default(),
            engine: &EngineInfo::for_target("x86_64-unknown-linux-gnu"),
            modules: &parts,
            component: Some(&t.info),
        })
        .unwrap()
    }

    /// `bytes` with the section name `from` renamed `to` (of the same length), resealed.
    fn renamed(bytes: &[u8], from: &str, to: &str) -> Vec<u8> {
        assert_eq!(from.len(), to.len());
        let at = bytes.windows(from.len()).position(|w| w == from.as_bytes()).expect("the name is in the file");
        let mut out = bytes.to_vec();
        out[at..at + to.len()].copy_from_slice(to.as_bytes());
        writer::seal(&mut out).unwrap();
        out
    }

    #[test]
    fn component_artifacts_hold_every_module_and_are_told_from_module_artifacts() {
        let bytes = component_artifact_of(COMPONENT, &[]);
        let artifact = Artifact::parse(&bytes).unwrap();
        assert_eq!(artifact.kind, ArtifactKind::Component);
        let (info, modules) = artifact.component().unwrap();
        assert_eq!(modules.len(), 2);
        assert_eq!(info.initializers.len(), 2);
        let main = crate::StaticModuleIndex::MAIN;
        assert_eq!(artifact.images_of(main).len(), 1, "module 0's memory has an image");
        assert!(artifact.images_of(crate::StaticModuleIndex::from_u32(1)).is_empty());
        let e = artifact.module().unwrap_err();
        assert!(matches!(e, ArtifactError::WrongKind { expected: ArtifactKind::Module, .. }), "{e}");
        assert_eq!(e.to_string(), "this artifact holds a component, not a core module: load it as a component");
        let module = artifact_of("(module (func))");
        let e = Artifact::parse(&module).unwrap().component().unwrap_err();
        assert_eq!(e.to_string(), "this artifact holds a core module, not a component: load it as a core module");
        // Every index that names a module is checked: functions, images.
        let stray = FuncEntry {
            key: FuncKey::WasmToArrayTrampoline(crate::StaticModuleIndex::from_u32(5), crate::TypeIndex::from_u32(0)),
            start: 0,
            len: 16,
        };
        let e = Artifact::parse(&component_artifact_of(COMPONENT, &[stray])).unwrap().component().unwrap_err();
        assert!(e.to_string().contains("belongs to no module"), "{e}");
        for (to, why) in
            [(".kiln.image.3.0", "which the artifact does not hold"), (".kiln.image.0.7", "which it does not define")]
        {
            let e = Artifact::parse(&renamed(&bytes, ".kiln.image.0.0", to)).unwrap().component().unwrap_err();
            assert!(e.to_string().contains(why), "{to}: {e}");
        }
        assert!(Artifact::parse(&renamed(&bytes, ".kiln.image.0.0", ".kiln.image.0x0")).is_err());
        // A component's artifact without its component section is a module's artifact of
        // two modules, which is refused.
        let e = Artifact::parse(&renamed(&bytes, COMPONENT_SECTION, ".kiln.xomponent")).unwrap().module().unwrap_err();
        assert!(e.to_string().contains("holds 2 module descriptions"), "{e}");
    }

    #[test]
    fn a_resealed_corrupt_component_description_is_an_error_never_a_panic() -> Result<(), CompileError> {
        let bytes = component_artifact_of(COMPONENT, &[]);
        let file = object::File::parse(&*bytes).unwrap();
        use object::{Object, ObjectSection};
        let mut state = 0x2545f4914f6cdd1d;
        let (mut refused, mut accepted) = (0, 0);
        for section in [COMPONENT_SECTION, MODULE_SECTION] {
            let (at, len) = file.section_by_name(section).and_then(|s| s.file_range()).unwrap();
            let (at, len) = (at as usize, len as usize);
            for _ in 0..1500 {
                let mut mutated = bytes.clone();
                for _ in 0..1 + next(&mut state) % 3 {
                    let i = at + (next(&mut state) as usize) % len;
                    mutated[i] = next(&mut state) as u8;
                }
                writer::seal(&mut mutated)?;
                match Artifact::parse(&mutated).and_then(|a| a.component()) {
                    Ok((info, modules)) => {
                        accepted += 1;
                        // What the runtime computes from a description: layouts and flattenings.
                        for f in info.types.funcs.keys() {
                            info.types.flat_params(f);
                            info.types.params_layout(f);
                        }
                        assert!(modules.len() <= 2);
                    }
                    Err(_) => refused += 1,
                }
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
        let decode = |m: &Module| decode_modules(&postcard::to_allocvec(std::slice::from_ref(m)).unwrap());
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
