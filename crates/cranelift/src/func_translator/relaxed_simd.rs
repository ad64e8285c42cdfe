//! Relaxed SIMD (Wasm 3.0). The proposal lets each operator return any of a few results, so
//! that every host can use its native instructions. Kiln picks one result, the same on every
//! host and therefore in every artifact:
//! - an operator with a strict counterpart gives that counterpart's result: `swizzle`,
//!   `trunc_sat`, `min`/`max` with wasm's NaN rules, `q15mulr_sat_s`, and `bitselect` for
//!   `laneselect`;
//! - `madd`/`nmadd` multiply, round, then add: unfused;
//! - the dot products read the second operand's bytes as signed and sum exactly (the 16-bit
//!   form wraps only where the exact sum, 2 × 128 × 128, does not fit).
use cranelift_codegen::ir::{
    InstBuilder, Type, Value,
    types::{F32X4, F64X2, I8X16, I32X4},
};
use cranelift_frontend::FunctionBuilder;
use kiln_environ::CompileError;
use wasmparser::Operator;

use super::FuncTranslator;

impl FuncTranslator<'_, '_> {
    /// Translate `op` if it is a relaxed SIMD operator; `Ok(false)` if it is not one.
    pub(super) fn translate_relaxed_simd(&mut self, op: &Operator<'_>) -> Result<bool, CompileError> {
        use Operator as O;
        let strict = match *op {
            O::I8x16RelaxedSwizzle => O::I8x16Swizzle,
            O::I32x4RelaxedTruncF32x4S => O::I32x4TruncSatF32x4S,
            O::I32x4RelaxedTruncF32x4U => O::I32x4TruncSatF32x4U,
            O::I32x4RelaxedTruncF64x2SZero => O::I32x4TruncSatF64x2SZero,
            O::I32x4RelaxedTruncF64x2UZero => O::I32x4TruncSatF64x2UZero,
            O::I8x16RelaxedLaneselect
            | O::I16x8RelaxedLaneselect
            | O::I32x4RelaxedLaneselect
            | O::I64x2RelaxedLaneselect => O::V128Bitselect,
            O::F32x4RelaxedMin => O::F32x4Min,
            O::F32x4RelaxedMax => O::F32x4Max,
            O::F64x2RelaxedMin => O::F64x2Min,
            O::F64x2RelaxedMax => O::F64x2Max,
            O::I16x8RelaxedQ15mulrS => O::I16x8Q15MulrSatS,
            O::F32x4RelaxedMadd => return self.multiply_add(F32X4, false).map(|()| true),
            O::F32x4RelaxedNmadd => return self.multiply_add(F32X4, true).map(|()| true),
            O::F64x2RelaxedMadd => return self.multiply_add(F64X2, false).map(|()| true),
            O::F64x2RelaxedNmadd => return self.multiply_add(F64X2, true).map(|()| true),
            O::I16x8RelaxedDotI8x16I7x16S => {
                self.v_binary(I8X16, |b, x, y| {
                    let (low, high) = byte_products(b, x, y);
                    b.ins().iadd_pairwise(low, high)
                })?;
                return Ok(true);
            }
            O::I32x4RelaxedDotI8x16I7x16AddS => {
                let addend = self.pop_vector(I32X4)?;
                self.v_binary(I8X16, |b, x, y| {
                    let (low, high) = byte_products(b, x, y);
                    let low = pairwise_sums_i32(b, low);
                    let high = pairwise_sums_i32(b, high);
                    let sums = b.ins().iadd_pairwise(low, high);
                    b.ins().iadd(sums, addend)
                })?;
                return Ok(true);
            }
            _ => return Ok(false),
        };
        self.translate_simd(&strict)
    }

    /// `madd` (`a * b + c`) or `nmadd` (`-(a * b) + c`) on lanes of `ty`, unfused.
    fn multiply_add(&mut self, ty: Type, negate: bool) -> Result<(), CompileError> {
        let c = self.pop_vector(ty)?;
        self.v_binary(ty, |b, x, y| {
            let product = b.ins().fmul(x, y);
            let product = if negate { b.ins().fneg(product) } else { product };
            b.ins().fadd(product, c)
        })
    }
}

/// The sixteen products of `x`'s and `y`'s signed bytes as two `i16x8` (bytes 0–7, 8–15);
/// each fits, being at most 128 × 128.
fn byte_products(b: &mut FunctionBuilder<'_>, x: Value, y: Value) -> (Value, Value) {
    let (xl, yl) = (b.ins().swiden_low(x), b.ins().swiden_low(y));
    let (xh, yh) = (b.ins().swiden_high(x), b.ins().swiden_high(y));
    let low = b.ins().imul(xl, yl);
    let high = b.ins().imul(xh, yh);
    (low, high)
}

/// The sums of adjacent lanes of an `i16x8`, as an exact `i32x4`.
fn pairwise_sums_i32(b: &mut FunctionBuilder<'_>, v: Value) -> Value {
    let low = b.ins().swiden_low(v);
    let high = b.ins().swiden_high(v);
    b.ins().iadd_pairwise(low, high)
}
