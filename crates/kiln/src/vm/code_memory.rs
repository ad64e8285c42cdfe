//! `CodeMemory`: a loaded artifact. The ELF is parsed and checked, and its `.text` copied into
//! a fresh mapping that is then made read+execute. The trap handler recognizes faults in it
//! through the store running it (see `traps`), not through a global registry: a registry
//! shared by all threads would need a lock that a signal handler cannot wait for.
use super::mmap::{Mmap, page_size};
use cranelift_entity::EntityRef;
use kiln_environ::artifact::{ArtifactError, FUNCS_SECTION, FuncTable, TRAPS_SECTION, TrapTable};
use kiln_environ::{FuncKey, Trap};
use object::{Object, ObjectSection};
use std::sync::Arc;

/// Loaded, executable code with its trap and function tables.
pub struct CodeMemory {
    mmap: Option<Mmap>,
    text_len: usize,
    traps: TrapTable,
    funcs: FuncTable,
    names: FrameNames,
}

/// What names a module's frames in backtraces: the module's name, and each defined
/// function's index and name (indexed by defined-function index).
#[derive(Default)]
pub struct FrameNames {
    pub module: Option<String>,
    pub funcs: Vec<(u32, Option<String>)>,
}

impl CodeMemory {
    /// Load an ELF artifact.
    pub fn load(elf: &[u8], names: FrameNames) -> Result<Arc<CodeMemory>, ArtifactError> {
        let file = object::File::parse(elf).map_err(|e| ArtifactError(format!("not an ELF file: {e}")))?;
        let section = |name: &str| -> Result<&[u8], ArtifactError> {
            file.section_by_name(name)
                .ok_or_else(|| ArtifactError(format!("missing section {name}")))?
                .data()
                .map_err(|e| ArtifactError(format!("section {name}: {e}")))
        };
        let text = section(".text")?;
        let traps = TrapTable::decode(section(TRAPS_SECTION)?)?;
        let funcs = FuncTable::decode(section(FUNCS_SECTION)?, text.len())?;
        if traps.offsets.last().is_some_and(|o| *o as usize >= text.len()) {
            return Err(ArtifactError("a trap site lies outside .text".into()));
        }
        let mmap = if text.is_empty() {
            None
        } else {
            let len = text.len().div_ceil(page_size()) * page_size();
            let mut mmap = Mmap::read_write(len).map_err(|e| ArtifactError(format!("mapping code: {e}")))?;
            mmap.slice_mut(0..text.len()).copy_from_slice(text);
            mmap.make_executable(0..len).map_err(|e| ArtifactError(format!("protecting code: {e}")))?;
            Some(mmap)
        };
        Ok(Arc::new(CodeMemory { mmap, text_len: text.len(), traps, funcs, names }))
    }

    fn text_start(&self) -> Option<usize> {
        self.mmap.as_ref().map(|m| m.as_ptr() as usize)
    }

    /// The address of the function named `key`.
    pub fn func_addr(&self, key: FuncKey) -> Option<usize> {
        let entry = self.funcs.get(key)?;
        Some(self.text_start()? + entry.start as usize)
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

    /// Whether absolute address `pc` lies in this code. Called from the signal handler.
    pub fn contains(&self, pc: usize) -> bool {
        self.text_start().is_some_and(|start| pc >= start && pc - start < self.text_len)
    }

    /// The wasm function whose code holds absolute address `pc` (none for trampolines).
    pub fn frame_at(&self, pc: usize) -> Option<crate::FrameInfo> {
        let offset = u32::try_from(pc.checked_sub(self.text_start()?)?).ok()?;
        let FuncKey::DefinedWasmFunction(_, def) = self.funcs.containing(offset)?.key else { return None };
        let (func_index, func_name) = self.names.funcs.get(def.index())?.clone();
        Some(crate::FrameInfo { module_name: self.names.module.clone(), func_index, func_name })
    }

    /// The lines of a perf map (`/tmp/perf-<pid>.map`) naming every function of this code:
    /// `START SIZE NAME` in hex, with the symbol names of the artifact.
    pub fn perf_map(&self) -> String {
        let Some(start) = self.text_start() else { return String::new() };
        let mut out = String::new();
        for e in &self.funcs.entries {
            let name = match e.key {
                FuncKey::DefinedWasmFunction(_, def) => self.names.funcs.get(def.index()).and_then(|f| f.1.as_deref()),
                _ => None,
            };
            let module = self.names.module.as_deref().map(|m| format!("{m}!")).unwrap_or_default();
            out.push_str(&format!("{:x} {:x} {module}{}\n", start + e.start as usize, e.len, e.key.symbol_name(name)));
        }
        out
    }
}
