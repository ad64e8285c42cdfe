//! The reasons wasm code stops with a trap, their spec messages, and their encoding as
//! Cranelift user trap codes (one byte) in the trap table of an artifact.
use std::fmt;

/// Why WebAssembly execution trapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Trap {
    /// The wasm stack limit was reached.
    StackOverflow,
    /// A memory access was out of bounds.
    MemoryOutOfBounds,
    /// An atomic access was misaligned.
    HeapMisaligned,
    /// A table access was out of bounds.
    TableOutOfBounds,
    /// `call_indirect` found a null entry.
    IndirectCallToNull,
    /// `call_indirect` found a function of another type.
    BadSignature,
    /// Integer overflow in division or float-to-int conversion.
    IntegerOverflow,
    /// Integer division or remainder by zero.
    IntegerDivisionByZero,
    /// Float-to-int conversion of NaN.
    BadConversionToInteger,
    /// `unreachable` was executed.
    UnreachableCodeReached,
    /// A null reference was used where a non-null one is needed.
    NullReference,
    /// A host function (or builtin) returned an error, stored aside by the runtime.
    HostError,
    /// The store's fuel ran out.
    OutOfFuel,
    /// The store's epoch deadline passed.
    Interrupt,
    /// `call_ref` or `return_call_ref` was given a null function reference.
    NullFunctionReference,
    /// `throw_ref` was given a null exception reference.
    NullExceptionReference,
    /// `ref.cast` found a reference of another type.
    CastFailure,
    /// `i31.get_s` or `i31.get_u` was given null.
    NullI31Reference,
    /// A struct access was given null.
    NullStructReference,
    /// An array access was given null.
    NullArrayReference,
    /// An array access past the array's end.
    ArrayOutOfBounds,
    /// An array too large for the GC heap's objects was asked for.
    AllocationTooLarge,
    /// The GC heap could not make room for an object, even after a collection and growing
    /// to its limit.
    GcHeapOutOfMemory,
}

impl Trap {
    /// Every trap, in code order: the code of `ALL[i]` is `i + 1`.
    pub const ALL: [Trap; 23] = [
        Trap::StackOverflow,
        Trap::MemoryOutOfBounds,
        Trap::HeapMisaligned,
        Trap::TableOutOfBounds,
        Trap::IndirectCallToNull,
        Trap::BadSignature,
        Trap::IntegerOverflow,
        Trap::IntegerDivisionByZero,
        Trap::BadConversionToInteger,
        Trap::UnreachableCodeReached,
        Trap::NullReference,
        Trap::HostError,
        Trap::OutOfFuel,
        Trap::Interrupt,
        Trap::NullFunctionReference,
        Trap::NullExceptionReference,
        Trap::CastFailure,
        Trap::NullI31Reference,
        Trap::NullStructReference,
        Trap::NullArrayReference,
        Trap::ArrayOutOfBounds,
        Trap::AllocationTooLarge,
        Trap::GcHeapOutOfMemory,
    ];

    /// The one-byte code written in the trap table (never 0).
    pub fn code(self) -> u8 {
        Trap::ALL.iter().position(|t| *t == self).unwrap_or(0) as u8 + 1
    }

    /// The trap with the given trap-table code, if any.
    pub fn from_code(code: u8) -> Option<Trap> {
        Trap::ALL.get(usize::from(code).checked_sub(1)?).copied()
    }

    /// The message the WebAssembly spec tests expect.
    pub fn message(self) -> &'static str {
        match self {
            Trap::StackOverflow => "call stack exhausted",
            Trap::MemoryOutOfBounds => "out of bounds memory access",
            Trap::HeapMisaligned => "misaligned memory access",
            // call_indirect's spec message is "undefined element", table.get's is
            // "out of bounds table access": one code covers both, so it names both.
            Trap::TableOutOfBounds => "undefined element: out of bounds table access",
            Trap::IndirectCallToNull => "uninitialized element",
            Trap::BadSignature => "indirect call type mismatch",
            Trap::IntegerOverflow => "integer overflow",
            Trap::IntegerDivisionByZero => "integer divide by zero",
            Trap::BadConversionToInteger => "invalid conversion to integer",
            Trap::UnreachableCodeReached => "unreachable",
            Trap::NullReference => "null reference",
            Trap::HostError => "host function error",
            Trap::OutOfFuel => "all fuel consumed by WebAssembly",
            Trap::Interrupt => "interrupt",
            Trap::NullFunctionReference => "null function reference",
            Trap::NullExceptionReference => "null exception reference",
            Trap::CastFailure => "cast failure",
            Trap::NullI31Reference => "null i31 reference",
            Trap::NullStructReference => "null structure reference",
            Trap::NullArrayReference => "null array reference",
            Trap::ArrayOutOfBounds => "out of bounds array access",
            Trap::AllocationTooLarge => "allocation size too large",
            Trap::GcHeapOutOfMemory => "out of memory: the GC heap is full",
        }
    }
}

impl fmt::Display for Trap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for Trap {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for t in Trap::ALL {
            assert_eq!(Trap::from_code(t.code()), Some(t));
        }
        assert_eq!(Trap::from_code(0), None);
        assert_eq!(Trap::from_code(200), None);
    }
}
