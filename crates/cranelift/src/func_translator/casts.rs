//! Casts and GC's unboxed scalars: `ref.test`, `ref.cast`, `br_on_cast`, `br_on_cast_fail`,
//! `ref.i31`, `i31.get_s`/`get_u` and `ref.eq`, and the subtype check `call_indirect` makes.
//!
//! A test of a non-null reference against a heap type depends on its hierarchy:
//! - a function's canonical type id (in its `VMFuncRef`) is compared with the target's (in
//!   the vmctx's type ids); when they differ and the target is not final, the `is_subtype`
//!   builtin walks the declared supertypes;
//! - an extern or exception reference is of its top type, never of its bottom type;
//! - an `any` word with bit 0 set is an i31, which is `i31`, `eq` and `any`; one with low bits
//!   `0b10` an internalized extern reference, only `any`; any other is an object of the GC
//!   heap, `eq` and `any`, whose header says whether it is an array (`struct` or `array`)
//!   and its canonical type (a concrete type, compared as for functions).
//!
//! Null passes exactly when the target type is nullable.
use cranelift_codegen::ir::{InstBuilder, Value, condcodes::IntCC, types, types::I32};
use kiln_environ::{
    BuiltinFunction, CompileError, GC_ARRAY_BIT, GC_INFO_OFFSET, Trap, TypeIndex, TypeKind, VMOffsets, WasmHeapType,
    WasmRefType,
};

use super::regions::Access;
use super::stack::block_args;
use super::{FuncTranslator, internal};
use crate::abi;

impl FuncTranslator<'_, '_> {
    /// The heap type of an operator, as Kiln compiles it.
    fn operator_heap_type(&self, hty: wasmparser::HeapType) -> Result<WasmHeapType, CompileError> {
        WasmHeapType::from_wasmparser(hty, &self.kind_of())
    }

    /// Whether module type `t` may have declared subtypes.
    pub(super) fn may_have_subtypes(&self, t: TypeIndex) -> Result<bool, CompileError> {
        let ty = self
            .env
            .module
            .types
            .get(t)
            .ok_or_else(|| internal(format!("type {} is not in the module", t.as_u32())))?;
        Ok(!ty.is_final)
    }

    /// The canonical type id (an `i32`) of module type `t`, from this instance's vmctx.
    pub(super) fn type_id(&mut self, t: TypeIndex) -> Value {
        let readonly = self.flags(Access::ReadOnly);
        self.load_field(I32, readonly, self.vmctx, self.env.offsets.type_id(t))
    }

    /// Whether canonical type id `actual` (an `i32`) is module type `t` or one of its
    /// declared subtypes: an `i32` 0 or 1.
    pub(super) fn is_subtype_of_type(&mut self, actual: Value, t: TypeIndex) -> Result<Value, CompileError> {
        let expected = self.type_id(t);
        let equal = self.builder.ins().icmp(IntCC::Equal, actual, expected);
        let equal = self.builder.ins().uextend(I32, equal);
        if !self.may_have_subtypes(t)? {
            return Ok(equal);
        }
        let slow = self.builder.create_block();
        let done = self.builder.create_block();
        let result = self.builder.append_block_param(done, I32);
        self.builder.set_cold_block(slow);
        self.builder.ins().brif(equal, done, &[equal.into()], slow, &[]);
        self.builder.seal_block(slow);
        self.builder.switch_to_block(slow);
        let callee = self.builtin(BuiltinFunction::IsSubtype);
        let call = self.builder.ins().call(callee, &[self.vmctx, actual, expected]);
        let is_subtype =
            *self.builder.inst_results(call).first().ok_or_else(|| internal("is_subtype builtin without a result"))?;
        self.builder.ins().jump(done, &[is_subtype.into()]);
        self.builder.seal_block(done);
        self.builder.switch_to_block(done);
        Ok(result)
    }

    /// Whether the non-null reference `r` is of heap type `heap`: an `i32` 0 or 1.
    fn non_null_is_of(&mut self, r: Value, heap: WasmHeapType) -> Result<Value, CompileError> {
        use WasmHeapType as H;
        let constant = |this: &mut Self, b: bool| this.builder.ins().iconst(I32, i64::from(b));
        Ok(match heap {
            H::Func | H::Extern | H::Exn | H::Any => constant(self, true),
            H::NoFunc | H::NoExtern | H::NoExn | H::None => constant(self, false),
            H::I31 => {
                let bit = self.builder.ins().band_imm_u(r, 1);
                self.builder.ins().ireduce(I32, bit)
            }
            H::Eq => {
                let tag = self.builder.ins().band_imm_u(r, 3);
                let eq = self.builder.ins().icmp_imm_u(IntCC::NotEqual, tag, 2);
                self.builder.ins().uextend(I32, eq)
            }
            H::Concrete(TypeKind::Func, t) => {
                let readonly = self.flags(Access::ReadOnly);
                let actual = self.load_field(I32, readonly, r, VMOffsets::FUNC_REF_TYPE_INDEX);
                self.is_subtype_of_type(actual, t)?
            }
            H::Struct | H::Array | H::Concrete(..) => {
                // An object of the heap, then what its header says.
                let object = self.builder.create_block();
                let done = self.builder.create_block();
                let result = self.builder.append_block_param(done, I32);
                let tag = self.builder.ins().band_imm_u(r, 3);
                let no = self.builder.ins().iconst(I32, 0);
                self.builder.ins().brif(tag, done, &[no.into()], object, &[]);
                self.builder.seal_block(object);
                self.builder.switch_to_block(object);
                let is_of = match heap {
                    H::Concrete(_, t) => {
                        let actual = self.object_header(r, 0)?;
                        self.is_subtype_of_type(actual, t)?
                    }
                    _ => {
                        let info = self.object_header(r, GC_INFO_OFFSET)?;
                        let bit = self.builder.ins().band_imm_u(info, i64::from(GC_ARRAY_BIT));
                        let is_array = self.builder.ins().icmp_imm_u(IntCC::NotEqual, bit, 0);
                        let want = self.builder.ins().iconst(types::I8, i64::from(heap == H::Array));
                        let same = self.builder.ins().icmp(IntCC::Equal, is_array, want);
                        self.builder.ins().uextend(I32, same)
                    }
                };
                self.builder.ins().jump(done, &[is_of.into()]);
                self.builder.seal_block(done);
                self.builder.switch_to_block(done);
                result
            }
        })
    }

