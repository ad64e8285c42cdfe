//! Reading an artifact: one pass over the ELF file that checks the checksum before anything
//! else, then finds and decodes every section; the descriptions (modules, component) are
//! decoded and checked on demand, after the caller has compared the engine settings, by the
//! accessor of the kind it expects. The loader and `kiln objdump` both read through
//! [`Artifact::parse`]; nothing else parses artifact bytes.
use super::{
    ADDRESS_MAP_SECTION, AddressMap, ArtifactError, CALL_SITES_SECTION, CHECKSUM_SECTION, COMPONENT_SECTION,
    CallSiteTable, ENGINE_SECTION, FUNCS_SECTION, FuncTable, IMAGE_SECTION_PREFIX, MODULE_SECTION, TRAPS_SECTION,
    TrapTable, checksum, decode_modules,
};
use crate::component::ComponentInfo;
use crate::{DefinedMemoryIndex, EngineInfo, FuncKey, Module, StaticModuleIndex};
use cranelift_entity::{EntityRef, PrimaryMap};
use object::{Object, ObjectSection};
use std::collections::BTreeMap;
use std::ops::Range;

/// What an artifact holds.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ArtifactKind {
    /// One core module.
    Module,
    /// A component: its description and every static core module it defines.
    Component,
}

impl std::fmt::Display for ArtifactKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ArtifactKind::Module => "a core module",
            ArtifactKind::Component => "a component",
        })
    }
}

/// A checked artifact, borrowing the bytes it was read from.
pub struct Artifact<'a> {
    /// The machine code.
    pub text: &'a [u8],
    /// The trap sites in `text`.
    pub traps: TrapTable,
    /// The call sites with exception handlers in `text`.
    pub call_sites: CallSiteTable,
    /// Which wasm operator each part of `text` was compiled from.
    pub addresses: AddressMap,
    /// Every function's key and range in `text`.
    pub funcs: FuncTable,
    /// The settings the code depends on.
    pub engine: EngineInfo,
    /// Whether it holds a module or a component.
    pub kind: ArtifactKind,
    /// Where each module's defined memories' images lie in the file.
    pub images: BTreeMap<(StaticModuleIndex, DefinedMemoryIndex), Range<u64>>,
    modules: &'a [u8],
    component: Option<&'a [u8]>,
}

/// The range `offset..offset + size` of a file of `len` bytes, if it lies inside it.
fn in_file(offset: u64, size: u64, len: usize) -> Option<Range<usize>> {
    let start = usize::try_from(offset).ok()?;
    let end = start.checked_add(usize::try_from(size).ok()?)?;
    (end <= len).then_some(start..end)
}

fn not_an_artifact(why: &str) -> ArtifactError {
    ArtifactError::NotAnArtifact(why.into())
}

fn malformed(what: String) -> ArtifactError {
    ArtifactError::Malformed(what)
}

/// The `(module, memory)` of an image section's name after the prefix: `<M>.<N>`.
fn image_index(name: &str) -> Option<(StaticModuleIndex, DefinedMemoryIndex)> {
    let (module, memory) = name.split_once('.')?;
    let index = |s: &str| s.parse::<u32>().ok().filter(|i| *i != u32::MAX && s == i.to_string());
    Some((StaticModuleIndex::from_u32(index(module)?), DefinedMemoryIndex::from_u32(index(memory)?)))
}

