//! `CompiledFunction`: one function's machine code, its calls to other functions (relocations
//! naming `FuncKey`s) and its trap sites, taken out of Cranelift's `CompiledCode`.
use cranelift_codegen::binemit::Reloc;
use cranelift_codegen::ir::{self, ExternalName};
use cranelift_codegen::{Context, FinalizedRelocTarget};
use cranelift_control::ControlPlane;
use kiln_cranelift::abi::trap_from_code;
use kiln_environ::artifact::{CallSite, Handler};
use kiln_environ::{CompileError, FuncKey, Trap};

/// A call from one function to another, to be resolved at link time.
#[derive(Clone, Debug)]
pub struct Relocation {
    pub offset: u32,
    pub kind: Reloc,
    pub target: FuncKey,
    pub addend: i64,
}

/// One function's machine code.
#[derive(Clone, Debug)]
pub struct CompiledFunction {
    pub key: FuncKey,
    pub code: Vec<u8>,
    pub alignment: u32,
    pub relocations: Vec<Relocation>,
    /// Trap sites, as offsets into `code`.
    pub traps: Vec<(u32, Trap)>,
    /// `(offset into code, module offset)`: where the code of each wasm operator starts.
    pub addresses: Vec<(u32, u32)>,
    /// The call sites with exception handlers or live traced references, offsets into `code`,
    /// by ascending return address.
    pub call_sites: Vec<CallSite>,
}

/// Compile `func` (named `key`) to machine code: Cranelift's optimizer, register allocation
/// and emission.
pub fn finish(
    isa: &dyn cranelift_codegen::isa::TargetIsa,
    key: FuncKey,
    func: ir::Function,
) -> Result<CompiledFunction, CompileError> {
    let mut ctx = Context::for_function(func);
    let mut ctrl = ControlPlane::default();
    ctx.compile(isa, &mut ctrl)
        .map_err(|e| CompileError::Internal(format!("Cranelift failed on {key:?}: {:?}", e.inner)))?;
    let Some(code) = ctx.compiled_code() else {
        return Err(CompileError::Internal(format!("Cranelift produced no code for {key:?}")));
    };
    let buffer = &code.buffer;
    let mut relocations = Vec::new();
    for r in buffer.relocs() {
        let target = match &r.target {
            FinalizedRelocTarget::ExternalName(ExternalName::User(name)) => {
                let name = &ctx.func.params.user_named_funcs()[*name];
                FuncKey::from_raw(name.namespace, name.index)
                    .ok_or_else(|| CompileError::Internal(format!("{key:?} calls unknown name {name:?}")))?
            }
            FinalizedRelocTarget::ExternalName(ExternalName::LibCall(libcall)) => {
                // Cranelift calls a library routine where the CPU lacks an instruction (for
                // example float rounding without SSE4.1); Kiln provides none yet.
                return Err(CompileError::Unsupported(format!(
                    "this CPU: {libcall} needs an instruction it lacks (on x86-64, SSE4.1)"
                )));
            }
            other => {
                return Err(CompileError::Internal(format!("{key:?} has an unexpected relocation to {other:?}")));
            }
        };
        relocations.push(Relocation { offset: r.offset, kind: r.kind, target, addend: r.addend });
    }
    let mut traps = Vec::new();
    for t in buffer.traps() {
        let trap = trap_from_code(t.code)
            .ok_or_else(|| CompileError::Internal(format!("{key:?} uses foreign trap code {}", t.code)))?;
        traps.push((t.offset, trap));
    }
    traps.sort_by_key(|t| t.0);
    // The translator marks each operator with its module offset; trampolines have none.
    let addresses =
        buffer.get_srclocs_sorted().iter().filter(|s| !s.loc.is_default()).map(|s| (s.start, s.loc.bits())).collect();
    let mut call_sites = Vec::new();
    for site in buffer.call_sites().filter(|s| !s.exception_handlers.is_empty()) {
        use cranelift_codegen::{ExceptionContextLoc, FinalizedMachExceptionHandler as H};
        let handlers = site
            .exception_handlers
            .iter()
            .map(|h| match *h {
                H::Context(ExceptionContextLoc::SPOffset(offset)) => Ok(Handler::Context(offset)),
                H::Tag(tag, at) => Ok(Handler::Tag { tag: tag.as_u32(), at }),
                H::Default(at) => Ok(Handler::Default { at }),
                H::Context(ExceptionContextLoc::GPR(_)) => {
                    Err(CompileError::Internal(format!("{key:?}: an exception context in a register")))
                }
            })
            .collect::<Result<_, _>>()?;
        let frame_offset = site
            .frame_offset
            .ok_or_else(|| CompileError::Internal(format!("{key:?}: a call site with handlers but no frame offset")))?;
        call_sites.push(CallSite { ret_addr: site.ret_addr, frame_offset, handlers, roots: Vec::new() });
    }
    // The stack maps: the slots of the references live across each call.
    for (ret_addr, span, map) in buffer.user_stack_maps() {
        let roots: Vec<u32> = map
            .entries()
            .map(|(ty, offset)| match ty.bytes() {
                8 => Ok(offset),
                _ => Err(CompileError::Internal(format!("{key:?}: a traced reference of type {ty} in a stack map"))),
            })
            .collect::<Result<_, _>>()?;
        match call_sites.binary_search_by_key(ret_addr, |s| s.ret_addr) {
            Ok(i) if call_sites[i].frame_offset == *span => call_sites[i].roots = roots,
            Ok(_) => {
                return Err(CompileError::Internal(format!("{key:?}: a call site's frame and stack map disagree")));
            }
            Err(i) => {
                call_sites.insert(i, CallSite { ret_addr: *ret_addr, frame_offset: *span, handlers: Vec::new(), roots })
            }
        }
    }
    let code = buffer.data().to_vec();
    Ok(CompiledFunction { key, code, alignment: buffer.alignment, relocations, traps, addresses, call_sites })
}
