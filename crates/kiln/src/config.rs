//! `Config`: the settings an [`Engine`](crate::Engine) is built with, settable one by one or
//! as `key=value` strings through [`Config::set`] (what the CLI's `-O` options and the spec
//! runner's configurations use). A bad string is an [`Error::Setting`] that names the key.
use crate::{Error, Result};
use kiln_environ::{IntraModuleInlining, Tunables};

/// Engine settings.
#[derive(Clone, Debug, Default)]
pub struct Config {
    pub(crate) tunables: Tunables,
    /// Where compiled artifacts are cached (no cache when `None`, the default).
    pub(crate) cache_dir: Option<std::path::PathBuf>,
    /// Whether loaded code is described in `/tmp/perf-<pid>.map` for `perf`.
    pub(crate) perfmap: bool,
}

fn setting(key: &str, message: String) -> Error {
    Error::Setting { key: key.to_string(), message }
}

/// Parse the byte count of setting `key`: digits (`_` allowed), optionally followed by a unit
/// `k`, `m` or `g` (binary: `kib`, `mib`, `gib` too).
///
/// # Errors
/// [`Error::Setting`] naming `key`, for text that is not such a count or overflows.
pub fn parse_bytes(key: &str, value: &str) -> Result<u64> {
    let v = value.trim();
    let (digits, scale) = match v.char_indices().find(|(_, c)| !c.is_ascii_digit() && *c != '_') {
        Some((i, _)) => (&v[..i], &v[i..]),
        None => (v, ""),
    };
    let n: u64 =
        digits.replace('_', "").parse().map_err(|_| setting(key, format!("expected a byte count, got `{value}`")))?;
    let shift = match scale.to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kib" => 10,
        "m" | "mib" => 20,
        "g" | "gib" => 30,
        _ => return Err(setting(key, format!("unknown unit in `{value}` (known: k, m, g)"))),
    };
    n.checked_mul(1 << shift).ok_or_else(|| setting(key, format!("`{value}` is too large")))
}

fn parse_u32(key: &str, value: &str) -> Result<u32> {
    value.parse().map_err(|_| setting(key, format!("expected a number, got `{value}`")))
}

/// Parse the yes/no value of setting `key`: `y`, `yes`, `true`, `1` or `n`, `no`, `false`, `0`.
///
/// # Errors
/// [`Error::Setting`] naming `key`, for anything else.
pub fn parse_bool(key: &str, value: &str) -> Result<bool> {
    match value {
        "y" | "yes" | "true" | "1" => Ok(true),
        "n" | "no" | "false" | "0" => Ok(false),
        _ => Err(setting(key, format!("expected y or n, got `{value}`"))),
    }
}

impl Config {
    /// The default settings.
    pub fn new() -> Config {
        Config::default()
    }

    /// Cache compiled artifacts in `dir` (off by default): compiling the same bytes with the
    /// same settings again loads the cached artifact instead. Entries are written atomically
    /// and checked when loaded; a corrupt or stale entry is recompiled and replaced.
    pub fn cache_dir(&mut self, dir: Option<std::path::PathBuf>) -> &mut Self {
        self.cache_dir = dir;
        self
    }

    /// Describe every function of loaded code in `/tmp/perf-<pid>.map`, so that `perf
    /// report` names wasm functions (off by default; it changes no code).
    pub fn profile_perfmap(&mut self, on: bool) -> &mut Self {
        self.perfmap = on;
        self
    }

    /// Bytes of address space reserved per linear memory (4 GiB by default; with less,
    /// compiled code checks bounds explicitly).
    pub fn memory_reservation(&mut self, bytes: u64) -> &mut Self {
        self.tunables.memory_reservation = bytes;
        self
    }

    /// Bytes of guard region after each memory (32 MiB by default).
    pub fn memory_guard_size(&mut self, bytes: u64) -> &mut Self {
        self.tunables.memory_guard_size = bytes;
        self
    }

    /// The most native stack wasm may use (512 KiB by default).
    pub fn max_wasm_stack(&mut self, bytes: usize) -> &mut Self {
        self.tunables.max_wasm_stack = bytes;
        self
    }

    /// Whether data segments are mapped copy-on-write from a memory image (default: yes).
    pub fn memory_init_cow(&mut self, enable: bool) -> &mut Self {
        self.tunables.memory_init_cow = enable;
        self
    }

    /// Whether funcref tables are filled lazily from a precomputed image (default: yes).
    pub fn table_lazy_init(&mut self, enable: bool) -> &mut Self {
        self.tunables.table_lazy_init = enable;
        self
    }

    /// Whether to inline calls across functions.
    pub fn inlining(&mut self, enable: bool) -> &mut Self {
        self.tunables.inlining = enable;
        self
    }

    /// Whether calls within one module are inlined.
    pub fn inlining_intra_module(&mut self, mode: IntraModuleInlining) -> &mut Self {
        self.tunables.inlining_intra_module = mode;
        self
    }

