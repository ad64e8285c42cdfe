//! `Engine`: the compiler (the host ISA with Kiln's settings), the tunables, and the
//! engine-wide registry of canonical function types that makes `call_indirect` and import
//! checks a comparison of two integers.
use crate::{Config, Error, Result};
use kiln_environ::{Tunables, WasmFuncType};
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
    types: Mutex<TypeRegistry>,
}

#[derive(Default)]
struct TypeRegistry {
    ids: HashMap<WasmFuncType, u32>,
    types: Vec<WasmFuncType>,
}

impl Engine {
    /// An engine with `config`'s settings.
    pub fn new(config: &Config) -> Result<Engine> {
        let isa = kiln_compile::host_isa().map_err(Error::from)?;
        Ok(Engine {
            inner: Arc::new(EngineInner { tunables: config.tunables.clone(), isa, types: Mutex::default() }),
        })
    }

    pub(crate) fn tunables(&self) -> &Tunables {
        &self.inner.tunables
    }

    pub(crate) fn isa(&self) -> &kiln_compile::KilnIsa {
        &self.inner.isa
    }

    /// The canonical id of a function type.
    pub(crate) fn register_type(&self, ty: &WasmFuncType) -> u32 {
        let mut reg = self.inner.types.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(id) = reg.ids.get(ty) {
            return *id;
        }
        let id = reg.types.len() as u32;
        reg.types.push(ty.clone());
        reg.ids.insert(ty.clone(), id);
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
