//! `Component`: a compiled component — its flattened description (what instantiation runs)
//! and its static core modules — ready to be instantiated any number of times. A component
//! compiles to one artifact: all of its core modules' code is compiled in one pass and linked
//! together, and each module finds its functions in that shared code by its own
//! `StaticModuleIndex`. The artifact can be serialized and loaded back (see `vm::artifact`),
//! and goes through the compilation cache like a module's.
use std::path::Path;
use std::sync::Arc;

use cranelift_entity::PrimaryMap;
use kiln_environ::StaticModuleIndex;
use kiln_environ::component::{ComponentInfo, Export, ImportType, InterfaceType, TypeFuncIndex};

use crate::module::ImageRanges;
use crate::vm::artifact::ArtifactBytes;
use crate::vm::code_memory::CodeMemory;
use crate::{Engine, Error, Module, Result};

/// A compiled component.
#[derive(Clone)]
pub struct Component {
    pub(crate) inner: Arc<ComponentInner>,
}

pub(crate) struct ComponentInner {
    pub engine: Engine,
    pub info: Arc<ComponentInfo>,
    pub modules: PrimaryMap<StaticModuleIndex, Module>,
    /// The linked artifact all the modules' code was loaded from.
    pub artifact: ArtifactBytes,
}

impl Component {
    /// Compiles a component from its binary or text form.
    ///
    /// # Errors
    /// [`Error::Invalid`] for a malformed or invalid component, [`Error::Unsupported`] for
    /// features Kiln does not run yet (`unsupported: component-model async`, ...).
    pub fn new(engine: &Engine, bytes: impl AsRef<[u8]>) -> Result<Component> {
        #[cfg(feature = "compiler")]
        {
            let bytes = wat::parse_bytes(bytes.as_ref()).map_err(|e| Error::Invalid(e.to_string()))?;
            Component::from_binary(engine, &bytes)
        }
        #[cfg(not(feature = "compiler"))]
        {
            let _ = (engine, bytes);
            Err(Error::Unsupported("compiling components (Kiln was built without its compiler)".into()))
        }
    }

    /// Compiles a component from its binary form.
    ///
    /// # Errors
    /// As for [`Component::new`].
    pub fn from_binary(engine: &Engine, wasm: &[u8]) -> Result<Component> {
        if !kiln_environ::component::is_component(wasm) {
            return Err(crate::engine::not_a_component());
        }
        if let Some(dir) = engine.cache_dir() {
            return crate::cache::load_or_compile(engine, dir, wasm);
        }
        Component::compile(engine, wasm)
    }

    /// Compile, bypassing any cache: every core module in one pass, into one artifact.
    pub(crate) fn compile(engine: &Engine, wasm: &[u8]) -> Result<Component> {
        let (info, modules, elf) = engine.compile_component(wasm)?;
        let start = std::time::Instant::now();
        let artifact = ArtifactBytes::Owned(elf);
        let parsed = kiln_environ::artifact::Artifact::parse_fresh(artifact.as_slice())
            .map_err(|e| Error::Artifact(e.to_string()))?;
        let code = CodeMemory::load(&parsed, &modules.values().collect::<Vec<_>>())
            .map_err(|e| Error::Artifact(e.to_string()))?;
        log::debug!("load code: {} bytes of text in {:.2?}", parsed.text.len(), start.elapsed());
        drop(parsed);
        Component::from_parts(engine, info, modules, artifact, code, None)
    }

    /// A component from its description, its modules' descriptions, its linked artifact and
    /// the code loaded from it, which every module shares; `sources` is the artifact's file
    /// and where each module's image sections lie in it, when it was loaded from one, so that
    /// images map from it.
    pub(crate) fn from_parts(
        engine: &Engine,
        info: ComponentInfo,
        envs: PrimaryMap<StaticModuleIndex, kiln_environ::Module>,
        artifact: ArtifactBytes,
        code: Arc<CodeMemory>,
        sources: Option<(Arc<std::fs::File>, PrimaryMap<StaticModuleIndex, ImageRanges>)>,
    ) -> Result<Component> {
        crate::module::announce_code(engine, &code, &envs.values().collect::<Vec<_>>());
        let mut modules = PrimaryMap::with_capacity(envs.len());
        for (index, env) in envs {
            let source =
                sources.as_ref().map(|(file, ranges)| (file.clone(), ranges.get(index).cloned().unwrap_or_default()));
            modules.push(Module::from_parts(engine, env, index, None, code.clone(), source)?);
        }
        let info = Arc::new(info);
        Ok(Component { inner: Arc::new(ComponentInner { engine: engine.clone(), info, modules, artifact }) })
    }

