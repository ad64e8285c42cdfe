//! GC objects: `struct.*` and `array.*`, `any.convert_extern` and `extern.convert_any`. The
//! bulk operators that copy between arrays and from data and element segments call builtins
//! (`vm::gc_arrays` in the runtime), which check their ranges.
//!
//! An object's reference is its word, an offset into the store's GC heap (see
//! `kiln_environ::gc_layout` for the layouts); the heap's base and accessible bound are in
//! the store context, reloaded after every call (an allocation may create or grow the heap).
//! Every field access is checked against the bound first, so even a corrupt reference could
//! reach nothing outside the heap (`out of bounds memory access`); array indices are checked
//! against the array's length (`out of bounds array access`). A struct is allocated inline
//! when it fits in the heap's allocation window (bumping the window's next byte in the store
//! context and writing the header and the object's start bit, as the heap would); anything
//! else goes through the `gc_alloc` builtin, which may collect: the references live across it
//! are in the call's stack map.
//! Converting between `extern` and `any` keeps the word: every non-function reference is a
//! word that says what it is.
use cranelift_codegen::ir::{InstBuilder, MemFlagsData, Value, condcodes::IntCC, types};
use kiln_environ::{
    BuiltinFunction, CompileError, GC_ARRAY_LENGTH_OFFSET, GC_INFO_OFFSET, GcField, GcLayout, Trap, TypeIndex,
    VMOffsets, WasmCompositeType, WasmHeapType, WasmStorageType, builtins::SEGMENT_OUT_OF_BOUNDS,
};

use super::regions::Access;
use super::{FuncTranslator, internal};
use crate::abi;

/// How a packed field is read.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Extend {
    /// Not packed: as it is.
    None,
    /// Sign-extended (`_s`).
    Signed,
    /// Zero-extended (`_u`).
    Unsigned,
}

impl FuncTranslator<'_, '_> {
    /// The layout and storage types of module type `t`, a struct or array type.
    fn aggregate(&self, t: u32) -> Result<(GcLayout, Vec<WasmStorageType>), CompileError> {
        let ty = self
            .env
            .module
            .types
            .get(TypeIndex::from_u32(t))
            .ok_or_else(|| internal(format!("type {t} is not in the module")))?;
        let storage = match &ty.composite {
            WasmCompositeType::Struct(fields) => fields.iter().map(|f| f.storage).collect(),
            WasmCompositeType::Array(element) => vec![element.storage],
            WasmCompositeType::Func(..) => return Err(internal(format!("type {t} is not a struct or array type"))),
        };
        let layout = GcLayout::of(ty).ok_or_else(|| CompileError::Limit(format!("struct type {t} is over 4 GiB")))?;
        Ok((layout, storage))
    }

    /// The GC heap's base and bound, as they are now.
    fn gc_heap(&mut self) -> (Value, Value) {
        let readonly = self.flags(Access::ReadOnly);
        let context = self.load_pointer(readonly, self.vmctx, VMOffsets::STORE_CONTEXT);
        let flags = self.flags(Access::StoreContext);
        let base = self.load_pointer(flags, context, VMOffsets::STORE_CONTEXT_GC_HEAP_BASE);
        let bound = self.load_field(types::I64, flags, context, VMOffsets::STORE_CONTEXT_GC_HEAP_BOUND);
        (base, bound)
    }

    /// The address of the `size` bytes at `offset` (an `i64`) in the object `word`, trapping
    /// when they are not all in the heap.
    fn object_address(&mut self, word: Value, offset: Value, size: u32) -> Value {
        let (base, bound) = self.gc_heap();
        let at = self.builder.ins().iadd(word, offset);
        let end = self.builder.ins().iadd_imm_u(at, i64::from(size));
        let outside = self.builder.ins().icmp(IntCC::UnsignedGreaterThan, end, bound);
        self.builder.ins().trapnz(outside, abi::trap_code(Trap::MemoryOutOfBounds));
        self.builder.ins().iadd(base, at)
    }

