//! `Module`: a compiled WebAssembly module — its description, its loaded code, and the
//! engine-wide ids of its function types — ready to be instantiated in any store of its engine.
//! A module compiled alone has an artifact of its own and is module 0 of it; each core module
//! of a component shares the component's code and finds its functions by its own
//! `StaticModuleIndex`.
use crate::vm::artifact::ArtifactBytes;
use crate::vm::code_memory::CodeMemory;
use crate::vm::memory_image::MemoryImageFile;
use crate::{Engine, Error, ExternType, FuncType, GlobalType, MemoryType, Result, TableType, TagType};
use cranelift_entity::{EntitySet, PrimaryMap};
use kiln_environ::artifact::Artifact;
use kiln_environ::{
    DataIndex, DefinedMemoryIndex, DefinedTableIndex, ElemIndex, EntityIndex, FuncIndex, SharedTypeIndex,
    StaticModuleIndex, TypeIndex, VMOffsets,
};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Describe freshly loaded `code`, compiled from `modules`, in this process's perf map when
/// the engine asks for one: once per load, however many modules share the code.
pub(crate) fn announce_code(engine: &Engine, code: &CodeMemory, modules: &[&kiln_environ::Module]) {
    if engine.perfmap() {
        write_perf_map(&code.perf_map(modules));
    }
}

/// Append `lines` to this process's perf map, where `perf report` looks for JIT symbols.
fn write_perf_map(lines: &str) {
    use std::io::Write;
    let path = format!("/tmp/perf-{}.map", std::process::id());
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| f.write_all(lines.as_bytes()));
    if let Err(e) = written {
        log::warn!("cannot write {path}: {e}");
    }
}

/// `bytes` in the binary format: as they are when they already are, else parsed as text.
#[cfg(feature = "compiler")]
pub(crate) fn wasm_binary(bytes: &[u8]) -> Result<std::borrow::Cow<'_, [u8]>> {
    wat::parse_bytes(bytes).map_err(|e| Error::Invalid(e.to_string()))
}

/// `bytes`, which only a compiler could use, in text or binary alike.
#[cfg(not(feature = "compiler"))]
pub(crate) fn wasm_binary(bytes: &[u8]) -> Result<std::borrow::Cow<'_, [u8]>> {
    Ok(std::borrow::Cow::Borrowed(bytes))
}

/// Where each defined memory's image section lies in an artifact file.
pub(crate) type ImageRanges = BTreeMap<DefinedMemoryIndex, std::ops::Range<u64>>;

/// A compiled module.
#[derive(Clone)]
pub struct Module {
    inner: Arc<ModuleInner>,
}

struct ModuleInner {
    engine: Engine,
    env: kiln_environ::Module,
    /// Which module of its artifact this is: the `M` of its functions' keys.
    index: StaticModuleIndex,
    /// The linked ELF the code was loaded from, for a module with an artifact of its own
    /// (a component's modules share the component's).
    artifact: Option<ArtifactBytes>,
    code: Arc<CodeMemory>,
    offsets: VMOffsets,
    shared_types: PrimaryMap<TypeIndex, SharedTypeIndex>,
    /// Copy-on-write images of defined memories (when the engine maps them).
    images: BTreeMap<DefinedMemoryIndex, MemoryImageFile>,
    /// For each data segment, whether an image replaces it.
    imaged_segments: EntitySet<DataIndex>,
    /// Lazily initialized tables' images (when the engine initializes tables lazily).
    table_images: BTreeMap<DefinedTableIndex, Arc<[Option<FuncIndex>]>>,
    /// For each element segment, whether a table image replaces it.
    table_image_segments: EntitySet<ElemIndex>,
}

impl Drop for ModuleInner {
    fn drop(&mut self) {
        self.engine.release_types(self.shared_types.values().copied());
    }
}

impl Module {
    /// Compile a module from its binary or text format.
    ///
    /// # Errors
    /// [`Error::Invalid`] for a malformed or invalid module, [`Error::Unsupported`] for a
    /// valid one that uses a feature Kiln does not compile (or when this Kiln was built
    /// without its compiler), [`Error::Limit`] past an implementation limit.
    pub fn new(engine: &Engine, bytes: impl AsRef<[u8]>) -> Result<Module> {
        Module::from_binary(engine, &wasm_binary(bytes.as_ref())?)
    }

    /// Whether `wasm` (a binary) is a valid module for `engine`, without compiling it.
    ///
    /// # Errors
    /// [`Error::Invalid`] for a malformed or invalid module.
    pub fn validate(engine: &Engine, wasm: &[u8]) -> Result<()> {
        kiln_environ::validate_module(wasm, engine.tunables().wasm_features).map_err(Error::from)
    }

