//! Loading precompiled artifacts: `Module::deserialize` and `Module::deserialize_file`, and
//! their `Component` counterparts. They are `unsafe` because an artifact is machine code that
//! will run in this process: every check (ELF structure, checksum, engine settings, section
//! encodings, every index of the descriptions) catches corruption and mismatched settings,
//! and a module's artifact is never taken for a component's or the other way round, but a
//! crafted artifact with a valid checksum runs whatever it holds.
use super::code_memory::CodeMemory;
use super::mmap::Mmap;
use crate::component::Component;
use crate::module::{ImageRanges, announce_code};
use crate::{Engine, Error, Module, Result};
use cranelift_entity::PrimaryMap;
use kiln_environ::StaticModuleIndex;
use kiln_environ::artifact::{Artifact, ArtifactError, ArtifactKind};
use std::path::Path;
use std::sync::Arc;

/// A module's artifact bytes: compiled in memory, or a read-only mapping of the file it was
/// loaded from.
pub enum ArtifactBytes {
    /// Bytes in memory.
    Owned(Vec<u8>),
    /// The first `len` bytes of a mapping.
    Mapped(Mmap, usize),
}

impl ArtifactBytes {
    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        match self {
            ArtifactBytes::Owned(v) => v,
            // SAFETY: the mapping is the file's first `len` bytes, read-only; the loading
            // function's contract (the file does not change while loaded) keeps them there.
            ArtifactBytes::Mapped(m, len) => unsafe { m.slice(0..*len) },
        }
    }
}

fn bad(e: ArtifactError) -> Error {
    Error::Artifact(e.to_string())
}

/// Map the artifact file at `path` (read-only, whole); the file is returned too, for memory
/// images to map from.
fn map_file(path: &Path) -> Result<(ArtifactBytes, Arc<std::fs::File>)> {
    let io = |e: std::io::Error| Error::Artifact(format!("cannot read {}: {e}", path.display()));
    let file = std::fs::File::open(path).map_err(io)?;
    let len = usize::try_from(file.metadata().map_err(io)?.len())
        .map_err(|_| Error::Artifact("the file is too large".into()))?;
    let map = Mmap::map_file(&file, len).map_err(io)?;
    Ok((ArtifactBytes::Mapped(map, len), Arc::new(file)))
}

/// Parse `artifact`, which must hold `kind`, and check it was made for `engine`.
fn parse_for<'a>(engine: &Engine, artifact: &'a ArtifactBytes, kind: ArtifactKind) -> Result<Artifact<'a>> {
    let parsed = Artifact::parse(artifact.as_slice()).map_err(bad)?;
    if parsed.kind != kind {
        return Err(bad(ArtifactError::WrongKind { expected: kind, found: parsed.kind }));
    }
    parsed.engine.check_compatible(engine.info()).map_err(bad)?;
    Ok(parsed)
}

impl Module {
    /// Load an artifact from [`Module::serialize`] or [`Engine::precompile_module`].
    ///
    /// # Safety
    /// `bytes` must come from Kiln (this version, with an engine of the same settings) and be
    /// trusted: the code in them runs in this process. Corrupt bytes and artifacts of other
    /// settings are refused with [`Error::Artifact`], but a deliberately crafted artifact
    /// cannot be told from a real one.
    ///
    /// # Errors
    /// [`Error::Artifact`] for bytes that are not an artifact, are corrupted, hold a
    /// component, or were made by an engine with other settings (the error names the
    /// setting).
    pub unsafe fn deserialize(engine: &Engine, bytes: impl AsRef<[u8]>) -> Result<Module> {
        // SAFETY: the caller vouches for the bytes (this function's contract).
        unsafe { Module::from_artifact(engine, ArtifactBytes::Owned(bytes.as_ref().to_vec()), None) }
    }

    /// Load an artifact file (as written by `kiln compile`), mapping it into memory.
    ///
    /// # Safety
    /// As for [`Module::deserialize`]: the file must be a trusted Kiln artifact, and must not
    /// change while it is loaded.
    ///
    /// # Errors
    /// As for [`Module::deserialize`], and when the file cannot be read.
    pub unsafe fn deserialize_file(engine: &Engine, path: impl AsRef<Path>) -> Result<Module> {
        let (artifact, file) = map_file(path.as_ref())?;
        // The module keeps the mapping, and memory images map straight from this file.
        // SAFETY: the caller vouches for the file (this function's contract).
        unsafe { Module::from_artifact(engine, artifact, Some(file)) }
    }

