//! Bulk memory and table operators, each a call to a runtime builtin: `memory.copy`,
//! `memory.fill`, `memory.init`, `data.drop`, `table.grow`, `table.fill`, `table.copy`,
//! `table.init`, `elem.drop`. Builtins that can fail return 0 when the operation is out of
//! bounds, and the code traps with the operation's trap code (before any write: the runtime
//! checks bounds first, as the spec orders it). Addresses, indices and lengths reach the
//! builtins as `u64`s, whether the memory or table they index is 32- or 64-bit.
use cranelift_codegen::ir::{InstBuilder, Value, condcodes::IntCC, types::I32, types::I64};
use kiln_environ::{BuiltinFunction, CompileError, Trap};

use super::{FuncTranslator, internal};
use crate::abi;

impl FuncTranslator<'_, '_> {
    /// Call `builtin` with the vmctx and `args`; its results.
    pub(super) fn call_builtin(&mut self, builtin: BuiltinFunction, args: &[Value]) -> Vec<Value> {
        let callee = self.builtin(builtin);
        let args = [&[self.vmctx][..], args].concat();
        let call = self.builder.ins().call(callee, &args);
        self.builder.inst_results(call).to_vec()
    }

    /// Call a builtin that returns 0 when the operation must trap with `trap`.
    fn call_checked_builtin(
        &mut self,
        builtin: BuiltinFunction,
        args: &[Value],
        trap: Trap,
    ) -> Result<(), CompileError> {
        let ok = *self
            .call_builtin(builtin, args)
            .first()
            .ok_or_else(|| internal(format!("builtin {} has no result", builtin.name())))?;
        self.builder.ins().trapz(ok, abi::trap_code(trap));
        Ok(())
    }

    fn i32_const(&mut self, v: u32) -> Value {
        self.builder.ins().iconst(I32, i64::from(v))
    }

    /// `memory.copy`.
    pub(super) fn memory_copy(&mut self, dst_mem: u32, src_mem: u32) -> Result<(), CompileError> {
        self.check_memory(dst_mem)?;
        self.check_memory(src_mem)?;
        let (dst, src, len) = self.pop3()?;
        let args =
            [self.i32_const(dst_mem), self.zext64(dst), self.i32_const(src_mem), self.zext64(src), self.zext64(len)];
        self.call_checked_builtin(BuiltinFunction::MemoryCopy, &args, Trap::MemoryOutOfBounds)?;
        self.fuel_charge_copy(len);
        Ok(())
    }

    /// `memory.fill`.
    pub(super) fn memory_fill(&mut self, mem: u32) -> Result<(), CompileError> {
        self.check_memory(mem)?;
        let (dst, value, len) = self.pop3()?;
        let args = [self.i32_const(mem), self.zext64(dst), value, self.zext64(len)];
        self.call_checked_builtin(BuiltinFunction::MemoryFill, &args, Trap::MemoryOutOfBounds)?;
        self.fuel_charge(len);
        Ok(())
    }

    /// `memory.init`.
    pub(super) fn memory_init(&mut self, data: u32, mem: u32) -> Result<(), CompileError> {
        self.check_memory(mem)?;
        let (dst, src, len) = self.pop3()?;
        let args = [self.i32_const(mem), self.i32_const(data), self.zext64(dst), src, len];
        self.call_checked_builtin(BuiltinFunction::MemoryInit, &args, Trap::MemoryOutOfBounds)?;
        self.fuel_charge_copy(len);
        Ok(())
    }

    /// `data.drop`.
    pub(super) fn data_drop(&mut self, data: u32) {
        let data = self.i32_const(data);
        self.call_builtin(BuiltinFunction::DataDrop, &[data]);
    }

    /// `table.grow`.
    pub(super) fn table_grow(&mut self, table: u32) -> Result<(), CompileError> {
        let index_type = self.env.module.tables[self.check_table(table)?].index_type;
        let (init, delta) = self.pop2()?;
        let table = self.i32_const(table);
        let delta = self.zext64(delta);
        let old = *self
            .call_builtin(BuiltinFunction::TableGrow, &[table, delta, init])
            .first()
            .ok_or_else(|| internal("table_grow builtin without a result"))?;
        let old = self.grow_result(old);
        if self.fuel.is_some() {
            // Elements are charged only when the table grew: a refused grow did no work.
            let failed = self.builder.ins().icmp_imm_s(IntCC::Equal, old, -1);
            let zero = self.builder.ins().iconst(I64, 0);
            let grown = self.builder.ins().select(failed, zero, delta);
            self.fuel_charge(grown);
        }
        let old = self.narrow_to(index_type, old);
        self.push(old);
        Ok(())
    }

    /// `table.fill`.
    pub(super) fn table_fill(&mut self, table: u32) -> Result<(), CompileError> {
        self.check_table(table)?;
        let (dst, value, len) = self.pop3()?;
        let args = [self.i32_const(table), self.zext64(dst), value, self.zext64(len)];
        self.call_checked_builtin(BuiltinFunction::TableFill, &args, Trap::TableOutOfBounds)?;
        self.fuel_charge(len);
        Ok(())
    }

    /// `table.copy`.
    pub(super) fn table_copy(&mut self, dst_table: u32, src_table: u32) -> Result<(), CompileError> {
        self.check_table(dst_table)?;
        self.check_table(src_table)?;
        let (dst, src, len) = self.pop3()?;
        let args = [
            self.i32_const(dst_table),
            self.i32_const(src_table),
            self.zext64(dst),
            self.zext64(src),
            self.zext64(len),
        ];
        self.call_checked_builtin(BuiltinFunction::TableCopy, &args, Trap::TableOutOfBounds)?;
        self.fuel_charge(len);
        Ok(())
    }

    /// `table.init`.
    pub(super) fn table_init(&mut self, elem: u32, table: u32) -> Result<(), CompileError> {
        self.check_table(table)?;
        let (dst, src, len) = self.pop3()?;
        let args = [self.i32_const(table), self.i32_const(elem), self.zext64(dst), src, len];
        self.call_checked_builtin(BuiltinFunction::TableInit, &args, Trap::TableOutOfBounds)?;
        self.fuel_charge(len);
        Ok(())
    }

    /// `elem.drop`.
    pub(super) fn elem_drop(&mut self, elem: u32) {
        let elem = self.i32_const(elem);
        self.call_builtin(BuiltinFunction::ElemDrop, &[elem]);
    }
}
