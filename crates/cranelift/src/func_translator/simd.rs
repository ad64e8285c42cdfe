//! SIMD: the `v128` operators of WebAssembly 2.0 (relaxed SIMD is in `relaxed_simd.rs`). Every `v128`
//! value Kiln keeps — on the operand stack, in locals, block parameters, call arguments and
//! results, globals — has the one IR type `I8X16`, so values of any lane shape can meet at a
//! join. An operator that works on other lanes bitcasts its operands (little-endian lane order,
//! as wasm defines it) to the lane type it needs and its result back to `I8X16`; Cranelift
//! removes the casts that cancel out.
//!
//! Most operators map onto one Cranelift instruction with wasm's semantics: vector shifts take
//! their amount modulo the lane width, `fmin`/`fmax` follow wasm's NaN rules, `swizzle` yields
//! 0 for out-of-range indices, `unarrow` narrows signed lanes with unsigned saturation. The
//! rest are written as the instruction patterns the backends recognise: `pmin`/`pmax` as a
//! `bitselect` on an ordered `<` (which is not `fmin`/`fmax`), `dot` and `extadd_pairwise` as
//! `iadd_pairwise` of widened lanes, `trunc_sat_f64x2_*_zero` as a 64-bit saturating
//! conversion narrowed against a zero vector. Memory accesses go through the same bounds
//! checks as scalar ones, with the number of bytes each one really reads or writes.
use cranelift_codegen::ir::{
    ConstantData, Endianness, InstBuilder, MemFlagsData, Type, Value,
    condcodes::{FloatCC, IntCC},
    types::{F32X4, F64X2, I8, I8X16, I16, I16X8, I32, I32X4, I64X2},
};
use cranelift_frontend::FunctionBuilder;
use kiln_environ::CompileError;
use wasmparser::{MemArg, Operator};

use super::FuncTranslator;
use super::regions::Access;

/// The flags of a bitcast between vector shapes: wasm numbers lanes little-endian.
fn lane_order() -> MemFlagsData {
    MemFlagsData::new().with_endianness(Endianness::Little)
}

/// How a lane-narrowing or widening load extends the bytes it reads.
#[derive(Clone, Copy)]
enum Widen {
    S8x8,
    U8x8,
    S16x4,
    U16x4,
    S32x2,
    U32x2,
}

