//! Loading precompiled artifacts: `Module::deserialize` and `Module::deserialize_file`. They
//! are `unsafe` because an artifact is machine code that will run in this process: every
//! check (ELF structure, checksum, engine settings, section encodings) catches corruption and
//! mismatched settings, but a crafted artifact with a valid checksum runs whatever it holds.
use super::code_memory::CodeMemory;
use super::mmap::Mmap;
use crate::{Engine, Error, Module, Result};
use kiln_environ::artifact::Artifact;
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
    /// [`Error::Artifact`] for bytes that are not an artifact, are corrupted, or were made by
    /// an engine with other settings (the error names the setting).
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
        let path = path.as_ref();
        let io = |e: std::io::Error| Error::Artifact(format!("cannot read {}: {e}", path.display()));
        let file = std::fs::File::open(path).map_err(io)?;
        let len = usize::try_from(file.metadata().map_err(io)?.len())
            .map_err(|_| Error::Artifact("the file is too large".into()))?;
        let map = Mmap::map_file(&file, len).map_err(io)?;
        // The module keeps the mapping, and memory images map straight from this file.
        // SAFETY: the caller vouches for the file (this function's contract).
        unsafe { Module::from_artifact(engine, ArtifactBytes::Mapped(map, len), Some(Arc::new(file))) }
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
        let bad = |e: kiln_environ::artifact::ArtifactError| Error::Artifact(e.to_string());
        let start = std::time::Instant::now();
        let parsed = Artifact::parse(artifact.as_slice()).map_err(bad)?;
        parsed.engine.check_compatible(engine.info()).map_err(bad)?;
        let env = parsed.module().map_err(bad)?;
        let code = CodeMemory::load(&parsed, &env).map_err(bad)?;
        log::debug!(
            "load artifact: {} bytes, checked and mapped in {:.2?}",
            artifact.as_slice().len(),
            start.elapsed()
        );
        let source = file.map(|file| (file, parsed.images.clone()));
        drop(parsed);
        Module::from_parts(engine, env, artifact, code, source)
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
