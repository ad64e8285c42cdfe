//! The compilation cache: artifacts keyed by a hash of the wasm bytes, Kiln's version and
//! every setting that changes the code (the engine info), one file per key. Modules and
//! components are cached alike (their bytes never coincide, and an entry of the other kind
//! would not load).
//!
//! A cache entry is machine code that a later run executes, so the cache trusts nothing it
//! did not write itself:
//! - every entry carries an HMAC-SHA256 tag under a per-user key kept outside the cache
//!   (`<dir>.key`, see [`cache_key_file`]), over the entry's name and its bytes: someone who
//!   can write the cache but not read the key cannot make an entry that loads, nor move one
//!   entry to another module's name;
//! - the directory is created `0700`, and a directory (or key) that another user owns or can
//!   write is refused: the cache is then off, with a warning;
//! - entries are written to a fresh temporary file created with
//!   `O_CREAT|O_EXCL|O_NOFOLLOW` and renamed into place (so a reader never sees half of one,
//!   and a planted symlink is never followed), and read with `O_NOFOLLOW`;
//! - an entry is read into memory, checked, and loaded from there: nothing stays mapped from
//!   a file that someone could truncate under a running program.
//!
//! An entry that fails to load (missing, corrupt, forged, other settings) is a miss that is
//! recompiled and replaced, never an error. Who may write the cache is the embedder's
//! business to keep narrow: `kiln run` turns the cache off for a run whose guest is granted
//! a directory holding it, and discards the key when the guest could read it.
use crate::component::Component;
use crate::{Engine, Module, Result};
use hmac::{Hmac, Mac};
use sha2::Digest;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

type HmacSha256 = Hmac<sha2::Sha256>;

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
    hex(&h.finalize())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
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

/// The file that holds the key authenticating the entries of the cache in `dir`: beside the
/// directory, not in it (`~/.cache/kiln` → `~/.cache/kiln.key`), so that the right to write
/// entries does not give the right to read it.
pub fn cache_key_file(dir: &Path) -> PathBuf {
    let mut name = dir.file_name().map(|n| n.to_os_string()).unwrap_or_else(|| "kiln-cache".into());
    name.push(".key");
    dir.with_file_name(name)
}

/// Delete the key of the cache in `dir`, so that no entry written so far loads again (each
/// becomes a miss, recompiled and replaced under a new key). For when the key may have been
/// read by someone who must not forge entries; a missing key is fine.
///
/// # Errors
/// When the key exists and cannot be removed.
pub fn discard_cache_key(dir: &Path) -> io::Result<()> {
    match std::fs::remove_file(cache_key_file(dir)) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// What an entry's file name ends with.
const ENTRY_SUFFIX: &str = ".cwasm";
/// What a temporary file being written starts with.
const TEMP_PREFIX: &str = ".tmp-";
/// Bytes of the key, and of the tag that ends every entry.
const KEY_LEN: usize = 32;
const TAG_LEN: usize = 32;
/// What the tag covers first, so that it authenticates nothing but cache entries.
const TAG_CONTEXT: &[u8] = b"kiln cache entry 1\0";

/// Remove every entry (and every temporary file left by a writer that died) from the cache
/// in `dir`; returns how many files were removed. Other files are left alone.
///
/// # Errors
/// When the directory or one of its files cannot be read or removed; a missing directory is
/// an empty cache.
pub fn clean_cache(dir: &Path) -> io::Result<usize> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
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

/// An artifact read from the cache whose tag checked out under this user's key: bytes Kiln
/// itself compiled and wrote. Only this module makes one.
pub(crate) struct AuthenticatedEntry(Vec<u8>);

impl AuthenticatedEntry {
    /// The artifact's bytes.
    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.0
    }
}

/// What the cache holds: compiled code with an artifact of its own.
pub(crate) trait Cached: Sized {
    /// Compile `wasm`, bypassing the cache.
    fn compile(engine: &Engine, wasm: &[u8]) -> Result<Self>;
    /// Load an entry the cache authenticated.
    fn from_cache_entry(engine: &Engine, entry: AuthenticatedEntry) -> Result<Self>;
    /// The artifact to store.
    fn serialize(&self) -> Result<Vec<u8>>;
}

impl Cached for Module {
    fn compile(engine: &Engine, wasm: &[u8]) -> Result<Module> {
        Module::compile(engine, wasm)
    }

    fn from_cache_entry(engine: &Engine, entry: AuthenticatedEntry) -> Result<Module> {
        Module::from_cache_entry(engine, entry)
    }

    fn serialize(&self) -> Result<Vec<u8>> {
        Module::serialize(self)
    }
}

impl Cached for Component {
    fn compile(engine: &Engine, wasm: &[u8]) -> Result<Component> {
        Component::compile(engine, wasm)
    }

    fn from_cache_entry(engine: &Engine, entry: AuthenticatedEntry) -> Result<Component> {
        Component::from_cache_entry(engine, entry)
    }

