//! Component-model scripts: compiling `(component ...)` with `kiln::component`,
//! instantiating each component in a store of its own (as wasmtime's runner does),
//! invoking its exported functions with component values, and judging what they return
//! (structurally, any NaN matching any NaN, flags as a set) or how they trap.

use std::cell::RefCell;
use std::collections::BTreeSet;

use kiln::component::{Component, Instance, Linker, Val};
use kiln::{Engine, Store};
use wast::component::WastVal;
use wast::core::{NanPattern, WastArgCore, WastRetCore};
use wast::{QuoteWat, WastArg, WastInvoke, WastRet, Wat};

/// What calling a component function produced: its results, or the engine's error.
pub(crate) type Outcome = kiln::Result<Vec<Val>>;

/// Whether a `(module ...)`-position item of a script is a component.
pub(crate) fn is_component(wat: &QuoteWat<'_>) -> bool {
    matches!(wat, QuoteWat::QuoteComponent(..) | QuoteWat::Wat(Wat::Component(_)))
}

/// Compiles the binary component `bytes`.
pub(crate) fn compile(engine: &Engine, bytes: &[u8]) -> Result<Component, String> {
    Component::new(engine, bytes).map_err(|e| format!("compilation failed: {e}"))
}

/// One instantiated component and the store it lives in, which no other instance shares.
pub(crate) struct ComponentInstance {
    store: RefCell<Store<()>>,
    instance: Instance,
}

impl ComponentInstance {
    /// Instantiates `component` through `linker` in a fresh store of `engine`.
    pub(crate) fn new(engine: &Engine, linker: &Linker<()>, component: &Component) -> kiln::Result<ComponentInstance> {
        let mut store = crate::context::new_store(engine);
        let instance = linker.instantiate(&mut store, component)?;
        Ok(ComponentInstance { store: RefCell::new(store), instance })
    }

    /// Calls the exported function `invoke` names. The outer `Err` is a problem with the
    /// script step itself (unknown export, an argument that is no component value).
    pub(crate) fn invoke(&self, invoke: &WastInvoke<'_>) -> Result<Outcome, String> {
        let args = invoke.args.iter().map(arg_to_val).collect::<Result<Vec<Val>, String>>()?;
        let mut store = self.store.borrow_mut();
        let func = self
            .instance
            .get_func(&mut *store, invoke.name)
            .ok_or_else(|| format!("no exported function {:?}", invoke.name))?;
        let mut results = vec![Val::Bool(false); func.results_len(&*store)];
        Ok(func.call(&mut *store, &args, &mut results).map(|()| results))
    }
}

/// Turns one `invoke` argument into a [`Val`]. A top-level `f32.const` / `f64.const`
/// parses as a core constant; it stands for the component float of the same bits.
fn arg_to_val(arg: &WastArg<'_>) -> Result<Val, String> {
    match arg {
        WastArg::Component(v) => to_val(v),
        WastArg::Core(WastArgCore::F32(f)) => Ok(Val::Float32(f32::from_bits(f.bits))),
        WastArg::Core(WastArgCore::F64(f)) => Ok(Val::Float64(f64::from_bits(f.bits))),
        WastArg::Core(other) => Err(format!("a core argument cannot be passed to a component function: {other:?}")),
        other => Err(format!("unsupported: argument {other:?}")),
    }
}

