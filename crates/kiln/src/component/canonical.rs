//! The canonical ABI, run by the host: lifting a component-level [`Val`] out of core wasm
//! values and linear memory, and lowering one into them, for every value type, under one
//! side's canonical options (memory, `realloc`, string encoding, handle table). Host calls
//! use one side; a call from one component to another lifts from the caller's side and
//! lowers into the callee's.
//!
//! Every pointer is checked before it is used (alignment, then bounds against the memory's
//! current size), every discriminant, `char` and string against its type, and every
//! allocation the guest asks the host for is bounded by the guest memory it came from.
use std::sync::Arc;

use kiln_environ::component::{
    ComponentInfo, ComponentTypes, FlatType, InterfaceType, ResourceDef, ResourceIndex, RuntimeComponentInstanceIndex,
    StringEncoding,
};

use super::resources::{CallScope, Slot, trap};
use super::store::ComponentInstanceId;
use super::values::{ResourceAny, Val};
use crate::{AsContext, AsContextMut, Error, Func, Memory, Result, StoreContextMut, Val as CoreVal};

/// The most elements a list whose elements take no memory may have when lifted.
const MAX_ZERO_SIZED_LIST: u32 = 1 << 20;
/// The largest string, in code units.
const MAX_STRING_LENGTH: usize = (1 << 31) - 1;
const UTF16_TAG: u32 = 1 << 31;

/// One side of a call across the canonical ABI: a component instance and its options.
#[derive(Clone)]
pub(crate) struct Side {
    pub instance: ComponentInstanceId,
    pub rci: RuntimeComponentInstanceIndex,
    pub memory: Option<Memory>,
    pub realloc: Option<Func>,
    pub encoding: StringEncoding,
}

/// What lifting and lowering on one side work with.
pub(crate) struct Cx<'a, 'b, T> {
    pub store: &'a mut StoreContextMut<'b, T>,
    pub info: Arc<ComponentInfo>,
    pub side: &'a Side,
    /// The scope of the call in progress, for lends and borrows.
    pub scope: usize,
    /// Whether this is one half of a call from one component to another. Such a call
    /// reports the traps of wasmtime's fused adapters (`unaligned pointer`, `list content
    /// out-of-bounds`), a host call those of its host-side lifting and lowering.
    pub fused: bool,
}

fn mismatch(expected: &str, val: &Val) -> Error {
    Error::Other(format!("type mismatch: expected {expected}, found {}", kind_name(val)))
}

fn kind_name(v: &Val) -> &'static str {
    match v {
        Val::Bool(_) => "bool",
        Val::S8(_) => "s8",
        Val::U8(_) => "u8",
        Val::S16(_) => "s16",
        Val::U16(_) => "u16",
        Val::S32(_) => "s32",
        Val::U32(_) => "u32",
        Val::S64(_) => "s64",
        Val::U64(_) => "u64",
        Val::Float32(_) => "f32",
        Val::Float64(_) => "f64",
        Val::Char(_) => "char",
        Val::String(_) => "string",
        Val::List(_) => "list",
        Val::Record(_) => "record",
        Val::Tuple(_) => "tuple",
        Val::Variant(..) => "variant",
        Val::Enum(_) => "enum",
        Val::Option(_) => "option",
        Val::Result(_) => "result",
        Val::Flags(_) => "flags",
        Val::Map(_) => "map",
        Val::Resource(_) => "resource",
    }
}

fn next_i32(src: &mut dyn Iterator<Item = CoreVal>) -> Result<i32> {
    match src.next() {
        Some(CoreVal::I32(v)) => Ok(v),
        _ => Err(Error::Other("internal: flat value of the wrong type".into())),
    }
}

fn next_i64(src: &mut dyn Iterator<Item = CoreVal>) -> Result<i64> {
    match src.next() {
        Some(CoreVal::I64(v)) => Ok(v),
        _ => Err(Error::Other("internal: flat value of the wrong type".into())),
    }
}

fn next_f32(src: &mut dyn Iterator<Item = CoreVal>) -> Result<f32> {
    match src.next() {
        Some(CoreVal::F32(v)) => Ok(f32::from_bits(v)),
        _ => Err(Error::Other("internal: flat value of the wrong type".into())),
    }
}

fn next_f64(src: &mut dyn Iterator<Item = CoreVal>) -> Result<f64> {
    match src.next() {
        Some(CoreVal::F64(v)) => Ok(f64::from_bits(v)),
        _ => Err(Error::Other("internal: flat value of the wrong type".into())),
    }
}

fn char_of(bits: u32) -> Result<char> {
    char::from_u32(bits).ok_or_else(|| trap("invalid `char` bit pattern"))
}

/// The zero value of a flat type.
pub(crate) fn zero(t: FlatType) -> CoreVal {
    match t {
        FlatType::I32 => CoreVal::I32(0),
        FlatType::I64 => CoreVal::I64(0),
        FlatType::F32 => CoreVal::F32(0),
        FlatType::F64 => CoreVal::F64(0),
    }
}

/// The core type of a flat type.
pub(crate) fn core_type(t: FlatType) -> crate::ValType {
    match t {
        FlatType::I32 => crate::ValType::I32,
        FlatType::I64 => crate::ValType::I64,
        FlatType::F32 => crate::ValType::F32,
        FlatType::F64 => crate::ValType::F64,
    }
}

/// Reinterprets a flat value produced for `have` (a variant's joined type) as `want`.
fn coerce_in(v: CoreVal, want: FlatType) -> CoreVal {
    match (v, want) {
        (CoreVal::I64(x), FlatType::I32) => CoreVal::I32(x as i32),
        (CoreVal::I64(x), FlatType::F32) => CoreVal::F32(x as u32),
        (CoreVal::I64(x), FlatType::F64) => CoreVal::F64(x as u64),
        (CoreVal::I32(x), FlatType::F32) => CoreVal::F32(x as u32),
        (v, _) => v,
    }
}

