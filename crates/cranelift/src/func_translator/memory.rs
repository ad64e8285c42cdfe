//! Linear memory: loads, stores, `memory.size` and `memory.grow`, and the bounds checks.
//!
//! A memory's `VMMemoryDefinition` (base pointer and current length in bytes) is in the
//! `VMContext` for a defined memory, or behind the import record's pointer for an imported
//! one. The length is reloaded at each access (it changes when the memory grows), and alias
//! analysis removes the reloads that nothing in between could have changed. The base is
//! loaded read-only and movable when the memory's reservation holds its largest size (it
//! never moves, so Cranelift hoists it out of loops); otherwise it is reloaded like the
//! length, since growing may move it.
//!
//! Two bounds-check modes, chosen per access by `Tunables::elides_bounds_check`:
//! - *guarded*: a 32-bit memory reserves 4 GiB plus a guard region, so `base + zext(index) +
//!   offset` of any access lands in mapped memory or faults in the reservation or guard; the
//!   static offset is folded into the load or store.
//! - *checked*: `index + offset + size > current_length` is the out-of-bounds test; the
//!   address becomes null on failure through `select_spectre_guard`, so the access faults even
//!   under misspeculation. For a 32-bit memory the sum cannot overflow 64 bits. A 64-bit
//!   memory (memory64), which no guard can cover, is always checked: a carry out of `index +
//!   (offset + size)` is out of bounds as well (the same null address, no branch to run
//!   past), and an `offset + size` past 2^64 saturates, which no memory's length reaches. An access whose static offset alone is out of range for every memory
//!   still compiles and traps at run time.
//!
//! In both modes the base is the only load a loop can hoist, and alias analysis merges the
//! length reloads of accesses with nothing in between that could grow the memory, whatever
//! the index type.
//!
//! `memory.size` and `memory.grow` take and give `i64`s for a 64-bit memory and `i32`s for
//! a 32-bit one; the builtin works in `u64` for both.
//!
//! Each wasm access may trap with `out of bounds memory access`, which makes it a recorded
//! trap site.
use cranelift_codegen::ir::{InstBuilder, Type, Value, condcodes::IntCC, types::I32, types::I64};
use cranelift_codegen::isa::CallConv;
use kiln_environ::builtins::GROW_TRAPPED;
use kiln_environ::{
    BuiltinFunction, CompileError, FuncKey, IndexType, Memory, MemoryIndex, Trap, VMOffsets, WASM_PAGE_SIZE,
};
use wasmparser::{MemArg, MemArgTarget, Operator, WasmModuleResources};

use super::regions::Access;
use super::unsupported::unsupported_use;
use super::{FuncTranslator, internal};
use crate::abi;

/// What a load reads and how it extends it.
#[derive(Clone, Copy, Debug)]
pub(super) enum LoadKind {
    /// All bytes of the type.
    Full(Type),
    /// 8 bits, sign-extended to the type.
    S8(Type),
    /// 8 bits, zero-extended to the type.
    U8(Type),
    /// 16 bits, sign-extended to the type.
    S16(Type),
    /// 16 bits, zero-extended to the type.
    U16(Type),
    /// 32 bits, sign-extended to `i64`.
    S32,
    /// 32 bits, zero-extended to `i64`.
    U32,
}

impl LoadKind {
    /// The number of bytes read.
    fn size(self) -> u64 {
        match self {
            LoadKind::Full(ty) => u64::from(ty.bytes()),
            LoadKind::S8(_) | LoadKind::U8(_) => 1,
            LoadKind::S16(_) | LoadKind::U16(_) => 2,
            LoadKind::S32 | LoadKind::U32 => 4,
        }
    }
}

/// How much of the operand a store writes.
#[derive(Clone, Copy, Debug)]
pub(super) enum StoreKind {
    /// All of it.
    Full,
    /// Its low 8 bits.
    Low8,
    /// Its low 16 bits.
    Low16,
    /// Its low 32 bits.
    Low32,
}

impl FuncTranslator<'_, '_> {
    /// Check that Kiln compiles accesses to memory `index` (one with 64 KiB pages).
    pub(super) fn check_memory(&self, index: u32) -> Result<MemoryIndex, CompileError> {
        let ty =
            self.resources.memory_at(index).ok_or_else(|| internal(format!("memory {index} is not in the module")))?;
        Memory::from_wasmparser(&ty)?;
        Ok(MemoryIndex::from_u32(index))
    }

    /// The memory a load or store accesses.
    fn memarg_memory(&self, op: &Operator<'_>, memarg: &MemArg) -> Result<MemoryIndex, CompileError> {
        match memarg.target {
            MemArgTarget::Memory(index) => self.check_memory(index),
            MemArgTarget::Array(_) => Err(unsupported_use("GC", op)),
        }
    }

