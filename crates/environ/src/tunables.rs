//! Tunables: the settings that change the code Kiln generates or how the runtime lays out
//! memory. They are part of an artifact's identity.

/// Whether calls between functions of one module may be inlined.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IntraModuleInlining {
    /// Always.
    Yes,
    /// Never.
    No,
    /// Only when the calling function uses the GC heap.
    WhenUsingGc,
}

/// How hard Cranelift optimizes (wasmtime's `-O opt-level`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OptLevel {
    /// `0`: no optimization.
    None,
    /// `1` or `2`: for speed (the default).
    Speed,
    /// `s`: for speed and size.
    SpeedAndSize,
}

impl OptLevel {
    /// Parses `0`, `1`, `2` or `s`.
    ///
    /// # Errors
    /// What is wrong with anything else.
    pub fn parse(value: &str) -> Result<OptLevel, String> {
        match value {
            "0" => Ok(OptLevel::None),
            "1" | "2" => Ok(OptLevel::Speed),
            "s" => Ok(OptLevel::SpeedAndSize),
            _ => Err(format!("expected 0, 1, 2 or s, got `{value}`")),
        }
    }

    /// Its value as `opt-level` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            OptLevel::None => "0",
            OptLevel::Speed => "2",
            OptLevel::SpeedAndSize => "s",
        }
    }

    /// Cranelift's name for it (its `opt_level` setting).
    pub fn cranelift_name(self) -> &'static str {
        match self {
            OptLevel::None => "none",
            OptLevel::Speed => "speed",
            OptLevel::SpeedAndSize => "speed_and_size",
        }
    }
}

/// Code-generation and runtime-layout settings.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Tunables {
    /// Bytes of address space reserved for each linear memory (beyond which it cannot grow in
    /// place). With at least 4 GiB, a 32-bit memory needs no bounds checks.
    pub memory_reservation: u64,
    /// Bytes of inaccessible guard region after each memory's reservation.
    pub memory_guard_size: u64,
    /// The most bytes of native stack wasm code may use before `call stack exhausted`.
    pub max_wasm_stack: usize,
    /// The most bytes a store's GC heap may grow to (at most 4 GiB, what 32-bit references
    /// reach); an allocation that finds no room below it after a collection traps.
    pub gc_heap_max: u64,
    /// Whether dense constant data segments are mapped copy-on-write from a memory image at
    /// instantiation instead of being copied.
    pub memory_init_cow: bool,
    /// Whether funcref tables start "not yet initialized" and are filled from a precomputed
    /// image on first read. Compiled code and runtime then encode every funcref table
    /// element: 0 is "not yet initialized", anything else is the reference with bit 0 set.
    pub table_lazy_init: bool,
    /// Whether to inline calls across functions.
    pub inlining: bool,
    /// Whether calls within one module are inlined.
    pub inlining_intra_module: IntraModuleInlining,
    /// A callee of at most this many IR values is always inlined.
    pub inlining_small_callee_size: u32,
    /// A call is not inlined when caller and callee together exceed this many IR values.
    pub inlining_sum_size_threshold: u32,
    /// Whether compiled code counts the fuel it consumes (wasmtime's costs: one unit per
    /// operator, none for `nop`, `drop` and structured control) and traps when it runs out.
    pub consume_fuel: bool,
    /// Whether compiled code checks the engine's epoch against the store's deadline at
    /// every function entry and loop header.
    pub epoch_interruption: bool,
    /// Cranelift's optimization level.
    pub opt_level: OptLevel,
    /// The wasm features modules are validated with (`-W simd=n`…): Wasm 3.0's by default.
    pub wasm_features: wasmparser::WasmFeatures,
    /// Cranelift settings beyond Kiln's own (`-C cranelift-has-avx2=false`), as `(name,
    /// value)` in Cranelift's spelling; the engine info records the ISA they give.
    pub cranelift_flags: Vec<(String, String)>,
}

impl Default for Tunables {
    fn default() -> Self {
        Tunables {
            memory_reservation: 1 << 32,
            memory_guard_size: 32 << 20,
            max_wasm_stack: 512 << 10,
            gc_heap_max: 1 << 32,
            memory_init_cow: true,
            table_lazy_init: true,
            // Off, as measured by `cargo bench -p kiln-cli --bench inlining` on the 26
            // programs of ../shared/bench that run: with it on, execution time is unchanged in
            // geometric mean (1.00; from 0.67 on shootout-ed25519 to 1.50 on blake3-scalar),
            // while compile time doubles (1.97) and code grows up to 4.3x. These programs come
            // from toolchains that already inline within a module; the gain is in calls
            // between modules, which Kiln links through imports and cannot inline yet.
            inlining: false,
            // When inlining is on, within-module calls take part too: the only calls Kiln can
            // inline today are within a module, so `gc`/`n` would leave nothing to inline.
            inlining_intra_module: IntraModuleInlining::Yes,
            inlining_small_callee_size: 50,
            inlining_sum_size_threshold: 2000,
            consume_fuel: false,
            epoch_interruption: false,
            opt_level: OptLevel::Speed,
            wasm_features: crate::wasm_features(),
            cranelift_flags: Vec::new(),
        }
    }
}

impl Tunables {
    /// Whether a memory of type `ty` keeps its base address for life: its reservation holds
    /// its largest size, so growing never moves it. Compiled code may then load the base once
    /// and keep it (the runtime grows such memories only in place).
    pub fn memory_base_is_static(&self, ty: &crate::Memory) -> bool {
        self.memory_reservation >= ty.max_bytes()
    }

    /// Whether an access of `access_size` bytes at `offset` beyond any index of a memory of
    /// type `ty` lands in its reservation or guard, so that it needs no explicit bounds
    /// check. Only 32-bit indices can be covered so: a 64-bit memory is always checked.
    pub fn elides_bounds_check(&self, ty: &crate::Memory, offset: u64, access_size: u64) -> bool {
        ty.index_type == crate::IndexType::I32
            && self.memory_reservation >= 1 << 32
            && offset.checked_add(access_size).is_some_and(|end| end <= self.memory_guard_size)
    }

    /// Every setting as `(key, value)`, with the keys of `crate::settings::SETTINGS`.
    pub fn settings(&self) -> Vec<(&'static str, String)> {
        crate::settings::SETTINGS.iter().map(|s| (s.key, (s.get)(self))).collect()
    }
}
