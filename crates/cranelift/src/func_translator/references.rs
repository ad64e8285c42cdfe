//! Reference values and table elements: `ref.null`, `ref.is_null`, `ref.as_non_null`,
//! `ref.func`, `table.get`, `table.set`, `table.size`, and the bounds-checked address and
//! lazy-aware load of a table entry that `call_indirect` shares. A function reference is a
//! `*const VMFuncRef` (0 is null); every table element is one pointer. With lazy table
//! initialization on, funcref table elements are encoded: 0 means "not yet initialized" (a
//! cold path asks the runtime to fill it from the table's image) and any other value is the
//! reference with bit 0 set.
use cranelift_codegen::ir::{InstBuilder, Value, condcodes::IntCC, types::I32, types::I64};
use kiln_environ::{BuiltinFunction, CompileError, FuncIndex, Table, TableIndex, Trap, VMOffsets, WasmValType};
use wasmparser::WasmModuleResources;

use super::regions::Access;
use super::{FuncTranslator, internal};
use crate::abi;

impl FuncTranslator<'_, '_> {
    /// Whether table `table`'s elements are encoded for lazy initialization.
    fn lazy_table(&self, table: u32) -> Result<bool, CompileError> {
        let ty =
            self.resources.table_at(table).ok_or_else(|| internal(format!("table {table} is not in the module")))?;
        Ok(self.env.tunables.table_lazy_init && Table::representation_of(&ty, &self.kind_of())? == WasmValType::FuncRef)
    }

    /// Load the element of table `table` at `address` (element `index`, bounds-checked).
    /// For a lazily initialized table, a 0 entry takes a cold path to the runtime, which
    /// fills it; other entries lose their tag bit.
    pub(super) fn load_table_entry(&mut self, table: u32, index: Value, address: Value) -> Result<Value, CompileError> {
        let flags = self.flags(Access::Table);
        let raw = self.builder.ins().load(self.pointer_type, flags, address, 0);
        if !self.lazy_table(table)? {
            return Ok(raw);
        }
        let cold = self.builder.create_block();
        let done = self.builder.create_block();
        let value = self.builder.append_block_param(done, self.pointer_type);
        self.builder.set_cold_block(cold);
        let untagged = self.builder.ins().band_imm_u(raw, -2i64);
        self.builder.ins().brif(raw, done, &[untagged.into()], cold, &[]);
        self.builder.seal_block(cold);
        self.builder.switch_to_block(cold);
        let table_index = self.builder.ins().iconst(I32, i64::from(table));
        let callee = self.builtin(BuiltinFunction::TableLazyInit);
        let index = self.zext64(index);
        let call = self.builder.ins().call(callee, &[self.vmctx, table_index, index]);
        let filled = *self
            .builder
            .inst_results(call)
            .first()
            .ok_or_else(|| internal("table_lazy_init builtin without a result"))?;
        self.builder.ins().jump(done, &[filled.into()]);
        self.builder.seal_block(done);
        self.builder.switch_to_block(done);
        Ok(value)
    }

    /// Check that table `table` is one Kiln translates, and name it.
    pub(super) fn check_table(&self, table: u32) -> Result<TableIndex, CompileError> {
        let ty =
            self.resources.table_at(table).ok_or_else(|| internal(format!("table {table} is not in the module")))?;
        Table::representation_of(&ty, &self.kind_of())?;
        Ok(TableIndex::from_u32(table))
    }

    /// Where table `t`'s `VMTableDefinition` is: a base pointer and an offset from it.
    fn table_definition(&mut self, t: TableIndex) -> (Value, u32) {
        match self.env.module.defined_table_index(t) {
            Some(dt) => (self.vmctx, self.env.offsets.defined_table(dt)),
            None => {
                let import = self.env.offsets.imported_table(t) + VMOffsets::IMPORT_FROM;
                let flags = self.flags(Access::ReadOnly);
                (self.load_pointer(flags, self.vmctx, import), 0)
            }
        }
    }

    /// The current length (an `i64`) of table `t`, whose definition is at `definition +
    /// offset`: a constant when the table's size is fixed.
    fn table_length(&mut self, t: TableIndex, (definition, offset): (Value, u32)) -> Value {
        if let Some(size) = self.env.module.tables[t].fixed_size() {
            return self.builder.ins().iconst(I64, size as i64);
        }
        let flags = self.flags(Access::Vmctx);
        self.load_field(I64, flags, definition, offset + VMOffsets::TABLE_CURRENT_ELEMENTS)
    }