impl<'a> Artifact<'a> {
    /// Check and read the artifact `bytes`: an ELF file with a matching checksum and every
    /// section of the format, each decoding cleanly.
    ///
    /// # Errors
    /// [`ArtifactError::NotAnArtifact`], [`ArtifactError::Corrupted`] or
    /// [`ArtifactError::Malformed`]; the engine settings are not compared here (see
    /// [`EngineInfo::check_compatible`]).
    pub fn parse(bytes: &'a [u8]) -> Result<Artifact<'a>, ArtifactError> {
        Artifact::read(bytes, true)
    }

    /// Read the artifact `bytes` that this process's compiler has just written, without
    /// recomputing their checksum; everything else is checked as in [`Artifact::parse`].
    ///
    /// # Errors
    /// As for [`Artifact::parse`].
    pub fn parse_fresh(bytes: &'a [u8]) -> Result<Artifact<'a>, ArtifactError> {
        Artifact::read(bytes, false)
    }

    fn read(bytes: &'a [u8], verify: bool) -> Result<Artifact<'a>, ArtifactError> {
        let file = object::File::parse(bytes).map_err(|_| not_an_artifact("not an ELF file"))?;
        let (offset, size) = file
            .section_by_name(CHECKSUM_SECTION)
            .and_then(|s| s.file_range())
            .filter(|(_, size)| *size == 32)
            .ok_or_else(|| not_an_artifact("no checksum section"))?;
        let hole = in_file(offset, size, bytes.len()).ok_or_else(|| not_an_artifact("no checksum section"))?;
        if verify && bytes[hole.clone()] != checksum(bytes, hole)[..] {
            return Err(ArtifactError::Corrupted);
        }
        let missing = |name: &str| malformed(format!("the artifact has no {name} section"));
        let data = |name: &str| -> Result<&'a [u8], ArtifactError> {
            let section = file.section_by_name(name).ok_or_else(|| missing(name))?;
            section.data().map_err(|e| malformed(format!("section {name}: {e}")))
        };
        let text = data(".text")?;
        let traps = TrapTable::decode(data(TRAPS_SECTION)?)?;
        if traps.offsets.last().is_some_and(|o| *o as usize >= text.len()) {
            return Err(malformed("a trap site lies outside .text".into()));
        }
        let call_sites = CallSiteTable::decode(data(CALL_SITES_SECTION)?, text.len())?;
        let addresses = AddressMap::decode(data(ADDRESS_MAP_SECTION)?)?;
        let funcs = FuncTable::decode(data(FUNCS_SECTION)?, text.len())?;
        let engine = EngineInfo::decode(data(ENGINE_SECTION)?)?;
        let modules = data(MODULE_SECTION)?;
        let component = match file.section_by_name(COMPONENT_SECTION) {
            Some(_) => Some(data(COMPONENT_SECTION)?),
            None => None,
        };
        let mut images = BTreeMap::new();
        for s in file.sections() {
            let Some(name) = s.name().ok().and_then(|n| n.strip_prefix(IMAGE_SECTION_PREFIX)) else { continue };
            let bad = || malformed(format!("image section {IMAGE_SECTION_PREFIX}{name}"));
            let index = image_index(name).ok_or_else(bad)?;
            let (at, len) = s.file_range().ok_or_else(bad)?;
            in_file(at, len, bytes.len()).ok_or_else(bad)?;
            if images.insert(index, at..at + len).is_some() {
                return Err(bad());
            }
        }
        let kind = if component.is_some() { ArtifactKind::Component } else { ArtifactKind::Module };
        Ok(Artifact { text, traps, call_sites, addresses, funcs, engine, kind, images, modules, component })
    }

    /// The description of every module the artifact holds, by static module index, each
    /// checked, and checked against the functions and images the artifact has for it.
    ///
    /// # Errors
    /// [`ArtifactError::Malformed`] when a description does not decode or is inconsistent,
    /// when a module's artifact does not hold exactly one module, or when a function or an
    /// image belongs to no module.
    pub fn modules(&self) -> Result<PrimaryMap<StaticModuleIndex, Module>, ArtifactError> {
        let modules = decode_modules(self.modules)?;
        match self.kind {
            ArtifactKind::Module if modules.len() != 1 => {
                return Err(malformed(format!("a module's artifact holds {} module descriptions", modules.len())));
            }
            ArtifactKind::Component if modules.len() > FuncKey::MAX_MODULES => {
                return Err(malformed(format!("{} module descriptions", modules.len())));
            }
            _ => {}
        }
        let modules: PrimaryMap<StaticModuleIndex, Module> = modules.into_iter().collect();
        if let Some(f) = self.funcs.entries.iter().find(|f| f.key.module().is_some_and(|m| !modules.is_valid(m))) {
            return Err(malformed(format!("function {:?} belongs to no module of the artifact", f.key)));
        }
        for (m, memory) in self.images.keys() {
            let Some(module) = modules.get(*m) else {
                return Err(malformed(format!("an image of module {}, which the artifact does not hold", m.index())));
            };
            if memory.index() >= module.num_defined_memories() {
                return Err(malformed(format!(
                    "an image of module {}'s memory {}, which it does not define",
                    m.index(),
                    memory.index()
                )));
            }
        }
        Ok(modules)
    }

    /// The description of the module a module's artifact holds.
    ///
    /// # Errors
    /// [`ArtifactError::WrongKind`] for a component's artifact, and as for
    /// [`Artifact::modules`].
    pub fn module(&self) -> Result<Module, ArtifactError> {
        if self.kind != ArtifactKind::Module {
            return Err(ArtifactError::WrongKind { expected: ArtifactKind::Module, found: self.kind });
        }
        let modules = self.modules()?;
        modules.into_iter().next().map(|(_, m)| m).ok_or_else(|| malformed("no module description".into()))
    }

    /// The description of the component a component's artifact holds, and of its modules,
    /// checked against each other.
    ///
    /// # Errors
    /// [`ArtifactError::WrongKind`] for a module's artifact, [`ArtifactError::Malformed`]
    /// when the component's description does not decode or is inconsistent, and as for
    /// [`Artifact::modules`].
    pub fn component(&self) -> Result<(ComponentInfo, PrimaryMap<StaticModuleIndex, Module>), ArtifactError> {
        let Some(bytes) = self.component else {
            return Err(ArtifactError::WrongKind { expected: ArtifactKind::Component, found: self.kind });
        };
        let modules = self.modules()?;
        let info: ComponentInfo =
            postcard::from_bytes(bytes).map_err(|e| malformed(format!("component description: {e}")))?;
        info.check_consistent(modules.len()).map_err(|e| malformed(format!("component description: {e}")))?;
        Ok((info, modules))
    }

    /// Where module `m`'s memory images lie in the file.
    pub fn images_of(&self, m: StaticModuleIndex) -> BTreeMap<DefinedMemoryIndex, Range<u64>> {
        self.images
            .range((m, DefinedMemoryIndex::from_u32(0))..)
            .take_while(|((i, _), _)| *i == m)
            .map(|((_, d), r)| (*d, r.clone()))
            .collect()
    }
}