    /// This module loaded again through its own artifact, exactly as
    /// [`Module::deserialize`] would load it: for testing that loading reproduces what
    /// compiling produced. Safe, because the artifact came from this process's compiler.
    ///
    /// # Errors
    /// As for [`Module::deserialize`], which cannot fail on an artifact of the same engine.
    pub fn reload_from_artifact(&self) -> Result<Module> {
        // SAFETY: this process's compiler made these bytes for this engine.
        unsafe { Module::from_artifact(self.engine(), ArtifactBytes::Owned(self.serialize()?), None) }
    }

    /// [`Module::deserialize`] for tools whose user has declared the bytes trusted (as
    /// `kiln run --allow-precompiled` does): the checks are the same, and the declaration
    /// stands in for the `unsafe` block. Never call it on bytes nobody vouched for.
    ///
    /// # Errors
    /// As for [`Module::deserialize`].
    pub fn deserialize_trusted(engine: &Engine, bytes: impl AsRef<[u8]>) -> Result<Module> {
        // SAFETY: the caller has the user's declaration that the bytes are a trusted artifact.
        unsafe { Module::deserialize(engine, bytes) }
    }

    /// [`Module::deserialize_file`] for tools whose user has declared the file trusted (as
    /// `kiln run --allow-precompiled` does): the checks are the same, and the declaration
    /// stands in for the `unsafe` block. Never call it on a file nobody vouched for, nor on
    /// one that a guest could change while it is loaded (read that one into memory and use
    /// [`Module::deserialize_trusted`]).
    ///
    /// # Errors
    /// As for [`Module::deserialize_file`].
    pub fn deserialize_trusted_file(engine: &Engine, path: impl AsRef<Path>) -> Result<Module> {
        // SAFETY: the caller has the user's declaration that the file is a trusted artifact.
        unsafe { Module::deserialize_file(engine, path) }
    }

    /// The module of a checked artifact, its code loaded from it; `file` is the artifact's
    /// file when it was mapped from one, so that memory images map from it too (see
    /// `vm::artifact` for the entry points).
    ///
    /// # Safety
    /// As for [`Module::deserialize`]: the bytes must be a trusted Kiln artifact.
    pub(crate) unsafe fn from_artifact(
        engine: &Engine,
        artifact: ArtifactBytes,
        file: Option<Arc<std::fs::File>>,
    ) -> Result<Module> {
        let start = std::time::Instant::now();
        let parsed = parse_for(engine, &artifact, ArtifactKind::Module)?;
        let env = parsed.module().map_err(bad)?;
        let code = CodeMemory::load(&parsed, &[&env]).map_err(bad)?;
        log::debug!(
            "load artifact: {} bytes, checked and mapped in {:.2?}",
            artifact.as_slice().len(),
            start.elapsed()
        );
        let source = file.map(|file| (file, parsed.images_of(StaticModuleIndex::MAIN)));
        drop(parsed);
        announce_code(engine, &code, &[&env]);
        Module::from_parts(engine, env, StaticModuleIndex::MAIN, Some(artifact), code, source)
    }

    /// Load a cache entry whose tag the cache checked under this user's key.
    ///
    /// # Errors
    /// As for [`Module::deserialize`]: an entry of other settings, say.
    pub(crate) fn from_cache_entry(engine: &Engine, entry: crate::cache::AuthenticatedEntry) -> Result<Module> {
        // SAFETY: an `AuthenticatedEntry` carries an HMAC under a key only this user can
        // read, over bytes that Kiln's own `Module::serialize` produced and the cache wrote;
        // they are in memory, so no file can change under them.
        unsafe { Module::from_artifact(engine, ArtifactBytes::Owned(entry.into_bytes()), None) }
    }
}

impl Component {
    /// Load an artifact from [`Component::serialize`] or [`Engine::precompile_component`].
    ///
    /// # Safety
    /// As for [`Module::deserialize`]: `bytes` must come from Kiln (this version, with an
    /// engine of the same settings) and be trusted, since the code in them runs in this
    /// process.
    ///
    /// # Errors
    /// [`Error::Artifact`] for bytes that are not an artifact, are corrupted, hold a core
    /// module, or were made by an engine with other settings (the error names the setting).
    pub unsafe fn deserialize(engine: &Engine, bytes: impl AsRef<[u8]>) -> Result<Component> {
        // SAFETY: the caller vouches for the bytes (this function's contract).
        unsafe { Component::from_artifact(engine, ArtifactBytes::Owned(bytes.as_ref().to_vec()), None) }
    }