/// Widens a case's flat value to the variant's joined type.
fn coerce_out(v: CoreVal, have: FlatType) -> CoreVal {
    match (v, have) {
        (CoreVal::I32(x), FlatType::I64) => CoreVal::I64(x as u32 as i64),
        (CoreVal::F32(x), FlatType::I32) => CoreVal::I32(x as i32),
        (CoreVal::F32(x), FlatType::I64) => CoreVal::I64(x as i64),
        (CoreVal::F64(x), FlatType::I64) => CoreVal::I64(x as i64),
        (v, _) => v,
    }
}

impl<T> Cx<'_, '_, T> {
    fn types(&self) -> &ComponentTypes {
        &self.info.types
    }

    fn memory(&self) -> Result<Memory> {
        self.side.memory.ok_or_else(|| Error::Other("internal: canonical options lack a memory".into()))
    }

    fn mem_len(&self) -> Result<usize> {
        let m = self.memory()?;
        Ok(m.data(self.store.as_context()).len())
    }

    fn read<const N: usize>(&self, ptr: usize) -> Result<[u8; N]> {
        let m = self.memory()?;
        let data = m.data(self.store.as_context());
        data.get(ptr..ptr + N).and_then(|s| s.try_into().ok()).ok_or_else(|| trap("pointer out of bounds of memory"))
    }

    fn write(&mut self, ptr: usize, bytes: &[u8]) -> Result<()> {
        let m = self.memory()?;
        let data = m.data_mut(self.store.as_context_mut());
        data.get_mut(ptr..ptr + bytes.len())
            .ok_or_else(|| trap("pointer out of bounds of memory"))?
            .copy_from_slice(bytes);
        Ok(())
    }

    /// Counts `bytes` of host memory that lifting a value takes, against a limit of four
    /// times the guest's memory (at least 16 MiB) per call: a guest's values may point at the
    /// same bytes many times over, so their lifted size is not bounded by its memory alone.
    fn charge(&mut self, bytes: usize) -> Result<()> {
        let limit = self.mem_len().unwrap_or(0).saturating_mul(4).max(16 << 20);
        let Some(scope) = self.store.0.opaque.components.scopes.get_mut(self.scope) else { return Ok(()) };
        scope.lifted = scope.lifted.saturating_add(bytes);
        if scope.lifted > limit {
            return Err(Error::Limit(format!(
                "the values of one call take more than {limit} bytes of host memory lifted"
            )));
        }
        Ok(())
    }

    /// Checks that `size` bytes at `ptr` aligned to `align` lie inside the memory.
    pub fn check_range(&self, ptr: u32, align: u32, size: usize, what: &str) -> Result<()> {
        if !ptr.is_multiple_of(align) {
            return Err(trap("unaligned pointer"));
        }
        if (ptr as usize).checked_add(size).is_none_or(|end| end > self.mem_len().unwrap_or(0)) {
            return Err(trap(format!("{what} out-of-bounds")));
        }
        Ok(())
    }

    /// Calls `realloc(0, 0, align, size)` for a `what` (`list` or `string`) and checks what
    /// it returns.
    pub fn allocate(&mut self, align: u32, size: usize, what: &str) -> Result<u32> {
        let realloc =
            self.side.realloc.ok_or_else(|| Error::Other("internal: canonical options lack realloc".into()))?;
        let size32 = u32::try_from(size).map_err(|_| trap("allocation size too large"))?;
        let mut result = [CoreVal::I32(0)];
        realloc.call(
            &mut *self.store,
            &[CoreVal::I32(0), CoreVal::I32(0), CoreVal::I32(align as i32), CoreVal::I32(size32 as i32)],
            &mut result,
        )?;
        let CoreVal::I32(ptr) = result[0] else {
            return Err(Error::Other("internal: realloc returned a non-i32".into()));
        };
        let ptr = ptr as u32;
        if !ptr.is_multiple_of(align) {
            return Err(trap(if self.fused { "unaligned pointer" } else { "realloc return: result not aligned" }));
        }
        let len = self.mem_len()?;
        if (ptr as usize).checked_add(size).is_none_or(|end| end > len) {
            return Err(if self.fused {
                trap(format!("{what} content out-of-bounds"))
            } else {
                trap("realloc return: beyond end of memory")
            });
        }
        Ok(ptr)
    }

    fn resource_type(&self, r: ResourceIndex) -> super::values::ResourceType {
        self.store.0.opaque.components.instances[self.side.instance].resource_types[r]
    }

    /// Whether this side's instance is the one that defines `r`.
    fn implements(&self, r: ResourceIndex) -> bool {
        matches!(self.info.resources[r], ResourceDef::Defined { instance } if instance == self.side.rci)
    }

    // ---- lifting -------------------------------------------------------------------------