    /// [`Self::object_address`] at a constant offset.
    fn field_address_at(&mut self, word: Value, offset: u32, size: u32) -> Value {
        let offset = self.builder.ins().iconst(types::I64, i64::from(offset));
        self.object_address(word, offset, size)
    }

    /// Read a value of storage type `s` at `address`.
    fn load_storage(&mut self, s: WasmStorageType, address: Value, extend: Extend) -> Value {
        let flags: MemFlagsData = self.flags(Access::GcObject);
        let ins = self.builder.ins();
        match s {
            WasmStorageType::I8 if extend == Extend::Signed => ins.sload8(types::I32, flags, address, 0),
            WasmStorageType::I8 => ins.uload8(types::I32, flags, address, 0),
            WasmStorageType::I16 if extend == Extend::Signed => ins.sload16(types::I32, flags, address, 0),
            WasmStorageType::I16 => ins.uload16(types::I32, flags, address, 0),
            WasmStorageType::Val(v) => {
                let ty = abi::ir_type(self.env.isa, v);
                self.builder.ins().load(ty, flags, address, 0)
            }
            WasmStorageType::Ref(r) if r.heap.top() == WasmHeapType::Func => {
                self.builder.ins().load(self.pointer_type, flags, address, 0)
            }
            WasmStorageType::Ref(_) => self.builder.ins().uload32(flags, address, 0),
        }
    }

    /// Write `value` of storage type `s` at `address`.
    fn store_storage(&mut self, s: WasmStorageType, address: Value, value: Value) {
        let flags: MemFlagsData = self.flags(Access::GcObject);
        let ins = self.builder.ins();
        match s {
            WasmStorageType::I8 => ins.istore8(flags, value, address, 0),
            WasmStorageType::I16 => ins.istore16(flags, value, address, 0),
            WasmStorageType::Ref(r) if r.heap.top() != WasmHeapType::Func => ins.istore32(flags, value, address, 0),
            WasmStorageType::Val(_) | WasmStorageType::Ref(_) => ins.store(flags, value, address, 0),
        };
    }

    /// A new zeroed object of module type `t` with `length` (an `i32`) elements for an array.
    fn allocate(&mut self, t: u32, length: Value) -> Value {
        let id = self.type_id(TypeIndex::from_u32(t));
        let callee = self.builtin(BuiltinFunction::GcAlloc);
        let call = self.builder.ins().call(callee, &[self.vmctx, id, length]);
        let word = self.builder.inst_results(call)[0];
        self.builder.ins().trapz(word, abi::trap_code(Trap::GcHeapOutOfMemory));
        word
    }

