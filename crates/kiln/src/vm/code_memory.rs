//! `CodeMemory`: a loaded artifact's code. The `.text` of a parsed [`Artifact`] is copied
//! into a fresh mapping that is then made read+execute, and its trap and function tables
//! kept beside it. All the modules of a component's artifact share one `CodeMemory` (one
//! mapping); each finds its functions by the `StaticModuleIndex` in their keys. The trap handler recognizes faults in it through the store running it
//! (see `traps`), not through a global registry: a registry shared by all threads would need
//! a lock that a signal handler cannot wait for.
use super::mmap::{Mmap, page_size};
use super::vm_ptr::VmPtr;
use super::vmcontext::{VMArrayCallFn, VMWasmCode};
use cranelift_entity::{EntityRef, PrimaryMap};
use kiln_environ::artifact::{
    AddressMap, Artifact, ArtifactError, CallSite, CallSiteTable, FuncTable, TrapTable, symbol_name,
};
use kiln_environ::{DefinedFuncIndex, FuncKey, StaticModuleIndex, Trap};
use std::sync::Arc;

/// Loaded, executable code with its trap and function tables.
pub struct CodeMemory {
    mmap: Option<Mmap>,
    text_len: usize,
    traps: TrapTable,
    call_sites: CallSiteTable,
    addresses: AddressMap,
    funcs: FuncTable,
    /// What names each module's frames.
    names: PrimaryMap<StaticModuleIndex, FrameNames>,
}

/// What names a module's frames in backtraces: the module's name, and each defined
/// function's index and name (indexed by defined-function index).
#[derive(Default)]
struct FrameNames {
    /// The module's name.
    module: Option<String>,
    /// Each defined function's index in the module, its name, and where its body starts.
    funcs: PrimaryMap<DefinedFuncIndex, (u32, Option<String>, Option<u32>)>,
}

impl CodeMemory {
    /// Load the code of a parsed artifact of `modules` (module `i` being `StaticModuleIndex`
    /// `i`; its tables were checked against its text when it was parsed).
    ///
    /// # Errors
    /// When the code cannot be mapped.
    pub fn load(artifact: &Artifact<'_>, modules: &[&kiln_environ::Module]) -> Result<Arc<CodeMemory>, ArtifactError> {
        let names = modules
            .iter()
            .map(|module| FrameNames {
                module: module.name.clone(),
                funcs: (0..module.num_defined_funcs())
                    .map(|d| {
                        let f = module.func_index(DefinedFuncIndex::new(d));
                        let body = module.func_body_offsets.get(DefinedFuncIndex::new(d)).copied();
                        (f.as_u32(), module.func_name(f).map(String::from), body)
                    })
                    .collect(),
            })
            .collect();
        let text = artifact.text;
        let mmap = if text.is_empty() {
            None
        } else {
            let len = text.len().div_ceil(page_size()) * page_size();
            let fail = |what: &str, e: std::io::Error| ArtifactError::Malformed(format!("{what} code: {e}"));
            let mut mmap = Mmap::read_write(len).map_err(|e| fail("mapping", e))?;
            // SAFETY: the mapping was just made read-write, and `text` fits in it.
            unsafe { mmap.slice_mut(0..text.len()) }.copy_from_slice(text);
            mmap.make_executable(0..len).map_err(|e| fail("protecting", e))?;
            Some(mmap)
        };
        Ok(Arc::new(CodeMemory {
            mmap,
            text_len: text.len(),
            traps: artifact.traps.clone(),
            call_sites: artifact.call_sites.clone(),
            addresses: artifact.addresses.clone(),
            funcs: artifact.funcs.clone(),
            names,
        }))
    }

    /// Name module `m`'s frames `name` when its name section gives none.
    pub fn name_unnamed(&mut self, m: StaticModuleIndex, name: &str) {
        if let Some(names) = self.names.get_mut(m) {
            names.module.get_or_insert_with(|| name.to_string());
        }
    }

    fn text_start(&self) -> Option<usize> {
        self.mmap.as_ref().map(|m| m.as_ptr().addr())
    }

    /// The machine code of the function named `key`.
    pub fn func_code(&self, key: FuncKey) -> Option<VmPtr<VMWasmCode>> {
        let entry = self.funcs.get(key)?;
        let mmap = self.mmap.as_ref()?;
        // SAFETY: the function table was checked to lie within `.text` when the artifact was
        // parsed, and the mapping holds all of `.text`.
        Some(VmPtr::from(unsafe { mmap.as_non_null().add(entry.start as usize) }).cast())
    }

