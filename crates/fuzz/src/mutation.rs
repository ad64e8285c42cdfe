//! Mutations of an input's bytes, each drawn from the case's
//! [`Stream::Mutations`](crate::rng::Stream) and described in words for the crash report:
//! bit flips, byte replacements, overwrites with interesting values (0, 0xff, 0x7f, 0x80 and
//! LEB128 edge cases: overlong, unterminated, the largest u32, one past it), inserted and
//! deleted ranges, a copied range, truncation, and — for a module — a whole section
//! duplicated or its size field rewritten. Since nearly every such change makes a module
//! invalid, modules also get changes that keep them valid, so that the compiler and the code
//! it makes see them: a constant's immediate rewritten in place (to an edge value, in as
//! many bytes as before) and an operator swapped for another of the same type
//! (`i32.add` for `i32.rotr`, `f64.min` for `f64.div`).
use crate::rng::Rng;
use std::ops::Range;

/// Byte strings worth writing over anything: the edges of a byte and LEB128 encodings at
/// and past their limits.
const INTERESTING: &[&[u8]] = &[
    &[0x00],
    &[0xff],
    &[0x7f],
    &[0x80],
    &[0x01],
    &[0x40],
    &[0xc0],
    &[0x80, 0x00],                   // overlong 0
    &[0x80, 0x80, 0x80, 0x80, 0x00], // overlong 0, five bytes
    &[0x80, 0x80, 0x80, 0x80, 0x80], // unterminated
    &[0xff, 0xff, 0xff, 0xff, 0x0f], // u32::MAX
    &[0xff, 0xff, 0xff, 0xff, 0x1f], // past u32::MAX
    &[0xff, 0xff, 0xff, 0xff, 0x7f], // -1 as a five-byte sLEB, too large as a u32
    &[0x80, 0x80, 0x80, 0x80, 0x08], // 2^31
    &[0x80, 0x80, 0x04],             // 65536
    &[0xff, 0xff, 0x03],             // 65535
    &[0xff, 0xff, 0xff, 0xff],       // a u32 of all ones
    &[0x00, 0x00, 0x00, 0x80],       // i32::MIN, little-endian
    &[0xff, 0xff, 0xff, 0x7f],       // i32::MAX, little-endian
];

/// Groups of one-byte operators with the same type: any member can replace any other.
const OPERATOR_GROUPS: &[std::ops::RangeInclusive<u8>] = &[
    0x46..=0x4f, // i32 comparisons
    0x51..=0x5a, // i64 comparisons
    0x5b..=0x60, // f32 comparisons
    0x61..=0x66, // f64 comparisons
    0x67..=0x69, // i32 clz, ctz, popcnt
    0x6a..=0x78, // i32 binary operators
    0x79..=0x7b, // i64 clz, ctz, popcnt
    0x7c..=0x8a, // i64 binary operators
    0x8b..=0x91, // f32 unary operators
    0x92..=0x98, // f32 binary operators
    0x99..=0x9f, // f64 unary operators
    0xa0..=0xa6, // f64 binary operators
    0xc0..=0xc1, // i32 sign extensions
    0xc2..=0xc4, // i64 sign extensions
];

/// A place in a module's code where a change keeps the module valid.
#[derive(Clone, Debug)]
enum Site {
    /// The immediate of an `i32.const` (`wide` false) or `i64.const`, a signed LEB128.
    IntConst { at: Range<usize>, wide: bool },
    /// The immediate of an `f32.const` or `f64.const`: its little-endian bits.
    FloatConst { at: Range<usize> },
    /// A one-byte operator of one of the [`OPERATOR_GROUPS`].
    Operator { at: usize, group: usize },
}

/// How many operators after each `global.get` of the fuel global belong to the generator's
/// fuel accounting (`global.get $fuel; i32.const 1; i32.sub; global.set $fuel`, and the
/// `i32.ge_u` or `i32.sub` of a bulk operation's check).
const FUEL_WINDOW: usize = 3;