    /// Lifts a value of type `ty` from flat core values.
    pub fn lift_flat(&mut self, ty: InterfaceType, src: &mut dyn Iterator<Item = CoreVal>) -> Result<Val> {
        Ok(match ty {
            InterfaceType::Bool => Val::Bool(next_i32(src)? != 0),
            InterfaceType::S8 => Val::S8(next_i32(src)? as i8),
            InterfaceType::U8 => Val::U8(next_i32(src)? as u8),
            InterfaceType::S16 => Val::S16(next_i32(src)? as i16),
            InterfaceType::U16 => Val::U16(next_i32(src)? as u16),
            InterfaceType::S32 => Val::S32(next_i32(src)?),
            InterfaceType::U32 => Val::U32(next_i32(src)? as u32),
            InterfaceType::S64 => Val::S64(next_i64(src)?),
            InterfaceType::U64 => Val::U64(next_i64(src)? as u64),
            InterfaceType::Float32 => Val::Float32(next_f32(src)?),
            InterfaceType::Float64 => Val::Float64(next_f64(src)?),
            InterfaceType::Char => Val::Char(char_of(next_i32(src)? as u32)?),
            InterfaceType::String => {
                let ptr = next_i32(src)? as u32;
                let len = next_i32(src)? as u32;
                Val::String(self.lift_string(ptr, len)?)
            }
            InterfaceType::List(i) => {
                let ptr = next_i32(src)? as u32;
                let len = next_i32(src)? as u32;
                let elem = self.types().lists[i];
                self.lift_list(elem, ptr, len)?
            }
            InterfaceType::Map(i) => {
                let ptr = next_i32(src)? as u32;
                let len = next_i32(src)? as u32;
                self.lift_map(i, ptr, len)?
            }
            InterfaceType::Record(i) => {
                let info = self.info.clone();
                let fields = &info.types.records[i].fields;
                let mut out = Vec::with_capacity(fields.len());
                for (name, t) in fields {
                    out.push((name.clone(), self.lift_flat(*t, src)?));
                }
                Val::Record(out)
            }
            InterfaceType::Tuple(i) => {
                let info = self.info.clone();
                let types = &info.types.tuples[i].types;
                let mut out = Vec::with_capacity(types.len());
                for t in types {
                    out.push(self.lift_flat(*t, src)?);
                }
                Val::Tuple(out)
            }
            InterfaceType::Flags(i) => {
                let info = self.info.clone();
                let names = &info.types.flags[i].names;
                let mut set = Vec::new();
                for chunk in names.chunks(32) {
                    let bits = next_i32(src)? as u32;
                    for (b, name) in chunk.iter().enumerate() {
                        if bits & (1 << b) != 0 {
                            set.push(name.clone());
                        }
                    }
                }
                Val::Flags(set)
            }
            InterfaceType::Enum(i) => {
                let d = next_i32(src)? as u32;
                let name = self.types().enums[i].names.get(d as usize).cloned();
                Val::Enum(name.ok_or_else(|| trap(invalid_discriminant(ty, self.fused)))?)
            }
            InterfaceType::Variant(_) | InterfaceType::Option(_) | InterfaceType::Result(_) => {
                let joined = self.types().flat(ty);
                let d = next_i32(src)? as u32;
                let cases = self.cases(ty);
                let Some(payload) = cases.get(d as usize).copied() else {
                    return Err(trap(invalid_discriminant(ty, self.fused)));
                };
                let payload_vals: Vec<CoreVal> = src.take(joined.len() - 1).collect();
                let value = match payload {
                    Some(p) => {
                        let want = self.types().flat(p);
                        let mut it = payload_vals.into_iter().zip(want).map(|(v, w)| coerce_in(v, w));
                        Some(Box::new(self.lift_flat(p, &mut it)?))
                    }
                    None => None,
                };
                self.make_variant(ty, d, value)
            }
            InterfaceType::Own(r) => {
                let handle = next_i32(src)? as u32;
                self.lift_own(r, handle)?
            }
            InterfaceType::Borrow(r) => {
                let handle = next_i32(src)? as u32;
                self.lift_borrow(r, handle)?
            }
        })
    }

    /// The payload types of a variant-like type's cases.
    fn cases(&self, ty: InterfaceType) -> Vec<Option<InterfaceType>> {
        let t = self.types();
        match ty {
            InterfaceType::Variant(i) => t.variants[i].cases.iter().map(|(_, c)| *c).collect(),
            InterfaceType::Option(i) => vec![None, Some(t.options[i])],
            InterfaceType::Result(i) => vec![t.results[i].ok, t.results[i].err],
            InterfaceType::Enum(i) => vec![None; t.enums[i].names.len()],
            _ => Vec::new(),
        }
    }

    fn make_variant(&self, ty: InterfaceType, d: u32, value: Option<Box<Val>>) -> Val {
        match ty {
            InterfaceType::Variant(i) => Val::Variant(self.types().variants[i].cases[d as usize].0.clone(), value),
            InterfaceType::Option(_) => Val::Option(value),
            InterfaceType::Enum(i) => Val::Enum(self.types().enums[i].names[d as usize].clone()),
            _ => Val::Result(if d == 0 { Ok(value) } else { Err(value) }),
        }
    }