    /// Compile a module from its binary format.
    ///
    /// # Errors
    /// As for [`Module::new`].
    pub fn from_binary(engine: &Engine, wasm: &[u8]) -> Result<Module> {
        if let Some(dir) = engine.cache_dir() {
            return crate::cache::load_or_compile(engine, dir, wasm);
        }
        Module::compile(engine, wasm)
    }

    /// Compile, bypassing any cache.
    pub(crate) fn compile(engine: &Engine, wasm: &[u8]) -> Result<Module> {
        let (env, elf) = engine.compile(wasm)?;
        let start = std::time::Instant::now();
        let artifact = ArtifactBytes::Owned(elf);
        let parsed = Artifact::parse_fresh(artifact.as_slice()).map_err(|e| Error::Artifact(e.to_string()))?;
        let code = CodeMemory::load(&parsed, &[&env]).map_err(|e| Error::Artifact(e.to_string()))?;
        log::debug!("load code: {} bytes of text in {:.2?}", parsed.text.len(), start.elapsed());
        drop(parsed);
        announce_code(engine, &code, &[&env]);
        Module::from_parts(engine, env, StaticModuleIndex::MAIN, Some(artifact), code, None)
    }

    /// The module's artifact (what `kiln compile` writes), to be loaded later by
    /// [`Module::deserialize`] or [`Module::deserialize_file`] into an engine with the same
    /// settings.
    ///
    /// # Errors
    /// [`Error::Other`] for a core module of a component, which has no artifact of its own
    /// (serialize the component).
    pub fn serialize(&self) -> Result<Vec<u8>> {
        match &self.inner.artifact {
            Some(artifact) => Ok(artifact.as_slice().to_vec()),
            None => Err(Error::Other(
                "this core module belongs to a component's artifact: serialize the component instead".into(),
            )),
        }
    }

    /// Module `index` of an artifact, from its description and the artifact's loaded code;
    /// `artifact` is the linked artifact when the module has one of its own, and `source` the
    /// artifact's file and where this module's image sections lie in it, when it was loaded
    /// from one, so that images map from it.
    pub(crate) fn from_parts(
        engine: &Engine,
        env: kiln_environ::Module,
        index: StaticModuleIndex,
        artifact: Option<ArtifactBytes>,
        code: Arc<CodeMemory>,
        source: Option<(Arc<std::fs::File>, ImageRanges)>,
    ) -> Result<Module> {
        let offsets = VMOffsets::new(&env);
        let mut images = BTreeMap::new();
        let mut imaged_segments = EntitySet::with_capacity(env.data.len());
        if engine.tunables().memory_init_cow {
            for (def, image) in kiln_environ::memory_images(&env) {
                let in_file = source.as_ref().and_then(|(file, ranges)| {
                    let range = ranges.get(&def)?;
                    (range.end - range.start == image.bytes.len() as u64).then(|| (file.clone(), range.start))
                });
                let file = match in_file {
                    Some((file, at)) => MemoryImageFile::from_file(file, at, image.offset, image.bytes.len()),
                    None => MemoryImageFile::new(image.offset, &image.bytes),
                }
                .map_err(|e| Error::Other(format!("cannot create a memory image: {e}")))?;
                for d in image.segments {
                    imaged_segments.insert(d);
                }
                images.insert(def, file);
            }
        }
        let mut table_images = BTreeMap::new();
        let mut table_image_segments = EntitySet::with_capacity(env.elements.len());
        if engine.tunables().table_lazy_init {
            for (def, image) in kiln_environ::table_images(&env) {
                for e in image.segments {
                    table_image_segments.insert(e);
                }
                table_images.insert(def, image.elements.into());
            }
        }
        // Registered last, so that no failure above leaves registrations nobody releases.
        let shared_types = engine.register_module_types(&env);
        Ok(Module {
            inner: Arc::new(ModuleInner {
                engine: engine.clone(),
                env,
                index,
                artifact,
                code,
                offsets,
                shared_types,
                images,
                imaged_segments,
                table_images,
                table_image_segments,
            }),
        })
    }

