//! `FuncKey`: the one name of every piece of compiled code. It is two `u32`s (namespace =
//! kind << 28 | module-or-ABI, index), ordered on the raw pair, and doubles as Cranelift's
//! `UserExternalName`, so IR names, relocations, call-graph nodes, the function table and
//! symbols all agree.
use crate::{BuiltinFunction, DefinedFuncIndex, StaticModuleIndex, TypeIndex};
use cranelift_entity::EntityRef;

/// The kind of code a [`FuncKey`] names; its discriminant is the key's top four bits.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u32)]
pub enum FuncKeyKind {
    /// A wasm function the module defines.
    DefinedWasmFunction = 0,
    /// The host → wasm entry of an escaping function (array ABI → wasm ABI).
    ArrayToWasmTrampoline = 1,
    /// The wasm → host exit for one function signature of one module (wasm ABI → array
    /// ABI).
    WasmToArrayTrampoline = 2,
    /// The wasm → builtin exit for one runtime builtin.
    WasmToBuiltinTrampoline = 3,
}

/// The name of one compiled function.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FuncKey {
    /// `DefinedWasmFunction(module, def_index)`.
    DefinedWasmFunction(StaticModuleIndex, DefinedFuncIndex),
    /// `ArrayToWasmTrampoline(module, def_index)`.
    ArrayToWasmTrampoline(StaticModuleIndex, DefinedFuncIndex),
    /// `WasmToArrayTrampoline(module, type)`: one per distinct host-callable signature of
    /// each module, named by the module's own (deduplicated) type index, so that the
    /// trampolines of the modules sharing one artifact never collide.
    WasmToArrayTrampoline(StaticModuleIndex, TypeIndex),
    /// `WasmToBuiltinTrampoline(builtin)`.
    WasmToBuiltinTrampoline(BuiltinFunction),
}

const KIND_SHIFT: u32 = 28;
const LOW_MASK: u32 = (1 << KIND_SHIFT) - 1;

impl FuncKey {
    /// How many modules one compilation (and its artifact) may hold: a module index must fit
    /// the low bits of the namespace.
    pub const MAX_MODULES: usize = 1 << KIND_SHIFT;

    /// The module whose code this key names; `None` for the builtin trampolines, which all
    /// modules of an artifact share.
    pub fn module(self) -> Option<StaticModuleIndex> {
        match self {
            FuncKey::DefinedWasmFunction(m, _)
            | FuncKey::ArrayToWasmTrampoline(m, _)
            | FuncKey::WasmToArrayTrampoline(m, _) => Some(m),
            FuncKey::WasmToBuiltinTrampoline(_) => None,
        }
    }

    /// The kind of code this key names.
    pub fn kind(self) -> FuncKeyKind {
        match self {
            FuncKey::DefinedWasmFunction(..) => FuncKeyKind::DefinedWasmFunction,
            FuncKey::ArrayToWasmTrampoline(..) => FuncKeyKind::ArrayToWasmTrampoline,
            FuncKey::WasmToArrayTrampoline(..) => FuncKeyKind::WasmToArrayTrampoline,
            FuncKey::WasmToBuiltinTrampoline(..) => FuncKeyKind::WasmToBuiltinTrampoline,
        }
    }

    /// The raw `(namespace, index)` pair, as used in `UserExternalName`.
    pub fn into_raw(self) -> (u32, u32) {
        let kind = (self.kind() as u32) << KIND_SHIFT;
        match self {
            FuncKey::DefinedWasmFunction(m, i) | FuncKey::ArrayToWasmTrampoline(m, i) => {
                (kind | (m.as_u32() & LOW_MASK), i.as_u32())
            }
            FuncKey::WasmToArrayTrampoline(m, t) => (kind | (m.as_u32() & LOW_MASK), t.as_u32()),
            FuncKey::WasmToBuiltinTrampoline(b) => (kind, b.index()),
        }
    }

    /// The key of a raw pair, or `None` if it names nothing.
    pub fn from_raw(namespace: u32, index: u32) -> Option<FuncKey> {
        if index == u32::MAX {
            // The entity types reserve it.
            return None;
        }
        let low = namespace & LOW_MASK;
        let module = StaticModuleIndex::from_u32(low);
        let def = DefinedFuncIndex::from_u32(index);
        Some(match namespace >> KIND_SHIFT {
            0 => FuncKey::DefinedWasmFunction(module, def),
            1 => FuncKey::ArrayToWasmTrampoline(module, def),
            2 => FuncKey::WasmToArrayTrampoline(module, TypeIndex::from_u32(index)),
            3 if low == 0 => FuncKey::WasmToBuiltinTrampoline(BuiltinFunction::from_index(index)?),
            _ => return None,
        })
    }