    /// Loads a value of type `ty` from memory at `ptr` (aligned and in bounds: the caller
    /// checked the whole range).
    pub fn load(&mut self, ty: InterfaceType, ptr: usize) -> Result<Val> {
        let u32_at = |cx: &Self, p: usize| -> Result<u32> { Ok(u32::from_le_bytes(cx.read::<4>(p)?)) };
        Ok(match ty {
            InterfaceType::Bool => Val::Bool(self.read::<1>(ptr)?[0] != 0),
            InterfaceType::S8 => Val::S8(self.read::<1>(ptr)?[0] as i8),
            InterfaceType::U8 => Val::U8(self.read::<1>(ptr)?[0]),
            InterfaceType::S16 => Val::S16(i16::from_le_bytes(self.read(ptr)?)),
            InterfaceType::U16 => Val::U16(u16::from_le_bytes(self.read(ptr)?)),
            InterfaceType::S32 => Val::S32(i32::from_le_bytes(self.read(ptr)?)),
            InterfaceType::U32 => Val::U32(u32_at(self, ptr)?),
            InterfaceType::S64 => Val::S64(i64::from_le_bytes(self.read(ptr)?)),
            InterfaceType::U64 => Val::U64(u64::from_le_bytes(self.read(ptr)?)),
            InterfaceType::Float32 => Val::Float32(f32::from_le_bytes(self.read(ptr)?)),
            InterfaceType::Float64 => Val::Float64(f64::from_le_bytes(self.read(ptr)?)),
            InterfaceType::Char => Val::Char(char_of(u32_at(self, ptr)?)?),
            InterfaceType::String => {
                let (p, l) = (u32_at(self, ptr)?, u32_at(self, ptr + 4)?);
                Val::String(self.lift_string(p, l)?)
            }
            InterfaceType::List(i) => {
                let (p, l) = (u32_at(self, ptr)?, u32_at(self, ptr + 4)?);
                let elem = self.types().lists[i];
                self.lift_list(elem, p, l)?
            }
            InterfaceType::Map(i) => {
                let (p, l) = (u32_at(self, ptr)?, u32_at(self, ptr + 4)?);
                self.lift_map(i, p, l)?
            }
            InterfaceType::Record(i) => {
                let info = self.info.clone();
                let fields = &info.types.records[i].fields;
                let types: Vec<InterfaceType> = fields.iter().map(|(_, t)| *t).collect();
                let values = self.load_fields(&types, ptr)?;
                Val::Record(fields.iter().map(|(n, _)| n.clone()).zip(values).collect())
            }
            InterfaceType::Tuple(i) => {
                let info = self.info.clone();
                let types = &info.types.tuples[i].types;
                Val::Tuple(self.load_fields(types, ptr)?)
            }
            InterfaceType::Flags(i) => {
                let info = self.info.clone();
                let names = &info.types.flags[i].names;
                let size = self.types().layout(ty).size as usize;
                let mut set = Vec::new();
                for (b, name) in names.iter().enumerate() {
                    let byte = self.read::<1>(ptr + b / 8)?[0];
                    if b / 8 < size && byte & (1 << (b % 8)) != 0 {
                        set.push(name.clone());
                    }
                }
                Val::Flags(set)
            }
            InterfaceType::Enum(_)
            | InterfaceType::Variant(_)
            | InterfaceType::Option(_)
            | InterfaceType::Result(_) => {
                let cases = self.cases(ty);
                let d = match kiln_environ::component::discriminant_size(cases.len()) {
                    1 => self.read::<1>(ptr)?[0] as u32,
                    2 => u16::from_le_bytes(self.read(ptr)?) as u32,
                    _ => u32_at(self, ptr)?,
                };
                let Some(payload) = cases.get(d as usize).copied() else {
                    return Err(trap(invalid_discriminant(ty, self.fused)));
                };
                let value = match payload {
                    Some(p) => {
                        let offset = self.types().payload_offset(ty) as usize;
                        Some(Box::new(self.load(p, ptr + offset)?))
                    }
                    None => None,
                };
                self.make_variant(ty, d, value)
            }
            InterfaceType::Own(r) => {
                let h = u32_at(self, ptr)?;
                self.lift_own(r, h)?
            }
            InterfaceType::Borrow(r) => {
                let h = u32_at(self, ptr)?;
                self.lift_borrow(r, h)?
            }
        })
    }

    /// Loads values of `types` laid out as a record at `ptr`.
    pub fn load_fields(&mut self, types: &[InterfaceType], ptr: usize) -> Result<Vec<Val>> {
        let offsets = self.types().field_offsets(types.iter().copied());
        types.iter().zip(offsets).map(|(t, o)| self.load(*t, ptr + o as usize)).collect()
    }