/// The sites of every function body in `wasm`, as far as it parses. The generator's fuel
/// accounting is left alone: it is what makes every loop end (`ensure_termination`), and an
/// `i32.sub` of it turned into an `i32.add` makes a module that never ends, in any engine.
/// The fuel global is the module's last (`ensure_termination` appends it; the generated
/// modules import nothing).
fn sites(wasm: &[u8]) -> Vec<Site> {
    use wasmparser::{Operator, Payload};
    let mut out = Vec::new();
    let mut fuel = None;
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        if let Ok(Payload::GlobalSection(r)) = &payload {
            fuel = r.count().checked_sub(1);
        }
        let Ok(Payload::CodeSectionEntry(body)) = payload else { continue };
        let Ok(reader) = body.get_operators_reader() else { continue };
        let ops: Vec<(Operator<'_>, usize)> =
            reader.into_iter_with_offsets().map_while(Result::ok).map(|(op, at)| (op, at as usize)).collect();
        let mut accounting = 0;
        for (i, (op, at)) in ops.iter().enumerate() {
            if accounting > 0 {
                accounting -= 1;
                continue;
            }
            if matches!(op, Operator::GlobalGet { global_index } if Some(*global_index) == fuel) {
                accounting = FUEL_WINDOW;
                continue;
            }
            let Some(end) = ops.get(i + 1).map(|(_, e)| *e) else { break };
            let immediate = at + 1..end;
            match op {
                Operator::I32Const { .. } => out.push(Site::IntConst { at: immediate, wide: false }),
                Operator::I64Const { .. } => out.push(Site::IntConst { at: immediate, wide: true }),
                Operator::F32Const { .. } | Operator::F64Const { .. } => out.push(Site::FloatConst { at: immediate }),
                _ if end == at + 1 => {
                    if let Some(group) = OPERATOR_GROUPS.iter().position(|g| g.contains(&wasm[*at])) {
                        out.push(Site::Operator { at: *at, group });
                    }
                }
                _ => {}
            }
        }
    }
    out
}

/// `v` as a signed LEB128 of exactly `len` bytes (padded as the format allows), if it fits.
fn sleb_exactly(v: i64, len: usize) -> Option<Vec<u8>> {
    let bits = 7 * len as u32;
    let v = i128::from(v);
    if bits < 128 && (v < -(1i128 << (bits - 1)) || v >= 1i128 << (bits - 1)) {
        return None;
    }
    Some((0..len).map(|k| ((v >> (7 * k)) & 0x7f) as u8 | if k + 1 < len { 0x80 } else { 0 }).collect())
}

/// Change one site of `wasm`'s code, keeping the module valid; what was done, or `None`
/// when it has no code to change.
fn mutate_valid(rng: &mut Rng, wasm: &mut [u8]) -> Option<String> {
    let all = sites(wasm);
    if all.is_empty() {
        return None;
    }
    Some(match rng.pick(&all).clone() {
        Site::IntConst { at, wide } => {
            let edges: &[i64] = &[0, 1, -1, 0x7f, 0x80, -0x80, 0xffff, 0x10000, i32::MIN as i64, i32::MAX as i64];
            let wide_edges: &[i64] = &[i64::MIN, i64::MAX, u32::MAX as i64, 1 << 32];
            let mut v = if wide && rng.one_in(3) { *rng.pick(wide_edges) } else { *rng.pick(edges) };
            if rng.one_in(4) {
                v = rng.next_u64() as i64;
            }
            if !wide {
                v = i64::from(v as i32);
            }
            // A value too wide for the immediate's bytes keeps only the low bits that fit.
            let shift = 64u32.saturating_sub(7 * at.len() as u32);
            let encoded = sleb_exactly(v, at.len()).or_else(|| sleb_exactly((v << shift) >> shift, at.len()))?;
            wasm[at.clone()].copy_from_slice(&encoded);
            format!("set the constant at 0x{:x} to {v} ({} bytes)", at.start, at.len())
        }
        Site::FloatConst { at } => {
            let bits = if at.len() == 4 {
                u64::from(*rng.pick(&[
                    0u32,
                    0x8000_0000,
                    0x7fc0_0000,
                    0x7f80_0000,
                    0xff80_0000,
                    0x0000_0001,
                    0x4f00_0000,
                ]))
            } else {
                *rng.pick(&[
                    0u64,
                    0x8000_0000_0000_0000,
                    0x7ff8_0000_0000_0000,
                    0x7ff0_0000_0000_0000,
                    0x43e0_0000_0000_0000,
                    1,
                ])
            };
            wasm[at.clone()].copy_from_slice(&bits.to_le_bytes()[..at.len()]);
            format!("set the float constant at 0x{:x} to bits 0x{bits:x}", at.start)
        }
        Site::Operator { at, group } => {
            let g = OPERATOR_GROUPS[group].clone();
            let new = *g.start() + rng.below(u64::from(g.end() - g.start()) + 1) as u8;
            let old = std::mem::replace(&mut wasm[at], new);
            format!("replace operator 0x{old:02x} at 0x{at:x} with 0x{new:02x}")
        }
    })
}

/// What the input is, for the mutations that know its structure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// A WebAssembly binary: sections can be found.
    Wasm,
    /// Anything else.
    Bytes,
}