    /// The host entry of an array-ABI function: an `ArrayToWasmTrampoline`'s code.
    pub fn array_call(&self, key: FuncKey) -> Option<VMArrayCallFn> {
        debug_assert!(matches!(key, FuncKey::ArrayToWasmTrampoline(..)));
        let code = self.func_code(key)?;
        // SAFETY: Kiln compiles every array-to-wasm trampoline with the array signature in
        // the platform's C convention, which is `VMArrayCallFn`; the code stays mapped as
        // long as this `CodeMemory`, which every store that calls it keeps.
        Some(unsafe { std::mem::transmute::<*mut VMWasmCode, VMArrayCallFn>(code.as_ptr()) })
    }

    /// The trap at absolute address `pc`, if it is one of this code's trap sites. Called from
    /// the signal handler: it takes no lock and allocates nothing.
    pub fn trap_at(&self, pc: usize) -> Option<Trap> {
        let offset = pc.checked_sub(self.text_start()?)?;
        if offset >= self.text_len {
            return None;
        }
        self.traps.lookup(u32::try_from(offset).ok()?)
    }

    /// The call site with exception handlers whose return address is absolute address
    /// `ret`, if this code has one there.
    pub fn call_site(&self, ret: usize) -> Option<&CallSite> {
        let offset = ret.checked_sub(self.text_start()?)?;
        if offset >= self.text_len {
            return None;
        }
        self.call_sites.lookup(u32::try_from(offset).ok()?)
    }

    /// The absolute address of text offset `offset` (checked against the text when the
    /// artifact was parsed).
    pub fn text_address(&self, offset: u32) -> Option<usize> {
        let offset = offset as usize;
        (offset < self.text_len).then(|| self.text_start().map(|s| s + offset)).flatten()
    }

    /// Whether absolute address `pc` lies in this code. Called from the signal handler.
    pub fn contains(&self, pc: usize) -> bool {
        self.text_start().is_some_and(|start| pc >= start && pc - start < self.text_len)
    }

    /// The wasm function whose code holds absolute address `pc` (none for trampolines), and
    /// the module offset of the operator there. A `return_address` (of a frame that called)
    /// is just past the call, so the call itself is looked up.
    pub fn frame_at(&self, pc: usize, return_address: bool) -> Option<crate::FrameInfo> {
        let offset = u32::try_from(pc.checked_sub(self.text_start()?)?).ok()?;
        let offset = if return_address { offset.checked_sub(1)? } else { offset };
        let entry = self.funcs.containing(offset)?;
        let FuncKey::DefinedWasmFunction(m, def) = entry.key else { return None };
        let names = self.names.get(m)?;
        let (func_index, func_name, body) = names.funcs.get(def)?.clone();
        let module_offset = self.addresses.lookup(offset, entry.start..entry.start.saturating_add(entry.len));
        let func_offset = module_offset.zip(body).and_then(|(at, body)| at.checked_sub(body));
        Some(crate::FrameInfo {
            module_name: names.module.clone(),
            func_index,
            func_name,
            module_offset: module_offset.map(|o| o as usize),
            func_offset: func_offset.map(|o| o as usize),
        })
    }

    /// The lines of a perf map (`/tmp/perf-<pid>.map`) naming every function of this code,
    /// compiled from `modules` (as given to [`CodeMemory::load`]): `START SIZE NAME` in hex,
    /// with the symbol names of the artifact, each after its module's name (the builtin
    /// trampolines, which belong to no module, after the first module's).
    pub fn perf_map(&self, modules: &[&kiln_environ::Module]) -> String {
        let Some(start) = self.text_start() else { return String::new() };
        let mut out = String::new();
        for e in &self.funcs.entries {
            let m = e.key.module().unwrap_or(StaticModuleIndex::MAIN);
            let prefix =
                self.names.get(m).and_then(|n| n.module.as_deref()).map(|n| format!("{n}!")).unwrap_or_default();
            let symbol = symbol_name(modules.get(m.index()).copied(), e.key);
            out.push_str(&format!("{:x} {:x} {prefix}{symbol}\n", start + e.start as usize, e.len));
        }
        out
    }
}