    /// Stores `vals` of `types` laid out as a record at `ptr`.
    pub fn store_fields<'v>(
        &mut self,
        types: &[InterfaceType],
        vals: impl Iterator<Item = &'v Val>,
        ptr: usize,
    ) -> Result<()> {
        let offsets = self.types().field_offsets(types.iter().copied());
        for ((t, o), v) in types.iter().zip(offsets).zip(vals) {
            self.store_val(*t, v, ptr + o as usize)?;
        }
        Ok(())
    }

    /// Charges the `Val`s of `len` elements of `size` bytes each, refusing long lists of
    /// elements that take no memory at all.
    fn charge_elements(&mut self, len: u32, size: u32) -> Result<()> {
        if size == 0 && len > MAX_ZERO_SIZED_LIST {
            return Err(Error::Limit(format!(
                "a list of {len} zero-sized elements (Kiln lifts at most {MAX_ZERO_SIZED_LIST})"
            )));
        }
        self.charge((len as usize).saturating_mul(size_of::<Val>()))
    }

    fn lift_string(&mut self, ptr: u32, len: u32) -> Result<String> {
        let (units, utf16) = match self.side.encoding {
            StringEncoding::Utf8 => (len, false),
            StringEncoding::Utf16 => (len, true),
            StringEncoding::CompactUtf16 => (len & !UTF16_TAG, len & UTF16_TAG != 0),
        };
        let align = if self.side.encoding == StringEncoding::Utf8 { 1 } else { 2 };
        let bytes = if utf16 { units as usize * 2 } else { units as usize };
        if !ptr.is_multiple_of(align) {
            return Err(trap("unaligned pointer"));
        }
        let end = (ptr as usize).checked_add(bytes).filter(|end| *end <= self.mem_len().unwrap_or(0));
        let Some(end) = end else {
            return Err(trap(if self.fused {
                "string content out-of-bounds"
            } else {
                "string pointer/length out of bounds of memory"
            }));
        };
        self.charge(bytes)?;
        let m = self.memory()?;
        let slice = &m.data(self.store.as_context())[ptr as usize..end];
        match (self.side.encoding, utf16) {
            (StringEncoding::Utf8, _) => utf8(slice).map(str::to_string),
            (_, true) => utf16_chars(slice).collect(),
            (_, false) => Ok(slice.iter().map(|b| *b as char).collect()),
        }
    }

    fn lift_list(&mut self, elem: InterfaceType, ptr: u32, len: u32) -> Result<Val> {
        let l = self.types().layout(elem);
        let bytes = (len as usize).checked_mul(l.size as usize).ok_or_else(|| trap("list content out-of-bounds"))?;
        self.check_range(ptr, l.align, bytes, "list content")?;
        self.charge_elements(len, l.size)?;
        let mut out = Vec::with_capacity(len as usize);
        for i in 0..len as usize {
            out.push(self.load(elem, ptr as usize + i * l.size as usize)?);
        }
        Ok(Val::List(out))
    }

    fn lift_map(&mut self, map: kiln_environ::component::TypeMapIndex, ptr: u32, len: u32) -> Result<Val> {
        let (l, value_offset) = self.types().map_entry_layout(map);
        let (key, value) = (self.types().maps[map].key, self.types().maps[map].value);
        let bytes = (len as usize).checked_mul(l.size as usize).ok_or_else(|| trap("list content out-of-bounds"))?;
        self.check_range(ptr, l.align, bytes, "list content")?;
        self.charge_elements(len, l.size)?;
        let mut out = Vec::with_capacity(len as usize);
        for i in 0..len as usize {
            let at = ptr as usize + i * l.size as usize;
            out.push((self.load(key, at)?, self.load(value, at + value_offset as usize)?));
        }
        Ok(Val::Map(out))
    }

    fn lower_map(&mut self, map: kiln_environ::component::TypeMapIndex, entries: &[(Val, Val)]) -> Result<(u32, u32)> {
        let (l, value_offset) = self.types().map_entry_layout(map);
        let (key, value) = (self.types().maps[map].key, self.types().maps[map].value);
        let bytes = entries.len().checked_mul(l.size as usize).filter(|b| *b <= u32::MAX as usize);
        let bytes = bytes.ok_or_else(|| trap("list content out-of-bounds"))?;
        let ptr = self.allocate(l.align, bytes, "list")?;
        for (i, (k, v)) in entries.iter().enumerate() {
            let at = ptr as usize + i * l.size as usize;
            self.store_val(key, k, at)?;
            self.store_val(value, v, at + value_offset as usize)?;
        }
        Ok((ptr, entries.len() as u32))
    }

    fn lift_own(&mut self, r: ResourceIndex, handle: u32) -> Result<Val> {
        let ty = self.resource_type(r);
        let (id, rci) = (self.side.instance, self.side.rci);
        let rep = self.store.0.opaque.components.instances[id].tables[rci].take_own(handle, ty)?;
        Ok(Val::Resource(self.store.0.opaque.components.host.insert(rep, ty)?))
    }

    fn lift_borrow(&mut self, r: ResourceIndex, handle: u32) -> Result<Val> {
        let ty = self.resource_type(r);
        let (id, rci) = (self.side.instance, self.side.rci);
        let components = &mut self.store.0.opaque.components;
        let (rep, lent) = components.instances[id].tables[rci].lend(handle, ty)?;
        if let (true, Some(scope)) = (lent, components.scopes.get_mut(self.scope)) {
            scope.lends.push((Some((id, rci)), handle));
        }
        Ok(Val::Resource(components.host.borrowed(rep, ty)))
    }

    // ---- lowering ------------------------------------------------------------------------

    /// Lowers `val` of type `ty` to flat core values.
    pub fn lower_flat(&mut self, ty: InterfaceType, val: &Val, out: &mut Vec<CoreVal>) -> Result<()> {
        match (ty, val) {
            (InterfaceType::Bool, Val::Bool(b)) => out.push(CoreVal::I32(*b as i32)),
            (InterfaceType::S8, Val::S8(v)) => out.push(CoreVal::I32(*v as i32)),
            (InterfaceType::U8, Val::U8(v)) => out.push(CoreVal::I32(*v as i32)),
            (InterfaceType::S16, Val::S16(v)) => out.push(CoreVal::I32(*v as i32)),
            (InterfaceType::U16, Val::U16(v)) => out.push(CoreVal::I32(*v as i32)),
            (InterfaceType::S32, Val::S32(v)) => out.push(CoreVal::I32(*v)),
            (InterfaceType::U32, Val::U32(v)) => out.push(CoreVal::I32(*v as i32)),
            (InterfaceType::S64, Val::S64(v)) => out.push(CoreVal::I64(*v)),
            (InterfaceType::U64, Val::U64(v)) => out.push(CoreVal::I64(*v as i64)),
            (InterfaceType::Float32, Val::Float32(v)) => out.push(CoreVal::F32(canonical_f32(*v).to_bits())),
            (InterfaceType::Float64, Val::Float64(v)) => out.push(CoreVal::F64(canonical_f64(*v).to_bits())),
            (InterfaceType::Char, Val::Char(c)) => out.push(CoreVal::I32(*c as i32)),
            (InterfaceType::String, Val::String(s)) => {
                let (ptr, len) = self.lower_string(s)?;
                out.extend([CoreVal::I32(ptr as i32), CoreVal::I32(len as i32)]);
            }
            (InterfaceType::List(i), Val::List(items)) => {
                let elem = self.types().lists[i];
                let (ptr, len) = self.lower_list(elem, items)?;
                out.extend([CoreVal::I32(ptr as i32), CoreVal::I32(len as i32)]);
            }
            (InterfaceType::Map(i), Val::Map(entries)) => {
                let (ptr, len) = self.lower_map(i, entries)?;
                out.extend([CoreVal::I32(ptr as i32), CoreVal::I32(len as i32)]);
            }
            (InterfaceType::Record(i), Val::Record(fields)) => {
                let types = self.types().records[i].fields.clone();
                if types.len() != fields.len() {
                    return Err(mismatch("a record with other fields", val));
                }
                for ((name, t), (n, v)) in types.iter().zip(fields) {
                    if name != n {
                        return Err(Error::Other(format!(
                            "type mismatch: expected record field `{name}`, found `{n}`"
                        )));
                    }
                    self.lower_flat(*t, v, out)?;
                }
            }
            (InterfaceType::Tuple(i), Val::Tuple(items)) => {
                let info = self.info.clone();
                let types = &info.types.tuples[i].types;
                if types.len() != items.len() {
                    return Err(mismatch("a tuple of another length", val));
                }
                for (t, v) in types.iter().zip(items) {
                    self.lower_flat(*t, v, out)?;
                }
            }
            (InterfaceType::Flags(i), Val::Flags(set)) => {
                for word in self.flag_words(i, set)? {
                    out.push(CoreVal::I32(word as i32));
                }
            }
            (
                InterfaceType::Enum(_)
                | InterfaceType::Variant(_)
                | InterfaceType::Option(_)
                | InterfaceType::Result(_),
                _,
            ) => {
                let (d, payload) = self.case_of(ty, val)?;
                let joined = self.types().flat(ty);
                out.push(CoreVal::I32(d as i32));
                let start = out.len();
                if let (Some(pt), Some(pv)) = (self.cases(ty)[d as usize], payload) {
                    let mut vals = Vec::new();
                    self.lower_flat(pt, pv, &mut vals)?;
                    for (v, have) in vals.into_iter().zip(&joined[1..]) {
                        out.push(coerce_out(v, *have));
                    }
                }
                for have in &joined[1 + (out.len() - start)..] {
                    out.push(zero(*have));
                }
            }
            (InterfaceType::Own(r), Val::Resource(res)) => {
                let h = self.lower_own(r, res)?;
                out.push(CoreVal::I32(h as i32));
            }
            (InterfaceType::Borrow(r), Val::Resource(res)) => {
                let h = self.lower_borrow(r, res)?;
                out.push(CoreVal::I32(h as i32));
            }
            (ty, val) => return Err(mismatch(&format!("{ty:?}"), val)),
        }
        Ok(())
    }

    fn flag_words(&self, i: kiln_environ::component::TypeFlagsIndex, set: &[String]) -> Result<Vec<u32>> {
        let names = &self.types().flags[i].names;
        let mut words = vec![0u32; names.len().div_ceil(32)];
        for s in set {
            let b = names.iter().position(|n| n == s).ok_or_else(|| Error::Other(format!("unknown flag `{s}`")))?;
            words[b / 32] |= 1 << (b % 32);
        }
        Ok(words)
    }

    /// The case index and payload of a variant-like value.
    fn case_of<'v>(&self, ty: InterfaceType, val: &'v Val) -> Result<(u32, Option<&'v Val>)> {
        let t = self.types();
        let payload_of = |p: &'v Option<Box<Val>>| p.as_deref();
        Ok(match (ty, val) {
            (InterfaceType::Variant(i), Val::Variant(name, p)) => {
                let d = t.variants[i].cases.iter().position(|(n, _)| n == name);
                let d = d.ok_or_else(|| Error::Other(format!("unknown variant case `{name}`")))?;
                if t.variants[i].cases[d].1.is_some() != p.is_some() {
                    return Err(Error::Other(format!("variant case `{name}` with the wrong payload")));
                }
                (d as u32, payload_of(p))
            }
            (InterfaceType::Enum(i), Val::Enum(name)) => {
                let d = t.enums[i].names.iter().position(|n| n == name);
                (d.ok_or_else(|| Error::Other(format!("unknown enum case `{name}`")))? as u32, None)
            }
            (InterfaceType::Option(_), Val::Option(p)) => (p.is_some() as u32, payload_of(p)),
            (InterfaceType::Result(i), Val::Result(r)) => {
                let (d, p, want) = match r {
                    Ok(p) => (0, p, t.results[i].ok),
                    Err(p) => (1, p, t.results[i].err),
                };
                if want.is_some() != p.is_some() {
                    return Err(Error::Other("result with the wrong payload".into()));
                }
                (d, payload_of(p))
            }
            _ => return Err(mismatch(&format!("{ty:?}"), val)),
        })
    }

    /// Stores `val` of type `ty` at `ptr` (aligned and in bounds: checked by the caller).
    pub fn store_val(&mut self, ty: InterfaceType, val: &Val, ptr: usize) -> Result<()> {
        match (ty, val) {
            (InterfaceType::Bool, Val::Bool(b)) => self.write(ptr, &[*b as u8]),
            (InterfaceType::S8, Val::S8(v)) => self.write(ptr, &v.to_le_bytes()),
            (InterfaceType::U8, Val::U8(v)) => self.write(ptr, &v.to_le_bytes()),
            (InterfaceType::S16, Val::S16(v)) => self.write(ptr, &v.to_le_bytes()),
            (InterfaceType::U16, Val::U16(v)) => self.write(ptr, &v.to_le_bytes()),
            (InterfaceType::S32, Val::S32(v)) => self.write(ptr, &v.to_le_bytes()),
            (InterfaceType::U32, Val::U32(v)) => self.write(ptr, &v.to_le_bytes()),
            (InterfaceType::S64, Val::S64(v)) => self.write(ptr, &v.to_le_bytes()),
            (InterfaceType::U64, Val::U64(v)) => self.write(ptr, &v.to_le_bytes()),
            (InterfaceType::Float32, Val::Float32(v)) => self.write(ptr, &canonical_f32(*v).to_le_bytes()),
            (InterfaceType::Float64, Val::Float64(v)) => self.write(ptr, &canonical_f64(*v).to_le_bytes()),
            (InterfaceType::Char, Val::Char(c)) => self.write(ptr, &(*c as u32).to_le_bytes()),
            (InterfaceType::String, Val::String(s)) => {
                let (p, l) = self.lower_string(s)?;
                self.write(ptr, &p.to_le_bytes())?;
                self.write(ptr + 4, &l.to_le_bytes())
            }
            (InterfaceType::List(i), Val::List(items)) => {
                let elem = self.types().lists[i];
                let (p, l) = self.lower_list(elem, items)?;
                self.write(ptr, &p.to_le_bytes())?;
                self.write(ptr + 4, &l.to_le_bytes())
            }
            (InterfaceType::Map(i), Val::Map(entries)) => {
                let (p, l) = self.lower_map(i, entries)?;
                self.write(ptr, &p.to_le_bytes())?;
                self.write(ptr + 4, &l.to_le_bytes())
            }
            (InterfaceType::Record(i), Val::Record(fields)) => {
                let types = self.types().records[i].fields.clone();
                if types.len() != fields.len() {
                    return Err(mismatch("a record with other fields", val));
                }
                let types: Vec<InterfaceType> = types.iter().map(|(_, t)| *t).collect();
                self.store_fields(&types, fields.iter().map(|(_, v)| v), ptr)
            }
            (InterfaceType::Tuple(i), Val::Tuple(items)) => {
                let info = self.info.clone();
                let types = &info.types.tuples[i].types;
                if types.len() != items.len() {
                    return Err(mismatch("a tuple of another length", val));
                }
                self.store_fields(types, items.iter(), ptr)
            }
            (InterfaceType::Flags(i), Val::Flags(set)) => {
                let size = self.types().layout(ty).size as usize;
                let words = self.flag_words(i, set)?;
                let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).take(size).collect();
                self.write(ptr, &bytes)
            }
            (
                InterfaceType::Enum(_)
                | InterfaceType::Variant(_)
                | InterfaceType::Option(_)
                | InterfaceType::Result(_),
                _,
            ) => {
                let (d, payload) = self.case_of(ty, val)?;
                let cases = self.cases(ty);
                match kiln_environ::component::discriminant_size(cases.len()) {
                    1 => self.write(ptr, &[d as u8])?,
                    2 => self.write(ptr, &(d as u16).to_le_bytes())?,
                    _ => self.write(ptr, &d.to_le_bytes())?,
                }
                if let (Some(pt), Some(pv)) = (cases[d as usize], payload) {
                    let offset = self.types().payload_offset(ty) as usize;
                    self.store_val(pt, pv, ptr + offset)?;
                }
                Ok(())
            }
            (InterfaceType::Own(r), Val::Resource(res)) => {
                let h = self.lower_own(r, res)?;
                self.write(ptr, &h.to_le_bytes())
            }
            (InterfaceType::Borrow(r), Val::Resource(res)) => {
                let h = self.lower_borrow(r, res)?;
                self.write(ptr, &h.to_le_bytes())
            }
            (ty, val) => Err(mismatch(&format!("{ty:?}"), val)),
        }
    }

    fn lower_string(&mut self, s: &str) -> Result<(u32, u32)> {
        match self.side.encoding {
            StringEncoding::Utf8 => {
                if s.len() > MAX_STRING_LENGTH {
                    return Err(trap("string content out-of-bounds"));
                }
                let ptr = self.allocate(1, s.len(), "string")?;
                self.write(ptr as usize, s.as_bytes())?;
                Ok((ptr, s.len() as u32))
            }
            StringEncoding::Utf16 => self.lower_utf16(s, 0),
            StringEncoding::CompactUtf16 => {
                if s.chars().all(|c| (c as u32) < 0x100) {
                    let bytes: Vec<u8> = s.chars().map(|c| c as u8).collect();
                    if bytes.len() > MAX_STRING_LENGTH {
                        return Err(trap("string content out-of-bounds"));
                    }
                    let ptr = self.allocate(2, bytes.len(), "string")?;
                    self.write(ptr as usize, &bytes)?;
                    Ok((ptr, bytes.len() as u32))
                } else {
                    self.lower_utf16(s, UTF16_TAG)
                }
            }
        }
    }

    /// Writes `s` as UTF-16 into memory `realloc` gives; the length is tagged with `tag`.
    fn lower_utf16(&mut self, s: &str, tag: u32) -> Result<(u32, u32)> {
        let units: Vec<u16> = s.encode_utf16().collect();
        if units.len() > MAX_STRING_LENGTH / 2 {
            return Err(trap("string content out-of-bounds"));
        }
        let bytes: Vec<u8> = units.iter().flat_map(|u| u.to_le_bytes()).collect();
        let ptr = self.allocate(2, bytes.len(), "string")?;
        self.write(ptr as usize, &bytes)?;
        Ok((ptr, units.len() as u32 | tag))
    }

    fn lower_list(&mut self, elem: InterfaceType, items: &[Val]) -> Result<(u32, u32)> {
        let l = self.types().layout(elem);
        let bytes = items.len().checked_mul(l.size as usize).filter(|b| *b <= u32::MAX as usize);
        let bytes = bytes.ok_or_else(|| trap("list content out-of-bounds"))?;
        let ptr = self.allocate(l.align, bytes, "list")?;
        for (i, item) in items.iter().enumerate() {
            self.store_val(elem, item, ptr as usize + i * l.size as usize)?;
        }
        Ok((ptr, items.len() as u32))
    }

    fn lower_own(&mut self, r: ResourceIndex, res: &ResourceAny) -> Result<u32> {
        let ty = self.resource_type(r);
        if res.ty != ty || !res.own {
            return Err(Error::Other("resource of the wrong type or ownership".into()));
        }
        let (id, rci) = (self.side.instance, self.side.rci);
        let components = &mut self.store.0.opaque.components;
        let rep = components.host.take(res)?;
        components.instances[id].tables[rci].insert(Slot::Own { rep, ty, lend: 0 })
    }

    fn lower_borrow(&mut self, r: ResourceIndex, res: &ResourceAny) -> Result<u32> {
        let ty = self.resource_type(r);
        if res.ty != ty {
            return Err(Error::Other("resource of the wrong type".into()));
        }
        let components = &mut self.store.0.opaque.components;
        components.host.check(res)?;
        let rep = if res.own { components.host.rep(res)? } else { res.index };
        if self.implements(r) {
            return Ok(rep);
        }
        let (id, rci, scope) = (self.side.instance, self.side.rci, self.scope);
        let components = &mut self.store.0.opaque.components;
        let scope_id = components.scopes.get(scope).map_or(u64::MAX, |s| s.id);
        let h = components.instances[id].tables[rci].insert(Slot::Borrow { rep, ty, scope: scope_id })?;
        if let Some(s) = components.scopes.get_mut(scope) {
            s.borrowed.push((id, rci, h));
        }
        Ok(h)
    }
}