    /// A new struct of module type `t`, `size` bytes, whose fields the caller writes, all of
    /// them: bumped in the heap's allocation window when it fits there (writing its header
    /// and its start bit, as the heap would), else from the `gc_alloc` builtin.
    fn allocate_struct(&mut self, t: u32, size: u32) -> Value {
        let id = self.type_id(TypeIndex::from_u32(t));
        let readonly = self.flags(Access::ReadOnly);
        let context = self.load_pointer(readonly, self.vmctx, VMOffsets::STORE_CONTEXT);
        let flags = self.flags(Access::StoreContext);
        let bump = self.load_field(types::I64, flags, context, VMOffsets::STORE_CONTEXT_GC_BUMP);
        let end = self.load_field(types::I64, flags, context, VMOffsets::STORE_CONTEXT_GC_BUMP_END);
        let next = self.builder.ins().iadd_imm_u(bump, i64::from(size));
        let fits = self.builder.ins().icmp(IntCC::UnsignedLessThanOrEqual, next, end);
        let (bumped, called, done) =
            (self.builder.create_block(), self.builder.create_block(), self.builder.create_block());
        self.builder.append_block_param(done, self.pointer_type);
        self.builder.ins().brif(fits, bumped, &[], called, &[]);

        self.builder.switch_to_block(bumped);
        self.builder.seal_block(bumped);
        self.builder.ins().store(flags, next, context, VMOffsets::STORE_CONTEXT_GC_BUMP as i32);
        let base = self.load_pointer(flags, context, VMOffsets::STORE_CONTEXT_GC_HEAP_BASE);
        let object = self.builder.ins().iadd(base, bump);
        let gc = self.flags(Access::GcObject);
        self.builder.ins().store(gc, id, object, 0);
        let info = self.builder.ins().iconst(types::I32, i64::from(size));
        self.builder.ins().store(gc, info, object, GC_INFO_OFFSET as i32);
        // Bit `bump / 8 % 8` of byte `bump / 64` of the start bitmap.
        let starts = self.load_pointer(flags, context, VMOffsets::STORE_CONTEXT_GC_STARTS);
        let byte = self.builder.ins().ushr_imm_u(bump, 6);
        let byte = self.builder.ins().iadd(starts, byte);
        let bit = self.builder.ins().ushr_imm_u(bump, 3);
        let bit = self.builder.ins().ireduce(types::I32, bit);
        let bit = self.builder.ins().band_imm_u(bit, 7);
        let one = self.builder.ins().iconst(types::I32, 1);
        let mask = self.builder.ins().ishl(one, bit);
        let old = self.builder.ins().uload8(types::I32, gc, byte, 0);
        let new = self.builder.ins().bor(old, mask);
        self.builder.ins().istore8(gc, new, byte, 0);
        self.builder.ins().jump(done, &[bump.into()]);

        self.builder.switch_to_block(called);
        self.builder.seal_block(called);
        let zero = self.builder.ins().iconst(types::I32, 0);
        let callee = self.builtin(BuiltinFunction::GcAlloc);
        let call = self.builder.ins().call(callee, &[self.vmctx, id, zero]);
        let word = self.builder.inst_results(call)[0];
        self.builder.ins().trapz(word, abi::trap_code(Trap::GcHeapOutOfMemory));
        self.builder.ins().jump(done, &[word.into()]);

        self.builder.switch_to_block(done);
        self.builder.seal_block(done);
        self.builder.block_params(done)[0]
    }

    /// The `u32` at `offset` of the header of object `word`.
    pub(super) fn object_header(&mut self, word: Value, offset: u32) -> Result<Value, CompileError> {
        let address = self.field_address_at(word, offset, 4);
        let flags = self.flags(Access::GcObject);
        Ok(self.builder.ins().load(types::I32, flags, address, 0))
    }

    /// The default (zero or null) value of a field of storage type `s`, made here.
    fn default_value(&mut self, s: WasmStorageType) -> Value {
        let ty = match s {
            WasmStorageType::I8 | WasmStorageType::I16 => types::I32,
            WasmStorageType::Val(v) => abi::ir_type(self.env.isa, v),
            WasmStorageType::Ref(_) => self.pointer_type,
        };
        match ty {
            types::F32 => self.builder.ins().f32const(0.0),
            types::F64 => self.builder.ins().f64const(0.0),
            types::I8X16 => super::simd::vector_zero(&mut self.builder, ty),
            _ => self.builder.ins().iconst(ty, 0),
        }
    }

    /// `struct.new` (`default`: `struct.new_default`).
    pub(super) fn struct_new(&mut self, t: u32, default: bool) -> Result<(), CompileError> {
        let (layout, storage) = self.aggregate(t)?;
        let GcLayout::Struct { size, fields } = layout else { return Err(internal("struct.new of an array type")) };
        let values = match default {
            // The window's memory is not zeroed: the defaults are written too.
            true => storage.iter().map(|s| self.default_value(*s)).collect(),
            false => self.popn(fields.len())?,
        };
        let word = self.allocate_struct(t, size);
        if !values.is_empty() {
            let start = self.field_address_at(word, 0, size);
            for ((field, s), value) in fields.iter().zip(&storage).zip(values) {
                let address = self.builder.ins().iadd_imm_u(start, i64::from(field.offset));
                self.store_storage(*s, address, value);
            }
        }
        self.push(word);
        Ok(())
    }