    fn serialize(&self) -> Result<Vec<u8>> {
        Component::serialize(self)
    }
}

/// The cached module or component for `wasm`, or a fresh compilation stored for next time.
pub(crate) fn load_or_compile<T: Cached>(engine: &Engine, dir: &Path, wasm: &[u8]) -> Result<T> {
    let key = match CacheDir::open(dir) {
        Ok(key) => key,
        Err(e) => {
            log::warn!("not using the compilation cache in {}: {e}", dir.display());
            return T::compile(engine, wasm);
        }
    };
    let name = format!("{}{ENTRY_SUFFIX}", cache_key(engine, wasm));
    match key.read(&name) {
        Ok(Some(entry)) => match T::from_cache_entry(engine, entry) {
            Ok(m) => {
                log::debug!("cache hit: {}", dir.join(&name).display());
                return Ok(m);
            }
            Err(e) => log::warn!("ignoring cache entry {}: {e}", dir.join(&name).display()),
        },
        Ok(None) => {}
        Err(e) => log::warn!("ignoring cache entry {}: {e}", dir.join(&name).display()),
    }
    let compiled = T::compile(engine, wasm)?;
    if let Err(e) = key.write(&name, &compiled.serialize()?) {
        log::warn!("cannot write cache entry {}: {e}", dir.join(&name).display());
    }
    Ok(compiled)
}

/// A cache directory that passed its checks, with its key.
struct CacheDir<'a> {
    dir: &'a Path,
    key: [u8; KEY_LEN],
}

fn refused(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::PermissionDenied, what)
}

/// Refuse a file or directory that another user owns or can write.
fn check_private(path: &Path, meta: &std::fs::Metadata) -> io::Result<()> {
    let me = rustix::process::geteuid().as_raw();
    if meta.uid() != me {
        return Err(refused(format!("{} belongs to user {}, not to this user ({me})", path.display(), meta.uid())));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(refused(format!(
            "{} can be written by other users (mode {:o})",
            path.display(),
            meta.mode() & 0o777
        )));
    }
    Ok(())
}

/// Open `path` for reading without following a symlink at its end, as a regular file.
fn open_no_follow(path: &Path) -> io::Result<(File, std::fs::Metadata)> {
    let file = OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC).open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(refused(format!("{} is not a regular file", path.display())));
    }
    Ok((file, meta))
}

/// Create `dir/<TEMP_PREFIX><random>` exclusively (never through a symlink, never an
/// existing file), write `parts` into it, and return its path.
fn write_temp(dir: &Path, parts: &[&[u8]]) -> io::Result<PathBuf> {
    for _ in 0..16 {
        let mut nonce = [0u8; 12];
        rustix::rand::getrandom(&mut nonce, rustix::rand::GetRandomFlags::empty())?;
        let tmp = dir.join(format!("{TEMP_PREFIX}{}", hex(&nonce)));
        let mut file = match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&tmp)
        {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        };
        let written = parts.iter().try_for_each(|p| file.write_all(p));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        return Ok(tmp);
    }
    Err(io::Error::new(io::ErrorKind::AlreadyExists, "no free temporary file name"))
}