/// The sections of a WebAssembly binary as byte ranges (id, size, contents), as far as they
/// can be walked.
fn sections(wasm: &[u8]) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut at = 8;
    while at < wasm.len() {
        let start = at;
        at += 1;
        let (mut size, mut shift) = (0usize, 0);
        loop {
            let Some(&b) = wasm.get(at) else { return out };
            at += 1;
            size |= usize::from(b & 0x7f) << shift;
            shift += 7;
            if b & 0x80 == 0 || shift > 28 {
                break;
            }
        }
        let Some(end) = at.checked_add(size).filter(|e| *e <= wasm.len()) else { return out };
        out.push(start..end);
        at = end;
    }
    out
}

/// Apply one mutation to `bytes`, only at positions in `within` (which in-place mutations
/// keep to: they change no length) when `in_place`; a description of what it did.
fn mutate_once(rng: &mut Rng, bytes: &mut Vec<u8>, shape: Shape, within: Range<usize>, in_place: bool) -> String {
    let within = within.start.min(bytes.len())..within.end.min(bytes.len());
    if within.is_empty() {
        bytes.push(rng.next_u64() as u8);
        return "append a byte".into();
    }
    let pos = |rng: &mut Rng| within.start + rng.index(within.len());
    let kinds = if in_place {
        3
    } else if shape == Shape::Wasm {
        10
    } else {
        8
    };
    match rng.below(kinds) {
        0 => {
            let (at, bit) = (pos(rng), rng.below(8));
            bytes[at] ^= 1 << bit;
            format!("flip bit {bit} of byte 0x{at:x}")
        }
        1 => {
            let (at, b) = (pos(rng), rng.next_u64() as u8);
            bytes[at] = b;
            format!("set byte 0x{at:x} to 0x{b:02x}")
        }
        2 => {
            let at = pos(rng);
            let value = *rng.pick(INTERESTING);
            let n = value.len().min(within.end - at);
            bytes[at..at + n].copy_from_slice(&value[..n]);
            format!("write {:02x?} at 0x{at:x}", &value[..n])
        }
        3 => {
            let at = pos(rng);
            let n = rng.range(1, 16) as usize;
            let new = rng.bytes(n);
            bytes.splice(at..at, new);
            format!("insert {n} random bytes at 0x{at:x}")
        }
        4 => {
            let at = pos(rng);
            let n = (rng.range(1, 64) as usize).min(bytes.len() - at);
            bytes.drain(at..at + n);
            format!("delete 0x{n:x} bytes at 0x{at:x}")
        }
        5 => {
            let at = pos(rng);
            bytes.truncate(at);
            format!("truncate to 0x{at:x} bytes")
        }
        6 => {
            let (from, to) = (pos(rng), pos(rng));
            let n = (rng.range(1, 256) as usize).min(bytes.len() - from);
            let copy = bytes[from..from + n].to_vec();
            bytes.splice(to..to, copy);
            format!("copy 0x{n:x} bytes from 0x{from:x} to 0x{to:x}")
        }
        7 => {
            let at = pos(rng);
            let value = *rng.pick(INTERESTING);
            bytes.splice(at..at, value.iter().copied());
            format!("insert {value:02x?} at 0x{at:x}")
        }
        8 => {
            let all = sections(bytes);
            if all.is_empty() {
                return mutate_once(rng, bytes, Shape::Bytes, within, in_place);
            }
            let s = rng.pick(&all).clone();
            let to = rng.pick(&all).end;
            let id = bytes[s.start];
            let copy = bytes[s.clone()].to_vec();
            bytes.splice(to..to, copy);
            format!("duplicate the section at 0x{:x} (id {id}) at 0x{to:x}", s.start)
        }
        _ => {
            let all = sections(bytes);
            if all.is_empty() {
                return mutate_once(rng, bytes, Shape::Bytes, within, in_place);
            }
            let s = rng.pick(&all).clone();
            let id = bytes[s.start];
            let old = s.len() - 1 - leb_len(&bytes[s.start + 1..]);
            let new = match rng.below(5) {
                0 => 0,
                1 => old + 1,
                2 => old.saturating_sub(1),
                3 => u32::MAX as usize,
                _ => rng.below(1 << 20) as usize,
            };
            let size_field = s.start + 1..s.start + 1 + leb_len(&bytes[s.start + 1..]);
            bytes.splice(size_field, leb(new as u64));
            format!("set the size of the section at 0x{:x} (id {id}) from {old} to {new}", s.start)
        }
    }
}

/// The length of the LEB128 number at the start of `bytes`.
fn leb_len(bytes: &[u8]) -> usize {
    bytes.iter().position(|b| b & 0x80 == 0).map_or(bytes.len(), |i| i + 1)
}

fn leb(mut v: u64) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return out;
        }
        out.push(b | 0x80);
    }
}