/// The value a script constant denotes.
fn to_val(v: &WastVal<'_>) -> Result<Val, String> {
    let list = |vals: &[WastVal<'_>]| vals.iter().map(to_val).collect::<Result<Vec<Val>, String>>();
    let payload = |v: &Option<Box<WastVal<'_>>>| v.as_deref().map(to_val).transpose().map(|v| v.map(Box::new));
    Ok(match v {
        WastVal::Bool(b) => Val::Bool(*b),
        WastVal::U8(x) => Val::U8(*x),
        WastVal::S8(x) => Val::S8(*x),
        WastVal::U16(x) => Val::U16(*x),
        WastVal::S16(x) => Val::S16(*x),
        WastVal::U32(x) => Val::U32(*x),
        WastVal::S32(x) => Val::S32(*x),
        WastVal::U64(x) => Val::U64(*x),
        WastVal::S64(x) => Val::S64(*x),
        WastVal::F32(f) => Val::Float32(f32::from_bits(f.bits)),
        WastVal::F64(f) => Val::Float64(f64::from_bits(f.bits)),
        WastVal::Char(c) => Val::Char(*c),
        WastVal::String(s) => Val::String((*s).to_string()),
        WastVal::List(vals) => Val::List(list(vals)?),
        WastVal::Map(entries) => {
            Val::Map(entries.iter().map(|(k, v)| Ok((to_val(k)?, to_val(v)?))).collect::<Result<_, String>>()?)
        }
        WastVal::Record(fields) => Val::Record(
            fields.iter().map(|(name, v)| Ok(((*name).to_string(), to_val(v)?))).collect::<Result<_, String>>()?,
        ),
        WastVal::Tuple(vals) => Val::Tuple(list(vals)?),
        WastVal::Variant(name, v) => Val::Variant((*name).to_string(), payload(v)?),
        WastVal::Enum(name) => Val::Enum((*name).to_string()),
        WastVal::Option(v) => Val::Option(payload(v)?),
        WastVal::Result(Ok(v)) => Val::Result(Ok(payload(v)?)),
        WastVal::Result(Err(v)) => Val::Result(Err(payload(v)?)),
        WastVal::Flags(names) => Val::Flags(names.iter().map(|n| (*n).to_string()).collect()),
    })
}

/// The value an `assert_return` expectation denotes. A top-level float parses as a core
/// pattern; `nan:canonical` and `nan:arithmetic` become a NaN, which any NaN matches.
fn expected_val(ret: &WastRet<'_>) -> Result<Val, String> {
    match ret {
        WastRet::Component(v) => to_val(v),
        WastRet::Core(WastRetCore::F32(NanPattern::Value(f))) => Ok(Val::Float32(f32::from_bits(f.bits))),
        WastRet::Core(WastRetCore::F32(_)) => Ok(Val::Float32(f32::NAN)),
        WastRet::Core(WastRetCore::F64(NanPattern::Value(f))) => Ok(Val::Float64(f64::from_bits(f.bits))),
        WastRet::Core(WastRetCore::F64(_)) => Ok(Val::Float64(f64::NAN)),
        WastRet::Core(other) => Err(format!("a core result pattern cannot describe a component result: {other:?}")),
        other => Err(format!("unsupported: result pattern {other:?}")),
    }
}

/// `Ok` when the returned values match the `assert_return` expectations.
pub(crate) fn check_results(actual: &[Val], expected: &[WastRet<'_>]) -> Result<(), String> {
    if actual.len() != expected.len() {
        return Err(format!("expected {} result(s), got {}: {}", expected.len(), actual.len(), describe_all(actual)));
    }
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        let e = expected_val(e)?;
        if let Some(why) = difference(&e, a) {
            return Err(if expected.len() == 1 { why } else { format!("result {i}: {why}") });
        }
    }
    Ok(())
}

/// Where `actual` first differs from `expected`, in words; `None` when they match.
fn difference(expected: &Val, actual: &Val) -> Option<String> {
    let differ = || Some(format!("expected {}, got {}", describe(expected), describe(actual)));
    let within = |place: String, e: &Val, a: &Val| difference(e, a).map(|why| format!("{place}: {why}"));
    match (expected, actual) {
        (Val::Float32(e), Val::Float32(a)) => {
            if (e.is_nan() && a.is_nan()) || e.to_bits() == a.to_bits() {
                None
            } else {
                differ()
            }
        }
        (Val::Float64(e), Val::Float64(a)) => {
            if (e.is_nan() && a.is_nan()) || e.to_bits() == a.to_bits() {
                None
            } else {
                differ()
            }
        }
        (Val::List(e), Val::List(a)) | (Val::Tuple(e), Val::Tuple(a)) => {
            if e.len() != a.len() {
                return Some(format!("expected {} element(s), got {}: {}", e.len(), a.len(), describe(actual)));
            }
            e.iter().zip(a).enumerate().find_map(|(i, (e, a))| within(format!("element {i}"), e, a))
        }
        (Val::Record(e), Val::Record(a)) => {
            if e.len() != a.len() || e.iter().zip(a).any(|((en, _), (an, _))| en != an) {
                return differ();
            }
            e.iter().zip(a).find_map(|((name, e), (_, a))| within(format!("field `{name}`"), e, a))
        }
        (Val::Variant(en, ep), Val::Variant(an, ap)) => {
            if en != an {
                return differ();
            }
            payload_difference(en, ep.as_deref(), ap.as_deref())
        }
        (Val::Option(Some(e)), Val::Option(Some(a))) => within("some".to_string(), e, a),
        (Val::Result(Ok(e)), Val::Result(Ok(a))) => payload_difference("ok", e.as_deref(), a.as_deref()),
        (Val::Result(Err(e)), Val::Result(Err(a))) => payload_difference("err", e.as_deref(), a.as_deref()),
        (Val::Flags(e), Val::Flags(a)) => {
            let e: BTreeSet<&String> = e.iter().collect();
            let a: BTreeSet<&String> = a.iter().collect();
            if e == a { None } else { differ() }
        }
        // Scalars, chars, strings, enums, `none`, and every mismatch of kinds.
        _ => {
            if expected == actual {
                None
            } else {
                differ()
            }
        }
    }
}

/// The difference between the payloads of the case `case` of a variant or result.
fn payload_difference(case: &str, expected: Option<&Val>, actual: Option<&Val>) -> Option<String> {
    match (expected, actual) {
        (Some(e), Some(a)) => difference(e, a).map(|why| format!("case `{case}`: {why}")),
        (None, None) => None,
        (Some(e), None) => Some(format!("case `{case}`: expected payload {}, got none", describe(e))),
        (None, Some(a)) => Some(format!("case `{case}`: expected no payload, got {}", describe(a))),
    }
}

/// `Ok` when `outcome` is an error whose message contains `expected`. As in wasmtime's
/// runner, any "cannot write ..." or "cannot read ..." message stands for another one:
/// the reference tests word those more precisely than engines do. And where a test
/// quotes wasmtime's wording of the core `unreachable` trap, Kiln's (the spec's) will do.
pub(crate) fn expect_trap(outcome: Outcome, expected: &str) -> Result<(), String> {
    let error = match outcome {
        Ok(values) => {
            return Err(format!("expected trap `{expected}`, but it returned {}", describe_all(&values)));
        }
        Err(e) => e,
    };
    let actual = error.to_string();
    if trap_agrees(expected, &actual) {
        Ok(())
    } else {
        Err(format!("expected trap `{expected}`, got error: {actual}"))
    }
}

/// Whether an error message `actual` satisfies the expected trap message `expected`.
fn trap_agrees(expected: &str, actual: &str) -> bool {
    actual.contains(expected)
        || (expected.contains("cannot write") && actual.contains("cannot write"))
        || (expected.contains("cannot read") && actual.contains("cannot read"))
        || (expected.contains("wasm `unreachable` instruction executed") && actual.contains("wasm trap: unreachable"))
}

/// A value as a script would write it, e.g. `(record.const (field "a" (u32.const 1)))`.
pub(crate) fn describe(v: &Val) -> String {
    let all = |vals: &[Val]| vals.iter().map(|v| format!(" {}", describe(v))).collect::<String>();
    let payload = |v: &Option<Box<Val>>| v.as_deref().map(|v| format!(" {}", describe(v))).unwrap_or_default();
    let name = |s: &str| format!("\"{}\"", s.escape_debug());
    let body = match v {
        Val::Bool(b) => format!("bool.const {b}"),
        Val::S8(x) => format!("s8.const {x}"),
        Val::U8(x) => format!("u8.const {x}"),
        Val::S16(x) => format!("s16.const {x}"),
        Val::U16(x) => format!("u16.const {x}"),
        Val::S32(x) => format!("s32.const {x}"),
        Val::U32(x) => format!("u32.const {x}"),
        Val::S64(x) => format!("s64.const {x}"),
        Val::U64(x) => format!("u64.const {x}"),
        Val::Float32(x) => format!("f32.const {x} ({:#010x})", x.to_bits()),
        Val::Float64(x) => format!("f64.const {x} ({:#018x})", x.to_bits()),
        Val::Char(c) => format!("char.const \"{}\"", c.escape_debug()),
        Val::String(s) => format!("str.const {}", name(s)),
        Val::List(vals) => format!("list.const{}", all(vals)),
        Val::Record(fields) => {
            let fields: String = fields.iter().map(|(n, v)| format!(" (field {} {})", name(n), describe(v))).collect();
            format!("record.const{fields}")
        }
        Val::Tuple(vals) => format!("tuple.const{}", all(vals)),
        Val::Variant(case, v) => format!("variant.const {}{}", name(case), payload(v)),
        Val::Enum(case) => format!("enum.const {}", name(case)),
        Val::Option(None) => "option.none".to_string(),
        Val::Option(v @ Some(_)) => format!("option.some{}", payload(v)),
        Val::Result(Ok(v)) => format!("result.ok{}", payload(v)),
        Val::Result(Err(v)) => format!("result.err{}", payload(v)),
        Val::Flags(names) => {
            format!("flags.const{}", names.iter().map(|n| format!(" {}", name(n))).collect::<String>())
        }
        Val::Map(entries) => {
            let entries: String =
                entries.iter().map(|(k, v)| format!(" (entry {} {})", describe(k), describe(v))).collect();
            format!("map.const{entries}")
        }
        Val::Resource(r) => format!("resource {r:?}"),
    };
    format!("({body})")
}

/// A list of values as a script would write them, in brackets.
pub(crate) fn describe_all(vals: &[Val]) -> String {
    let parts: Vec<String> = vals.iter().map(describe).collect();
    format!("[{}]", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nans_match_nans_and_floats_match_by_bits() {
        assert_eq!(difference(&Val::Float32(f32::NAN), &Val::Float32(-f32::NAN)), None);
        assert_eq!(difference(&Val::Float64(f64::NAN), &Val::Float64(f64::from_bits(0x7ff0_0000_0000_0001))), None);
        assert!(difference(&Val::Float32(0.0), &Val::Float32(-0.0)).is_some());
        assert!(difference(&Val::Float32(f32::NAN), &Val::Float32(1.0)).is_some());
    }

    #[test]
    fn flags_compare_as_sets() {
        let flags = |names: &[&str]| Val::Flags(names.iter().map(|n| n.to_string()).collect());
        assert_eq!(difference(&flags(&["a", "b"]), &flags(&["b", "a"])), None);
        assert!(difference(&flags(&["a"]), &flags(&["a", "b"])).is_some());
    }

    #[test]
    fn differences_name_their_place() {
        let expected = Val::Record(vec![("x".to_string(), Val::List(vec![Val::U8(1), Val::U8(2)]))]);
        let actual = Val::Record(vec![("x".to_string(), Val::List(vec![Val::U8(1), Val::U8(3)]))]);
        let why = difference(&expected, &actual).unwrap_or_default();
        assert_eq!(why, "field `x`: element 1: expected (u8.const 2), got (u8.const 3)");
        let some = Val::Option(Some(Box::new(Val::U32(1))));
        assert!(difference(&some, &Val::Option(None)).is_some());
        assert!(difference(&Val::Result(Ok(None)), &Val::Result(Err(None))).is_some());
        assert!(difference(&Val::U32(1), &Val::S32(1)).is_some());
    }

    #[test]
    fn trap_messages_agree_loosely_on_reads_and_writes() {
        assert!(trap_agrees("unreachable", "wasm trap: unreachable"));
        assert!(trap_agrees("cannot write to a stream", "cannot write: the end was dropped"));
        assert!(!trap_agrees("cannot read", "cannot write"));
        assert!(trap_agrees("wasm trap: wasm `unreachable` instruction executed", "wasm trap: unreachable"));
        assert!(!trap_agrees("unknown handle index 5", "unsupported: component-model async"));
    }
}