    /// The component's artifact (what `kiln compile` writes for a component): the code of
    /// all its core modules and its description, to be loaded later by
    /// [`Component::deserialize`] or [`Component::deserialize_file`] into an engine with the
    /// same settings.
    ///
    /// # Errors
    /// None today; the `Result` leaves room for artifacts that are not kept in memory.
    pub fn serialize(&self) -> Result<Vec<u8>> {
        Ok(self.inner.artifact.as_slice().to_vec())
    }

    /// Compiles the component in the file at `path` (binary or text).
    ///
    /// # Errors
    /// When the file cannot be read, and as for [`Component::new`].
    pub fn from_file(engine: &Engine, path: impl AsRef<Path>) -> Result<Component> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| Error::Other(format!("failed to read {}: {e}", path.display())))?;
        Component::new(engine, bytes)
    }

    /// The engine it was compiled for.
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// The names of what the component imports, with a description of each item's type.
    pub fn imports(&self) -> Vec<(String, String)> {
        let info = &self.inner.info;
        info.imports
            .values()
            .map(|(name, path, ty)| {
                let full = std::iter::once(name.as_str()).chain(path.iter().map(String::as_str)).collect::<Vec<_>>();
                let ty = match ty {
                    ImportType::Func(f) => describe_func(info, *f),
                    ImportType::Resource => "resource".to_string(),
                };
                (full.join("#"), ty)
            })
            .collect()
    }

    /// The names of the component's exports, with a description of each one's type
    /// (instances list their exports as `instance#name`).
    pub fn exports(&self) -> Vec<(String, String)> {
        let info = &self.inner.info;
        let mut out = Vec::new();
        let mut work: Vec<(String, &Export)> = info.exports.iter().rev().map(|(n, e)| (n.clone(), e)).collect();
        while let Some((name, export)) = work.pop() {
            match export {
                Export::LiftedFunction(f) => out.push((name, describe_func(info, f.ty))),
                Export::ImportedFunction(_, ty) => out.push((name, describe_func(info, *ty))),
                Export::Instance(i) => {
                    out.push((name.clone(), "instance".into()));
                    let items = &info.export_instances[*i];
                    work.extend(items.iter().rev().map(|(n, e)| (format!("{name}#{n}"), e)));
                }
                Export::Resource(_) => out.push((name, "resource".into())),
                Export::Module(_) => out.push((name, "core module".into())),
                Export::Type => out.push((name, "type".into())),
            }
        }
        out
    }
}

/// A function type as WIT writes it.
pub(crate) fn describe_func(info: &ComponentInfo, f: TypeFuncIndex) -> String {
    let ty = &info.types.funcs[f];
    let params: Vec<String> = ty.params.iter().map(|(n, t)| format!("{n}: {}", describe_type(info, *t))).collect();
    match ty.result {
        Some(r) => format!("func({}) -> {}", params.join(", "), describe_type(info, r)),
        None => format!("func({})", params.join(", ")),
    }
}

fn describe_type(info: &ComponentInfo, t: InterfaceType) -> String {
    let types = &info.types;
    match t {
        InterfaceType::Bool => "bool".into(),
        InterfaceType::S8 => "s8".into(),
        InterfaceType::U8 => "u8".into(),
        InterfaceType::S16 => "s16".into(),
        InterfaceType::U16 => "u16".into(),
        InterfaceType::S32 => "s32".into(),
        InterfaceType::U32 => "u32".into(),
        InterfaceType::S64 => "s64".into(),
        InterfaceType::U64 => "u64".into(),
        InterfaceType::Float32 => "f32".into(),
        InterfaceType::Float64 => "f64".into(),
        InterfaceType::Char => "char".into(),
        InterfaceType::String => "string".into(),
        InterfaceType::List(i) => format!("list<{}>", describe_type(info, types.lists[i])),
        InterfaceType::Option(i) => format!("option<{}>", describe_type(info, types.options[i])),
        InterfaceType::Result(i) => {
            let r = &types.results[i];
            let side = |t: Option<InterfaceType>| t.map(|t| describe_type(info, t)).unwrap_or_else(|| "_".into());
            format!("result<{}, {}>", side(r.ok), side(r.err))
        }
        InterfaceType::Tuple(i) => {
            let items: Vec<String> = types.tuples[i].types.iter().map(|t| describe_type(info, *t)).collect();
            format!("tuple<{}>", items.join(", "))
        }
        InterfaceType::Map(i) => {
            format!("map<{}, {}>", describe_type(info, types.maps[i].key), describe_type(info, types.maps[i].value))
        }
        InterfaceType::Record(_) => "record".into(),
        InterfaceType::Variant(_) => "variant".into(),
        InterfaceType::Enum(_) => "enum".into(),
        InterfaceType::Flags(_) => "flags".into(),
        InterfaceType::Own(_) => "own<resource>".into(),
        InterfaceType::Borrow(_) => "borrow<resource>".into(),
    }
}