    /// Load a component's artifact file (as written by `kiln compile`), mapping it into
    /// memory.
    ///
    /// # Safety
    /// As for [`Component::deserialize`]: the file must be a trusted Kiln artifact, and must
    /// not change while it is loaded.
    ///
    /// # Errors
    /// As for [`Component::deserialize`], and when the file cannot be read.
    pub unsafe fn deserialize_file(engine: &Engine, path: impl AsRef<Path>) -> Result<Component> {
        let (artifact, file) = map_file(path.as_ref())?;
        // The component keeps the mapping, and its modules' memory images map straight from
        // this file.
        // SAFETY: the caller vouches for the file (this function's contract).
        unsafe { Component::from_artifact(engine, artifact, Some(file)) }
    }

    /// This component loaded again through its own artifact, exactly as
    /// [`Component::deserialize`] would load it: for testing that loading reproduces what
    /// compiling produced. Safe, because the artifact came from this process's compiler.
    ///
    /// # Errors
    /// As for [`Component::deserialize`], which cannot fail on an artifact of the same engine.
    pub fn reload_from_artifact(&self) -> Result<Component> {
        // SAFETY: this process's compiler made these bytes for this engine.
        unsafe { Component::from_artifact(self.engine(), ArtifactBytes::Owned(self.serialize()?), None) }
    }

    /// [`Component::deserialize`] for tools whose user has declared the bytes trusted (as
    /// `kiln run --allow-precompiled` does): the checks are the same, and the declaration
    /// stands in for the `unsafe` block. Never call it on bytes nobody vouched for.
    ///
    /// # Errors
    /// As for [`Component::deserialize`].
    pub fn deserialize_trusted(engine: &Engine, bytes: impl AsRef<[u8]>) -> Result<Component> {
        // SAFETY: the caller has the user's declaration that the bytes are a trusted artifact.
        unsafe { Component::deserialize(engine, bytes) }
    }

    /// [`Component::deserialize_file`] for tools whose user has declared the file trusted:
    /// the checks are the same, and the declaration stands in for the `unsafe` block. Never
    /// call it on a file nobody vouched for, nor on one that a guest could change while it is
    /// loaded (read that one into memory and use [`Component::deserialize_trusted`]).
    ///
    /// # Errors
    /// As for [`Component::deserialize_file`].
    pub fn deserialize_trusted_file(engine: &Engine, path: impl AsRef<Path>) -> Result<Component> {
        // SAFETY: the caller has the user's declaration that the file is a trusted artifact.
        unsafe { Component::deserialize_file(engine, path) }
    }

    /// The component of a checked artifact: its description, and its modules, all sharing the
    /// one code loaded from it; `file` is the artifact's file when it was mapped from one.
    ///
    /// # Safety
    /// As for [`Component::deserialize`]: the bytes must be a trusted Kiln artifact.
    pub(crate) unsafe fn from_artifact(
        engine: &Engine,
        artifact: ArtifactBytes,
        file: Option<Arc<std::fs::File>>,
    ) -> Result<Component> {
        let start = std::time::Instant::now();
        let parsed = parse_for(engine, &artifact, ArtifactKind::Component)?;
        let (info, modules) = parsed.component().map_err(bad)?;
        let code = CodeMemory::load(&parsed, &modules.values().collect::<Vec<_>>()).map_err(bad)?;
        log::debug!(
            "load component artifact: {} bytes, {} modules, checked and mapped in {:.2?}",
            artifact.as_slice().len(),
            modules.len(),
            start.elapsed()
        );
        let sources: Option<(Arc<std::fs::File>, PrimaryMap<StaticModuleIndex, ImageRanges>)> =
            file.map(|file| (file, modules.keys().map(|m| parsed.images_of(m)).collect()));
        drop(parsed);
        Component::from_parts(engine, info, modules, artifact, code, sources)
    }

    /// Load a cache entry whose tag the cache checked under this user's key.
    ///
    /// # Errors
    /// As for [`Component::deserialize`]: an entry of other settings, say.
    pub(crate) fn from_cache_entry(engine: &Engine, entry: crate::cache::AuthenticatedEntry) -> Result<Component> {
        // SAFETY: an `AuthenticatedEntry` carries an HMAC under a key only this user can
        // read, over bytes that Kiln's own `Component::serialize` produced and the cache
        // wrote; they are in memory, so no file can change under them.
        unsafe { Component::from_artifact(engine, ArtifactBytes::Owned(entry.into_bytes()), None) }
    }
}