    /// The field `f` of struct type `t`.
    fn struct_field(&self, t: u32, f: u32) -> Result<(GcField, WasmStorageType), CompileError> {
        let (layout, storage) = self.aggregate(t)?;
        let GcLayout::Struct { fields, .. } = layout else { return Err(internal("a struct access to an array type")) };
        let i = usize::try_from(f).map_err(|_| internal("field index"))?;
        match (fields.get(i), storage.get(i)) {
            (Some(field), Some(s)) => Ok((*field, *s)),
            _ => Err(internal(format!("struct type {t} has no field {f}"))),
        }
    }

    /// `struct.get`, `struct.get_s` and `struct.get_u`.
    pub(super) fn struct_get(&mut self, t: u32, f: u32, extend: Extend) -> Result<(), CompileError> {
        let (field, s) = self.struct_field(t, f)?;
        let word = self.pop()?;
        self.builder.ins().trapz(word, abi::trap_code(Trap::NullStructReference));
        let address = self.field_address_at(word, field.offset, field.size);
        let value = self.load_storage(s, address, extend);
        self.push(value);
        Ok(())
    }

    /// `struct.set`.
    pub(super) fn struct_set(&mut self, t: u32, f: u32) -> Result<(), CompileError> {
        let (field, s) = self.struct_field(t, f)?;
        let (word, value) = self.pop2()?;
        self.builder.ins().trapz(word, abi::trap_code(Trap::NullStructReference));
        let address = self.field_address_at(word, field.offset, field.size);
        self.store_storage(s, address, value);
        Ok(())
    }

    /// The element of array type `t`.
    fn array_element(&self, t: u32) -> Result<(GcLayout, GcField, WasmStorageType), CompileError> {
        let (layout, storage) = self.aggregate(t)?;
        match (&layout, storage.first()) {
            (GcLayout::Array { element }, Some(s)) => Ok((layout.clone(), *element, *s)),
            _ => Err(internal("an array access to a struct type")),
        }
    }

    /// The length (an `i32`) of the non-null array `word`.
    fn array_length(&mut self, word: Value) -> Value {
        let address = self.field_address_at(word, GC_ARRAY_LENGTH_OFFSET, 4);
        let flags = self.flags(Access::GcObject);
        self.builder.ins().load(types::I32, flags, address, 0)
    }

    /// The address of elements `index..index + count` (`i32`s) of the non-null array `word`,
    /// trapping with `out of bounds array access` unless they are all in it.
    fn elements_address(&mut self, word: Value, element: GcField, index: Value, count: Value) -> Value {
        let length = self.array_length(word);
        let length = self.builder.ins().uextend(types::I64, length);
        let index = self.builder.ins().uextend(types::I64, index);
        let count = self.builder.ins().uextend(types::I64, count);
        let end = self.builder.ins().iadd(index, count);
        let outside = self.builder.ins().icmp(IntCC::UnsignedGreaterThan, end, length);
        self.builder.ins().trapnz(outside, abi::trap_code(Trap::ArrayOutOfBounds));
        let offset = self.builder.ins().imul_imm_u(index, i64::from(element.size));
        let offset = self.builder.ins().iadd_imm_u(offset, i64::from(element.offset));
        // The whole range must lie in the heap: its size, as a byte count.
        let bytes = self.builder.ins().imul_imm_u(count, i64::from(element.size));
        let (base, bound) = self.gc_heap();
        let at = self.builder.ins().iadd(word, offset);
        let range_end = self.builder.ins().iadd(at, bytes);
        let beyond = self.builder.ins().icmp(IntCC::UnsignedGreaterThan, range_end, bound);
        self.builder.ins().trapnz(beyond, abi::trap_code(Trap::MemoryOutOfBounds));
        self.builder.ins().iadd(base, at)
    }