fn utf8(bytes: &[u8]) -> Result<&str> {
    std::str::from_utf8(bytes).map_err(|e| trap(e.to_string()))
}

fn utf16_chars(bytes: &[u8]) -> impl Iterator<Item = Result<char>> + '_ {
    let units = bytes.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]]));
    char::decode_utf16(units).map(|c| c.map_err(|e| trap(format!("invalid utf-16: {e}"))))
}

/// Checks, for a fused adapter, that the string of `len` code units (tagged for
/// latin1+utf16) at `ptr` in `memory` is encoded as `encoding` says, with the traps lifting
/// it would give. (The adapter has checked its bounds; they are checked again here.)
pub(crate) fn validate_string(memory: &[u8], encoding: StringEncoding, ptr: u32, len: u32) -> Result<()> {
    let (units, utf16) = match encoding {
        StringEncoding::Utf8 => (len, false),
        StringEncoding::Utf16 => (len, true),
        StringEncoding::CompactUtf16 => (len & !UTF16_TAG, len & UTF16_TAG != 0),
    };
    let bytes = if utf16 { units as usize * 2 } else { units as usize };
    let slice =
        memory.get(ptr as usize..).and_then(|m| m.get(..bytes)).ok_or_else(|| trap("string content out-of-bounds"))?;
    match (encoding, utf16) {
        (StringEncoding::Utf8, _) => utf8(slice).map(drop),
        (_, true) => utf16_chars(slice).try_for_each(|c| c.map(drop)),
        (_, false) => Ok(()),
    }
}