    /// A callee of at most this many IR values is always inlined (default 50).
    pub fn inlining_small_callee_size(&mut self, size: u32) -> &mut Self {
        self.tunables.inlining_small_callee_size = size;
        self
    }

    /// Calls are not inlined past this caller + callee size in IR values (default 2000).
    pub fn inlining_sum_size_threshold(&mut self, size: u32) -> &mut Self {
        self.tunables.inlining_sum_size_threshold = size;
        self
    }

    /// Whether compiled code consumes fuel (off by default): each store then runs wasm only
    /// as far as the fuel given with [`Store::set_fuel`](crate::Store::set_fuel) lasts, at
    /// wasmtime's costs, and traps with `all fuel consumed by WebAssembly` when it runs out.
    /// Artifacts record the setting.
    pub fn consume_fuel(&mut self, enable: bool) -> &mut Self {
        self.tunables.consume_fuel = enable;
        self
    }

    /// Whether compiled code checks the engine's epoch against its store's deadline at every
    /// function entry and loop header (off by default), so that
    /// [`Engine::increment_epoch`](crate::Engine::increment_epoch) from another thread can
    /// stop it. Artifacts record the setting.
    pub fn epoch_interruption(&mut self, enable: bool) -> &mut Self {
        self.tunables.epoch_interruption = enable;
        self
    }

    /// Apply one `key=value` setting: `memory-reservation`, `memory-guard-size`,
    /// `max-wasm-stack` (byte counts, with optional `k`/`m`/`g` units), `memory-init-cow`,
    /// `table-lazy-init`, `inlining` (`y` or `n`), `inlining-intra-module` (`y`, `n` or `gc`),
    /// `inlining-small-callee-size`, `inlining-sum-size-threshold` (numbers), `consume-fuel`,
    /// `epoch-interruption` (`y` or `n`).
    ///
    /// # Errors
    /// [`Error::Setting`] for an unknown key or a value that does not parse.
    pub fn set(&mut self, key: &str, value: &str) -> Result<&mut Self> {
        match key {
            "memory-reservation" => Ok(self.memory_reservation(parse_bytes(key, value)?)),
            "memory-guard-size" => Ok(self.memory_guard_size(parse_bytes(key, value)?)),
            "max-wasm-stack" => {
                let n = parse_bytes(key, value)?;
                Ok(self
                    .max_wasm_stack(usize::try_from(n).map_err(|_| setting(key, format!("`{value}` is too large")))?))
            }
            "memory-init-cow" => Ok(self.memory_init_cow(parse_bool(key, value)?)),
            "table-lazy-init" => Ok(self.table_lazy_init(parse_bool(key, value)?)),
            "inlining" => Ok(self.inlining(parse_bool(key, value)?)),
            "inlining-intra-module" => Ok(self.inlining_intra_module(match value {
                "gc" => IntraModuleInlining::WhenUsingGc,
                other if parse_bool(key, other)? => IntraModuleInlining::Yes,
                _ => IntraModuleInlining::No,
            })),
            "inlining-small-callee-size" => Ok(self.inlining_small_callee_size(parse_u32(key, value)?)),
            "inlining-sum-size-threshold" => Ok(self.inlining_sum_size_threshold(parse_u32(key, value)?)),
            "consume-fuel" => Ok(self.consume_fuel(parse_bool(key, value)?)),
            "epoch-interruption" => Ok(self.epoch_interruption(parse_bool(key, value)?)),
            _ => {
                let known: Vec<&str> = self.tunables.settings().into_iter().map(|(k, _)| k).collect();
                Err(setting(key, format!("unknown setting (known: {})", known.join(", "))))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_settings() {
        let mut c = Config::new();
        c.set("memory-reservation", "0").unwrap();
        c.set("memory-guard-size", "64k").unwrap();
        assert_eq!(c.tunables.memory_reservation, 0);
        assert_eq!(c.tunables.memory_guard_size, 65536);
        assert!(c.set("memory-guard-size", "lots").is_err());
        assert_eq!(
            c.set("memory-guard-size", "9q").unwrap_err().to_string(),
            "setting `memory-guard-size`: unknown unit in `9q` (known: k, m, g)"
        );
        assert!(matches!(c.set("no-such-key", "1"), Err(Error::Setting { key, .. }) if key == "no-such-key"));
        c.set("memory-init-cow", "n").unwrap();
        assert!(!c.tunables.memory_init_cow);
        assert!(c.set("memory-init-cow", "maybe").is_err());
        c.set("table-lazy-init", "no").unwrap();
        assert!(!c.tunables.table_lazy_init);
        c.set("inlining", "y").unwrap().set("inlining-intra-module", "gc").unwrap();
        c.set("inlining-small-callee-size", "7").unwrap().set("inlining-sum-size-threshold", "9").unwrap();
        assert!(c.tunables.inlining);
        assert_eq!(c.tunables.inlining_intra_module, IntraModuleInlining::WhenUsingGc);
        assert_eq!((c.tunables.inlining_small_callee_size, c.tunables.inlining_sum_size_threshold), (7, 9));
        assert!(c.set("inlining-sum-size-threshold", "lots").is_err());
    }
}
