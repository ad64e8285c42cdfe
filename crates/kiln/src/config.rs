//! `Config`: the settings an [`Engine`](crate::Engine) is built with, settable one by one or
//! as `key=value` strings through [`Config::set`] (what the CLI's `-O` options and the spec
//! runner's configurations use), by the one table of settings in `kiln_environ::settings`. A bad string is an [`Error::Setting`] that names the key.
use crate::{Error, Result};
use kiln_environ::{IntraModuleInlining, Tunables};

/// Engine settings.
#[derive(Clone, Debug)]
pub struct Config {
    pub(crate) tunables: Tunables,
    /// Where compiled artifacts are cached (no cache when `None`, the default).
    pub(crate) cache_dir: Option<std::path::PathBuf>,
    /// Whether loaded code is described in `/tmp/perf-<pid>.map` for `perf`.
    pub(crate) perfmap: bool,
    /// The target triple to compile for, on its baseline CPU (`None`: the host, with every
    /// feature it has).
    pub(crate) target: Option<String>,
    /// Whether compiling uses several threads.
    pub(crate) parallel_compilation: bool,
}

fn setting(key: &str, message: String) -> Error {
    Error::Setting { key: key.to_string(), message }
}

/// Parse the byte count of setting `key` (see [`kiln_environ::settings::parse_bytes`]).
///
/// # Errors
/// [`Error::Setting`] naming `key`, for text that is not such a count or overflows.
pub fn parse_bytes(key: &str, value: &str) -> Result<u64> {
    kiln_environ::settings::parse_bytes(value).map_err(|m| setting(key, m))
}

/// Parse the yes/no value of setting `key`: `y`, `yes`, `true`, `1` or `n`, `no`, `false`, `0`.
///
/// # Errors
/// [`Error::Setting`] naming `key`, for anything else.
pub fn parse_bool(key: &str, value: &str) -> Result<bool> {
    kiln_environ::settings::parse_bool(value).map_err(|m| setting(key, m))
}

impl Default for Config {
    fn default() -> Config {
        Config {
            tunables: Tunables::default(),
            cache_dir: None,
            perfmap: false,
            target: None,
            parallel_compilation: true,
        }
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

    /// The most bytes a store's GC heap may grow to (4 GiB by default, which is also the most
    /// it may be): an allocation that finds no room below it after a collection traps.
    pub fn gc_heap_max(&mut self, bytes: u64) -> &mut Self {
        self.tunables.gc_heap_max = bytes.min(1 << 32);
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

    /// Compile for `triple`'s baseline CPU instead of the host's CPU, so that artifacts run
    /// on any machine of that target (x86-64 Linux: x86-64-v2); checked when the engine is
    /// made.
    pub fn target(&mut self, triple: &str) -> &mut Self {
        self.target = Some(triple.to_string());
        self
    }

    /// Set a Cranelift setting beyond Kiln's own, in Cranelift's spelling (`has_avx2`,
    /// `false`): a shared setting or one of the host ISA's. Checked when the engine is made;
    /// the settings Kiln's code relies on (and `opt_level`, which is `opt-level`) are refused.
    pub fn cranelift_flag_set(&mut self, name: &str, value: &str) -> &mut Self {
        self.tunables.cranelift_flags.push((name.to_string(), value.to_string()));
        self
    }

    /// Whether functions compile on several threads (the default) or one: the artifact is
    /// the same either way.
    pub fn parallel_compilation(&mut self, parallel: bool) -> &mut Self {
        self.parallel_compilation = parallel;
        self
    }

    /// Cranelift's optimization level (`opt-level`; speed by default).
    pub fn cranelift_opt_level(&mut self, level: kiln_environ::OptLevel) -> &mut Self {
        self.tunables.opt_level = level;
        self
    }

    /// Apply one `key=value` setting of [`kiln_environ::settings::SETTINGS`] (each with the
    /// values it takes and its doc; `kiln run -O help` and `-W help` print them).
    ///
    /// # Errors
    /// [`Error::Setting`] for an unknown key or a value that does not parse.
    pub fn set(&mut self, key: &str, value: &str) -> Result<&mut Self> {
        let Some(s) = kiln_environ::settings::setting(key) else {
            let known: Vec<&str> = kiln_environ::settings::all().map(|s| s.key).collect();
            return Err(setting(key, format!("unknown setting (known: {})", known.join(", "))));
        };
        (s.set)(&mut self.tunables, value).map_err(|m| setting(key, m))?;
        Ok(self)
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