    /// Store `value` into `count` elements from `address` on (a loop).
    fn fill_elements(&mut self, s: WasmStorageType, element: GcField, address: Value, count: Value, value: Value) {
        let count = self.builder.ins().uextend(types::I64, count);
        let bytes = self.builder.ins().imul_imm_u(count, i64::from(element.size));
        let end = self.builder.ins().iadd(address, bytes);
        let header = self.builder.create_block();
        let body = self.builder.create_block();
        let done = self.builder.create_block();
        let at = self.builder.append_block_param(header, self.pointer_type);
        self.builder.ins().jump(header, &[address.into()]);
        self.builder.switch_to_block(header);
        let more = self.builder.ins().icmp(IntCC::UnsignedLessThan, at, end);
        self.builder.ins().brif(more, body, &[], done, &[]);
        self.builder.seal_block(body);
        self.builder.switch_to_block(body);
        self.store_storage(s, at, value);
        let next = self.builder.ins().iadd_imm_u(at, i64::from(element.size));
        self.builder.ins().jump(header, &[next.into()]);
        self.builder.seal_block(header);
        self.builder.seal_block(done);
        self.builder.switch_to_block(done);
    }

    /// `array.new` (`default`: `array.new_default`).
    pub(super) fn array_new(&mut self, t: u32, default: bool) -> Result<(), CompileError> {
        let (layout, element, s) = self.array_element(t)?;
        let length = self.pop()?;
        let value = if default { None } else { Some(self.pop()?) };
        let too_long =
            self.builder.ins().icmp_imm_u(IntCC::UnsignedGreaterThan, length, i64::from(layout.max_length()));
        self.builder.ins().trapnz(too_long, abi::trap_code(Trap::AllocationTooLarge));
        let word = self.allocate(t, length);
        if let Some(value) = value {
            let zero = self.builder.ins().iconst(types::I32, 0);
            let address = self.elements_address(word, element, zero, length);
            self.fill_elements(s, element, address, length, value);
        }
        self.push(word);
        Ok(())
    }

    /// `array.new_fixed`.
    pub(super) fn array_new_fixed(&mut self, t: u32, n: u32) -> Result<(), CompileError> {
        let (_, element, s) = self.array_element(t)?;
        let values = self.popn(usize::try_from(n).map_err(|_| internal("array.new_fixed length"))?)?;
        let length = self.builder.ins().iconst(types::I32, i64::from(n));
        let word = self.allocate(t, length);
        let zero = self.builder.ins().iconst(types::I32, 0);
        let start = self.elements_address(word, element, zero, length);
        for (i, value) in (0u32..).zip(values) {
            let address = self.builder.ins().iadd_imm_u(start, i64::from(i) * i64::from(element.size));
            self.store_storage(s, address, value);
        }
        self.push(word);
        Ok(())
    }

    /// `array.get`, `array.get_s` and `array.get_u`.
    pub(super) fn array_get(&mut self, t: u32, extend: Extend) -> Result<(), CompileError> {
        let (_, element, s) = self.array_element(t)?;
        let (word, index) = self.pop2()?;
        self.builder.ins().trapz(word, abi::trap_code(Trap::NullArrayReference));
        let one = self.builder.ins().iconst(types::I32, 1);
        let address = self.elements_address(word, element, index, one);
        let value = self.load_storage(s, address, extend);
        self.push(value);
        Ok(())
    }

    /// `array.set`.
    pub(super) fn array_set(&mut self, t: u32) -> Result<(), CompileError> {
        let (_, element, s) = self.array_element(t)?;
        let (word, index, value) = self.pop3()?;
        self.builder.ins().trapz(word, abi::trap_code(Trap::NullArrayReference));
        let one = self.builder.ins().iconst(types::I32, 1);
        let address = self.elements_address(word, element, index, one);
        self.store_storage(s, address, value);
        Ok(())
    }

