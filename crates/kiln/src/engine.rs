//! `Engine`: the compiler (the host ISA with Kiln's settings), the tunables, and the
//! engine-wide registry of canonical function types that makes `call_indirect` and import
//! checks a comparison of two integers.
use crate::{Config, Error, Result};
use kiln_environ::{EngineInfo, Tunables, WasmFuncType};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A compilation and runtime environment, shared by the modules and stores made with it.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<EngineInner>,
}

struct EngineInner {
    tunables: Tunables,
    isa: kiln_compile::KilnIsa,
    /// What this engine's artifacts depend on; loaded artifacts must match it.
    info: EngineInfo,
    cache_dir: Option<std::path::PathBuf>,
    perfmap: bool,
    types: Mutex<TypeRegistry>,
}

/// A registry key: the type, plus — for types that mention typed references, which
/// `WasmFuncType` cannot describe exactly — the module they come from and the validator's
/// canonical id of the type in it.
type TypeKey = (WasmFuncType, Option<(u64, u32)>);

#[derive(Default)]
struct TypeRegistry {
    ids: HashMap<TypeKey, u32>,
    types: Vec<WasmFuncType>,
}

impl Engine {
    /// An engine with `config`'s settings.
    pub fn new(config: &Config) -> Result<Engine> {
        let isa = kiln_compile::host_isa().map_err(Error::from)?;
        let info = kiln_compile::engine_info(&isa, &config.tunables);
        Ok(Engine {
            inner: Arc::new(EngineInner {
                tunables: config.tunables.clone(),
                isa,
                info,
                cache_dir: config.cache_dir.clone(),
                perfmap: config.perfmap,
                types: Mutex::default(),
            }),
        })
    }

    /// Compile `bytes` (binary or text format) to an artifact without loading it, for
    /// [`Module::deserialize`](crate::Module::deserialize) later.
    pub fn precompile_module(&self, bytes: &[u8]) -> Result<Vec<u8>> {
        let wasm = crate::module::wasm_binary(bytes)?;
        Ok(kiln_compile::compile_module(self.isa(), self.tunables(), &wasm)?.elf)
    }

    /// The settings an artifact must have been compiled with to load into this engine, as
    /// `key=value` pairs.
    pub fn settings(&self) -> &[(String, String)] {
        &self.inner.info.entries
    }

    pub(crate) fn perfmap(&self) -> bool {
        self.inner.perfmap
    }

    pub(crate) fn cache_dir(&self) -> Option<&std::path::Path> {
        self.inner.cache_dir.as_deref()
    }

    pub(crate) fn info(&self) -> &EngineInfo {
        &self.inner.info
    }

    pub(crate) fn tunables(&self) -> &Tunables {
        &self.inner.tunables
    }

    pub(crate) fn isa(&self) -> &kiln_compile::KilnIsa {
        &self.inner.isa
    }

    /// The canonical id of a function type. `scope` is `(module id, validator type id)` for a
    /// type that mentions typed references: such types are equal only within their module,
    /// where the validator's canonicalization decides.
    pub(crate) fn register_type(&self, ty: &WasmFuncType, scope: Option<(u64, u32)>) -> u32 {
        let mut reg = self.inner.types.lock().unwrap_or_else(|e| e.into_inner());
        let key = (ty.clone(), scope);
        if let Some(id) = reg.ids.get(&key) {
            return *id;
        }
        let id = reg.types.len() as u32;
        reg.types.push(ty.clone());
        reg.ids.insert(key, id);
        id
    }

    /// The function type with canonical id `id`.
    pub(crate) fn func_type(&self, id: u32) -> WasmFuncType {
        let reg = self.inner.types.lock().unwrap_or_else(|e| e.into_inner());
        reg.types[id as usize].clone()
    }

    /// Whether two handles are the same engine.
    pub fn same(a: &Engine, b: &Engine) -> bool {
        Arc::ptr_eq(&a.inner, &b.inner)
    }
}

impl Default for Engine {
    fn default() -> Engine {
        Engine::new(&Config::default()).expect("the host is supported")
    }
}