    /// Whether reference `r` is of type `ty`: an `i32` 0 or 1.
    fn is_of(&mut self, r: Value, ty: WasmRefType) -> Result<Value, CompileError> {
        let non_null = self.builder.create_block();
        let done = self.builder.create_block();
        let result = self.builder.append_block_param(done, I32);
        let if_null = self.builder.ins().iconst(I32, i64::from(ty.nullable));
        self.builder.ins().brif(r, non_null, &[], done, &[if_null.into()]);
        self.builder.seal_block(non_null);
        self.builder.switch_to_block(non_null);
        let is_of = self.non_null_is_of(r, ty.heap)?;
        self.builder.ins().jump(done, &[is_of.into()]);
        self.builder.seal_block(done);
        self.builder.switch_to_block(done);
        Ok(result)
    }

    /// `ref.test` (`ref.test null` when `nullable`).
    pub(super) fn ref_test(&mut self, hty: wasmparser::HeapType, nullable: bool) -> Result<(), CompileError> {
        let heap = self.operator_heap_type(hty)?;
        let r = self.pop()?;
        let result = self.is_of(r, WasmRefType { nullable, heap })?;
        self.push(result);
        Ok(())
    }

    /// `ref.cast` (`ref.cast null` when `nullable`): the reference, or a `cast failure` trap.
    pub(super) fn ref_cast(&mut self, hty: wasmparser::HeapType, nullable: bool) -> Result<(), CompileError> {
        let heap = self.operator_heap_type(hty)?;
        let r = self.pop()?;
        let ok = self.is_of(r, WasmRefType { nullable, heap })?;
        self.builder.ins().trapz(ok, abi::trap_code(Trap::CastFailure));
        self.push(r);
        Ok(())
    }

    /// `br_on_cast` (`on_fail` false) and `br_on_cast_fail` (true): branch with the operands
    /// and the reference when it is (is not) of type `to`, else fall through with it.
    pub(super) fn br_on_cast(
        &mut self,
        depth: u32,
        to: wasmparser::RefType,
        on_fail: bool,
    ) -> Result<(), CompileError> {
        let heap = self.operator_heap_type(to.heap_type())?;
        let r = *self.peekn(1)?.first().ok_or_else(|| internal("br_on_cast without an operand"))?;
        let is_of = self.is_of(r, WasmRefType { nullable: to.is_nullable(), heap })?;
        let (target, arity) = self.branch_target(depth)?;
        let args = block_args(self.peekn(arity)?);
        let fall_through = self.builder.create_block();
        if on_fail {
            self.builder.ins().brif(is_of, fall_through, &[], target, &args);
        } else {
            self.builder.ins().brif(is_of, target, &args, fall_through, &[]);
        }
        self.builder.seal_block(fall_through);
        self.builder.switch_to_block(fall_through);
        Ok(())
    }

    /// `ref.i31`: the low 31 bits of the `i32`, shifted up, with bit 0 set.
    pub(super) fn ref_i31(&mut self) -> Result<(), CompileError> {
        let v = self.pop()?;
        let wide = self.builder.ins().uextend(self.pointer_type, v);
        let shifted = self.builder.ins().ishl_imm_u(wide, 1);
        let masked = self.builder.ins().band_imm_u(shifted, 0xffff_fffe);
        let word = self.builder.ins().bor_imm_u(masked, 1);
        self.push(word);
        Ok(())
    }

    /// `i31.get_s` (`signed`) and `i31.get_u`: trap on null, else the 31 bits extended.
    pub(super) fn i31_get(&mut self, signed: bool) -> Result<(), CompileError> {
        let r = self.pop()?;
        self.builder.ins().trapz(r, abi::trap_code(Trap::NullI31Reference));
        let low = self.builder.ins().ireduce(I32, r);
        let v = if signed { self.builder.ins().sshr_imm_u(low, 1) } else { self.builder.ins().ushr_imm_u(low, 1) };
        self.push(v);
        Ok(())
    }

    /// `ref.eq`: the same reference (the same word: an i31's word is its value).
    pub(super) fn ref_eq(&mut self) -> Result<(), CompileError> {
        let (a, b) = self.pop2()?;
        let eq = self.builder.ins().icmp(IntCC::Equal, a, b);
        let eq = self.builder.ins().uextend(I32, eq);
        self.push(eq);
        Ok(())
    }
}
