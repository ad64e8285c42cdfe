//! Globals and the other loads of runtime structures. A defined global's value sits at the
//! start of its 16-byte slot in the `VMContext`; an imported global's slot is reached through
//! the pointer in its import record. Immutable globals never change after instantiation and are
//! loaded as read-only.
use cranelift_codegen::ir::{InstBuilder, MemFlagsData, Type, Value};
use kiln_environ::{CompileError, Global, GlobalIndex};
use wasmparser::WasmModuleResources;

use super::regions::Access;
use super::{FuncTranslator, internal};

impl FuncTranslator<'_, '_> {
    /// Load a `ty` at `base + offset` (an offset into a runtime structure).
    pub(super) fn load_field(&mut self, ty: Type, flags: MemFlagsData, base: Value, offset: u32) -> Value {
        let (base, offset) = self.field_address(base, offset);
        self.builder.ins().load(ty, flags, base, offset)
    }

    /// Load a pointer at `base + offset`.
    pub(super) fn load_pointer(&mut self, flags: MemFlagsData, base: Value, offset: u32) -> Value {
        self.load_field(self.pointer_type, flags, base, offset)
    }

    /// `base + offset` as a base and a load offset that fits Cranelift's signed 32 bits.
    fn field_address(&mut self, base: Value, offset: u32) -> (Value, i32) {
        match i32::try_from(offset) {
            Ok(offset) => (base, offset),
            Err(_) => (self.builder.ins().iadd_imm_u(base, i64::from(offset)), 0),
        }
    }

    /// Where global `index` lives (base and offset), its IR type, and whether it is mutable.
    fn global_slot(&mut self, index: u32) -> Result<(Value, u32, Type, bool), CompileError> {
        if let Some(ty) = self.resources.global_at(index) {
            Global::representation_of(&ty, &self.kind_of())?;
        }
        let g = GlobalIndex::from_u32(index);
        let global =
            *self.env.module.globals.get(g).ok_or_else(|| internal(format!("global {index} is not in the module")))?;
        let ty = self.value_type(global.ty)?;
        let (base, offset) = match self.env.module.defined_global_index(g) {
            Some(dg) => (self.vmctx, self.env.offsets.defined_global(dg)),
            None => {
                let import = self.env.offsets.imported_global(g);
                let flags = self.flags(Access::ReadOnly);
                (self.load_pointer(flags, self.vmctx, import), 0)
            }
        };
        Ok((base, offset, ty, global.mutable))
    }

    /// `global.get`.
    pub(super) fn global_get(&mut self, index: u32) -> Result<(), CompileError> {
        let (base, offset, ty, mutable) = self.global_slot(index)?;
        let flags = self.flags(if mutable { Access::Vmctx } else { Access::ReadOnly });
        let value = self.load_field(ty, flags, base, offset);
        self.push(value);
        Ok(())
    }

    /// `global.set`.
    pub(super) fn global_set(&mut self, index: u32) -> Result<(), CompileError> {
        let (base, offset, _, _) = self.global_slot(index)?;
        let value = self.pop()?;
        let (base, offset) = self.field_address(base, offset);
        let flags = self.flags(Access::Vmctx);
        self.builder.ins().store(flags, value, base, offset);
        Ok(())
    }
}
