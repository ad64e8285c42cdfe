//! What the two engines are compared on, in a vocabulary of neither: values (references
//! reduced to null or not), trap kinds, and the outcome of an instantiation or a call, with
//! the comparison rules — any NaN equals any NaN, and a v128 is equal when it is equal lane by
//! lane as f32x4 or as f64x2 with NaN lanes equal.
use std::fmt;

/// A value type, as the fuzzer generates arguments for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ty {
    I32,
    I64,
    F32,
    F64,
    V128,
    FuncRef,
    ExternRef,
    AnyRef,
    ExnRef,
}

/// A reference: what the host passes in, or what it sees come out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ref {
    /// `ref.null`.
    Null,
    /// As an argument: the module's `n`-th exported function (in export order). As a result:
    /// never produced (results are [`Ref::NonNull`]).
    Export(usize),
    /// As an argument: a fresh host object for an externref, an i31 for an anyref. As a result: any non-null
    /// reference; which one is not compared.
    NonNull,
}

impl Ref {
    fn is_null(self) -> bool {
        self == Ref::Null
    }
}

/// A WebAssembly value; floats as their bits.
#[derive(Clone, Copy, Debug)]
pub enum Value {
    I32(i32),
    I64(i64),
    F32(u32),
    F64(u64),
    V128(u128),
    FuncRef(Ref),
    ExternRef(Ref),
    AnyRef(Ref),
    ExnRef(Ref),
}

fn f32_is_nan(bits: u32) -> bool {
    f32::from_bits(bits).is_nan()
}

fn f64_is_nan(bits: u64) -> bool {
    f64::from_bits(bits).is_nan()
}

/// Whether two v128 values agree, lane by lane as `lanes` lanes of `bits` bits, counting two
/// NaN lanes as equal.
fn v128_lanes_agree(a: u128, b: u128, lanes: u32) -> bool {
    let width = 128 / lanes;
    let mask = (1u128 << width) - 1;
    (0..lanes).all(|i| {
        let (x, y) = ((a >> (i * width)) & mask, (b >> (i * width)) & mask);
        x == y
            || match width {
                32 => f32_is_nan(x as u32) && f32_is_nan(y as u32),
                _ => f64_is_nan(x as u64) && f64_is_nan(y as u64),
            }
    })
}

impl Value {
    /// Whether `self` (one engine's) and `other` (the other's) agree. Engines may pick any
    /// NaN for a float operation's NaN result, so NaNs agree whatever their bits; a vector's
    /// lanes have no type, so a v128 agrees when it does as four f32s or as two f64s. Of
    /// references, only null-ness is compared: each engine has its own identities.
    pub fn agrees(&self, other: &Value) -> bool {
        match (*self, *other) {
            (Value::I32(a), Value::I32(b)) => a == b,
            (Value::I64(a), Value::I64(b)) => a == b,
            (Value::F32(a), Value::F32(b)) => a == b || (f32_is_nan(a) && f32_is_nan(b)),
            (Value::F64(a), Value::F64(b)) => a == b || (f64_is_nan(a) && f64_is_nan(b)),
            (Value::V128(a), Value::V128(b)) => a == b || v128_lanes_agree(a, b, 4) || v128_lanes_agree(a, b, 2),
            (Value::FuncRef(a), Value::FuncRef(b))
            | (Value::ExternRef(a), Value::ExternRef(b))
            | (Value::AnyRef(a), Value::AnyRef(b))
            | (Value::ExnRef(a), Value::ExnRef(b)) => a.is_null() == b.is_null(),
            _ => false,
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let reference = |f: &mut fmt::Formatter<'_>, kind: &str, r: Ref| match r {
            Ref::Null => write!(f, "{kind}:null"),
            Ref::Export(n) => write!(f, "{kind}:export#{n}"),
            Ref::NonNull => write!(f, "{kind}:non-null"),
        };
        match *self {
            Value::I32(v) => write!(f, "i32:{v}"),
            Value::I64(v) => write!(f, "i64:{v}"),
            Value::F32(b) => write!(f, "f32:{:?}(0x{b:08x})", f32::from_bits(b)),
            Value::F64(b) => write!(f, "f64:{:?}(0x{b:016x})", f64::from_bits(b)),
            Value::V128(v) => write!(f, "v128:0x{v:032x}"),
            Value::FuncRef(r) => reference(f, "funcref", r),
            Value::ExternRef(r) => reference(f, "externref", r),
            Value::AnyRef(r) => reference(f, "anyref", r),
            Value::ExnRef(r) => reference(f, "exnref", r),
        }
    }
}