    /// The symbol name of this key. `name` is the wasm function's name from the name section.
    pub fn symbol_name(self, name: Option<&str>) -> String {
        match (self, name) {
            (FuncKey::DefinedWasmFunction(m, i), Some(n)) => {
                format!("wasm[{}]::function[{}]::{}", m.index(), i.index(), clean_symbol_name(n))
            }
            (FuncKey::DefinedWasmFunction(m, i), None) => format!("wasm[{}]::function[{}]", m.index(), i.index()),
            (FuncKey::ArrayToWasmTrampoline(m, i), _) => {
                format!("wasm[{}]::array_to_wasm_trampoline[{}]", m.index(), i.index())
            }
            (FuncKey::WasmToArrayTrampoline(m, t), _) => {
                format!("wasm[{}]::wasm_to_array_trampoline[{}]", m.index(), t.index())
            }
            (FuncKey::WasmToBuiltinTrampoline(b), _) => format!("wasm_to_builtin_{}", b.name()),
        }
    }
}

/// Clean a name for use in a symbol: graphic ASCII is kept, each run of other characters
/// becomes one `?`, and the result is at most 96 characters.
pub fn clean_symbol_name(name: &str) -> String {
    let mut out = String::new();
    let mut in_bad_run = false;
    for c in name.chars() {
        if c.is_ascii_graphic() {
            out.push(c);
            in_bad_run = false;
        } else if !in_bad_run {
            out.push('?');
            in_bad_run = true;
        }
        if out.len() >= 96 {
            break;
        }
    }
    out.truncate(96);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_round_trip_and_order() {
        let keys = [
            FuncKey::DefinedWasmFunction(StaticModuleIndex::MAIN, DefinedFuncIndex::new(3)),
            FuncKey::DefinedWasmFunction(StaticModuleIndex::new(1), DefinedFuncIndex::new(0)),
            FuncKey::ArrayToWasmTrampoline(StaticModuleIndex::MAIN, DefinedFuncIndex::new(2)),
            FuncKey::WasmToArrayTrampoline(StaticModuleIndex::MAIN, TypeIndex::new(7)),
            FuncKey::WasmToArrayTrampoline(StaticModuleIndex::new(2), TypeIndex::new(7)),
            FuncKey::WasmToArrayTrampoline(StaticModuleIndex::new(FuncKey::MAX_MODULES - 1), TypeIndex::new(0)),
            FuncKey::WasmToBuiltinTrampoline(BuiltinFunction::MemoryGrow),
        ];
        for k in keys {
            let (ns, i) = k.into_raw();
            assert_eq!(FuncKey::from_raw(ns, i), Some(k));
        }
        let mut raw: Vec<_> = keys.iter().map(|k| k.into_raw()).collect();
        let mut sorted = keys.to_vec();
        sorted.sort();
        raw.sort();
        assert_eq!(raw, sorted.iter().map(|k| k.into_raw()).collect::<Vec<_>>());
        assert_eq!(FuncKey::from_raw(9 << 28, 0), None);
        assert_eq!(FuncKey::from_raw(3 << 28 | 1, 0), None, "builtins belong to no module");
        // The same signature in two modules names two trampolines.
        let t = TypeIndex::new(7);
        let (a, b) = (StaticModuleIndex::MAIN, StaticModuleIndex::new(1));
        assert_ne!(FuncKey::WasmToArrayTrampoline(a, t).into_raw(), FuncKey::WasmToArrayTrampoline(b, t).into_raw());
        assert_eq!(FuncKey::WasmToArrayTrampoline(b, t).module(), Some(b));
        assert_eq!(FuncKey::WasmToBuiltinTrampoline(BuiltinFunction::MemoryGrow).module(), None);
    }

    #[test]
    fn names_are_cleaned() {
        assert_eq!(clean_symbol_name("a b\t\tc"), "a?b?c");
        assert_eq!(clean_symbol_name("héllo"), "h?llo");
        assert_eq!(clean_symbol_name(&"x".repeat(200)).len(), 96);
        let k = FuncKey::DefinedWasmFunction(StaticModuleIndex::MAIN, DefinedFuncIndex::new(4));
        assert_eq!(k.symbol_name(Some("f g")), "wasm[0]::function[4]::f?g");
        assert_eq!(k.symbol_name(None), "wasm[0]::function[4]");
        let t = FuncKey::WasmToArrayTrampoline(StaticModuleIndex::new(3), TypeIndex::new(1));
        assert_eq!(t.symbol_name(None), "wasm[3]::wasm_to_array_trampoline[1]");
    }
}
