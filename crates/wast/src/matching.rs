//! Checking a returned kiln value against an `assert_return` expectation,
//! including the `nan:canonical` / `nan:arithmetic` patterns for scalar floats
//! and for the float lanes of a `v128`.

use kiln::{AnyRef, ExternRef, Rooted, Store, Val};
use wast::WastRet;
use wast::core::{AbstractHeapType, HeapType, NanPattern, V128Pattern, WastRetCore};
use wast::token::{F32, F64};

use crate::value::describe;

/// `Ok` when `actual` satisfies `expected`; otherwise a message saying what was
/// expected and what came back (or that the expectation is not supported).
pub(crate) fn check(actual: &Val, expected: &WastRet<'_>, store: &Store<()>) -> Result<(), String> {
    let core = match expected {
        WastRet::Core(core) => core,
        _ => return Err("unsupported: component-model results".to_string()),
    };
    match matches(actual, core, store) {
        Ok(true) => Ok(()),
        Ok(false) => Err(format!("expected {}, got {}", expected_text(core), actual_text(actual, core, store))),
        Err(why) => Err(format!("{why} (expected {})", expected_text(core))),
    }
}

/// Whether `actual` satisfies `expected`; `Err` when the pattern cannot be checked.
fn matches(actual: &Val, expected: &WastRetCore<'_>, store: &Store<()>) -> Result<bool, String> {
    Ok(match (expected, actual) {
        (WastRetCore::I32(e), Val::I32(a)) => e == a,
        (WastRetCore::I64(e), Val::I64(a)) => e == a,
        (WastRetCore::F32(e), Val::F32(a)) => f32_matches(e, *a),
        (WastRetCore::F64(e), Val::F64(a)) => f64_matches(e, *a),
        (WastRetCore::V128(e), Val::V128(a)) => v128_matches(e, *a),
        (WastRetCore::RefNull(heap), _) => null_matches(heap.as_ref(), actual)?,
        (WastRetCore::RefFunc(_), Val::FuncRef(r)) => r.is_some(),
        (WastRetCore::RefExtern(None), Val::ExternRef(r)) => r.is_some(),
        (WastRetCore::RefExtern(Some(n)), Val::ExternRef(Some(r))) => host_number(store, r)? == Some(*n),
        (WastRetCore::RefHost(n), Val::AnyRef(Some(a))) => {
            let e = ExternRef::convert_any(store, *a).map_err(|e| e.to_string())?;
            host_number(store, &e)? == Some(*n)
        }
        (WastRetCore::RefAny, Val::AnyRef(r)) => r.is_some(),
        (WastRetCore::RefEq, Val::AnyRef(r)) => any_is(r, |r| r.is_eqref(store))?,
        (WastRetCore::RefI31, Val::AnyRef(r)) => any_is(r, |r| r.is_i31(store))?,
        (WastRetCore::RefStruct, Val::AnyRef(r)) => any_is(r, |r| r.is_struct(store))?,
        (WastRetCore::RefArray, Val::AnyRef(r)) => any_is(r, |r| r.is_array(store))?,
        (WastRetCore::RefI31Shared, _) => return Err("unsupported: shared reference types".to_string()),
        (WastRetCore::Either(options), _) => return either_matches(options, actual, store),
        _ => false,
    })
}

/// The number a `ref.extern N` host reference holds (`None` for another host value).
fn host_number(store: &Store<()>, r: &ExternRef) -> Result<Option<u32>, String> {
    Ok(r.data(store).map_err(|e| e.to_string())?.and_then(|d| d.downcast_ref::<u32>()).copied())
}

/// Whether the anyref `r` is non-null and `test` says yes.
fn any_is(r: &Option<Rooted<AnyRef>>, test: impl Fn(&AnyRef) -> kiln::Result<bool>) -> Result<bool, String> {
    r.as_ref().map_or(Ok(false), |r| test(r).map_err(|e| e.to_string()))
}