    /// Compile the module in a `.wasm` or `.wat` file.
    ///
    /// # Errors
    /// When the file cannot be read, and as for [`Module::new`].
    /// A module without a name section is named after the file's stem (`trap` for
    /// `dir/trap.wat`), in [`Module::name`] and in backtraces.
    pub fn from_file(engine: &Engine, path: impl AsRef<std::path::Path>) -> Result<Module> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| Error::Other(format!("cannot read {}: {e}", path.display())))?;
        let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned());
        Module::new_with_name(engine, bytes, stem.as_deref())
    }

    /// Compile a module as [`Module::new`] does, naming it `name` (when given) if its name
    /// section gives it none: what [`Module::from_file`] does with the file's stem, for
    /// callers that have read the file themselves.
    ///
    /// # Errors
    /// As for [`Module::new`].
    pub fn new_with_name(engine: &Engine, bytes: impl AsRef<[u8]>, name: Option<&str>) -> Result<Module> {
        let mut module = Module::new(engine, bytes)?;
        if let Some(name) = name {
            module.name_unnamed(name);
        }
        Ok(module)
    }

    /// Give a module without a name `name`. A module just made is the only holder of its
    /// parts; one already shared (never the case for the callers above) keeps its name.
    fn name_unnamed(&mut self, name: &str) {
        let Some(inner) = Arc::get_mut(&mut self.inner) else { return };
        inner.env.name.get_or_insert_with(|| name.to_string());
        if let Some(code) = Arc::get_mut(&mut inner.code) {
            code.name_unnamed(inner.index, name);
        }
    }

    /// The module's name: from its name section, or the one it was given for lack of it.
    pub fn name(&self) -> Option<&str> {
        self.inner.env.name.as_deref()
    }

    /// The module's imports, in order.
    pub fn imports(&self) -> impl ExactSizeIterator<Item = ImportType<'_>> {
        self.inner.env.imports.iter().map(move |i| ImportType { module: self, import: i })
    }

    /// The module's exports, in order.
    pub fn exports(&self) -> impl ExactSizeIterator<Item = ExportType<'_>> {
        self.inner.env.exports.iter().map(move |e| ExportType { module: self, export: e })
    }

    pub(crate) fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    pub(crate) fn env(&self) -> &kiln_environ::Module {
        &self.inner.env
    }

    pub(crate) fn code(&self) -> &Arc<CodeMemory> {
        &self.inner.code
    }

    /// Which module of its artifact this is: the `M` of its functions' keys in [`Self::code`].
    pub(crate) fn static_index(&self) -> StaticModuleIndex {
        self.inner.index
    }

    pub(crate) fn offsets(&self) -> &VMOffsets {
        &self.inner.offsets
    }

    /// The copy-on-write image of defined memory `m`, if it has one.
    pub(crate) fn memory_image(&self, m: DefinedMemoryIndex) -> Option<&MemoryImageFile> {
        self.inner.images.get(&m)
    }

    /// Whether a memory image already holds data segment `d`.
    pub(crate) fn segment_is_imaged(&self, d: DataIndex) -> bool {
        self.inner.imaged_segments.contains(d)
    }

    /// The image of lazily initialized table `t`, if it has one.
    pub(crate) fn table_image(&self, t: DefinedTableIndex) -> Option<&Arc<[Option<FuncIndex>]>> {
        self.inner.table_images.get(&t)
    }

    /// Whether a table image already holds element segment `e`.
    pub(crate) fn segment_in_table_image(&self, e: ElemIndex) -> bool {
        self.inner.table_image_segments.contains(e)
    }

    /// The engine-wide id of module type `t`.
    pub(crate) fn shared_type(&self, t: TypeIndex) -> SharedTypeIndex {
        self.inner.shared_types[t]
    }

    pub(crate) fn entity_type(&self, index: EntityIndex) -> ExternType {
        let env = &self.inner.env;
        match index {
            EntityIndex::Function(f) => ExternType::Func(FuncType::from_env(env.func_type(f))),
            EntityIndex::Table(t) => ExternType::Table(TableType::from_env(env.tables[t])),
            EntityIndex::Memory(m) => ExternType::Memory(MemoryType::from_env(env.memories[m])),
            EntityIndex::Global(g) => ExternType::Global(GlobalType::from_env(env.globals[g])),
            EntityIndex::Tag(t) => ExternType::Tag(TagType::new(FuncType::from_env(env.signature(env.tags[t])))),
        }
    }
}

/// One import of a module.
pub struct ImportType<'a> {
    module: &'a Module,
    import: &'a kiln_environ::Import,
}

impl ImportType<'_> {
    /// The module name it is imported from.
    pub fn module(&self) -> &str {
        &self.import.module
    }

    /// The field name.
    pub fn name(&self) -> &str {
        &self.import.field
    }

    /// The expected type.
    pub fn ty(&self) -> ExternType {
        self.module.entity_type(self.import.index)
    }
}

/// One export of a module.
pub struct ExportType<'a> {
    module: &'a Module,
    export: &'a kiln_environ::Export,
}

impl ExportType<'_> {
    /// The export's name.
    pub fn name(&self) -> &str {
        &self.export.name
    }

    /// The export's type.
    pub fn ty(&self) -> ExternType {
        self.module.entity_type(self.export.index)
    }
}

impl std::fmt::Debug for Module {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Module").field("name", &self.name()).finish_non_exhaustive()
    }
}