impl FuncTranslator<'_, '_> {
    /// Translate `op` if it is a (strict) SIMD operator; `Ok(false)` if it is not one.
    pub(super) fn translate_simd(&mut self, op: &Operator<'_>) -> Result<bool, CompileError> {
        use Operator as O;
        match *op {
            O::V128Const { value } => {
                let constant = self.builder.func.dfg.constants.insert(ConstantData::from(value.bytes().to_vec()));
                let v = self.builder.ins().vconst(I8X16, constant);
                self.push(v);
            }

            // Memory.
            O::V128Load { memarg } => {
                let (address, offset, flags) = self.vector_access(op, &memarg, 16)?;
                let v = self.builder.ins().load(I8X16, flags, address, offset);
                self.push(v);
            }
            O::V128Load8x8S { memarg } => self.load_widen(op, &memarg, Widen::S8x8)?,
            O::V128Load8x8U { memarg } => self.load_widen(op, &memarg, Widen::U8x8)?,
            O::V128Load16x4S { memarg } => self.load_widen(op, &memarg, Widen::S16x4)?,
            O::V128Load16x4U { memarg } => self.load_widen(op, &memarg, Widen::U16x4)?,
            O::V128Load32x2S { memarg } => self.load_widen(op, &memarg, Widen::S32x2)?,
            O::V128Load32x2U { memarg } => self.load_widen(op, &memarg, Widen::U32x2)?,
            O::V128Load8Splat { memarg } => self.load_one_lane(op, &memarg, I8X16, true)?,
            O::V128Load16Splat { memarg } => self.load_one_lane(op, &memarg, I16X8, true)?,
            O::V128Load32Splat { memarg } => self.load_one_lane(op, &memarg, I32X4, true)?,
            O::V128Load64Splat { memarg } => self.load_one_lane(op, &memarg, I64X2, true)?,
            O::V128Load32Zero { memarg } => self.load_one_lane(op, &memarg, I32X4, false)?,
            O::V128Load64Zero { memarg } => self.load_one_lane(op, &memarg, I64X2, false)?,
            O::V128Load8Lane { memarg, lane } => self.load_lane(op, &memarg, I8X16, lane)?,
            O::V128Load16Lane { memarg, lane } => self.load_lane(op, &memarg, I16X8, lane)?,
            O::V128Load32Lane { memarg, lane } => self.load_lane(op, &memarg, I32X4, lane)?,
            O::V128Load64Lane { memarg, lane } => self.load_lane(op, &memarg, I64X2, lane)?,
            O::V128Store { memarg } => {
                let value = self.pop()?;
                let (address, offset, flags) = self.vector_access(op, &memarg, 16)?;
                self.builder.ins().store(flags, value, address, offset);
            }
            O::V128Store8Lane { memarg, lane } => self.store_lane(op, &memarg, I8X16, lane)?,
            O::V128Store16Lane { memarg, lane } => self.store_lane(op, &memarg, I16X8, lane)?,
            O::V128Store32Lane { memarg, lane } => self.store_lane(op, &memarg, I32X4, lane)?,
            O::V128Store64Lane { memarg, lane } => self.store_lane(op, &memarg, I64X2, lane)?,

            // Lanes.
            O::I8x16Shuffle { lanes } => {
                let (a, b) = self.pop2()?;
                let mask = self.builder.func.dfg.immediates.push(ConstantData::from(lanes.to_vec()));
                let v = self.builder.ins().shuffle(a, b, mask);
                self.push(v);
            }
            O::I8x16Swizzle => self.v_binary(I8X16, |b, x, y| b.ins().swizzle(x, y))?,
            O::I8x16Splat => self.splat(I8X16)?,
            O::I16x8Splat => self.splat(I16X8)?,
            O::I32x4Splat => self.splat(I32X4)?,
            O::I64x2Splat => self.splat(I64X2)?,
            O::F32x4Splat => self.splat(F32X4)?,
            O::F64x2Splat => self.splat(F64X2)?,
            O::I8x16ExtractLaneS { lane } => self.extract_lane(I8X16, lane, Some(true))?,
            O::I8x16ExtractLaneU { lane } => self.extract_lane(I8X16, lane, Some(false))?,
            O::I16x8ExtractLaneS { lane } => self.extract_lane(I16X8, lane, Some(true))?,
            O::I16x8ExtractLaneU { lane } => self.extract_lane(I16X8, lane, Some(false))?,
            O::I32x4ExtractLane { lane } => self.extract_lane(I32X4, lane, None)?,
            O::I64x2ExtractLane { lane } => self.extract_lane(I64X2, lane, None)?,
            O::F32x4ExtractLane { lane } => self.extract_lane(F32X4, lane, None)?,
            O::F64x2ExtractLane { lane } => self.extract_lane(F64X2, lane, None)?,
            O::I8x16ReplaceLane { lane } => self.replace_lane(I8X16, lane)?,
            O::I16x8ReplaceLane { lane } => self.replace_lane(I16X8, lane)?,
            O::I32x4ReplaceLane { lane } => self.replace_lane(I32X4, lane)?,
            O::I64x2ReplaceLane { lane } => self.replace_lane(I64X2, lane)?,
            O::F32x4ReplaceLane { lane } => self.replace_lane(F32X4, lane)?,
            O::F64x2ReplaceLane { lane } => self.replace_lane(F64X2, lane)?,

            // Integer comparisons.
            O::I8x16Eq => self.v_icmp(I8X16, IntCC::Equal)?,
            O::I8x16Ne => self.v_icmp(I8X16, IntCC::NotEqual)?,
            O::I8x16LtS => self.v_icmp(I8X16, IntCC::SignedLessThan)?,
            O::I8x16LtU => self.v_icmp(I8X16, IntCC::UnsignedLessThan)?,
            O::I8x16GtS => self.v_icmp(I8X16, IntCC::SignedGreaterThan)?,
            O::I8x16GtU => self.v_icmp(I8X16, IntCC::UnsignedGreaterThan)?,
            O::I8x16LeS => self.v_icmp(I8X16, IntCC::SignedLessThanOrEqual)?,
            O::I8x16LeU => self.v_icmp(I8X16, IntCC::UnsignedLessThanOrEqual)?,
            O::I8x16GeS => self.v_icmp(I8X16, IntCC::SignedGreaterThanOrEqual)?,
            O::I8x16GeU => self.v_icmp(I8X16, IntCC::UnsignedGreaterThanOrEqual)?,
            O::I16x8Eq => self.v_icmp(I16X8, IntCC::Equal)?,
            O::I16x8Ne => self.v_icmp(I16X8, IntCC::NotEqual)?,
            O::I16x8LtS => self.v_icmp(I16X8, IntCC::SignedLessThan)?,
            O::I16x8LtU => self.v_icmp(I16X8, IntCC::UnsignedLessThan)?,
            O::I16x8GtS => self.v_icmp(I16X8, IntCC::SignedGreaterThan)?,
            O::I16x8GtU => self.v_icmp(I16X8, IntCC::UnsignedGreaterThan)?,
            O::I16x8LeS => self.v_icmp(I16X8, IntCC::SignedLessThanOrEqual)?,
            O::I16x8LeU => self.v_icmp(I16X8, IntCC::UnsignedLessThanOrEqual)?,
            O::I16x8GeS => self.v_icmp(I16X8, IntCC::SignedGreaterThanOrEqual)?,
            O::I16x8GeU => self.v_icmp(I16X8, IntCC::UnsignedGreaterThanOrEqual)?,
            O::I32x4Eq => self.v_icmp(I32X4, IntCC::Equal)?,
            O::I32x4Ne => self.v_icmp(I32X4, IntCC::NotEqual)?,
            O::I32x4LtS => self.v_icmp(I32X4, IntCC::SignedLessThan)?,
            O::I32x4LtU => self.v_icmp(I32X4, IntCC::UnsignedLessThan)?,
            O::I32x4GtS => self.v_icmp(I32X4, IntCC::SignedGreaterThan)?,
            O::I32x4GtU => self.v_icmp(I32X4, IntCC::UnsignedGreaterThan)?,
            O::I32x4LeS => self.v_icmp(I32X4, IntCC::SignedLessThanOrEqual)?,
            O::I32x4LeU => self.v_icmp(I32X4, IntCC::UnsignedLessThanOrEqual)?,
            O::I32x4GeS => self.v_icmp(I32X4, IntCC::SignedGreaterThanOrEqual)?,
            O::I32x4GeU => self.v_icmp(I32X4, IntCC::UnsignedGreaterThanOrEqual)?,
            O::I64x2Eq => self.v_icmp(I64X2, IntCC::Equal)?,
            O::I64x2Ne => self.v_icmp(I64X2, IntCC::NotEqual)?,
            O::I64x2LtS => self.v_icmp(I64X2, IntCC::SignedLessThan)?,
            O::I64x2GtS => self.v_icmp(I64X2, IntCC::SignedGreaterThan)?,
            O::I64x2LeS => self.v_icmp(I64X2, IntCC::SignedLessThanOrEqual)?,
            O::I64x2GeS => self.v_icmp(I64X2, IntCC::SignedGreaterThanOrEqual)?,

            // Float comparisons: all but `ne` are false on NaN, as FloatCC's ordered codes.
            O::F32x4Eq => self.v_fcmp(F32X4, FloatCC::Equal)?,
            O::F32x4Ne => self.v_fcmp(F32X4, FloatCC::NotEqual)?,
            O::F32x4Lt => self.v_fcmp(F32X4, FloatCC::LessThan)?,
            O::F32x4Gt => self.v_fcmp(F32X4, FloatCC::GreaterThan)?,
            O::F32x4Le => self.v_fcmp(F32X4, FloatCC::LessThanOrEqual)?,
            O::F32x4Ge => self.v_fcmp(F32X4, FloatCC::GreaterThanOrEqual)?,
            O::F64x2Eq => self.v_fcmp(F64X2, FloatCC::Equal)?,
            O::F64x2Ne => self.v_fcmp(F64X2, FloatCC::NotEqual)?,
            O::F64x2Lt => self.v_fcmp(F64X2, FloatCC::LessThan)?,
            O::F64x2Gt => self.v_fcmp(F64X2, FloatCC::GreaterThan)?,
            O::F64x2Le => self.v_fcmp(F64X2, FloatCC::LessThanOrEqual)?,
            O::F64x2Ge => self.v_fcmp(F64X2, FloatCC::GreaterThanOrEqual)?,

            // Bitwise operators and tests.
            O::V128Not => self.v_unary(I8X16, |b, x| b.ins().bnot(x))?,
            O::V128And => self.v_binary(I8X16, |b, x, y| b.ins().band(x, y))?,
            O::V128AndNot => self.v_binary(I8X16, |b, x, y| b.ins().band_not(x, y))?,
            O::V128Or => self.v_binary(I8X16, |b, x, y| b.ins().bor(x, y))?,
            O::V128Xor => self.v_binary(I8X16, |b, x, y| b.ins().bxor(x, y))?,
            O::V128Bitselect => {
                // wasm's operands are (v1, v2, mask); Cranelift's are (mask, v1, v2).
                let (x, y, mask) = self.pop3()?;
                let v = self.builder.ins().bitselect(mask, x, y);
                self.push(v);
            }
            O::V128AnyTrue => {
                let x = self.pop()?;
                let b = self.builder.ins().vany_true(x);
                let v = self.builder.ins().uextend(I32, b);
                self.push(v);
            }
            O::I8x16AllTrue => self.all_true(I8X16)?,
            O::I16x8AllTrue => self.all_true(I16X8)?,
            O::I32x4AllTrue => self.all_true(I32X4)?,
            O::I64x2AllTrue => self.all_true(I64X2)?,
            O::I8x16Bitmask => self.bitmask(I8X16)?,
            O::I16x8Bitmask => self.bitmask(I16X8)?,
            O::I32x4Bitmask => self.bitmask(I32X4)?,
            O::I64x2Bitmask => self.bitmask(I64X2)?,

            // Integer arithmetic.
            O::I8x16Abs => self.v_unary(I8X16, |b, x| b.ins().iabs(x))?,
            O::I16x8Abs => self.v_unary(I16X8, |b, x| b.ins().iabs(x))?,
            O::I32x4Abs => self.v_unary(I32X4, |b, x| b.ins().iabs(x))?,
            O::I64x2Abs => self.v_unary(I64X2, |b, x| b.ins().iabs(x))?,
            O::I8x16Neg => self.v_unary(I8X16, |b, x| b.ins().ineg(x))?,
            O::I16x8Neg => self.v_unary(I16X8, |b, x| b.ins().ineg(x))?,
            O::I32x4Neg => self.v_unary(I32X4, |b, x| b.ins().ineg(x))?,
            O::I64x2Neg => self.v_unary(I64X2, |b, x| b.ins().ineg(x))?,
            O::I8x16Popcnt => self.v_unary(I8X16, |b, x| b.ins().popcnt(x))?,
            O::I8x16Add => self.v_binary(I8X16, |b, x, y| b.ins().iadd(x, y))?,
            O::I16x8Add => self.v_binary(I16X8, |b, x, y| b.ins().iadd(x, y))?,
            O::I32x4Add => self.v_binary(I32X4, |b, x, y| b.ins().iadd(x, y))?,
            O::I64x2Add => self.v_binary(I64X2, |b, x, y| b.ins().iadd(x, y))?,
            O::I8x16Sub => self.v_binary(I8X16, |b, x, y| b.ins().isub(x, y))?,
            O::I16x8Sub => self.v_binary(I16X8, |b, x, y| b.ins().isub(x, y))?,
            O::I32x4Sub => self.v_binary(I32X4, |b, x, y| b.ins().isub(x, y))?,
            O::I64x2Sub => self.v_binary(I64X2, |b, x, y| b.ins().isub(x, y))?,
            O::I16x8Mul => self.v_binary(I16X8, |b, x, y| b.ins().imul(x, y))?,
            O::I32x4Mul => self.v_binary(I32X4, |b, x, y| b.ins().imul(x, y))?,
            O::I64x2Mul => self.v_binary(I64X2, |b, x, y| b.ins().imul(x, y))?,
            O::I8x16AddSatS => self.v_binary(I8X16, |b, x, y| b.ins().sadd_sat(x, y))?,
            O::I8x16AddSatU => self.v_binary(I8X16, |b, x, y| b.ins().uadd_sat(x, y))?,
            O::I8x16SubSatS => self.v_binary(I8X16, |b, x, y| b.ins().ssub_sat(x, y))?,
            O::I8x16SubSatU => self.v_binary(I8X16, |b, x, y| b.ins().usub_sat(x, y))?,
            O::I16x8AddSatS => self.v_binary(I16X8, |b, x, y| b.ins().sadd_sat(x, y))?,
            O::I16x8AddSatU => self.v_binary(I16X8, |b, x, y| b.ins().uadd_sat(x, y))?,
            O::I16x8SubSatS => self.v_binary(I16X8, |b, x, y| b.ins().ssub_sat(x, y))?,
            O::I16x8SubSatU => self.v_binary(I16X8, |b, x, y| b.ins().usub_sat(x, y))?,
            O::I8x16MinS => self.v_binary(I8X16, |b, x, y| b.ins().smin(x, y))?,
            O::I8x16MinU => self.v_binary(I8X16, |b, x, y| b.ins().umin(x, y))?,
            O::I8x16MaxS => self.v_binary(I8X16, |b, x, y| b.ins().smax(x, y))?,
            O::I8x16MaxU => self.v_binary(I8X16, |b, x, y| b.ins().umax(x, y))?,
            O::I16x8MinS => self.v_binary(I16X8, |b, x, y| b.ins().smin(x, y))?,
            O::I16x8MinU => self.v_binary(I16X8, |b, x, y| b.ins().umin(x, y))?,
            O::I16x8MaxS => self.v_binary(I16X8, |b, x, y| b.ins().smax(x, y))?,
            O::I16x8MaxU => self.v_binary(I16X8, |b, x, y| b.ins().umax(x, y))?,
            O::I32x4MinS => self.v_binary(I32X4, |b, x, y| b.ins().smin(x, y))?,
            O::I32x4MinU => self.v_binary(I32X4, |b, x, y| b.ins().umin(x, y))?,
            O::I32x4MaxS => self.v_binary(I32X4, |b, x, y| b.ins().smax(x, y))?,
            O::I32x4MaxU => self.v_binary(I32X4, |b, x, y| b.ins().umax(x, y))?,
            O::I8x16AvgrU => self.v_binary(I8X16, |b, x, y| b.ins().avg_round(x, y))?,
            O::I16x8AvgrU => self.v_binary(I16X8, |b, x, y| b.ins().avg_round(x, y))?,
            O::I16x8Q15MulrSatS => self.v_binary(I16X8, |b, x, y| b.ins().sqmul_round_sat(x, y))?,
            O::I32x4DotI16x8S => self.v_binary(I16X8, |b, x, y| {
                let xl = b.ins().swiden_low(x);
                let yl = b.ins().swiden_low(y);
                let low = b.ins().imul(xl, yl);
                let xh = b.ins().swiden_high(x);
                let yh = b.ins().swiden_high(y);
                let high = b.ins().imul(xh, yh);
                b.ins().iadd_pairwise(low, high)
            })?,

            // Shifts: Cranelift takes a vector shift's amount modulo the lane width, as wasm.
            O::I8x16Shl => self.v_shift(I8X16, |b, x, n| b.ins().ishl(x, n))?,
            O::I16x8Shl => self.v_shift(I16X8, |b, x, n| b.ins().ishl(x, n))?,
            O::I32x4Shl => self.v_shift(I32X4, |b, x, n| b.ins().ishl(x, n))?,
            O::I64x2Shl => self.v_shift(I64X2, |b, x, n| b.ins().ishl(x, n))?,
            O::I8x16ShrS => self.v_shift(I8X16, |b, x, n| b.ins().sshr(x, n))?,
            O::I16x8ShrS => self.v_shift(I16X8, |b, x, n| b.ins().sshr(x, n))?,
            O::I32x4ShrS => self.v_shift(I32X4, |b, x, n| b.ins().sshr(x, n))?,
            O::I64x2ShrS => self.v_shift(I64X2, |b, x, n| b.ins().sshr(x, n))?,
            O::I8x16ShrU => self.v_shift(I8X16, |b, x, n| b.ins().ushr(x, n))?,
            O::I16x8ShrU => self.v_shift(I16X8, |b, x, n| b.ins().ushr(x, n))?,
            O::I32x4ShrU => self.v_shift(I32X4, |b, x, n| b.ins().ushr(x, n))?,
            O::I64x2ShrU => self.v_shift(I64X2, |b, x, n| b.ins().ushr(x, n))?,

            // Narrowing (signed inputs, saturating) and widening.
            O::I8x16NarrowI16x8S => self.v_binary(I16X8, |b, x, y| b.ins().snarrow(x, y))?,
            O::I8x16NarrowI16x8U => self.v_binary(I16X8, |b, x, y| b.ins().unarrow(x, y))?,
            O::I16x8NarrowI32x4S => self.v_binary(I32X4, |b, x, y| b.ins().snarrow(x, y))?,
            O::I16x8NarrowI32x4U => self.v_binary(I32X4, |b, x, y| b.ins().unarrow(x, y))?,
            O::I16x8ExtendLowI8x16S => self.v_unary(I8X16, |b, x| b.ins().swiden_low(x))?,
            O::I16x8ExtendHighI8x16S => self.v_unary(I8X16, |b, x| b.ins().swiden_high(x))?,
            O::I16x8ExtendLowI8x16U => self.v_unary(I8X16, |b, x| b.ins().uwiden_low(x))?,
            O::I16x8ExtendHighI8x16U => self.v_unary(I8X16, |b, x| b.ins().uwiden_high(x))?,
            O::I32x4ExtendLowI16x8S => self.v_unary(I16X8, |b, x| b.ins().swiden_low(x))?,
            O::I32x4ExtendHighI16x8S => self.v_unary(I16X8, |b, x| b.ins().swiden_high(x))?,
            O::I32x4ExtendLowI16x8U => self.v_unary(I16X8, |b, x| b.ins().uwiden_low(x))?,
            O::I32x4ExtendHighI16x8U => self.v_unary(I16X8, |b, x| b.ins().uwiden_high(x))?,
            O::I64x2ExtendLowI32x4S => self.v_unary(I32X4, |b, x| b.ins().swiden_low(x))?,
            O::I64x2ExtendHighI32x4S => self.v_unary(I32X4, |b, x| b.ins().swiden_high(x))?,
            O::I64x2ExtendLowI32x4U => self.v_unary(I32X4, |b, x| b.ins().uwiden_low(x))?,
            O::I64x2ExtendHighI32x4U => self.v_unary(I32X4, |b, x| b.ins().uwiden_high(x))?,

            // Extending multiplication and pairwise addition.
            O::I16x8ExtMulLowI8x16S => self.ext_mul(I8X16, Half::Low, true)?,
            O::I16x8ExtMulHighI8x16S => self.ext_mul(I8X16, Half::High, true)?,
            O::I16x8ExtMulLowI8x16U => self.ext_mul(I8X16, Half::Low, false)?,
            O::I16x8ExtMulHighI8x16U => self.ext_mul(I8X16, Half::High, false)?,
            O::I32x4ExtMulLowI16x8S => self.ext_mul(I16X8, Half::Low, true)?,
            O::I32x4ExtMulHighI16x8S => self.ext_mul(I16X8, Half::High, true)?,
            O::I32x4ExtMulLowI16x8U => self.ext_mul(I16X8, Half::Low, false)?,
            O::I32x4ExtMulHighI16x8U => self.ext_mul(I16X8, Half::High, false)?,
            O::I64x2ExtMulLowI32x4S => self.ext_mul(I32X4, Half::Low, true)?,
            O::I64x2ExtMulHighI32x4S => self.ext_mul(I32X4, Half::High, true)?,
            O::I64x2ExtMulLowI32x4U => self.ext_mul(I32X4, Half::Low, false)?,
            O::I64x2ExtMulHighI32x4U => self.ext_mul(I32X4, Half::High, false)?,
            O::I16x8ExtAddPairwiseI8x16S => self.ext_add_pairwise(I8X16, true)?,
            O::I16x8ExtAddPairwiseI8x16U => self.ext_add_pairwise(I8X16, false)?,
            O::I32x4ExtAddPairwiseI16x8S => self.ext_add_pairwise(I16X8, true)?,
            O::I32x4ExtAddPairwiseI16x8U => self.ext_add_pairwise(I16X8, false)?,

            // Float arithmetic.
            O::F32x4Ceil => self.v_unary(F32X4, |b, x| b.ins().ceil(x))?,
            O::F64x2Ceil => self.v_unary(F64X2, |b, x| b.ins().ceil(x))?,
            O::F32x4Floor => self.v_unary(F32X4, |b, x| b.ins().floor(x))?,
            O::F64x2Floor => self.v_unary(F64X2, |b, x| b.ins().floor(x))?,
            O::F32x4Trunc => self.v_unary(F32X4, |b, x| b.ins().trunc(x))?,
            O::F64x2Trunc => self.v_unary(F64X2, |b, x| b.ins().trunc(x))?,
            O::F32x4Nearest => self.v_unary(F32X4, |b, x| b.ins().nearest(x))?,
            O::F64x2Nearest => self.v_unary(F64X2, |b, x| b.ins().nearest(x))?,
            O::F32x4Abs => self.v_unary(F32X4, |b, x| b.ins().fabs(x))?,
            O::F64x2Abs => self.v_unary(F64X2, |b, x| b.ins().fabs(x))?,
            O::F32x4Neg => self.v_unary(F32X4, |b, x| b.ins().fneg(x))?,
            O::F64x2Neg => self.v_unary(F64X2, |b, x| b.ins().fneg(x))?,
            O::F32x4Sqrt => self.v_unary(F32X4, |b, x| b.ins().sqrt(x))?,
            O::F64x2Sqrt => self.v_unary(F64X2, |b, x| b.ins().sqrt(x))?,
            O::F32x4Add => self.v_binary(F32X4, |b, x, y| b.ins().fadd(x, y))?,
            O::F64x2Add => self.v_binary(F64X2, |b, x, y| b.ins().fadd(x, y))?,
            O::F32x4Sub => self.v_binary(F32X4, |b, x, y| b.ins().fsub(x, y))?,
            O::F64x2Sub => self.v_binary(F64X2, |b, x, y| b.ins().fsub(x, y))?,
            O::F32x4Mul => self.v_binary(F32X4, |b, x, y| b.ins().fmul(x, y))?,
            O::F64x2Mul => self.v_binary(F64X2, |b, x, y| b.ins().fmul(x, y))?,
            O::F32x4Div => self.v_binary(F32X4, |b, x, y| b.ins().fdiv(x, y))?,
            O::F64x2Div => self.v_binary(F64X2, |b, x, y| b.ins().fdiv(x, y))?,
            O::F32x4Min => self.v_binary(F32X4, |b, x, y| b.ins().fmin(x, y))?,
            O::F64x2Min => self.v_binary(F64X2, |b, x, y| b.ins().fmin(x, y))?,
            O::F32x4Max => self.v_binary(F32X4, |b, x, y| b.ins().fmax(x, y))?,
            O::F64x2Max => self.v_binary(F64X2, |b, x, y| b.ins().fmax(x, y))?,
            // pmin(a, b) = b < a ? b : a; pmax(a, b) = a < b ? b : a.
            O::F32x4PMin => self.v_binary(F32X4, |b, x, y| pseudo_min_max(b, y, x, y, x))?,
            O::F64x2PMin => self.v_binary(F64X2, |b, x, y| pseudo_min_max(b, y, x, y, x))?,
            O::F32x4PMax => self.v_binary(F32X4, |b, x, y| pseudo_min_max(b, x, y, y, x))?,
            O::F64x2PMax => self.v_binary(F64X2, |b, x, y| pseudo_min_max(b, x, y, y, x))?,

            // Conversions.
            O::I32x4TruncSatF32x4S => self.v_unary(F32X4, |b, x| b.ins().fcvt_to_sint_sat(I32X4, x))?,
            O::I32x4TruncSatF32x4U => self.v_unary(F32X4, |b, x| b.ins().fcvt_to_uint_sat(I32X4, x))?,
            O::F32x4ConvertI32x4S => self.v_unary(I32X4, |b, x| b.ins().fcvt_from_sint(F32X4, x))?,
            O::F32x4ConvertI32x4U => self.v_unary(I32X4, |b, x| b.ins().fcvt_from_uint(F32X4, x))?,
            O::I32x4TruncSatF64x2SZero => self.v_unary(F64X2, |b, x| {
                let wide = b.ins().fcvt_to_sint_sat(I64X2, x);
                let zero = vector_zero(b, I64X2);
                b.ins().snarrow(wide, zero)
            })?,
            O::I32x4TruncSatF64x2UZero => self.v_unary(F64X2, |b, x| {
                let wide = b.ins().fcvt_to_uint_sat(I64X2, x);
                let zero = vector_zero(b, I64X2);
                b.ins().uunarrow(wide, zero)
            })?,
            O::F64x2ConvertLowI32x4S => self.v_unary(I32X4, |b, x| {
                let wide = b.ins().swiden_low(x);
                b.ins().fcvt_from_sint(F64X2, wide)
            })?,
            O::F64x2ConvertLowI32x4U => self.v_unary(I32X4, |b, x| {
                let wide = b.ins().uwiden_low(x);
                b.ins().fcvt_from_uint(F64X2, wide)
            })?,
            O::F32x4DemoteF64x2Zero => self.v_unary(F64X2, |b, x| b.ins().fvdemote(x))?,
            O::F64x2PromoteLowF32x4 => self.v_unary(F32X4, |b, x| b.ins().fvpromote_low(x))?,

            _ => return Ok(false),
        }
        Ok(true)
    }