/// Apply one to a few mutations to `bytes`; what they did. Half the modules get only
/// changes that keep them valid.
pub fn mutate(rng: &mut Rng, bytes: &mut Vec<u8>, shape: Shape) -> Vec<String> {
    let n = 1 + rng.below(4).min(rng.below(4));
    let mut done = Vec::new();
    if shape == Shape::Wasm && rng.one_in(2) {
        for _ in 0..n {
            match mutate_valid(rng, bytes) {
                Some(what) => done.push(what),
                None => break,
            }
        }
        if !done.is_empty() {
            return done;
        }
    }
    for _ in 0..n {
        let all = 0..bytes.len();
        done.push(mutate_once(rng, bytes, shape, all, false));
    }
    done
}

/// Apply one in-place mutation to `bytes[within]`, which keeps every length and offset
/// (one, since a structured section such as a module description rarely survives two);
/// what it did.
pub fn mutate_in_place(rng: &mut Rng, bytes: &mut Vec<u8>, within: Range<usize>) -> Vec<String> {
    vec![mutate_once(rng, bytes, Shape::Bytes, within, true)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Stream;

    #[test]
    fn sections_are_walked() {
        let wasm = wat::parse_str("(module (memory 1) (func (export \"f\")))").unwrap();
        let s = sections(&wasm);
        assert_eq!(s.iter().map(|r| wasm[r.start]).collect::<Vec<_>>(), [1, 3, 5, 7, 10]);
        assert_eq!(s.last().unwrap().end, wasm.len());
    }

    #[test]
    fn in_place_mutations_stay_inside_their_range() {
        let original = vec![0u8; 64];
        for i in 0..500 {
            let mut rng = Rng::for_case(3, i, Stream::Mutations);
            let mut bytes = original.clone();
            mutate_in_place(&mut rng, &mut bytes, 16..32);
            assert_eq!(bytes.len(), 64);
            assert!(bytes[..16].iter().chain(&bytes[32..]).all(|b| *b == 0), "{bytes:?}");
        }
    }

    #[test]
    fn signed_lebs_are_padded_to_their_length() {
        assert_eq!(sleb_exactly(0, 1), Some(vec![0]));
        assert_eq!(sleb_exactly(-1, 3), Some(vec![0xff, 0xff, 0x7f]));
        assert_eq!(sleb_exactly(64, 1), None, "64 needs two bytes");
        assert_eq!(sleb_exactly(64, 2), Some(vec![0xc0, 0x00]));
        assert_eq!(sleb_exactly(i64::MIN, 10).map(|b| b.len()), Some(10));
    }

    #[test]
    fn valid_mutations_keep_modules_valid() {
        let features = crate::generate::features();
        let mut changed = 0;
        for i in 0..100 {
            let mut wasm = crate::generate::module(9, i).unwrap();
            let original = wasm.clone();
            let mut rng = Rng::for_case(9, i, Stream::Mutations);
            for _ in 0..3 {
                if let Some(what) = mutate_valid(&mut rng, &mut wasm) {
                    let valid = wasmparser::Validator::new_with_features(features).validate_all(&wasm);
                    assert!(valid.is_ok(), "case {i}: {what}: {:?}", valid.err());
                }
            }
            changed += u32::from(wasm != original);
        }
        assert!(changed > 50, "{changed} of 100 modules changed");
    }

    #[test]
    fn the_fuel_accounting_is_left_alone() {
        let wasm = wat::parse_str(
            r#"(module (global $other (mut i32) (i32.const 0)) (global $fuel (mut i32) (i32.const 1000))
                 (func (param i32) (result i32)
                   global.get $fuel  i32.const 1  i32.sub  global.set $fuel
                   local.get 0  i32.const 2  i32.add))"#,
        )
        .unwrap();
        let all = sites(&wasm);
        assert_eq!(all.len(), 2, "only the function's own constant and addition: {all:?}");
        assert!(all.iter().all(|s| match s {
            Site::IntConst { at, .. } => wasm[at.start] == 2,
            Site::Operator { at, .. } => wasm[*at] == 0x6a,
            Site::FloatConst { .. } => false,
        }));
    }

    #[test]
    fn mutations_change_modules() {
        let wasm = wat::parse_str("(module (memory 1) (func (export \"f\") (result i32) i32.const 7))").unwrap();
        let mut changed = 0;
        for i in 0..200 {
            let mut rng = Rng::for_case(4, i, Stream::Mutations);
            let mut bytes = wasm.clone();
            let what = mutate(&mut rng, &mut bytes, Shape::Wasm);
            assert!(!what.is_empty());
            changed += u32::from(bytes != wasm);
        }
        assert!(changed > 180, "{changed} of 200 changed");
    }
}