fn invalid_discriminant(ty: InterfaceType, fused: bool) -> &'static str {
    match ty {
        _ if fused => "invalid variant discriminant",
        InterfaceType::Enum(_) => "invalid enum discriminant",
        InterfaceType::Option(_) => "invalid option discriminant",
        InterfaceType::Result(_) => "invalid result discriminant",
        _ => "invalid variant discriminant",
    }
}

/// NaNs cross the canonical ABI as the canonical NaN.
fn canonical_f32(v: f32) -> f32 {
    if v.is_nan() { f32::from_bits(0x7fc0_0000) } else { v }
}

fn canonical_f64(v: f64) -> f64 {
    if v.is_nan() { f64::from_bits(0x7ff8_0000_0000_0000) } else { v }
}

/// Makes a new call scope; lends and borrows of the call are recorded in it.
pub(crate) fn enter_scope<T>(store: &mut StoreContextMut<'_, T>) -> usize {
    let components = &mut store.0.opaque.components;
    let id = components.next_scope;
    components.next_scope += 1;
    components.scopes.push(CallScope { id, ..CallScope::default() });
    components.scopes.len() - 1
}

/// Ends the call scope at index `at` (the innermost, unless a trap unwound through fused
/// adapters that opened scopes above it: those end first): returns lent handles, takes
/// back every borrow handle the callee kept (it can never use one after the call), and
/// then, with `check`, traps if there was one.
pub(crate) fn exit_scope<T>(store: &mut StoreContextMut<'_, T>, at: usize, check: bool) -> Result<()> {
    while store.0.opaque.components.scopes.len() > at + 1 {
        end_scope(store, false)?;
    }
    if store.0.opaque.components.scopes.len() != at + 1 {
        return Ok(());
    }
    end_scope(store, check)
}

/// Ends the innermost call scope, as [`exit_scope`] does.
pub(crate) fn end_scope<T>(store: &mut StoreContextMut<'_, T>, check: bool) -> Result<()> {
    let components = &mut store.0.opaque.components;
    let Some(scope) = components.scopes.pop() else { return Ok(()) };
    for (owner, handle) in scope.lends {
        let Some((id, rci)) = owner else { continue };
        if let Some(inst) = components.instances.get_mut(id) {
            inst.tables[rci].end_lend(handle);
        }
    }
    let kept = !scope.borrowed.is_empty();
    for (id, rci, handle) in scope.borrowed {
        if let Some(inst) = components.instances.get_mut(id) {
            inst.tables[rci].remove_borrow(handle, scope.id);
        }
    }
    if check && kept {
        return Err(trap("borrow handles still remain at the end of the call"));
    }
    Ok(())
}