    /// Where memory `m`'s `VMMemoryDefinition` is: a base pointer and an offset from it.
    fn memory_definition(&mut self, m: MemoryIndex) -> (Value, u32) {
        match self.env.module.defined_memory_index(m) {
            Some(dm) => (self.vmctx, self.env.offsets.defined_memory(dm)),
            None => {
                let import = self.env.offsets.imported_memory(m) + VMOffsets::IMPORT_FROM;
                // Import records are fixed at instantiation and the vmctx is always valid.
                let flags = self.flags(Access::ReadOnly).with_can_move();
                (self.load_pointer(flags, self.vmctx, import), 0)
            }
        }
    }

    /// The current length in bytes of the memory whose definition is at `definition`.
    fn memory_length(&mut self, (base, offset): (Value, u32)) -> Value {
        let flags = self.flags(Access::Vmctx);
        self.load_field(I64, flags, base, offset + VMOffsets::MEMORY_CURRENT_LENGTH)
    }

    /// The address of an access of `size` bytes at `index + offset` in memory `m`, and the
    /// offset to put in the load or store instruction.
    fn heap_address(
        &mut self,
        m: MemoryIndex,
        index: Value,
        offset: u64,
        size: u64,
    ) -> Result<(Value, i32), CompileError> {
        let ty = self.env.module.memories[m];
        let definition = self.memory_definition(m);
        let flags = if self.env.tunables.memory_base_is_static(&ty) {
            // The base never changes once the memory exists: a read-only, always-valid load
            // that Cranelift may hoist out of loops.
            self.flags(Access::ReadOnly).with_can_move()
        } else {
            self.flags(Access::Vmctx)
        };
        let base = self.load_pointer(flags, definition.0, definition.1 + VMOffsets::MEMORY_BASE);
        if self.env.tunables.elides_bounds_check(&ty, offset, size) {
            let index = self.builder.ins().uextend(I64, index);
            let address = self.builder.ins().iadd(base, index);
            return Ok(match i32::try_from(offset) {
                Ok(offset) => (address, offset),
                Err(_) => (self.builder.ins().iadd_imm_u(address, offset as i64), 0),
            });
        }
        let length = self.memory_length(definition);
        let end_offset = offset.saturating_add(size);
        let (index, end) = match ty.index_type {
            IndexType::I32 => {
                // A 32-bit memory's static offset is at most `u32::MAX` and `size` at most
                // 16, so `index + offset + size` cannot overflow.
                let index = self.builder.ins().uextend(I64, index);
                (index, self.builder.ins().iadd_imm_u(index, end_offset as i64))
            }
            IndexType::I64 => {
                let end_offset = self.builder.ins().iconst(I64, end_offset as i64);
                let (end, carry) = self.builder.ins().uadd_overflow(index, end_offset);
                // A sum past 2^64 is out of bounds too, and takes the same null address: a
                // branch that traps on the carry could be run past under misspeculation.
                let beyond = self.builder.ins().icmp(IntCC::UnsignedGreaterThan, end, length);
                let out_of_bounds = self.builder.ins().bor(beyond, carry);
                return Ok((self.guarded_address(base, index, offset, out_of_bounds), 0));
            }
        };
        let out_of_bounds = self.builder.ins().icmp(IntCC::UnsignedGreaterThan, end, length);
        Ok((self.guarded_address(base, index, offset, out_of_bounds), 0))
    }

    /// `base + index + offset`, or null when `out_of_bounds`, through `select_spectre_guard`
    /// so that the access faults even under misspeculation.
    fn guarded_address(&mut self, base: Value, index: Value, offset: u64, out_of_bounds: Value) -> Value {
        let mut address = self.builder.ins().iadd(base, index);
        if offset != 0 {
            address = self.builder.ins().iadd_imm_u(address, offset as i64);
        }
        let null = self.builder.ins().iconst(self.pointer_type, 0);
        self.builder.ins().select_spectre_guard(out_of_bounds, null, address)
    }

    /// A load.
    pub(super) fn load(&mut self, op: &Operator<'_>, memarg: &MemArg, kind: LoadKind) -> Result<(), CompileError> {
        let m = self.memarg_memory(op, memarg)?;
        let index = self.pop()?;
        let (address, offset) = self.heap_address(m, index, memarg.offset, kind.size())?;
        let flags = self.flags(Access::Heap);
        let ins = self.builder.ins();
        let value = match kind {
            LoadKind::Full(ty) => ins.load(ty, flags, address, offset),
            LoadKind::S8(ty) => ins.sload8(ty, flags, address, offset),
            LoadKind::U8(ty) => ins.uload8(ty, flags, address, offset),
            LoadKind::S16(ty) => ins.sload16(ty, flags, address, offset),
            LoadKind::U16(ty) => ins.uload16(ty, flags, address, offset),
            LoadKind::S32 => ins.sload32(flags, address, offset),
            LoadKind::U32 => ins.uload32(flags, address, offset),
        };
        self.push(value);
        Ok(())
    }

