//! Bulk memory and table operators, each a call to a runtime builtin: `memory.copy`,
//! `memory.fill`, `memory.init`, `data.drop`, `table.grow`, `table.fill`, `table.copy`,
//! `table.init`, `elem.drop`. Builtins that can fail return 0 when the operation is out of
//! bounds, and the code traps with the operation's trap code (before any write: the runtime
//! checks bounds first, as the spec orders it).
use cranelift_codegen::ir::{InstBuilder, Value, types::I32, types::I64};
use kiln_environ::{BuiltinFunction, CompileError, Trap};

use super::{FuncTranslator, internal};
use crate::abi;

impl FuncTranslator<'_, '_> {
    /// Call `builtin` with the vmctx and `args`; its results.
    fn call_builtin(&mut self, builtin: BuiltinFunction, args: &[Value]) -> Vec<Value> {
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

    fn zext64(&mut self, v: Value) -> Value {
        self.builder.ins().uextend(I64, v)
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
        self.check_table(table)?;
        let (init, delta) = self.pop2()?;
        let table = self.i32_const(table);
        let old = *self
            .call_builtin(BuiltinFunction::TableGrow, &[table, delta, init])
            .first()
            .ok_or_else(|| internal("table_grow builtin without a result"))?;
        let old = self.grow_result(old);
        self.fuel_charge(delta);
        let old = self.builder.ins().ireduce(I32, old);
        self.push(old);
        Ok(())
    }

    /// `table.fill`.
    pub(super) fn table_fill(&mut self, table: u32) -> Result<(), CompileError> {
        self.check_table(table)?;
        let (dst, value, len) = self.pop3()?;
        let args = [self.i32_const(table), dst, value, len];
        self.call_checked_builtin(BuiltinFunction::TableFill, &args, Trap::TableOutOfBounds)?;
        self.fuel_charge(len);
        Ok(())
    }

    /// `table.copy`.
    pub(super) fn table_copy(&mut self, dst_table: u32, src_table: u32) -> Result<(), CompileError> {
        self.check_table(dst_table)?;
        self.check_table(src_table)?;
        let (dst, src, len) = self.pop3()?;
        let args = [self.i32_const(dst_table), self.i32_const(src_table), dst, src, len];
        self.call_checked_builtin(BuiltinFunction::TableCopy, &args, Trap::TableOutOfBounds)?;
        self.fuel_charge(len);
        Ok(())
    }

    /// `table.init`.
    pub(super) fn table_init(&mut self, elem: u32, table: u32) -> Result<(), CompileError> {
        self.check_table(table)?;
        let (dst, src, len) = self.pop3()?;
        let args = [self.i32_const(table), self.i32_const(elem), dst, src, len];
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
