//! Naming what the translator does not compile yet. An operator Kiln has no translation for
//! becomes `CompileError::Unsupported("<feature>: <operator>")`, where the feature is the
//! proposal the operator comes from (as a reader would name it: "SIMD (v128)", "bulk memory",
//! "tail calls"…) and the operator is spelled as in the text format (`i8x16.add`,
//! `memory.fill`). Operators of proposals without a common name are reported by their name
//! alone. wasmparser's operator list tags each operator with its proposal, so the mapping
//! covers every operator without listing them by hand.
use kiln_environ::CompileError;
use wasmparser::Operator;

/// The feature of a value type Kiln does not compile yet: `v128` values.
pub(super) const SIMD: &str = "SIMD (v128)";

macro_rules! define_proposal_and_visitor {
    ($( @$proposal:ident $op:ident $({ $($arg:ident: $argty:ty),* })? => $visit:ident ($($ann:tt)*) )*) => {
        /// The proposal an operator belongs to and the name of its `VisitOperator` method.
        fn proposal_and_visitor(op: &Operator<'_>) -> (&'static str, &'static str) {
            match op {
                $( Operator::$op { .. } => (stringify!($proposal), stringify!($visit)), )*
                _ => ("unknown", "visit_unknown_operator"),
            }
        }
    };
}
wasmparser::for_each_operator!(define_proposal_and_visitor);

/// The first word of the text-format names that are written `<prefix>.<rest>`.
const DOTTED_PREFIXES: &[&str] = &[
    "i32", "i64", "f32", "f64", "v128", "i8x16", "i16x8", "i32x4", "i64x2", "f32x4", "f64x2", "local", "global",
    "memory", "table", "ref", "elem", "data", "struct", "array", "any", "extern", "i31", "atomic", "cont",
];

/// The text-format name of an operator, e.g. `i32.atomic.rmw8.add_u` or `return_call`.
pub(super) fn operator_name(op: &Operator<'_>) -> String {
    let (_, visitor) = proposal_and_visitor(op);
    text_name(visitor)
}

/// Turn a visitor method name (`visit_i8x16_add`) into the text-format name (`i8x16.add`).
fn text_name(visitor: &str) -> String {
    let name = visitor.strip_prefix("visit_").unwrap_or(visitor);
    let Some((prefix, rest)) = name.split_once('_') else {
        return name.to_string();
    };
    if !DOTTED_PREFIXES.contains(&prefix) {
        return name.to_string();
    }
    // Atomic operators put dots after `atomic` and after the `rmw` part too.
    let mut rest = rest.replace("atomic_", "atomic.");
    for rmw in ["rmw_", "rmw8_", "rmw16_", "rmw32_"] {
        if let Some(at) = rest.find(rmw) {
            let end = at + rmw.len() - 1;
            rest.replace_range(end..end + 1, ".");
            break;
        }
    }
    format!("{prefix}.{rest}")
}

/// The feature name of an operator's proposal, or `None` when the operator is its own
/// feature.
fn feature(op: &Operator<'_>, proposal: &str) -> Option<&'static str> {
    Some(match proposal {
        "bulk_memory" => match op {
            Operator::TableInit { .. } | Operator::ElemDrop { .. } | Operator::TableCopy { .. } => "reference types",
            _ => "bulk memory",
        },
        "reference_types" => "reference types",
        "simd" => SIMD,
        "relaxed_simd" => "relaxed SIMD",
        "threads" => "threads",
        "exceptions" | "legacy_exceptions" => "exception handling",
        "tail_call" => "tail calls",
        "function_references" => "typed function references",
        "gc" => "GC",
        "wide_arithmetic" => "wide arithmetic",
        "stack_switching" => "stack switching",
        _ => return None,
    })
}

/// The error for an operator Kiln does not translate.
pub(super) fn unsupported_operator(op: &Operator<'_>) -> CompileError {
    let (proposal, visitor) = proposal_and_visitor(op);
    let name = text_name(visitor);
    CompileError::Unsupported(match feature(op, proposal) {
        Some(feature) => format!("{feature}: {name}"),
        None => name,
    })
}

/// The error for an operator that is supported in general but not in this form, e.g. a
/// load from a GC array instead of a linear memory.
pub(super) fn unsupported_use(feature: &str, op: &Operator<'_>) -> CompileError {
    CompileError::Unsupported(format!("{feature}: {}", operator_name(op)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_text_format() {
        assert_eq!(text_name("visit_i8x16_add"), "i8x16.add");
        assert_eq!(text_name("visit_br_if"), "br_if");
        assert_eq!(text_name("visit_return_call_indirect"), "return_call_indirect");
        assert_eq!(text_name("visit_memory_fill"), "memory.fill");
        assert_eq!(text_name("visit_ref_is_null"), "ref.is_null");
        assert_eq!(text_name("visit_i32_atomic_rmw8_add_u"), "i32.atomic.rmw8.add_u");
        assert_eq!(text_name("visit_i64_atomic_rmw_cmpxchg"), "i64.atomic.rmw.cmpxchg");
        assert_eq!(text_name("visit_memory_atomic_wait32"), "memory.atomic.wait32");
        assert_eq!(text_name("visit_i32_atomic_load8_u"), "i32.atomic.load8_u");
        assert_eq!(text_name("visit_atomic_fence"), "atomic.fence");
        assert_eq!(text_name("visit_nop"), "nop");
    }

    #[test]
    fn features_are_named() {
        let message = |op: Operator<'_>| unsupported_operator(&op).to_string();
        assert_eq!(message(Operator::I8x16Add), "unsupported: SIMD (v128): i8x16.add");
        assert_eq!(message(Operator::MemoryFill { mem: 0 }), "unsupported: bulk memory: memory.fill");
        assert_eq!(message(Operator::ElemDrop { elem_index: 0 }), "unsupported: reference types: elem.drop");
        assert_eq!(message(Operator::TableGrow { table: 0 }), "unsupported: reference types: table.grow");
        assert_eq!(message(Operator::RefAsNonNull), "unsupported: typed function references: ref.as_non_null");
        assert_eq!(message(Operator::I64Add128), "unsupported: wide arithmetic: i64.add128");
        assert_eq!(message(Operator::ThrowRef), "unsupported: exception handling: throw_ref");
        assert_eq!(message(Operator::MemoryDiscard { mem: 0 }), "unsupported: memory.discard");
    }
}
