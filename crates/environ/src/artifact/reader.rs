//! Reading an artifact: one pass over the ELF file that checks the checksum before anything
//! else, then finds and decodes every section. The loader and `kiln objdump` both read
//! through [`Artifact::parse`]; nothing else parses artifact bytes.
use super::{
    ArtifactError, CHECKSUM_SECTION, ENGINE_SECTION, FUNCS_SECTION, FuncTable, IMAGE_SECTION_PREFIX, MODULE_SECTION,
    TRAPS_SECTION, TrapTable, checksum, decode_module,
};
use crate::{DefinedMemoryIndex, EngineInfo, Module};
use object::{Object, ObjectSection};
use std::collections::BTreeMap;
use std::ops::Range;

/// A checked artifact, borrowing the bytes it was read from.
pub struct Artifact<'a> {
    /// The machine code.
    pub text: &'a [u8],
    /// The trap sites in `text`.
    pub traps: TrapTable,
    /// Every function's key and range in `text`.
    pub funcs: FuncTable,
    /// The settings the code depends on.
    pub engine: EngineInfo,
    /// Where each defined memory's image lies in the file.
    pub images: BTreeMap<DefinedMemoryIndex, Range<u64>>,
    module: &'a [u8],
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
        let funcs = FuncTable::decode(data(FUNCS_SECTION)?, text.len())?;
        let engine = EngineInfo::decode(data(ENGINE_SECTION)?)?;
        let module = data(MODULE_SECTION)?;
        let mut images = BTreeMap::new();
        for s in file.sections() {
            let Some(index) = s.name().ok().and_then(|n| n.strip_prefix(IMAGE_SECTION_PREFIX)) else { continue };
            let bad = || malformed(format!("image section {IMAGE_SECTION_PREFIX}{index}"));
            let index: u32 = index.parse().ok().filter(|i| *i != u32::MAX).ok_or_else(bad)?;
            let (at, len) = s.file_range().ok_or_else(bad)?;
            in_file(at, len, bytes.len()).ok_or_else(bad)?;
            images.insert(DefinedMemoryIndex::from_u32(index), at..at + len);
        }
        Ok(Artifact { text, traps, funcs, engine, images, module })
    }

    /// The module description.
    ///
    /// # Errors
    /// [`ArtifactError::Malformed`] when it does not decode.
    pub fn module(&self) -> Result<Module, ArtifactError> {
        decode_module(self.module)
    }
}
