//! `Engine`: the compiler (the host ISA with Kiln's settings, when this Kiln has one), the
//! tunables, what artifacts must match to load, and the engine-wide registry of canonical
//! types (`type_registry`) that makes `call_indirect`, casts and import checks a comparison
//! of integers. The registry forgets a type when its last holder drops, so an embedding that
//! loads modules for ever stays bounded.
use crate::type_registry::TypeRegistry;
use crate::{Config, Error, Result};
use cranelift_entity::PrimaryMap;
use kiln_environ::{EngineInfo, SharedTypeIndex, Tunables, TypeIndex, TypedRef, WasmFuncType};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// A compilation and runtime environment, shared by the modules and stores made with it.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<EngineInner>,
}

struct EngineInner {
    tunables: Tunables,
    #[cfg(feature = "compiler")]
    isa: kiln_compile::KilnIsa,
    /// What this engine's artifacts depend on; loaded artifacts must match it.
    info: EngineInfo,
    cache_dir: Option<std::path::PathBuf>,
    perfmap: bool,
    #[cfg(feature = "compiler")]
    parallel_compilation: bool,
    types: Mutex<TypeRegistry>,
    /// The epoch: stores' compiled code compares it with their deadlines.
    epoch: AtomicU64,
}

/// What a precompiled artifact holds, as [`Engine::detect_precompiled`] tells.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Precompiled {
    /// A module's artifact (`Module::deserialize`).
    Module,
    /// A component's artifact (`component::Component::deserialize`).
    Component,
}

impl Engine {
    /// Every setting the code this engine compiles depends on, as `(key, value)`: the
    /// target, Cranelift's settings (`cranelift.*`), the CPU features the code may use
    /// (`cpu.*`), the tunables and wasm features. An artifact records the same list, and
    /// loads only into an engine whose list agrees (a CPU feature the code does not use may
    /// be present).
    pub fn artifact_settings(&self) -> Vec<(String, String)> {
        self.inner.info.entries.clone()
    }

    /// Whether `bytes` are an artifact Kiln wrote, and of what: `None` for anything else (a
    /// wasm binary, text). This reads the artifact's headers only; whether this engine can
    /// load it is for `deserialize` to say.
    pub fn detect_precompiled(&self, bytes: &[u8]) -> Option<Precompiled> {
        use kiln_environ::artifact::{Artifact, ArtifactKind};
        match Artifact::parse(bytes).ok()?.kind {
            ArtifactKind::Module => Some(Precompiled::Module),
            ArtifactKind::Component => Some(Precompiled::Component),
        }
    }

    /// An engine with `config`'s settings.
    ///
    /// # Errors
    /// [`Error::Unsupported`] when Cranelift cannot compile for this host.
    pub fn new(config: &Config) -> Result<Engine> {
        #[cfg(feature = "compiler")]
        let (isa, info) = {
            let isa = match &config.target {
                Some(triple) => kiln_compile::target_isa(triple, &config.tunables),
                None => kiln_compile::host_isa_for(&config.tunables),
            }
            .map_err(Error::from)?;
            let info = kiln_compile::engine_info(&isa, &config.tunables);
            (isa, info)
        };
        #[cfg(not(feature = "compiler"))]
        if config.target.is_some() {
            return Err(Error::Unsupported("choosing a target (Kiln was built without its compiler)".into()));
        }
        #[cfg(not(feature = "compiler"))]
        let info = crate::host_info::runtime_engine_info(&config.tunables);
        Ok(Engine {
            inner: Arc::new(EngineInner {
                tunables: config.tunables.clone(),
                #[cfg(feature = "compiler")]
                isa,
                info,
                cache_dir: config.cache_dir.clone(),
                perfmap: config.perfmap,
                #[cfg(feature = "compiler")]
                parallel_compilation: config.parallel_compilation,
                types: Mutex::default(),
                epoch: AtomicU64::new(0),
            }),
        })
    }

    /// Compile `bytes` (binary or text format) to an artifact without loading it, for
    /// [`Module::deserialize`](crate::Module::deserialize) later.
    ///
    /// # Errors
    /// As for [`Module::new`](crate::Module::new).
    pub fn precompile_module(&self, bytes: &[u8]) -> Result<Vec<u8>> {
        let wasm = crate::module::wasm_binary(bytes)?;
        Ok(self.compile(&wasm)?.1)
    }

    /// Compile `wasm`: its description and its artifact.
    #[cfg(feature = "compiler")]
    pub(crate) fn compile(&self, wasm: &[u8]) -> Result<(kiln_environ::Module, Vec<u8>)> {
        let compile = || kiln_compile::compile_module(&self.inner.isa, self.tunables(), wasm);
        let compiled = if self.inner.parallel_compilation { compile() } else { kiln_compile::on_one_thread(compile)? }?;
        Ok((compiled.module, compiled.elf))
    }

    /// Without a compiler, compiling is unsupported.
    #[cfg(not(feature = "compiler"))]
    pub(crate) fn compile(&self, _wasm: &[u8]) -> Result<(kiln_environ::Module, Vec<u8>)> {
        Err(no_compiler())
    }