/// Why execution trapped, in terms both engines map to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TrapKind {
    Unreachable,
    MemoryOutOfBounds,
    TableOutOfBounds,
    IndirectCallToNull,
    BadSignature,
    IntegerOverflow,
    IntegerDivisionByZero,
    BadConversionToInteger,
    NullReference,
    StackOverflow,
    /// A trap only one engine has a name for (its own words).
    Other(String),
}

/// How an instantiation or a call ended.
#[derive(Clone, Debug)]
pub enum Outcome {
    /// It returned these values (none for an instantiation).
    Returned(Vec<Value>),
    /// Wasm trapped.
    Trapped(TrapKind),
    /// The engine refused for another reason (a link or limit error, a wrong argument): its
    /// message.
    Failed(String),
}

/// How two outcomes compare.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Agree,
    Diverge,
    /// Either side ran out of stack. The spec leaves the depth at which the call stack is
    /// exhausted to the implementation, and the two engines count it differently (native
    /// frames against an interpreter's frame count), so one may trap at a depth the other
    /// reaches; and the side effects before the trap then differ too. Not a divergence, and
    /// nothing after it in the same instance is compared.
    Inconclusive,
}

impl Outcome {
    /// Compare `self` (Kiln's) with `other` (wasmi's).
    pub fn compare(&self, other: &Outcome) -> Verdict {
        match (self, other) {
            (Outcome::Trapped(TrapKind::StackOverflow), _) | (_, Outcome::Trapped(TrapKind::StackOverflow)) => {
                Verdict::Inconclusive
            }
            (Outcome::Returned(a), Outcome::Returned(b))
                if a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.agrees(y)) =>
            {
                Verdict::Agree
            }
            (Outcome::Trapped(a), Outcome::Trapped(b)) if a == b => Verdict::Agree,
            // Neither engine ran wasm: each explains in its own words.
            (Outcome::Failed(_), Outcome::Failed(_)) => Verdict::Agree,
            _ => Verdict::Diverge,
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Returned(values) => {
                f.write_str("returned [")?;
                for (i, v) in values.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("]")
            }
            Outcome::Trapped(TrapKind::Other(m)) => write!(f, "trapped: {m}"),
            Outcome::Trapped(t) => write!(f, "trapped: {t:?}"),
            Outcome::Failed(m) => write!(f, "failed: {m}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nans_agree_whatever_their_bits() {
        assert!(Value::F32(0x7fc0_0000).agrees(&Value::F32(0xffc0_0001)));
        assert!(!Value::F32(0x7fc0_0000).agrees(&Value::F32(0x3f80_0000)));
        assert!(!Value::F32(0).agrees(&Value::F32(0x8000_0000)), "zeros keep their sign");
        assert!(Value::F64(0x7ff8_0000_0000_0000).agrees(&Value::F64(0xfff0_0000_0000_0001)));
        assert!(!Value::I32(1).agrees(&Value::I64(1)));
    }

    #[test]
    fn vectors_agree_as_f32x4_or_f64x2() {
        let nan32 = 0x7fc0_0000u128;
        let other_nan32 = 0x7fc0_0001u128;
        assert!(Value::V128(nan32 | 5 << 64).agrees(&Value::V128(other_nan32 | 5 << 64)));
        assert!(!Value::V128(nan32 | 5 << 64).agrees(&Value::V128(other_nan32 | 6 << 64)));
        let nan64 = 0x7ff8_0000_0000_0000u128;
        assert!(Value::V128(nan64 << 64 | 1).agrees(&Value::V128((nan64 | 3) << 64 | 1)));
        assert!(!Value::V128(1).agrees(&Value::V128(2)));
    }

    #[test]
    fn references_compare_by_nullness() {
        assert!(Value::FuncRef(Ref::NonNull).agrees(&Value::FuncRef(Ref::NonNull)));
        assert!(!Value::FuncRef(Ref::Null).agrees(&Value::FuncRef(Ref::NonNull)));
        assert!(!Value::FuncRef(Ref::Null).agrees(&Value::ExternRef(Ref::Null)));
    }

    #[test]
    fn a_stack_overflow_on_either_side_is_inconclusive() {
        let so = Outcome::Trapped(TrapKind::StackOverflow);
        assert_eq!(so.compare(&Outcome::Returned(vec![])), Verdict::Inconclusive);
        assert_eq!(Outcome::Trapped(TrapKind::Unreachable).compare(&so), Verdict::Inconclusive);
        assert_eq!(Outcome::Trapped(TrapKind::Unreachable).compare(&Outcome::Returned(vec![])), Verdict::Diverge);
    }
}