    /// A store.
    pub(super) fn store(&mut self, op: &Operator<'_>, memarg: &MemArg, kind: StoreKind) -> Result<(), CompileError> {
        let m = self.memarg_memory(op, memarg)?;
        let (index, value) = self.pop2()?;
        let size = match kind {
            StoreKind::Full => u64::from(self.builder.func.dfg.value_type(value).bytes()),
            StoreKind::Low8 => 1,
            StoreKind::Low16 => 2,
            StoreKind::Low32 => 4,
        };
        let (address, offset) = self.heap_address(m, index, memarg.offset, size)?;
        let flags = self.flags(Access::Heap);
        let ins = self.builder.ins();
        match kind {
            StoreKind::Full => ins.store(flags, value, address, offset),
            StoreKind::Low8 => ins.istore8(flags, value, address, offset),
            StoreKind::Low16 => ins.istore16(flags, value, address, offset),
            StoreKind::Low32 => ins.istore32(flags, value, address, offset),
        };
        Ok(())
    }

    /// Pop the index of a SIMD access of `size` bytes (a whole `v128`, a lane, or the part a
    /// widening, splatting or zero-filling load reads) and return its address and offset.
    pub(super) fn pop_vector_address(
        &mut self,
        op: &Operator<'_>,
        memarg: &MemArg,
        size: u64,
    ) -> Result<(Value, i32), CompileError> {
        let m = self.memarg_memory(op, memarg)?;
        let index = self.pop()?;
        self.heap_address(m, index, memarg.offset, size)
    }

    /// `memory.size`: the current length in pages.
    pub(super) fn memory_size(&mut self, index: u32) -> Result<(), CompileError> {
        let m = self.check_memory(index)?;
        let definition = self.memory_definition(m);
        let length = self.memory_length(definition);
        let pages = self.builder.ins().ushr_imm_u(length, i64::from(WASM_PAGE_SIZE.trailing_zeros()));
        let pages = self.narrow_to(self.env.module.memories[m].index_type, pages);
        self.push(pages);
        Ok(())
    }

    /// `v`, an `i64`, as a value of `ty` (its low 32 bits for a 32-bit memory or table).
    pub(super) fn narrow_to(&mut self, ty: IndexType, v: Value) -> Value {
        match ty {
            IndexType::I32 => self.builder.ins().ireduce(I32, v),
            IndexType::I64 => v,
        }
    }

    /// An index or length operand (`i32` or `i64`) as an `i64`.
    pub(super) fn zext64(&mut self, v: Value) -> Value {
        if self.builder.func.dfg.value_type(v) == I64 { v } else { self.builder.ins().uextend(I64, v) }
    }

    /// `memory.grow`: call the builtin, which returns the old size in pages or `u64::MAX`
    /// (which becomes -1 in the memory's index type), or says to trap.
    pub(super) fn memory_grow(&mut self, index: u32) -> Result<(), CompileError> {
        let m = self.check_memory(index)?;
        let delta = self.pop()?;
        let delta = self.zext64(delta);
        let memory = self.builder.ins().iconst(I32, i64::from(index));
        let callee = self.builtin(BuiltinFunction::MemoryGrow);
        let call = self.builder.ins().call(callee, &[self.vmctx, memory, delta]);
        let old =
            *self.builder.inst_results(call).first().ok_or_else(|| internal("memory_grow builtin without a result"))?;
        let old = self.grow_result(old);
        let old = self.narrow_to(self.env.module.memories[m].index_type, old);
        self.push(old);
        Ok(())
    }

    /// The result of a grow builtin, after trapping with `HostError` if it says the store's
    /// resource limiter failed.
    pub(super) fn grow_result(&mut self, result: Value) -> Value {
        let trapped = self.builder.ins().icmp_imm_s(IntCC::Equal, result, GROW_TRAPPED as i64);
        self.builder.ins().trapnz(trapped, abi::trap_code(Trap::HostError));
        result
    }

    /// The IR function of a builtin's trampoline (a direct call within the artifact).
    pub(super) fn builtin(&mut self, builtin: BuiltinFunction) -> cranelift_codegen::ir::FuncRef {
        if let Some(f) = self.builtins.get(&builtin) {
            return *f;
        }
        let signature = abi::builtin_signature(self.env.isa, builtin, CallConv::Tail);
        let signature = self.builder.import_signature(signature);
        let name = abi::external_name(FuncKey::WasmToBuiltinTrampoline(builtin));
        let f = self.import_function(name, signature);
        self.builtins.insert(builtin, f);
        f
    }
}