    /// `array.copy`.
    pub(super) fn array_copy(&mut self) -> Result<(), CompileError> {
        let values = self.popn(5)?;
        for word in [values[0], values[2]] {
            self.builder.ins().trapz(word, abi::trap_code(Trap::NullArrayReference));
        }
        let callee = self.builtin(BuiltinFunction::ArrayCopy);
        let call = self.builder.ins().call(callee, &[&[self.vmctx][..], &values].concat());
        let status = self.builder.inst_results(call)[0];
        self.builder.ins().trapz(status, abi::trap_code(Trap::ArrayOutOfBounds));
        Ok(())
    }

    /// `array.init_data` (`data`) or `array.init_elem` of segment `segment`.
    pub(super) fn array_init_segment(&mut self, segment: u32, data: bool) -> Result<(), CompileError> {
        let values = self.popn(4)?;
        self.builder.ins().trapz(values[0], abi::trap_code(Trap::NullArrayReference));
        let segment = self.builder.ins().iconst(types::I32, i64::from(segment));
        let (builtin, trap) = match data {
            true => (BuiltinFunction::ArrayInitData, Trap::MemoryOutOfBounds),
            false => (BuiltinFunction::ArrayInitElem, Trap::TableOutOfBounds),
        };
        let callee = self.builtin(builtin);
        let args = [self.vmctx, values[0], segment, values[1], values[2], values[3]];
        let call = self.builder.ins().call(callee, &args);
        let status = self.builder.inst_results(call)[0];
        self.builder.ins().trapz(status, abi::trap_code(Trap::ArrayOutOfBounds));
        let outside = self.builder.ins().icmp_imm_u(IntCC::Equal, status, i64::from(SEGMENT_OUT_OF_BOUNDS));
        self.builder.ins().trapnz(outside, abi::trap_code(trap));
        Ok(())
    }

    /// `array.new_data` (`data`) or `array.new_elem` of array type `t` from segment
    /// `segment`.
    pub(super) fn array_new_segment(&mut self, t: u32, segment: u32, data: bool) -> Result<(), CompileError> {
        let (offset, length) = self.pop2()?;
        let id = self.type_id(TypeIndex::from_u32(t));
        let segment = self.builder.ins().iconst(types::I32, i64::from(segment));
        let (builtin, trap) = match data {
            true => (BuiltinFunction::ArrayNewData, Trap::MemoryOutOfBounds),
            false => (BuiltinFunction::ArrayNewElem, Trap::TableOutOfBounds),
        };
        let callee = self.builtin(builtin);
        let call = self.builder.ins().call(callee, &[self.vmctx, id, segment, offset, length]);
        let word = self.builder.inst_results(call)[0];
        let outside = self.builder.ins().icmp_imm_u(IntCC::Equal, word, i64::from(SEGMENT_OUT_OF_BOUNDS));
        self.builder.ins().trapnz(outside, abi::trap_code(trap));
        self.builder.ins().trapz(word, abi::trap_code(Trap::GcHeapOutOfMemory));
        self.push(word);
        Ok(())
    }

    /// `array.len`.
    pub(super) fn array_len(&mut self) -> Result<(), CompileError> {
        let word = self.pop()?;
        self.builder.ins().trapz(word, abi::trap_code(Trap::NullArrayReference));
        let length = self.array_length(word);
        self.push(length);
        Ok(())
    }

    /// `array.fill`.
    pub(super) fn array_fill(&mut self, t: u32) -> Result<(), CompileError> {
        let (_, element, s) = self.array_element(t)?;
        let values = self.popn(4)?;
        let (word, index, value, count) = (values[0], values[1], values[2], values[3]);
        self.builder.ins().trapz(word, abi::trap_code(Trap::NullArrayReference));
        let address = self.elements_address(word, element, index, count);
        self.fill_elements(s, element, address, count, value);
        Ok(())
    }
}
