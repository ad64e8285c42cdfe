//! Arguments for the calls: for each parameter type, a value drawn from the case's
//! [`Stream::Calls`](crate::rng::Stream) — often an edge case (zero, ±1, the extremes, powers
//! of two, page boundaries, ±0, infinities, NaNs with and without payload, subnormals, the
//! float-to-int conversion limits), otherwise small or fully random bits.
use crate::outcome::{Ref, Ty, Value};
use crate::rng::Rng;

const PAGE: i64 = 65536;

const INTERESTING_INTS: &[i64] = &[
    0,
    1,
    -1,
    2,
    3,
    4,
    7,
    8,
    15,
    16,
    31,
    32,
    33,
    63,
    64,
    0x7f,
    0x80,
    0xff,
    0x100,
    0x7fff,
    0x8000,
    0xffff,
    PAGE - 1,
    PAGE,
    PAGE - 4,
    PAGE - 8,
    PAGE - 16,
    2 * PAGE - 1,
    16 * PAGE - 8,
    16 * PAGE,
    i32::MAX as i64,
    i32::MIN as i64,
    i32::MAX as i64 - 1,
    i32::MIN as i64 + 1,
    u32::MAX as i64,
    1 << 31,
    1 << 32,
    i64::MAX,
    i64::MIN,
    i64::MIN + 1,
];

const INTERESTING_F32: &[u32] = &[
    0x0000_0000, // 0
    0x8000_0000, // -0
    0x3f80_0000, // 1
    0xbf80_0000, // -1
    0x3f00_0000, // 0.5
    0xbf00_0000, // -0.5
    0x3fc0_0000, // 1.5
    0x7f80_0000, // inf
    0xff80_0000, // -inf
    0x7fc0_0000, // canonical NaN
    0xffc0_0000, // negative canonical NaN
    0x7fa0_0000, // signalling NaN
    0x7f80_0001, // NaN, smallest payload
    0x0080_0000, // smallest normal
    0x0000_0001, // smallest subnormal
    0x807f_ffff, // negative largest subnormal
    0x7f7f_ffff, // largest finite
    0xff7f_ffff, // most negative finite
    0x4f00_0000, // 2^31
    0xcf00_0000, // -2^31
    0xcf00_0001, // just below -2^31
    0x4f80_0000, // 2^32
    0x4eff_ffff, // largest below 2^31
    0x5f00_0000, // 2^63
    0xdf00_0000, // -2^63
    0x5f80_0000, // 2^64
    0x4b80_0000, // 2^24
];

const INTERESTING_F64: &[u64] = &[
    0x0000_0000_0000_0000, // 0
    0x8000_0000_0000_0000, // -0
    0x3ff0_0000_0000_0000, // 1
    0xbff0_0000_0000_0000, // -1
    0x3fe0_0000_0000_0000, // 0.5
    0xbfe0_0000_0000_0000, // -0.5
    0x3ff8_0000_0000_0000, // 1.5
    0x7ff0_0000_0000_0000, // inf
    0xfff0_0000_0000_0000, // -inf
    0x7ff8_0000_0000_0000, // canonical NaN
    0xfff8_0000_0000_0000, // negative canonical NaN
    0x7ff4_0000_0000_0000, // signalling NaN
    0x7ff0_0000_0000_0001, // NaN, smallest payload
    0x0010_0000_0000_0000, // smallest normal
    0x0000_0000_0000_0001, // smallest subnormal
    0x7fef_ffff_ffff_ffff, // largest finite
    0x41e0_0000_0000_0000, // 2^31
    0xc1e0_0000_0000_0000, // -2^31
    0xc1e0_0000_0020_0000, // -2^31 - 1
    0x41df_ffff_ffc0_0000, // 2^31 - 1
    0x41f0_0000_0000_0000, // 2^32
    0x41ef_ffff_ffe0_0000, // 2^32 - 1
    0x43e0_0000_0000_0000, // 2^63
    0xc3e0_0000_0000_0000, // -2^63
    0x43f0_0000_0000_0000, // 2^64
    0x4340_0000_0000_0000, // 2^53
];

fn int(rng: &mut Rng) -> i64 {
    match rng.below(10) {
        0..=3 => *rng.pick(INTERESTING_INTS),
        4..=5 => rng.below(256) as i64,
        6 => rng.range(1, 17) as i64 * PAGE - rng.below(17) as i64,
        7 => -(rng.below(256) as i64),
        _ => rng.next_u64() as i64,
    }
}

fn f32_bits(rng: &mut Rng) -> u32 {
    match rng.below(10) {
        0..=4 => *rng.pick(INTERESTING_F32),
        5..=6 => (int(rng) as f32).to_bits(),
        _ => rng.next_u64() as u32,
    }
}

fn f64_bits(rng: &mut Rng) -> u64 {
    match rng.below(10) {
        0..=4 => *rng.pick(INTERESTING_F64),
        5..=6 => (int(rng) as f64).to_bits(),
        _ => rng.next_u64(),
    }
}

fn v128(rng: &mut Rng) -> u128 {
    match rng.below(8) {
        0 => 0,
        1 => u128::MAX,
        2 => (0..4).fold(0, |v, i| v | u128::from(f32_bits(rng)) << (32 * i)),
        3 => (0..2).fold(0, |v, i| v | u128::from(f64_bits(rng)) << (64 * i)),
        4 => (0..4).fold(0, |v, i| v | u128::from(int(rng) as u32) << (32 * i)),
        5 => (0..16).fold(0, |v, i| v | u128::from(*rng.pick(&[0u8, 1, 0x7f, 0x80, 0xff])) << (8 * i)),
        _ => u128::from(rng.next_u64()) << 64 | u128::from(rng.next_u64()),
    }
}

/// An argument of type `ty`, in a module that exports `exported_funcs` functions (what a
/// non-null funcref argument may name).
pub fn arg(rng: &mut Rng, ty: Ty, exported_funcs: usize) -> Value {
    match ty {
        Ty::I32 => Value::I32(int(rng) as i32),
        Ty::I64 => Value::I64(int(rng)),
        Ty::F32 => Value::F32(f32_bits(rng)),
        Ty::F64 => Value::F64(f64_bits(rng)),
        Ty::V128 => Value::V128(v128(rng)),
        Ty::FuncRef if exported_funcs > 0 && !rng.one_in(3) => Value::FuncRef(Ref::Export(rng.index(exported_funcs))),
        Ty::FuncRef => Value::FuncRef(Ref::Null),
        Ty::ExternRef => Value::ExternRef(if rng.one_in(2) { Ref::Null } else { Ref::NonNull }),
        Ty::AnyRef => Value::AnyRef(if rng.one_in(2) { Ref::Null } else { Ref::NonNull }),
        // The host makes no exceptions to pass.
        Ty::ExnRef => Value::ExnRef(Ref::Null),
    }
}