    /// Compile `bytes` (binary or text format), a component, to an artifact without loading
    /// it, for [`Component::deserialize`](crate::component::Component::deserialize) later.
    ///
    /// # Errors
    /// As for [`Component::new`](crate::component::Component::new).
    pub fn precompile_component(&self, bytes: &[u8]) -> Result<Vec<u8>> {
        let wasm = crate::module::wasm_binary(bytes)?;
        Ok(self.compile_component(&wasm)?.2)
    }

    /// Compile `wasm`, a component: its description, its modules' descriptions and the one
    /// artifact of them all.
    #[cfg(feature = "compiler")]
    pub(crate) fn compile_component(&self, wasm: &[u8]) -> Result<CompiledComponent> {
        if !kiln_environ::component::is_component(wasm) {
            return Err(not_a_component());
        }
        let compile = || kiln_compile::compile_component(&self.inner.isa, self.tunables(), wasm);
        let compiled = if self.inner.parallel_compilation { compile() } else { kiln_compile::on_one_thread(compile)? }?;
        Ok((compiled.info, compiled.modules, compiled.elf))
    }

    /// Without a compiler, compiling is unsupported.
    #[cfg(not(feature = "compiler"))]
    pub(crate) fn compile_component(&self, _wasm: &[u8]) -> Result<CompiledComponent> {
        Err(no_compiler())
    }

    /// The settings an artifact must have been compiled with to load into this engine, as
    /// `key=value` pairs.
    pub fn settings(&self) -> &[(String, String)] {
        &self.inner.info.entries
    }

    /// Advance the epoch by one: wasm of every store of this engine whose deadline this
    /// reaches stops (or runs its store's callback) at its next function entry or loop
    /// header. Lock-free and callable from any thread, e.g. a timer's; it matters only with
    /// [`Config::epoch_interruption`].
    pub fn increment_epoch(&self) {
        self.inner.epoch.fetch_add(1, Ordering::Relaxed);
    }

    /// The current epoch.
    pub(crate) fn current_epoch(&self) -> u64 {
        self.inner.epoch.load(Ordering::Relaxed)
    }

    /// The epoch counter, which compiled code reads.
    pub(crate) fn epoch_counter(&self) -> &AtomicU64 {
        &self.inner.epoch
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

    fn registry(&self) -> std::sync::MutexGuard<'_, TypeRegistry> {
        self.inner.types.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The canonical ids of a module's types, each registered once more: each must be
    /// matched by a [`Engine::release_types`] of the id when its holder drops.
    pub(crate) fn register_module_types(
        &self,
        module: &kiln_environ::Module,
    ) -> PrimaryMap<TypeIndex, SharedTypeIndex> {
        self.registry().register_module(module)
    }

    /// The canonical id of a final function type without typed references (a host
    /// function's), registered once more.
    pub(crate) fn register_plain_type(&self, ty: &WasmFuncType) -> SharedTypeIndex {
        self.registry().register_plain(ty)
    }

    /// The canonical id of a struct or array type the host made, registered once more.
    pub(crate) fn register_host_type(&self, ty: &kiln_environ::WasmSubType<SharedTypeIndex>) -> SharedTypeIndex {
        self.registry().register_host(ty)
    }

    /// Register registered type `id` once more.
    pub(crate) fn hold_type(&self, id: SharedTypeIndex) {
        self.registry().hold(id)
    }

    /// Canonical type `id`.
    ///
    /// # Panics
    /// If nothing holds `id`: every id in use is held by a live module, store or host type.
    pub(crate) fn sub_type(&self, id: SharedTypeIndex) -> Arc<kiln_environ::WasmSubType<SharedTypeIndex>> {
        self.registry().sub_type(id).expect("a type in use is registered")
    }

    /// Drop one registration of each of `ids`, forgetting the types nobody holds any more.
    pub(crate) fn release_types(&self, ids: impl IntoIterator<Item = SharedTypeIndex>) {
        self.registry().release(ids)
    }

    /// Whether canonical type `a` is `b` or a declared subtype of it.
    pub(crate) fn is_subtype(&self, a: SharedTypeIndex, b: SharedTypeIndex) -> bool {
        a == b || self.registry().is_subtype(a, b)
    }

    /// The layout of the objects of canonical type `id`, if it is a struct or array type.
    pub(crate) fn gc_layout(&self, id: SharedTypeIndex) -> Option<Arc<kiln_environ::GcLayout>> {
        self.registry().gc_layout(id)
    }

    /// The typed references of the function type with canonical id `id`.
    ///
    /// # Panics
    /// If nothing holds `id`, or it is not a function type.
    pub(crate) fn func_type_refs(&self, id: SharedTypeIndex) -> Arc<[TypedRef<SharedTypeIndex>]> {
        self.registry().func_type_refs(id).expect("a type in use is registered")
    }

    /// The function type with canonical id `id`.
    ///
    /// # Panics
    /// If nothing holds `id`, or it is not a function type: every id in use is held by a live
    /// module or store, and only function types are asked for so.
    pub(crate) fn func_type(&self, id: SharedTypeIndex) -> Arc<WasmFuncType> {
        self.registry().func_type(id).expect("a registered function type")
    }

    /// How many types are registered, for tests of forgetting.
    #[cfg(all(test, feature = "compiler"))]
    fn registered_types(&self) -> usize {
        self.registry().len()
    }

    /// Whether two handles are the same engine.
    pub fn same(a: &Engine, b: &Engine) -> bool {
        Arc::ptr_eq(&a.inner, &b.inner)
    }
}

/// A compiled component: its description, its modules' descriptions, its artifact.
pub(crate) type CompiledComponent = (
    kiln_environ::component::ComponentInfo,
    PrimaryMap<kiln_environ::StaticModuleIndex, kiln_environ::Module>,
    Vec<u8>,
);

/// The error for bytes given as a component that are not one.
pub(crate) fn not_a_component() -> Error {
    Error::Invalid("not a component: the header is a core module's or unknown".into())
}

/// The error of compiling without a compiler.
#[cfg(not(feature = "compiler"))]
fn no_compiler() -> Error {
    Error::Unsupported(
        "compiling WebAssembly: this Kiln was built without its `compiler` feature, and loads only precompiled \
         artifacts"
            .into(),
    )
}

impl Default for Engine {
    fn default() -> Engine {
        Engine::new(&Config::default()).expect("the host is supported")
    }
}

#[cfg(all(test, feature = "compiler"))]
mod tests {
    use crate::{Engine, Func, FuncType, Instance, Module, Store, ValType};

