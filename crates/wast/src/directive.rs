//! Naming of wast directives: the keyword each one is reported under.

use wast::WastDirective;

use crate::component::is_component;

/// The keyword a directive is reported under in a [`crate::Failure`]. `text` is the
/// script, which alone tells `component instance` from `module instance` (one directive
/// to the parser); it may be empty.
pub(crate) fn kind(directive: &WastDirective<'_>, text: &str) -> &'static str {
    match directive {
        WastDirective::Module(wat) if is_component(wat) => "component",
        WastDirective::Module(_) => "module",
        WastDirective::ModuleDefinition(wat) if is_component(wat) => "component definition",
        WastDirective::ModuleDefinition(_) => "module definition",
        WastDirective::ModuleInstance { span, .. }
            if text.get(span.offset()..).is_some_and(|rest| rest.starts_with("component")) =>
        {
            "component instance"
        }
        WastDirective::ModuleInstance { .. } => "module instance",
        WastDirective::AssertMalformed { .. } => "assert_malformed",
        WastDirective::AssertInvalid { .. } => "assert_invalid",
        WastDirective::AssertInvalidCustom { .. } => "assert_invalid_custom",
        WastDirective::AssertMalformedCustom { .. } => "assert_malformed_custom",
        WastDirective::Register { .. } => "register",
        WastDirective::Invoke(_) => "invoke",
        WastDirective::AssertTrap { .. } => "assert_trap",
        WastDirective::AssertReturn { .. } => "assert_return",
        WastDirective::AssertExhaustion { .. } => "assert_exhaustion",
        WastDirective::AssertUnlinkable { .. } => "assert_unlinkable",
        WastDirective::AssertException { .. } => "assert_exception",
        WastDirective::AssertSuspension { .. } => "assert_suspension",
        WastDirective::Thread(_) => "thread",
        WastDirective::Wait { .. } => "wait",
    }
}
