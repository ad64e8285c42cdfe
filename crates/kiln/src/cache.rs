//! The compilation cache: artifacts keyed by a hash of the wasm bytes, Kiln's version and
//! every setting that changes the code (the engine info), one file per key. Entries are
//! written to a temporary file and renamed into place, so a reader never sees half of one;
//! an entry that fails to load (corrupt, truncated, other settings) is a miss that is
//! recompiled and replaced, never an error.
use crate::{Engine, Module, Result};
use sha2::Digest;
use std::path::{Path, PathBuf};

/// The cache key of `wasm` compiled by `engine`: hex SHA-256 over the engine's settings
/// (which include the Kiln version, target, CPU features and tunables) and the bytes.
pub fn cache_key(engine: &Engine, wasm: &[u8]) -> String {
    let mut h = sha2::Sha256::new();
    for (k, v) in engine.settings() {
        h.update(k.as_bytes());
        h.update(b"=");
        h.update(v.as_bytes());
        h.update(b"\n");
    }
    h.update(b"\0wasm\0");
    h.update(wasm);
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Where the CLI caches by default: `$KILN_CACHE_DIR`, else `$XDG_CACHE_HOME/kiln`, else
/// `~/.cache/kiln`.
pub fn default_cache_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("KILN_CACHE_DIR") {
        return Some(PathBuf::from(d));
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(d).join("kiln"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/kiln"))
}

/// What an entry's file name ends with.
const ENTRY_SUFFIX: &str = ".cwasm";
/// What a temporary file being written starts with.
const TEMP_PREFIX: &str = ".tmp-";

/// Remove every entry (and every temporary file left by a writer that died) from the cache
/// in `dir`; returns how many files were removed. Other files are left alone.
///
/// # Errors
/// When the directory or one of its files cannot be read or removed; a missing directory is
/// an empty cache.
pub fn clean_cache(dir: &Path) -> std::io::Result<usize> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut removed = 0;
    for e in entries {
        let e = e?;
        let name = e.file_name();
        let name = name.to_string_lossy();
        if name.ends_with(ENTRY_SUFFIX) || name.starts_with(TEMP_PREFIX) {
            std::fs::remove_file(e.path())?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// The cached module for `wasm`, or a fresh compilation stored for next time.
pub(crate) fn load_or_compile(engine: &Engine, dir: &Path, wasm: &[u8]) -> Result<Module> {
    let path = dir.join(format!("{}{ENTRY_SUFFIX}", cache_key(engine, wasm)));
    if let Some(m) = Module::load_cached(engine, &path) {
        log::debug!("cache hit: {}", path.display());
        return Ok(m);
    }
    let module = Module::compile(engine, wasm)?;
    if let Err(e) = store(dir, &path, &module.serialize()?) {
        log::warn!("cannot write cache entry {}: {e}", path.display());
    }
    Ok(module)
}

/// Write `bytes` to `path` atomically: a temporary file in the same directory, renamed.
fn store(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!("{TEMP_PREFIX}{}-{:?}", std::process::id(), std::thread::current().id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}
