//! Writing an artifact: the linked text and its tables, the engine info, the module
//! descriptions (and for a component its description) and the memory images become one ELF
//! file (through the `object` crate), and the checksum of it all goes in last.
use super::{
    ADDRESS_MAP_SECTION, AddressMap, CALL_SITES_SECTION, CHECKSUM_SECTION, COMPONENT_SECTION, CallSiteTable,
    ENGINE_SECTION, FUNCS_SECTION, FuncTable, IMAGE_SECTION_PREFIX, MODULE_SECTION, TRAPS_SECTION, TrapTable, checksum,
    symbol_name,
};
use crate::component::ComponentInfo;
use crate::{CompileError, DefinedMemoryIndex, EngineInfo, IMAGE_PAGE_SIZE, MemoryImage, Module};
use cranelift_entity::EntityRef;
use object::write::{Object, Symbol, SymbolSection};
use object::{BinaryFormat, Endianness, SectionKind, SymbolFlags, SymbolKind, SymbolScope};
use object::{Object as _, ObjectSection as _};
use std::collections::BTreeMap;

/// Everything an artifact holds.
pub struct ArtifactParts<'a> {
    /// The ELF machine of `text`.
    pub architecture: object::Architecture,
    /// The linked machine code.
    pub text: Vec<u8>,
    /// Every function's key and range in `text`, sorted by key.
    pub funcs: &'a FuncTable,
    /// The trap sites in `text`.
    pub traps: &'a TrapTable,
    /// The call sites with exception handlers in `text`.
    pub call_sites: &'a CallSiteTable,
    /// The address map of `text`.
    pub addresses: &'a AddressMap,
    /// The settings the code depends on.
    pub engine: &'a EngineInfo,
    /// The modules the code was compiled from, by static module index: exactly one for a
    /// module's artifact.
    pub modules: &'a [ArtifactModule<'a>],
    /// The component the modules belong to, for a component's artifact.
    pub component: Option<&'a ComponentInfo>,
}

/// One module of an artifact.
pub struct ArtifactModule<'a> {
    /// Its description.
    pub module: &'a Module,
    /// Its memory images, when the tunables map them.
    pub images: &'a BTreeMap<DefinedMemoryIndex, MemoryImage>,
}

fn internal(what: String) -> CompileError {
    CompileError::Internal(what)
}

/// The artifact file of `parts`.
///
/// # Errors
/// Only an internal error: a module's artifact without exactly one module, or a
/// description or the ELF that could not be written.
pub fn write(parts: ArtifactParts<'_>) -> Result<Vec<u8>, CompileError> {
    if parts.component.is_none() && parts.modules.len() != 1 {
        return Err(internal(format!("a module's artifact with {} modules", parts.modules.len())));
    }
    let mut obj = Object::new(BinaryFormat::Elf, parts.architecture, Endianness::Little);
    let text_id = obj.add_section(Vec::new(), b".text".to_vec(), SectionKind::Text);
    obj.set_section_data(text_id, parts.text, 16);
    let descriptions: Vec<&Module> = parts.modules.iter().map(|m| m.module).collect();
    let modules = postcard::to_allocvec(&descriptions).map_err(|e| internal(format!("encoding the modules: {e}")))?;
    let sections = [
        (TRAPS_SECTION, parts.traps.encode(), 4),
        (CALL_SITES_SECTION, parts.call_sites.encode(), 4),
        (ADDRESS_MAP_SECTION, parts.addresses.encode(), 4),
        (FUNCS_SECTION, parts.funcs.encode(), 4),
    ];
    for (name, data, align) in sections {
        let id = obj.add_section(Vec::new(), name.as_bytes().to_vec(), SectionKind::ReadOnlyData);
        obj.set_section_data(id, data, align);
    }
    for f in &parts.funcs.entries {
        obj.add_symbol(Symbol {
            name: symbol_name(f.key.module().and_then(|m| descriptions.get(m.index()).copied()), f.key).into_bytes(),
            value: u64::from(f.start),
            size: u64::from(f.len),
            kind: SymbolKind::Text,
            scope: SymbolScope::Compilation,
            weak: false,
            section: SymbolSection::Section(text_id),
            flags: SymbolFlags::None,
        });
    }
    for (m, module) in parts.modules.iter().enumerate() {
        for (def, image) in module.images {
            let name = format!("{IMAGE_SECTION_PREFIX}{m}.{}", def.index());
            let id = obj.add_section(Vec::new(), name.into_bytes(), SectionKind::ReadOnlyData);
            obj.set_section_data(id, image.bytes.clone(), IMAGE_PAGE_SIZE);
        }
    }
    let mut sections = vec![(ENGINE_SECTION, parts.engine.encode()), (MODULE_SECTION, modules)];
    if let Some(info) = parts.component {
        let info = postcard::to_allocvec(info).map_err(|e| internal(format!("encoding the component: {e}")))?;
        sections.push((COMPONENT_SECTION, info));
    }
    sections.push((CHECKSUM_SECTION, vec![0; 32]));
    for (name, data) in sections {
        let id = obj.add_section(Vec::new(), name.as_bytes().to_vec(), SectionKind::ReadOnlyData);
        obj.set_section_data(id, data, 1);
    }
    let mut elf = obj.write().map_err(|e| internal(format!("writing the ELF: {e}")))?;
    seal(&mut elf)?;
    Ok(elf)
}

/// Write the checksum of `elf` into its checksum section.
pub(super) fn seal(elf: &mut [u8]) -> Result<(), CompileError> {
    let file = object::File::parse(&*elf).map_err(|e| internal(format!("reading back the ELF: {e}")))?;
    let (offset, size) = file
        .section_by_name(CHECKSUM_SECTION)
        .and_then(|s| s.file_range())
        .ok_or_else(|| internal("the ELF lost its checksum section".into()))?;
    let hole = usize::try_from(offset).map_err(|e| internal(e.to_string()))?
        ..usize::try_from(offset.checked_add(size).ok_or_else(|| internal("checksum range overflows".into()))?)
            .map_err(|e| internal(e.to_string()))?;
    let sum = checksum(elf, hole.clone());
    elf[hole].copy_from_slice(&sum);
    Ok(())
}
