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

/// The cached module for `wasm`, or a fresh compilation stored for next time.
pub(crate) fn load_or_compile(engine: &Engine, dir: &Path, wasm: &[u8]) -> Result<Module> {
    let path = dir.join(format!("{}.cwasm", cache_key(engine, wasm)));
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
    let tmp = dir.join(format!(".tmp-{}-{:?}", std::process::id(), std::thread::current().id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}
