//! Stage 7: link. Each function is appended to one text section with Cranelift's
//! `text_section_builder`, every direct call is resolved to its callee's label (with veneers
//! where a target is out of range), and the result — which has no relocation records left —
//! is written with its trap and function tables by the artifact format's one writer,
//! [`kiln_environ::artifact::write`]. A component's modules share the one text section: their
//! functions' keys carry their module's index.
use crate::compiled_function::CompiledFunction;
use crate::isa::KilnIsa;
use cranelift_control::ControlPlane;
use kiln_environ::artifact::{
    self, AddressMap, ArtifactModule, ArtifactParts, CallSite, CallSiteTable, FuncEntry, FuncTable, Handler, TrapTable,
};
use kiln_environ::component::ComponentInfo;
use kiln_environ::{CompileError, EngineInfo, FuncKey};
use std::collections::HashMap;

fn internal(what: String) -> CompileError {
    CompileError::Internal(what)
}

/// Link the sorted `functions` of `modules` (by static module index; with the component they
/// make up, if they do) into an artifact, with the engine info, the descriptions and the
/// memory images.
pub fn link(
    isa: &KilnIsa,
    info: &EngineInfo,
    modules: &[ArtifactModule<'_>],
    component: Option<&ComponentInfo>,
    functions: &[CompiledFunction],
) -> Result<Vec<u8>, CompileError> {
    let isa = &*isa.isa;
    let index: HashMap<FuncKey, usize> = functions.iter().enumerate().map(|(i, f)| (f.key, i)).collect();
    let mut builder = isa.text_section_builder(functions.len());
    let mut ctrl = ControlPlane::default();
    let mut starts = Vec::with_capacity(functions.len());
    let mut traps = TrapTable::default();
    let mut addresses = AddressMap::default();
    let mut call_sites = CallSiteTable::default();
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
        for (offset, wasm) in &f.addresses {
            let at = start + u64::from(*offset);
            addresses
                .offsets
                .push(u32::try_from(at).map_err(|_| CompileError::Limit("text section over 4 GiB".into()))?);
            addresses.wasm.push(*wasm);
        }
        let text_offset = |offset: u32| {
            u32::try_from(start + u64::from(offset)).map_err(|_| CompileError::Limit("text section over 4 GiB".into()))
        };
        for site in &f.call_sites {
            let handlers = site
                .handlers
                .iter()
                .map(|h| {
                    Ok(match *h {
                        Handler::Context(offset) => Handler::Context(offset),
                        Handler::Tag { tag, at } => Handler::Tag { tag, at: text_offset(at)? },
                        Handler::Default { at } => Handler::Default { at: text_offset(at)? },
                    })
                })
                .collect::<Result<_, CompileError>>()?;
            let ret_addr = text_offset(site.ret_addr)?;
            let (frame_offset, roots) = (site.frame_offset, site.roots.clone());
            call_sites.sites.push(CallSite { ret_addr, frame_offset, handlers, roots });
        }
        for (offset, trap) in &f.traps {
            let at = start + u64::from(*offset);
            traps.offsets.push(u32::try_from(at).map_err(|_| CompileError::Limit("text section over 4 GiB".into()))?);
            traps.traps.push(*trap);
        }
    }
    let text = builder.finish(&mut ctrl);
    let too_large = || CompileError::Limit("text section over 4 GiB".into());
    let funcs = FuncTable {
        entries: functions
            .iter()
            .zip(&starts)
            .map(|(f, start)| {
                let start = u32::try_from(*start).map_err(|_| too_large())?;
                Ok(FuncEntry { key: f.key, start, len: u32::try_from(f.code.len()).map_err(|_| too_large())? })
            })
            .collect::<Result<_, CompileError>>()?,
    };

    let architecture = match isa.triple().architecture {
        target_lexicon::Architecture::X86_64 => object::Architecture::X86_64,
        target_lexicon::Architecture::Aarch64(_) => object::Architecture::Aarch64,
        other => return Err(CompileError::Unsupported(format!("artifacts for {other}"))),
    };
    artifact::write(ArtifactParts {
        architecture,
        text,
        funcs: &funcs,
        traps: &traps,
        call_sites: &call_sites,
        addresses: &addresses,
        engine: info,
        modules,
        component,
    })
}