/// `either` holds when any alternative holds; unknown only if no alternative
/// holds and one of them could not be checked.
fn either_matches(options: &[WastRetCore<'_>], actual: &Val, store: &Store<()>) -> Result<bool, String> {
    let mut unsupported = None;
    for option in options {
        match matches(actual, option, store) {
            Ok(true) => return Ok(true),
            Ok(false) => {}
            Err(why) => unsupported = unsupported.or(Some(why)),
        }
    }
    match unsupported {
        Some(why) => Err(why),
        None => Ok(false),
    }
}

/// `ref.null` with an optional heap type: any null when absent, else a null of
/// that type's hierarchy.
fn null_matches(heap: Option<&HeapType<'_>>, actual: &Val) -> Result<bool, String> {
    let (is_func_null, is_extern_null, is_any_null, is_exn_null) = match actual {
        Val::FuncRef(None) => (true, false, false, false),
        Val::ExternRef(None) => (false, true, false, false),
        Val::AnyRef(None) => (false, false, true, false),
        Val::ExnRef(None) => (false, false, false, true),
        _ => (false, false, false, false),
    };
    match heap {
        None => Ok(is_func_null || is_extern_null || is_any_null || is_exn_null),
        Some(HeapType::Abstract { shared: false, ty }) => match ty {
            AbstractHeapType::Func | AbstractHeapType::NoFunc => Ok(is_func_null),
            AbstractHeapType::Extern | AbstractHeapType::NoExtern => Ok(is_extern_null),
            AbstractHeapType::Exn | AbstractHeapType::NoExn => Ok(is_exn_null),
            AbstractHeapType::Any
            | AbstractHeapType::Eq
            | AbstractHeapType::I31
            | AbstractHeapType::Struct
            | AbstractHeapType::Array
            | AbstractHeapType::None => Ok(is_any_null),
            other => Err(format!("unsupported: null reference of heap type {other:?}")),
        },
        // A concrete type is a function's or an aggregate's: either null of those hierarchies.
        Some(HeapType::Concrete(_) | HeapType::Exact(_)) => Ok(is_func_null || is_any_null),
        Some(HeapType::Abstract { shared: true, .. }) => Err("unsupported: shared reference types".to_string()),
    }
}

const F32_EXP_AND_QUIET: u32 = 0x7fc0_0000;
const F64_EXP_AND_QUIET: u64 = 0x7ff8_0000_0000_0000;

/// A 32-bit float pattern against raw bits: exact bits for a value, the
/// canonical NaN (either sign), or any quiet ("arithmetic") NaN.
fn f32_matches(expected: &NanPattern<F32>, bits: u32) -> bool {
    match expected {
        NanPattern::Value(v) => v.bits == bits,
        NanPattern::CanonicalNan => bits & 0x7fff_ffff == F32_EXP_AND_QUIET,
        NanPattern::ArithmeticNan => bits & F32_EXP_AND_QUIET == F32_EXP_AND_QUIET,
    }
}

/// The 64-bit counterpart of [`f32_matches`].
fn f64_matches(expected: &NanPattern<F64>, bits: u64) -> bool {
    match expected {
        NanPattern::Value(v) => v.bits == bits,
        NanPattern::CanonicalNan => bits & 0x7fff_ffff_ffff_ffff == F64_EXP_AND_QUIET,
        NanPattern::ArithmeticNan => bits & F64_EXP_AND_QUIET == F64_EXP_AND_QUIET,
    }
}

/// Lane `index` of width `bits` (8, 16, 32 or 64) of a little-endian v128.
fn lane(v: u128, bits: u32, index: usize) -> u128 {
    let mask = (1u128 << bits) - 1;
    (v >> (bits as usize * index)) & mask
}

/// Compares a v128 lane by lane in the shape the pattern was written in.
fn v128_matches(expected: &V128Pattern, actual: u128) -> bool {
    match expected {
        V128Pattern::I8x16(e) => (0..16).all(|i| lane(actual, 8, i) == u128::from(e[i] as u8)),
        V128Pattern::I16x8(e) => (0..8).all(|i| lane(actual, 16, i) == u128::from(e[i] as u16)),
        V128Pattern::I32x4(e) => (0..4).all(|i| lane(actual, 32, i) == u128::from(e[i] as u32)),
        V128Pattern::I64x2(e) => (0..2).all(|i| lane(actual, 64, i) == u128::from(e[i] as u64)),
        V128Pattern::F32x4(e) => (0..4).all(|i| f32_matches(&e[i], lane(actual, 32, i) as u32)),
        V128Pattern::F64x2(e) => (0..2).all(|i| f64_matches(&e[i], lane(actual, 64, i) as u64)),
    }
}

/// The expectation as the script would write it (roughly).
fn expected_text(expected: &WastRetCore<'_>) -> String {
    match expected {
        WastRetCore::I32(v) => format!("i32.const {v} ({:#x})", *v as u32),
        WastRetCore::I64(v) => format!("i64.const {v} ({:#x})", *v as u64),
        WastRetCore::F32(p) => format!("f32.const {}", f32_pattern_text(p)),
        WastRetCore::F64(p) => format!("f64.const {}", f64_pattern_text(p)),
        WastRetCore::V128(p) => format!("v128.const {}", v128_pattern_text(p)),
        WastRetCore::RefNull(None) => "ref.null".to_string(),
        WastRetCore::RefNull(Some(heap)) => format!("ref.null {heap:?}"),
        WastRetCore::RefExtern(None) => "ref.extern".to_string(),
        WastRetCore::RefExtern(Some(n)) => format!("ref.extern {n}"),
        WastRetCore::RefHost(n) => format!("ref.host {n}"),
        WastRetCore::RefFunc(_) => "ref.func".to_string(),
        WastRetCore::RefAny => "ref.any".to_string(),
        WastRetCore::RefEq => "ref.eq".to_string(),
        WastRetCore::RefArray => "ref.array".to_string(),
        WastRetCore::RefStruct => "ref.struct".to_string(),
        WastRetCore::RefI31 => "ref.i31".to_string(),
        WastRetCore::RefI31Shared => "ref.i31_shared".to_string(),
        WastRetCore::Either(options) => {
            let parts: Vec<String> = options.iter().map(expected_text).collect();
            format!("either({})", parts.join(" | "))
        }
    }
}

/// The returned value, shaped like the expectation where that helps (v128 lanes).
fn actual_text(actual: &Val, expected: &WastRetCore<'_>, store: &Store<()>) -> String {
    match (actual, expected) {
        (Val::AnyRef(Some(r)), _) => match r.as_i31(store) {
            Ok(Some(i)) => format!("ref.i31 {}", i.get_u32()),
            Ok(None) => "ref.any".to_string(),
            Err(e) => format!("ref.any ({e})"),
        },
        (Val::V128(v), WastRetCore::V128(p)) => {
            format!("v128.const {} ({v:#034x})", v128_lanes_text(p, *v))
        }
        _ => describe(actual),
    }
}

fn f32_pattern_text(p: &NanPattern<F32>) -> String {
    match p {
        NanPattern::Value(v) => format!("{} ({:#010x})", f32::from_bits(v.bits), v.bits),
        NanPattern::CanonicalNan => "nan:canonical".to_string(),
        NanPattern::ArithmeticNan => "nan:arithmetic".to_string(),
    }
}

fn f64_pattern_text(p: &NanPattern<F64>) -> String {
    match p {
        NanPattern::Value(v) => format!("{} ({:#018x})", f64::from_bits(v.bits), v.bits),
        NanPattern::CanonicalNan => "nan:canonical".to_string(),
        NanPattern::ArithmeticNan => "nan:arithmetic".to_string(),
    }
}

fn join<T>(items: &[T], f: impl Fn(&T) -> String) -> String {
    items.iter().map(f).collect::<Vec<_>>().join(" ")
}

fn v128_pattern_text(p: &V128Pattern) -> String {
    match p {
        V128Pattern::I8x16(e) => format!("i8x16 {}", join(e, |x| x.to_string())),
        V128Pattern::I16x8(e) => format!("i16x8 {}", join(e, |x| x.to_string())),
        V128Pattern::I32x4(e) => format!("i32x4 {}", join(e, |x| x.to_string())),
        V128Pattern::I64x2(e) => format!("i64x2 {}", join(e, |x| x.to_string())),
        V128Pattern::F32x4(e) => format!("f32x4 {}", join(e, f32_pattern_text)),
        V128Pattern::F64x2(e) => format!("f64x2 {}", join(e, f64_pattern_text)),
    }
}

/// The lanes of `v` in the shape of pattern `p`.
fn v128_lanes_text(p: &V128Pattern, v: u128) -> String {
    let lanes = |bits: u32, count: usize, f: &dyn Fn(u128) -> String| {
        (0..count).map(|i| f(lane(v, bits, i))).collect::<Vec<_>>().join(" ")
    };
    match p {
        V128Pattern::I8x16(_) => {
            format!("i8x16 {}", lanes(8, 16, &|l| (l as u8 as i8).to_string()))
        }
        V128Pattern::I16x8(_) => {
            format!("i16x8 {}", lanes(16, 8, &|l| (l as u16 as i16).to_string()))
        }
        V128Pattern::I32x4(_) => {
            format!("i32x4 {}", lanes(32, 4, &|l| (l as u32 as i32).to_string()))
        }
        V128Pattern::I64x2(_) => {
            format!("i64x2 {}", lanes(64, 2, &|l| (l as u64 as i64).to_string()))
        }
        V128Pattern::F32x4(_) => {
            format!("f32x4 {}", lanes(32, 4, &|l| format!("{} ({:#010x})", f32::from_bits(l as u32), l as u32)))
        }
        V128Pattern::F64x2(_) => {
            format!("f64x2 {}", lanes(64, 2, &|l| format!("{} ({:#018x})", f64::from_bits(l as u64), l as u64)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f32p(bits: u32) -> NanPattern<F32> {
        NanPattern::Value(F32 { bits })
    }

    #[test]
    fn f32_nan_patterns() {
        assert!(f32_matches(&NanPattern::CanonicalNan, 0x7fc0_0000));
        assert!(f32_matches(&NanPattern::CanonicalNan, 0xffc0_0000));
        assert!(!f32_matches(&NanPattern::CanonicalNan, 0x7fc0_0001));
        assert!(f32_matches(&NanPattern::ArithmeticNan, 0x7fc0_0001));
        assert!(!f32_matches(&NanPattern::ArithmeticNan, 0x7fa0_0000));
        assert!(!f32_matches(&NanPattern::ArithmeticNan, 1.0f32.to_bits()));
        assert!(f32_matches(&f32p(0x8000_0000), 0x8000_0000));
        assert!(!f32_matches(&f32p(0x8000_0000), 0));
    }

    #[test]
    fn f64_nan_patterns() {
        assert!(f64_matches(&NanPattern::CanonicalNan, 0xfff8_0000_0000_0000));
        assert!(!f64_matches(&NanPattern::CanonicalNan, 0x7ff8_0000_0000_0001));
        assert!(f64_matches(&NanPattern::ArithmeticNan, 0x7ff8_0000_0000_0001));
        assert!(!f64_matches(&NanPattern::ArithmeticNan, 0x7ff4_0000_0000_0000));
    }

    #[test]
    fn v128_lanes_in_pattern_shape() {
        let v = 1u128 | (2 << 32) | (3 << 64) | (4 << 96);
        assert!(v128_matches(&V128Pattern::I32x4([1, 2, 3, 4]), v));
        assert!(!v128_matches(&V128Pattern::I32x4([1, 2, 3, 5]), v));
        assert!(v128_matches(&V128Pattern::I64x2([1 | (2 << 32), 3 | (4 << 32)]), v));
        let mut bytes = [0i8; 16];
        bytes[0] = 1;
        bytes[4] = 2;
        bytes[8] = 3;
        bytes[12] = 4;
        assert!(v128_matches(&V128Pattern::I8x16(bytes), v));
        let minus_one = u128::MAX;
        assert!(v128_matches(&V128Pattern::I16x8([-1; 8]), minus_one));
        let nans =
            0x7fc0_0000u128 | (u128::from(1.0f32.to_bits()) << 32) | (0x7fe0_0000u128 << 64) | (0x8000_0000u128 << 96);
        let pattern = V128Pattern::F32x4([
            NanPattern::CanonicalNan,
            f32p(1.0f32.to_bits()),
            NanPattern::ArithmeticNan,
            f32p(0x8000_0000),
        ]);
        assert!(v128_matches(&pattern, nans));
        assert!(!v128_matches(&pattern, nans ^ 1));
    }

    #[test]
    fn values_and_refs() {
        let mut store = Store::new(&kiln::Engine::default(), ());
        let one = Val::ExternRef(Some(ExternRef::new(&mut store, 1u32).unwrap()));
        let matches = |v: &Val, e: &WastRetCore<'_>| matches(v, e, &store);
        assert_eq!(matches(&Val::I32(-1), &WastRetCore::I32(-1)), Ok(true));
        assert_eq!(matches(&Val::I64(-1), &WastRetCore::I32(-1)), Ok(false));
        assert_eq!(matches(&Val::FuncRef(None), &WastRetCore::RefNull(None)), Ok(true));
        assert_eq!(matches(&Val::ExternRef(None), &WastRetCore::RefNull(None)), Ok(true));
        let func_null = WastRetCore::RefNull(Some(HeapType::Abstract { shared: false, ty: AbstractHeapType::Func }));
        assert_eq!(matches(&Val::FuncRef(None), &func_null), Ok(true));
        assert_eq!(matches(&Val::ExternRef(None), &func_null), Ok(false));
        assert_eq!(matches(&Val::I32(0), &WastRetCore::RefExtern(Some(1))), Ok(false));
        assert_eq!(matches(&one, &WastRetCore::RefExtern(Some(1))), Ok(true));
        assert_eq!(matches(&one, &WastRetCore::RefExtern(Some(2))), Ok(false));
        let either = WastRetCore::Either(vec![WastRetCore::I32(1), WastRetCore::I32(2)]);
        assert_eq!(matches(&Val::I32(2), &either), Ok(true));
        assert_eq!(matches(&Val::I32(3), &either), Ok(false));
    }

    #[test]
    fn mismatch_message_names_both_sides() {
        let expected = WastRet::Core(WastRetCore::I32(5));
        let store = Store::new(&kiln::Engine::default(), ());
        let message = check(&Val::I32(4), &expected, &store).unwrap_err();
        assert!(message.contains("i32.const 5"), "{message}");
        assert!(message.contains("i32.const 4"), "{message}");
    }
}