    /// The address of element `index` (an `i32` or an `i64`) of table `table`, trapping with
    /// `out of bounds table access` when it is past the end. Even speculatively, the address
    /// never points past the table.
    pub(super) fn table_entry_address(&mut self, table: u32, index: Value) -> Result<Value, CompileError> {
        let table = self.check_table(table)?;
        let (definition, offset) = self.table_definition(table);
        let length = self.table_length(table, (definition, offset));
        let index = self.zext64(index);
        let out_of_bounds = self.builder.ins().icmp(IntCC::UnsignedGreaterThanOrEqual, index, length);
        self.builder.ins().trapnz(out_of_bounds, abi::trap_code(Trap::TableOutOfBounds));
        // The elements of a table that never grows never move: load their address once.
        let flags = match self.env.module.tables[table].fixed_size() {
            Some(_) => self.flags(Access::ReadOnly).with_can_move(),
            None => self.flags(Access::Vmctx),
        };
        let elements = self.load_pointer(flags, definition, offset + VMOffsets::TABLE_BASE);
        let scaled = self.builder.ins().ishl_imm_u(index, i64::from(VMOffsets::PTR.trailing_zeros()));
        let address = self.builder.ins().iadd(elements, scaled);
        let null = self.builder.ins().iconst(self.pointer_type, 0);
        Ok(self.builder.ins().select_spectre_guard(out_of_bounds, null, address))
    }

    /// `ref.null`.
    pub(super) fn ref_null(&mut self) {
        let null = self.builder.ins().iconst(self.pointer_type, 0);
        self.push(null);
    }

    /// `ref.is_null`.
    pub(super) fn ref_is_null(&mut self) -> Result<(), CompileError> {
        let r = self.pop()?;
        let is_null = self.builder.ins().icmp_imm_u(IntCC::Equal, r, 0);
        let is_null = self.builder.ins().uextend(I32, is_null);
        self.push(is_null);
        Ok(())
    }

    /// `ref.as_non_null`.
    pub(super) fn ref_as_non_null(&mut self) -> Result<(), CompileError> {
        let r = self.pop()?;
        self.builder.ins().trapz(r, abi::trap_code(Trap::NullReference));
        self.push(r);
        Ok(())
    }

    /// `ref.func`: the address of the function's `VMFuncRef` — in this vmctx for a defined
    /// function, behind the import record for an imported one.
    pub(super) fn ref_func(&mut self, f: u32) -> Result<(), CompileError> {
        let f = FuncIndex::from_u32(f);
        let r = match self.env.module.defined_func_index(f) {
            Some(def) => self.builder.ins().iadd_imm_u(self.vmctx, i64::from(self.env.offsets.func_ref(def))),
            None => {
                let flags = self.flags(Access::ReadOnly);
                let record = self.env.offsets.imported_function(f) + VMOffsets::FUNCTION_IMPORT_FUNC_REF;
                self.load_pointer(flags, self.vmctx, record)
            }
        };
        self.push(r);
        Ok(())
    }

    /// `table.get`.
    pub(super) fn table_get(&mut self, table: u32) -> Result<(), CompileError> {
        let index = self.pop()?;
        let address = self.table_entry_address(table, index)?;
        let value = self.load_table_entry(table, index, address)?;
        self.push(value);
        Ok(())
    }

    /// `table.set`.
    pub(super) fn table_set(&mut self, table: u32) -> Result<(), CompileError> {
        let (index, value) = self.pop2()?;
        let address = self.table_entry_address(table, index)?;
        let value = if self.lazy_table(table)? { self.builder.ins().bor_imm_u(value, 1) } else { value };
        let flags = self.flags(Access::Table);
        self.builder.ins().store(flags, value, address, 0);
        Ok(())
    }

    /// `table.size`.
    pub(super) fn table_size(&mut self, table: u32) -> Result<(), CompileError> {
        let table = self.check_table(table)?;
        let definition = self.table_definition(table);
        let length = self.table_length(table, definition);
        let size = self.narrow_to(self.env.module.tables[table].index_type, length);
        self.push(size);
        Ok(())
    }
}