    /// `v` as a vector of type `ty` (a bitcast unless it already is one).
    fn cast(&mut self, ty: Type, v: Value) -> Result<Value, CompileError> {
        let from = self.builder.func.dfg.value_type(v);
        if from == ty {
            return Ok(v);
        }
        if !from.is_vector() || from.bits() != 128 {
            return Err(CompileError::Internal(format!("a SIMD operand of type {from}")));
        }
        Ok(self.builder.ins().bitcast(ty, lane_order(), v))
    }

    /// Pop a `v128` as a vector of type `ty`.
    pub(super) fn pop_vector(&mut self, ty: Type) -> Result<Value, CompileError> {
        let v = self.pop()?;
        self.cast(ty, v)
    }

    /// Push a vector as the `I8X16` every `v128` is.
    fn push_vector(&mut self, v: Value) -> Result<(), CompileError> {
        let v = self.cast(I8X16, v)?;
        self.push(v);
        Ok(())
    }

    /// An operator on one `v128` seen as `ty`.
    fn v_unary(
        &mut self,
        ty: Type,
        f: impl FnOnce(&mut FunctionBuilder<'_>, Value) -> Value,
    ) -> Result<(), CompileError> {
        let x = self.pop_vector(ty)?;
        let v = f(&mut self.builder, x);
        self.push_vector(v)
    }

    /// An operator on two `v128`s seen as `ty`.
    pub(super) fn v_binary(
        &mut self,
        ty: Type,
        f: impl FnOnce(&mut FunctionBuilder<'_>, Value, Value) -> Value,
    ) -> Result<(), CompileError> {
        let y = self.pop_vector(ty)?;
        let x = self.pop_vector(ty)?;
        let v = f(&mut self.builder, x, y);
        self.push_vector(v)
    }

    /// A shift of each lane of a `v128` seen as `ty` by an `i32` amount.
    fn v_shift(
        &mut self,
        ty: Type,
        f: impl FnOnce(&mut FunctionBuilder<'_>, Value, Value) -> Value,
    ) -> Result<(), CompileError> {
        let amount = self.pop()?;
        let x = self.pop_vector(ty)?;
        let v = f(&mut self.builder, x, amount);
        self.push_vector(v)
    }

    /// A lane-wise integer comparison: all ones where it holds, zero elsewhere.
    fn v_icmp(&mut self, ty: Type, cc: IntCC) -> Result<(), CompileError> {
        self.v_binary(ty, |b, x, y| b.ins().icmp(cc, x, y))
    }

    /// A lane-wise float comparison: all ones where it holds, zero elsewhere.
    fn v_fcmp(&mut self, ty: Type, cc: FloatCC) -> Result<(), CompileError> {
        self.v_binary(ty, |b, x, y| b.ins().fcmp(cc, x, y))
    }

    /// `*.splat`: the scalar operand (an `i32` for 8- and 16-bit lanes) in every lane of `ty`.
    fn splat(&mut self, ty: Type) -> Result<(), CompileError> {
        let x = self.pop()?;
        let lane = ty.lane_type();
        let x = if lane == I8 || lane == I16 { self.builder.ins().ireduce(lane, x) } else { x };
        let v = self.builder.ins().splat(ty, x);
        self.push_vector(v)
    }

    /// `*.extract_lane[_s|_u]`; `signed` says how 8- and 16-bit lanes extend to `i32`.
    fn extract_lane(&mut self, ty: Type, lane: u8, signed: Option<bool>) -> Result<(), CompileError> {
        let x = self.pop_vector(ty)?;
        let mut v = self.builder.ins().extractlane(x, lane);
        match signed {
            Some(true) => v = self.builder.ins().sextend(I32, v),
            Some(false) => v = self.builder.ins().uextend(I32, v),
            None => {}
        }
        self.push(v);
        Ok(())
    }

    /// `*.replace_lane`: the scalar operand (wrapped for 8- and 16-bit lanes) in lane `lane`.
    fn replace_lane(&mut self, ty: Type, lane: u8) -> Result<(), CompileError> {
        let x = self.pop()?;
        let vector = self.pop_vector(ty)?;
        let lane_ty = ty.lane_type();
        let x = if lane_ty == I8 || lane_ty == I16 { self.builder.ins().ireduce(lane_ty, x) } else { x };
        let v = self.builder.ins().insertlane(vector, x, lane);
        self.push_vector(v)
    }

    /// `*.all_true`: 1 when no lane of the `v128` seen as `ty` is zero.
    fn all_true(&mut self, ty: Type) -> Result<(), CompileError> {
        let x = self.pop_vector(ty)?;
        let b = self.builder.ins().vall_true(x);
        let v = self.builder.ins().uextend(I32, b);
        self.push(v);
        Ok(())
    }

    /// `*.bitmask`: the top bit of each lane, lane 0 in bit 0.
    fn bitmask(&mut self, ty: Type) -> Result<(), CompileError> {
        let x = self.pop_vector(ty)?;
        let v = self.builder.ins().vhigh_bits(I32, x);
        self.push(v);
        Ok(())
    }

    /// `*.extmul_{low,high}_*`: the lanes of one half of both operands (seen as `ty`), widened,
    /// multiplied.
    fn ext_mul(&mut self, ty: Type, half: Half, signed: bool) -> Result<(), CompileError> {
        self.v_binary(ty, |b, x, y| {
            let x = widen(b, x, half, signed);
            let y = widen(b, y, half, signed);
            b.ins().imul(x, y)
        })
    }

    /// `*.extadd_pairwise_*`: adjacent lanes of the operand (seen as `ty`) added, widened.
    fn ext_add_pairwise(&mut self, ty: Type, signed: bool) -> Result<(), CompileError> {
        self.v_unary(ty, |b, x| {
            let low = widen(b, x, Half::Low, signed);
            let high = widen(b, x, Half::High, signed);
            b.ins().iadd_pairwise(low, high)
        })
    }

    /// The address, offset and flags of a SIMD access of `size` bytes whose index is on top of
    /// the stack.
    fn vector_access(
        &mut self,
        op: &Operator<'_>,
        memarg: &MemArg,
        size: u64,
    ) -> Result<(Value, i32, MemFlagsData), CompileError> {
        let (address, offset) = self.pop_vector_address(op, memarg, size)?;
        let flags = self.flags(Access::Heap);
        Ok((address, offset, flags))
    }

    /// `v128.load{8x8,16x4,32x2}_{s,u}`: 8 bytes, each half-width lane extended.
    fn load_widen(&mut self, op: &Operator<'_>, memarg: &MemArg, widen: Widen) -> Result<(), CompileError> {
        let (address, offset, flags) = self.vector_access(op, memarg, 8)?;
        let ins = self.builder.ins();
        let v = match widen {
            Widen::S8x8 => ins.sload8x8(flags, address, offset),
            Widen::U8x8 => ins.uload8x8(flags, address, offset),
            Widen::S16x4 => ins.sload16x4(flags, address, offset),
            Widen::U16x4 => ins.uload16x4(flags, address, offset),
            Widen::S32x2 => ins.sload32x2(flags, address, offset),
            Widen::U32x2 => ins.uload32x2(flags, address, offset),
        };
        self.push_vector(v)
    }

    /// `v128.load*_splat` and `v128.load{32,64}_zero`: one lane of `ty` read, then put in
    /// every lane (`splat`) or in lane 0 with the others zero.
    fn load_one_lane(&mut self, op: &Operator<'_>, memarg: &MemArg, ty: Type, splat: bool) -> Result<(), CompileError> {
        let lane = ty.lane_type();
        let (address, offset, flags) = self.vector_access(op, memarg, u64::from(lane.bytes()))?;
        let x = self.builder.ins().load(lane, flags, address, offset);
        let v = if splat { self.builder.ins().splat(ty, x) } else { self.builder.ins().scalar_to_vector(ty, x) };
        self.push_vector(v)
    }

    /// `v128.load*_lane`: one lane of `ty` read into lane `lane` of the vector operand.
    fn load_lane(&mut self, op: &Operator<'_>, memarg: &MemArg, ty: Type, lane: u8) -> Result<(), CompileError> {
        let vector = self.pop_vector(ty)?;
        let lane_ty = ty.lane_type();
        let (address, offset, flags) = self.vector_access(op, memarg, u64::from(lane_ty.bytes()))?;
        let x = self.builder.ins().load(lane_ty, flags, address, offset);
        let v = self.builder.ins().insertlane(vector, x, lane);
        self.push_vector(v)
    }

    /// `v128.store*_lane`: lane `lane` of the vector operand seen as `ty` written.
    fn store_lane(&mut self, op: &Operator<'_>, memarg: &MemArg, ty: Type, lane: u8) -> Result<(), CompileError> {
        let vector = self.pop_vector(ty)?;
        let x = self.builder.ins().extractlane(vector, lane);
        let size = u64::from(ty.lane_type().bytes());
        let (address, offset, flags) = self.vector_access(op, memarg, size)?;
        self.builder.ins().store(flags, x, address, offset);
        Ok(())
    }
}

/// Which half of a vector's lanes.
#[derive(Clone, Copy)]
enum Half {
    Low,
    High,
}

/// One half of `x`'s lanes, each extended to twice its width.
fn widen(b: &mut FunctionBuilder<'_>, x: Value, half: Half, signed: bool) -> Value {
    match (half, signed) {
        (Half::Low, true) => b.ins().swiden_low(x),
        (Half::High, true) => b.ins().swiden_high(x),
        (Half::Low, false) => b.ins().uwiden_low(x),
        (Half::High, false) => b.ins().uwiden_high(x),
    }
}

/// The all-zero vector of type `ty`.
pub(super) fn vector_zero(b: &mut FunctionBuilder<'_>, ty: Type) -> Value {
    let constant = b.func.dfg.constants.insert(ConstantData::from(vec![0u8; 16]));
    b.ins().vconst(ty, constant)
}

/// Lane-wise `l < r ? yes : no` on float vectors (the shape of `pmin`/`pmax`, which are
/// defined by this comparison rather than by IEEE `min`/`max`).
fn pseudo_min_max(b: &mut FunctionBuilder<'_>, l: Value, r: Value, yes: Value, no: Value) -> Value {
    let ty = b.func.dfg.value_type(yes);
    let less = b.ins().fcmp(FloatCC::LessThan, l, r);
    let mask = b.ins().bitcast(ty, lane_order(), less);
    b.ins().bitselect(mask, yes, no)
}