    #[test]
    fn types_nobody_holds_are_forgotten() {
        let engine = Engine::default();
        for i in 0..200 {
            // Each module has a type no other has: `i` parameters.
            let params = " i32".repeat(i);
            let module = Module::new(&engine, format!("(module (func (export \"f\") (param{params})))")).unwrap();
            let mut store = Store::new(&engine, ());
            Instance::new(&mut store, &module, &[]).unwrap();
            let ty = FuncType::new(std::iter::repeat_n(ValType::I64, i), []);
            Func::new(&mut store, ty, |_, _, _| Ok(()));
            assert!(engine.registered_types() <= 2, "{} types held after {i} modules", engine.registered_types());
        }
        assert_eq!(engine.registered_types(), 0);
    }

    #[test]
    fn a_type_holds_the_types_its_references_name() {
        let engine = Engine::default();
        let wat = |i: usize| {
            let params = " i32".repeat(i);
            format!(
                "(module (type $a (func (param{params}))) (type $b (func (param (ref $a))))
                   (type $c (func (param (ref null $c)) (param (ref $b)))))"
            )
        };
        let first = Module::new(&engine, wat(1)).unwrap();
        assert_eq!(engine.registered_types(), 3);
        let again = Module::new(&engine, wat(1)).unwrap();
        assert_eq!(engine.registered_types(), 3, "the same types are the same registrations");
        let other = Module::new(&engine, wat(2)).unwrap();
        assert_eq!(engine.registered_types(), 6);
        for t in 0..3 {
            let t = kiln_environ::TypeIndex::from_u32(t);
            assert_eq!(first.shared_type(t), again.shared_type(t));
        }
        drop((first, other));
        assert_eq!(engine.registered_types(), 3);
        drop(again);
        assert_eq!(engine.registered_types(), 0);
    }

    #[test]
    fn equal_rec_groups_of_two_modules_are_the_same_types() {
        let engine = Engine::default();
        let group =
            "(rec (type $a (sub (struct (field (ref null $b))))) (type $b (sub $a (struct (field (ref null $b))))))";
        let first = Module::new(&engine, format!("(module {group} (type $f (func (param (ref $a)))))")).unwrap();
        // The same group after another type: other indices, the same canonical types.
        let second = Module::new(&engine, format!("(module (type (func)) {group})")).unwrap();
        // A group that differs only in finality is another group.
        let other = Module::new(
            &engine,
            "(module (rec (type $a (sub (struct (field (ref null $b))))) (type $b (sub final $a (struct (field (ref \
             null $b)))))))",
        )
        .unwrap();
        let t = kiln_environ::TypeIndex::from_u32;
        assert_eq!(first.shared_type(t(0)), second.shared_type(t(1)));
        assert_eq!(first.shared_type(t(1)), second.shared_type(t(2)));
        assert_ne!(first.shared_type(t(1)), other.shared_type(t(1)));
        let (a, b) = (first.shared_type(t(0)), first.shared_type(t(1)));
        assert!(engine.is_subtype(b, a) && !engine.is_subtype(a, b));
        assert!(!engine.is_subtype(other.shared_type(t(1)), a), "a subtype in another group is another type");
        assert_eq!(engine.registered_types(), 6);
        drop((first, second));
        assert_eq!(engine.registered_types(), 2);
        drop(other);
        assert_eq!(engine.registered_types(), 0);
    }
}
