//! Stage 7: link. Each function is appended to one text section with Cranelift's
//! `text_section_builder`, every direct call is resolved to its callee's label (with veneers
//! where a target is out of range), and the result — which has no relocation records left —
//! is written as an ELF with the `object` crate: `.text`, the trap table, the function table
//! and a symbol per function.
use crate::compiled_function::CompiledFunction;
use crate::isa::KilnIsa;
use cranelift_control::ControlPlane;
use cranelift_entity::EntityRef;
use kiln_environ::artifact::{
    self, CHECKSUM_SECTION, ENGINE_SECTION, FUNCS_SECTION, FuncEntry, FuncTable, IMAGE_SECTION_PREFIX, MODULE_SECTION,
    TRAPS_SECTION, TrapTable,
};
use kiln_environ::{CompileError, DefinedMemoryIndex, EngineInfo, FuncKey, IMAGE_PAGE_SIZE, MemoryImage, Module};
use object::write::{Object, Symbol, SymbolSection};
use object::{Architecture, BinaryFormat, Endianness, SectionKind, SymbolFlags, SymbolKind, SymbolScope};
use object::{Object as _, ObjectSection as _};
use std::collections::BTreeMap;
use std::collections::HashMap;

fn internal(what: String) -> CompileError {
    CompileError::Internal(what)
}

/// Link the sorted `functions` of `module` into an ELF image, with the engine info, the module
/// description and, last, the checksum of it all.
pub fn link(
    isa: &KilnIsa,
    info: &EngineInfo,
    module: &Module,
    functions: &[CompiledFunction],
    images: &BTreeMap<DefinedMemoryIndex, MemoryImage>,
) -> Result<Vec<u8>, CompileError> {
    let isa = &*isa.isa;
    let index: HashMap<FuncKey, usize> = functions.iter().enumerate().map(|(i, f)| (f.key, i)).collect();
    let mut builder = isa.text_section_builder(functions.len());
    let mut ctrl = ControlPlane::default();
    let mut starts = Vec::with_capacity(functions.len());
    let mut traps = TrapTable::default();
    // Every function starts at the ISA's preferred alignment (32 bytes on x86-64), as its
    // code's own branch alignment assumes: a loop's position relative to 32-byte boundaries
    // changes its speed (measured 1.4x on shootout-sieve).
    let preferred = isa.function_alignment().preferred;
    for f in functions {
        let start = builder.append(true, &f.code, f.alignment.max(preferred), &mut ctrl);
        starts.push(start);
        for r in &f.relocations {
            let target = *index
                .get(&r.target)
                .ok_or_else(|| internal(format!("{:?} calls {:?}, which was not compiled", f.key, r.target)))?;
            if !builder.resolve_reloc(start + u64::from(r.offset), r.kind, r.addend, target) {
                return Err(internal(format!("{:?}: cannot resolve relocation {:?}", f.key, r.kind)));
            }
        }
        for (offset, trap) in &f.traps {
            let at = start + u64::from(*offset);
            traps.offsets.push(u32::try_from(at).map_err(|_| CompileError::Limit("text section over 4 GiB".into()))?);
            traps.traps.push(*trap);
        }
    }
    let text = builder.finish(&mut ctrl);
    let funcs = FuncTable {
        entries: functions
            .iter()
            .zip(&starts)
            .map(|(f, start)| FuncEntry { key: f.key, start: *start as u32, len: f.code.len() as u32 })
            .collect(),
    };

    let arch = match isa.triple().architecture {
        target_lexicon::Architecture::X86_64 => Architecture::X86_64,
        target_lexicon::Architecture::Aarch64(_) => Architecture::Aarch64,
        other => return Err(CompileError::Unsupported(format!("artifacts for {other}"))),
    };
    let mut obj = Object::new(BinaryFormat::Elf, arch, Endianness::Little);
    let text_id = obj.add_section(Vec::new(), b".text".to_vec(), SectionKind::Text);
    obj.set_section_data(text_id, text, 16);
    let traps_id = obj.add_section(Vec::new(), TRAPS_SECTION.as_bytes().to_vec(), SectionKind::ReadOnlyData);
    obj.set_section_data(traps_id, traps.encode(), 4);
    let funcs_id = obj.add_section(Vec::new(), FUNCS_SECTION.as_bytes().to_vec(), SectionKind::ReadOnlyData);
    obj.set_section_data(funcs_id, funcs.encode(), 4);
    for (f, start) in functions.iter().zip(&starts) {
        obj.add_symbol(Symbol {
            name: symbol_name(module, f.key).into_bytes(),
            value: *start,
            size: f.code.len() as u64,
            kind: SymbolKind::Text,
            scope: SymbolScope::Compilation,
            weak: false,
            section: SymbolSection::Section(text_id),
            flags: SymbolFlags::None,
        });
    }
    for (def, image) in images {
        let name = format!("{IMAGE_SECTION_PREFIX}{}", def.index());
        let id = obj.add_section(Vec::new(), name.into_bytes(), SectionKind::ReadOnlyData);
        obj.set_section_data(id, image.bytes.clone(), IMAGE_PAGE_SIZE);
    }
    for (name, data) in [
        (ENGINE_SECTION, info.encode()),
        (MODULE_SECTION, artifact::encode_module(module)),
        (CHECKSUM_SECTION, vec![0; 32]),
    ] {
        let id = obj.add_section(Vec::new(), name.as_bytes().to_vec(), SectionKind::ReadOnlyData);
        obj.set_section_data(id, data, 1);
    }
    let mut elf = obj.write().map_err(|e| internal(format!("writing the ELF: {e}")))?;
    seal(&mut elf)?;
    Ok(elf)
}

/// Write the checksum of `elf` into its checksum section.
fn seal(elf: &mut [u8]) -> Result<(), CompileError> {
    let file = object::File::parse(&*elf).map_err(|e| internal(format!("reading back the ELF: {e}")))?;
    let (offset, size) = file
        .section_by_name(CHECKSUM_SECTION)
        .and_then(|s| s.file_range())
        .ok_or_else(|| internal("the ELF lost its checksum section".into()))?;
    let hole = offset as usize..(offset + size) as usize;
    let sum = artifact::checksum(elf, hole.clone());
    elf[hole].copy_from_slice(&sum);
    Ok(())
}

/// A function's symbol: `wasm[M]::function[N]::<name>` with the name section's (cleaned) name
/// for wasm functions, a descriptive name for trampolines.
fn symbol_name(module: &Module, key: FuncKey) -> String {
    let name = match key {
        FuncKey::DefinedWasmFunction(_, def) => module.func_name(module.func_index(def)),
        _ => None,
    };
    key.symbol_name(name)
}
