//! Numeric operators: constants, integer and float arithmetic, comparisons, and conversions.
//! Most map one-to-one onto a Cranelift instruction whose semantics already match wasm's:
//! shifts and rotates mask their amount, `sdiv`/`udiv`/`srem`/`urem` trap on a zero divisor
//! and `sdiv` on overflow (while `srem` of `MIN` by -1 is 0), `fmin`/`fmax` follow wasm's NaN
//! and signed-zero rules, `fcvt_to_{s,u}int` trap with "invalid conversion to integer" on NaN
//! and "integer overflow" when out of range, and the `_sat` variants saturate. Comparisons
//! yield an `i8` that is widened to wasm's `i32` boolean.
use cranelift_codegen::ir::{
    InstBuilder, MemFlagsData, Type, Value,
    condcodes::{FloatCC, IntCC},
    immediates::{Ieee32, Ieee64},
    types::{F32, F64, I8, I16, I32, I64},
};
use cranelift_frontend::FunctionBuilder;
use kiln_environ::CompileError;
use wasmparser::Operator;

use super::FuncTranslator;

impl FuncTranslator<'_, '_> {
    /// Translate `op` if it is a numeric operator; `Ok(false)` if it is not one.
    pub(super) fn translate_numeric(&mut self, op: &Operator<'_>) -> Result<bool, CompileError> {
        use Operator as O;
        match *op {
            O::I32Const { value } => {
                let v = self.builder.ins().iconst(I32, i64::from(value as u32));
                self.push(v);
            }
            O::I64Const { value } => {
                let v = self.builder.ins().iconst(I64, value);
                self.push(v);
            }
            O::F32Const { value } => {
                let v = self.builder.ins().f32const(Ieee32::with_bits(value.bits()));
                self.push(v);
            }
            O::F64Const { value } => {
                let v = self.builder.ins().f64const(Ieee64::with_bits(value.bits()));
                self.push(v);
            }

            // Integer tests and comparisons.
            O::I32Eqz | O::I64Eqz => {
                let x = self.pop()?;
                let b = self.builder.ins().icmp_imm_u(IntCC::Equal, x, 0);
                self.push_bool(b);
            }
            O::I32Eq | O::I64Eq => self.icmp(IntCC::Equal)?,
            O::I32Ne | O::I64Ne => self.icmp(IntCC::NotEqual)?,
            O::I32LtS | O::I64LtS => self.icmp(IntCC::SignedLessThan)?,
            O::I32LtU | O::I64LtU => self.icmp(IntCC::UnsignedLessThan)?,
            O::I32GtS | O::I64GtS => self.icmp(IntCC::SignedGreaterThan)?,
            O::I32GtU | O::I64GtU => self.icmp(IntCC::UnsignedGreaterThan)?,
            O::I32LeS | O::I64LeS => self.icmp(IntCC::SignedLessThanOrEqual)?,
            O::I32LeU | O::I64LeU => self.icmp(IntCC::UnsignedLessThanOrEqual)?,
            O::I32GeS | O::I64GeS => self.icmp(IntCC::SignedGreaterThanOrEqual)?,
            O::I32GeU | O::I64GeU => self.icmp(IntCC::UnsignedGreaterThanOrEqual)?,

            // Float comparisons: all but `ne` are false on NaN, as FloatCC's ordered codes.
            O::F32Eq | O::F64Eq => self.fcmp(FloatCC::Equal)?,
            O::F32Ne | O::F64Ne => self.fcmp(FloatCC::NotEqual)?,
            O::F32Lt | O::F64Lt => self.fcmp(FloatCC::LessThan)?,
            O::F32Gt | O::F64Gt => self.fcmp(FloatCC::GreaterThan)?,
            O::F32Le | O::F64Le => self.fcmp(FloatCC::LessThanOrEqual)?,
            O::F32Ge | O::F64Ge => self.fcmp(FloatCC::GreaterThanOrEqual)?,

            // Integer arithmetic.
            O::I32Clz | O::I64Clz => self.unary(|b, x| b.ins().clz(x))?,
            O::I32Ctz | O::I64Ctz => self.unary(|b, x| b.ins().ctz(x))?,
            O::I32Popcnt | O::I64Popcnt => self.unary(|b, x| b.ins().popcnt(x))?,
            O::I32Add | O::I64Add => self.binary(|b, x, y| b.ins().iadd(x, y))?,
            O::I32Sub | O::I64Sub => self.binary(|b, x, y| b.ins().isub(x, y))?,
            O::I32Mul | O::I64Mul => self.binary(|b, x, y| b.ins().imul(x, y))?,
            O::I32DivS | O::I64DivS => self.binary(|b, x, y| b.ins().sdiv(x, y))?,
            O::I32DivU | O::I64DivU => self.binary(|b, x, y| b.ins().udiv(x, y))?,
            O::I32RemS | O::I64RemS => self.binary(|b, x, y| b.ins().srem(x, y))?,
            O::I32RemU | O::I64RemU => self.binary(|b, x, y| b.ins().urem(x, y))?,
            O::I32And | O::I64And => self.binary(|b, x, y| b.ins().band(x, y))?,
            O::I32Or | O::I64Or => self.binary(|b, x, y| b.ins().bor(x, y))?,
            O::I32Xor | O::I64Xor => self.binary(|b, x, y| b.ins().bxor(x, y))?,
            O::I32Shl | O::I64Shl => self.binary(|b, x, y| b.ins().ishl(x, y))?,
            O::I32ShrS | O::I64ShrS => self.binary(|b, x, y| b.ins().sshr(x, y))?,
            O::I32ShrU | O::I64ShrU => self.binary(|b, x, y| b.ins().ushr(x, y))?,
            O::I32Rotl | O::I64Rotl => self.binary(|b, x, y| b.ins().rotl(x, y))?,
            O::I32Rotr | O::I64Rotr => self.binary(|b, x, y| b.ins().rotr(x, y))?,

            // Float arithmetic.
            O::F32Abs | O::F64Abs => self.unary(|b, x| b.ins().fabs(x))?,
            O::F32Neg | O::F64Neg => self.unary(|b, x| b.ins().fneg(x))?,
            O::F32Ceil | O::F64Ceil => self.unary(|b, x| b.ins().ceil(x))?,
            O::F32Floor | O::F64Floor => self.unary(|b, x| b.ins().floor(x))?,
            O::F32Trunc | O::F64Trunc => self.unary(|b, x| b.ins().trunc(x))?,
            O::F32Nearest | O::F64Nearest => self.unary(|b, x| b.ins().nearest(x))?,
            O::F32Sqrt | O::F64Sqrt => self.unary(|b, x| b.ins().sqrt(x))?,
            O::F32Add | O::F64Add => self.binary(|b, x, y| b.ins().fadd(x, y))?,
            O::F32Sub | O::F64Sub => self.binary(|b, x, y| b.ins().fsub(x, y))?,
            O::F32Mul | O::F64Mul => self.binary(|b, x, y| b.ins().fmul(x, y))?,
            O::F32Div | O::F64Div => self.binary(|b, x, y| b.ins().fdiv(x, y))?,
            O::F32Min | O::F64Min => self.binary(|b, x, y| b.ins().fmin(x, y))?,
            O::F32Max | O::F64Max => self.binary(|b, x, y| b.ins().fmax(x, y))?,
            O::F32Copysign | O::F64Copysign => self.binary(|b, x, y| b.ins().fcopysign(x, y))?,

            // Integer width changes.
            O::I32WrapI64 => self.unary(|b, x| b.ins().ireduce(I32, x))?,
            O::I64ExtendI32S => self.unary(|b, x| b.ins().sextend(I64, x))?,
            O::I64ExtendI32U => self.unary(|b, x| b.ins().uextend(I64, x))?,
            O::I32Extend8S => self.sign_extend_low(I8, I32)?,
            O::I32Extend16S => self.sign_extend_low(I16, I32)?,
            O::I64Extend8S => self.sign_extend_low(I8, I64)?,
            O::I64Extend16S => self.sign_extend_low(I16, I64)?,
            O::I64Extend32S => self.sign_extend_low(I32, I64)?,

            // Float to integer, trapping.
            O::I32TruncF32S | O::I32TruncF64S => self.unary(|b, x| b.ins().fcvt_to_sint(I32, x))?,
            O::I32TruncF32U | O::I32TruncF64U => self.unary(|b, x| b.ins().fcvt_to_uint(I32, x))?,
            O::I64TruncF32S | O::I64TruncF64S => self.unary(|b, x| b.ins().fcvt_to_sint(I64, x))?,
            O::I64TruncF32U | O::I64TruncF64U => self.unary(|b, x| b.ins().fcvt_to_uint(I64, x))?,
            // Float to integer, saturating.
            O::I32TruncSatF32S | O::I32TruncSatF64S => self.unary(|b, x| b.ins().fcvt_to_sint_sat(I32, x))?,
            O::I32TruncSatF32U | O::I32TruncSatF64U => self.unary(|b, x| b.ins().fcvt_to_uint_sat(I32, x))?,
            O::I64TruncSatF32S | O::I64TruncSatF64S => self.unary(|b, x| b.ins().fcvt_to_sint_sat(I64, x))?,
            O::I64TruncSatF32U | O::I64TruncSatF64U => self.unary(|b, x| b.ins().fcvt_to_uint_sat(I64, x))?,
            // Integer to float.
            O::F32ConvertI32S | O::F32ConvertI64S => self.unary(|b, x| b.ins().fcvt_from_sint(F32, x))?,
            O::F32ConvertI32U | O::F32ConvertI64U => self.unary(|b, x| b.ins().fcvt_from_uint(F32, x))?,
            O::F64ConvertI32S | O::F64ConvertI64S => self.unary(|b, x| b.ins().fcvt_from_sint(F64, x))?,
            O::F64ConvertI32U | O::F64ConvertI64U => self.unary(|b, x| b.ins().fcvt_from_uint(F64, x))?,
            // Float to float.
            O::F32DemoteF64 => self.unary(|b, x| b.ins().fdemote(F32, x))?,
            O::F64PromoteF32 => self.unary(|b, x| b.ins().fpromote(F64, x))?,
            // Reinterpretations.
            O::I32ReinterpretF32 => self.bitcast(I32)?,
            O::I64ReinterpretF64 => self.bitcast(I64)?,
            O::F32ReinterpretI32 => self.bitcast(F32)?,
            O::F64ReinterpretI64 => self.bitcast(F64)?,

            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Push a Cranelift boolean (`i8` 0 or 1) as a wasm `i32`.
    fn push_bool(&mut self, b: Value) {
        let v = self.builder.ins().uextend(I32, b);
        self.push(v);
    }

    fn icmp(&mut self, cc: IntCC) -> Result<(), CompileError> {
        let (x, y) = self.pop2()?;
        let b = self.builder.ins().icmp(cc, x, y);
        self.push_bool(b);
        Ok(())
    }

    fn fcmp(&mut self, cc: FloatCC) -> Result<(), CompileError> {
        let (x, y) = self.pop2()?;
        let b = self.builder.ins().fcmp(cc, x, y);
        self.push_bool(b);
        Ok(())
    }

    fn unary(&mut self, f: impl FnOnce(&mut FunctionBuilder<'_>, Value) -> Value) -> Result<(), CompileError> {
        let x = self.pop()?;
        let v = f(&mut self.builder, x);
        self.push(v);
        Ok(())
    }

    fn binary(&mut self, f: impl FnOnce(&mut FunctionBuilder<'_>, Value, Value) -> Value) -> Result<(), CompileError> {
        let (x, y) = self.pop2()?;
        let v = f(&mut self.builder, x, y);
        self.push(v);
        Ok(())
    }

    /// Sign-extend the low `from` bits of the operand to the whole of `to`.
    fn sign_extend_low(&mut self, from: Type, to: Type) -> Result<(), CompileError> {
        self.unary(|b, x| {
            let low = b.ins().ireduce(from, x);
            b.ins().sextend(to, low)
        })
    }

    /// Reinterpret the operand's bits as type `to`.
    fn bitcast(&mut self, to: Type) -> Result<(), CompileError> {
        self.unary(|b, x| b.ins().bitcast(to, MemFlagsData::new(), x))
    }
}
