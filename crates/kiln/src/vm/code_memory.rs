//! `CodeMemory`: a loaded artifact. The ELF is parsed and checked, its `.text` copied into a
//! fresh mapping that is then made read+execute, and the code range is registered with the
//! global code registry so the trap handler can recognize faults in it.
use super::mmap::{Mmap, page_size};
use kiln_environ::artifact::{ArtifactError, FUNCS_SECTION, FuncTable, TRAPS_SECTION, TrapTable};
use kiln_environ::{FuncKey, Trap};
use object::{Object, ObjectSection};
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

/// Loaded, executable code with its trap and function tables.
pub struct CodeMemory {
    mmap: Option<Mmap>,
    text_len: usize,
    traps: TrapTable,
    funcs: FuncTable,
}

impl CodeMemory {
    /// Load an ELF artifact.
    pub fn load(elf: &[u8]) -> Result<Arc<CodeMemory>, ArtifactError> {
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
        let code = Arc::new(CodeMemory { mmap, text_len: text.len(), traps, funcs });
        if let Some(start) = code.text_start() {
            let mut registry = REGISTRY.write().unwrap_or_else(|e| e.into_inner());
            registry.insert(start, (start + code.text_len, Arc::downgrade(&code)));
        }
        Ok(code)
    }

    fn text_start(&self) -> Option<usize> {
        self.mmap.as_ref().map(|m| m.as_ptr() as usize)
    }

    /// The address of the function named `key`.
    pub fn func_addr(&self, key: FuncKey) -> Option<usize> {
        let entry = self.funcs.get(key)?;
        Some(self.text_start()? + entry.start as usize)
    }

    /// The trap at absolute address `pc`, if it is one of this code's trap sites.
    pub fn trap_at(&self, pc: usize) -> Option<Trap> {
        let offset = pc.checked_sub(self.text_start()?)?;
        self.traps.lookup(u32::try_from(offset).ok()?)
    }
}

impl Drop for CodeMemory {
    fn drop(&mut self) {
        if let Some(start) = self.text_start() {
            let mut registry = REGISTRY.write().unwrap_or_else(|e| e.into_inner());
            registry.remove(&start);
        }
    }
}

type Registry = BTreeMap<usize, (usize, std::sync::Weak<CodeMemory>)>;

/// Every loaded code range: start → (end, code).
static REGISTRY: RwLock<Registry> = RwLock::new(BTreeMap::new());

/// The trap at `pc` if `pc` lies in loaded wasm code and is a trap site. Called from the
/// signal handler: it never blocks (a registry being written counts as "not ours").
pub fn lookup_trap(pc: usize) -> Option<Trap> {
    let registry = REGISTRY.try_read().ok()?;
    let (_, (end, code)) = registry.range(..=pc).next_back()?;
    if pc >= *end {
        return None;
    }
    code.upgrade()?.trap_at(pc)
}