impl<'a> CacheDir<'a> {
    /// Check (creating it `0700` if missing) the cache directory `dir`, and read its key
    /// (making one if there is none).
    fn open(dir: &'a Path) -> io::Result<CacheDir<'a>> {
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        match std::fs::DirBuilder::new().mode(0o700).create(dir) {
            Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(e),
            _ => {}
        }
        let meta = std::fs::metadata(dir)?;
        if !meta.is_dir() {
            return Err(refused(format!("{} is not a directory", dir.display())));
        }
        check_private(dir, &meta)?;
        Ok(CacheDir { dir, key: Self::key(dir)? })
    }

    /// The cache's key, made (random, `0600`) if there is none yet. Made in a temporary file
    /// and linked into place, so concurrent first runs agree on one key.
    fn key(dir: &Path) -> io::Result<[u8; KEY_LEN]> {
        let path = cache_key_file(dir);
        for _ in 0..2 {
            match open_no_follow(&path) {
                Ok((mut file, meta)) => {
                    check_private(&path, &meta)?;
                    if meta.mode() & 0o077 != 0 {
                        return Err(refused(format!("{} can be read by other users", path.display())));
                    }
                    let mut key = [0u8; KEY_LEN];
                    file.read_exact(&mut key)?;
                    if file.read(&mut [0u8])? != 0 {
                        return Err(refused(format!("{} is not a cache key", path.display())));
                    }
                    return Ok(key);
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    let mut key = [0u8; KEY_LEN];
                    rustix::rand::getrandom(&mut key, rustix::rand::GetRandomFlags::empty())?;
                    let tmp = write_temp(path.parent().unwrap_or(Path::new(".")), &[&key])?;
                    let linked = std::fs::hard_link(&tmp, &path);
                    let _ = std::fs::remove_file(&tmp);
                    match linked {
                        Ok(()) => return Ok(key),
                        // Another process made one first: use it.
                        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                        Err(e) => return Err(e),
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::other(format!("{} keeps changing", path.display())))
    }

    fn tag(&self, name: &str, artifact: &[u8]) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC takes keys of any length");
        mac.update(TAG_CONTEXT);
        mac.update(name.as_bytes());
        mac.update(b"\0");
        mac.update(artifact);
        mac
    }

    /// The entry `name`, if there is one and its tag is right.
    fn read(&self, name: &str) -> io::Result<Option<AuthenticatedEntry>> {
        let path = self.dir.join(name);
        let (mut file, meta) = match open_no_follow(&path) {
            Ok(opened) => opened,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
        file.read_to_end(&mut bytes)?;
        let Some(split) = bytes.len().checked_sub(TAG_LEN) else {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "too short to be an entry"));
        };
        let tag = bytes.split_off(split);
        self.tag(name, &bytes).verify_slice(&tag).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                "its tag does not match this user's cache key (Kiln did not write it, or wrote it under an older key)",
            )
        })?;
        Ok(Some(AuthenticatedEntry(bytes)))
    }

    /// Store `artifact` as entry `name`, atomically.
    fn write(&self, name: &str, artifact: &[u8]) -> io::Result<()> {
        let tag = self.tag(name, artifact).finalize().into_bytes();
        let tmp = write_temp(self.dir, &[artifact, &tag])?;
        std::fs::rename(&tmp, self.dir.join(name)).inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("kiln-cache-unit-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn entries_round_trip_and_forgeries_do_not_load() {
        let root = scratch("tags");
        let dir = root.join("cache");
        let cache = CacheDir::open(&dir).unwrap();
        assert_eq!(std::fs::metadata(&dir).unwrap().mode() & 0o777, 0o700);
        assert_eq!(std::fs::metadata(cache_key_file(&dir)).unwrap().mode() & 0o777, 0o600);
        cache.write("a.cwasm", b"artifact a").unwrap();
        assert_eq!(cache.read("a.cwasm").unwrap().unwrap().into_bytes(), b"artifact a");
        assert!(cache.read("b.cwasm").unwrap().is_none());
        // An entry moved to another name, or with one byte changed, does not check out.
        std::fs::copy(dir.join("a.cwasm"), dir.join("b.cwasm")).unwrap();
        assert!(cache.read("b.cwasm").is_err());
        let mut bytes = std::fs::read(dir.join("a.cwasm")).unwrap();
        bytes[0] ^= 1;
        std::fs::write(dir.join("a.cwasm"), &bytes).unwrap();
        assert!(cache.read("a.cwasm").is_err());
        // A new key (the old one discarded) makes every old entry a stranger.
        cache.write("a.cwasm", b"artifact a").unwrap();
        discard_cache_key(&dir).unwrap();
        let reopened = CacheDir::open(&dir).unwrap();
        assert!(reopened.read("a.cwasm").is_err());
    }

    #[test]
    fn symlinks_are_never_followed() {
        let root = scratch("links");
        let dir = root.join("cache");
        let cache = CacheDir::open(&dir).unwrap();
        let victim = root.join("victim");
        std::fs::write(&victim, b"precious").unwrap();
        // An entry that is a symlink is not read through, and writing the entry replaces the
        // link itself.
        std::os::unix::fs::symlink(&victim, dir.join("e.cwasm")).unwrap();
        assert!(cache.read("e.cwasm").is_err());
        cache.write("e.cwasm", b"artifact").unwrap();
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
        assert!(!std::fs::symlink_metadata(dir.join("e.cwasm")).unwrap().file_type().is_symlink());
        // Temporary files are created exclusively: a symlink planted under a name the writer
        // picks is never written through (here: every name of the old `.tmp-<pid>-…` scheme
        // and a random one, the writer moves on to a fresh name).
        for name in [format!(".tmp-{}-ThreadId(1)", std::process::id()), ".tmp-000000000000000000000000".into()] {
            std::os::unix::fs::symlink(&victim, dir.join(name)).unwrap();
        }
        let tmp = write_temp(&dir, &[b"x"]).unwrap();
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
        std::fs::remove_file(tmp).unwrap();
        // A key that is a symlink is refused.
        std::fs::remove_file(cache_key_file(&dir)).unwrap();
        std::os::unix::fs::symlink(&victim, cache_key_file(&dir)).unwrap();
        assert!(CacheDir::open(&dir).is_err());
    }

    #[test]
    fn a_directory_others_can_write_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let root = scratch("perms");
        let dir = root.join("cache");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = CacheDir::open(&dir).err().expect("a world-writable cache is refused");
        assert!(e.to_string().contains("can be written by other users"), "{e}");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        CacheDir::open(&dir).unwrap();
        std::fs::set_permissions(cache_key_file(&dir), std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = CacheDir::open(&dir).err().expect("a key others can read is refused");
        assert!(e.to_string().contains("can be read by other users"), "{e}");
    }
}
