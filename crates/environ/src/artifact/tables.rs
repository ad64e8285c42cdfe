//! The trap table, the exception table and the function table: the sections that describe
//! `.text`, their byte encodings and their lookups. Decoding checks every count, order and range, so a
//! corrupt section is an error, never a crash.
use super::ArtifactError;
use crate::{FuncKey, Trap};

struct Reader<'a> {
    bytes: &'a [u8],
    what: &'static str,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], ArtifactError> {
        if self.bytes.len() < n {
            return Err(ArtifactError::Malformed(format!("{} is truncated", self.what)));
        }
        let (head, tail) = self.bytes.split_at(n);
        self.bytes = tail;
        Ok(head)
    }

    fn u32(&mut self) -> Result<u32, ArtifactError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn count(&mut self, item_size: usize) -> Result<usize, ArtifactError> {
        let n = self.u32()? as usize;
        if n.saturating_mul(item_size) > self.bytes.len() {
            return Err(ArtifactError::Malformed(format!("{} count {n} exceeds the section", self.what)));
        }
        Ok(n)
    }

    /// Check that every byte was read: a section with more than its contents is corrupt too.
    fn finish(self) -> Result<(), ArtifactError> {
        if self.bytes.is_empty() {
            Ok(())
        } else {
            Err(ArtifactError::Malformed(format!("{} has {} trailing bytes", self.what, self.bytes.len())))
        }
    }
}

/// The trap table: sorted text offsets and their traps.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrapTable {
    /// Each trap site's offset in `.text`, ascending.
    pub offsets: Vec<u32>,
    /// The trap at each site.
    pub traps: Vec<Trap>,
}

impl TrapTable {
    /// Encode (the offsets must be sorted).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(4 + self.offsets.len() * 5);
        out.extend_from_slice(&(self.offsets.len() as u32).to_le_bytes());
        for o in &self.offsets {
            out.extend_from_slice(&o.to_le_bytes());
        }
        out.extend(self.traps.iter().map(|t| t.code()));
        out
    }

    /// Decode and check.
    ///
    /// # Errors
    /// [`ArtifactError::Malformed`] for a truncated or unsorted table or an unknown trap.
    pub fn decode(bytes: &[u8]) -> Result<TrapTable, ArtifactError> {
        let mut r = Reader { bytes, what: "trap table" };
        let n = r.count(5)?;
        let offsets: Vec<u32> = (0..n).map(|_| r.u32()).collect::<Result<_, _>>()?;
        if offsets.windows(2).any(|w| w[0] > w[1]) {
            return Err(ArtifactError::Malformed("trap table is not sorted".into()));
        }
        let traps = r
            .take(n)?
            .iter()
            .map(|c| Trap::from_code(*c).ok_or_else(|| ArtifactError::Malformed(format!("unknown trap code {c}"))))
            .collect::<Result<_, _>>()?;
        r.finish()?;
        Ok(TrapTable { offsets, traps })
    }

    /// The trap sites within `range` of the text, in order.
    pub fn in_range(&self, range: std::ops::Range<u32>) -> impl Iterator<Item = (u32, Trap)> + '_ {
        let first = self.offsets.partition_point(|o| *o < range.start);
        let last = self.offsets.partition_point(|o| *o < range.end);
        self.offsets[first..last].iter().copied().zip(self.traps[first..last].iter().copied())
    }

    /// The trap at text offset `offset`, if it is a trap site.
    pub fn lookup(&self, offset: u32) -> Option<Trap> {
        self.offsets.binary_search(&offset).ok().map(|i| self.traps[i])
    }
}

/// What one call site does with an exception that unwinds through it, in order: the first
/// matching clause wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handler {
    /// From here on, tags are the tags of the instance whose vmctx is stored at this offset
    /// from the call site's stack pointer.
    Context(u32),
    /// An exception of the context's tag `tag` resumes at text offset `at`.
    Tag {
        /// The tag's index in the context's module.
        tag: u32,
        /// The handler's text offset.
        at: u32,
    },
    /// Every exception resumes at text offset `at`.
    Default {
        /// The handler's text offset.
        at: u32,
    },
}

/// A call site the runtime must know about: one with exception handlers, or one across which
/// references the collector traces are live (its stack map).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallSite {
    /// The call's return address, as a text offset.
    pub ret_addr: u32,
    /// How far the stack pointer at the call lies below the frame pointer.
    pub frame_offset: u32,
    /// Its handlers.
    pub handlers: Vec<Handler>,
    /// Where the caller keeps each traced reference live across the call: offsets from the
    /// stack pointer at the call of pointer-sized slots, each below the frame pointer.
    pub roots: Vec<u32>,
}

/// The call-site table: every call site with handlers or roots, sorted by return address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallSiteTable {
    /// The sites, by ascending `ret_addr`.
    pub sites: Vec<CallSite>,
}

impl CallSiteTable {
    /// Encode: `count: u32`, then per site `ret_addr, frame_offset, root count` and the
    /// roots, then the handler count (`u32`s), and per handler a kind byte (0 context, 1 tag,
    /// 2 default) and two `u32`s.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&(self.sites.len() as u32).to_le_bytes());
        for site in &self.sites {
            let roots = site.roots.iter().copied();
            let header = [site.ret_addr, site.frame_offset, site.roots.len() as u32];
            for v in header.into_iter().chain(roots).chain([site.handlers.len() as u32]) {
                out.extend_from_slice(&v.to_le_bytes());
            }
            for h in &site.handlers {
                let (kind, a, b) = match *h {
                    Handler::Context(offset) => (0u8, offset, 0),
                    Handler::Tag { tag, at } => (1, tag, at),
                    Handler::Default { at } => (2, 0, at),
                };
                out.push(kind);
                out.extend_from_slice(&a.to_le_bytes());
                out.extend_from_slice(&b.to_le_bytes());
            }
        }
        out
    }

    /// Decode and check against a text of `text_len` bytes.
    ///
    /// # Errors
    /// [`ArtifactError::Malformed`] for a truncated or unsorted table, an unknown handler
    /// kind, an address outside the text, or a root that is unaligned or outside its frame.
    pub fn decode(bytes: &[u8], text_len: usize) -> Result<CallSiteTable, ArtifactError> {
        let mut r = Reader { bytes, what: "call-site table" };
        let n = r.count(16)?;
        let mut sites = Vec::with_capacity(n);
        let outside = |at: u32| at as usize >= text_len;
        for _ in 0..n {
            let (ret_addr, frame_offset) = (r.u32()?, r.u32()?);
            let k = r.count(4)?;
            let roots: Vec<u32> = (0..k).map(|_| r.u32()).collect::<Result<_, _>>()?;
            if roots.iter().any(|&at| !at.is_multiple_of(8) || at.checked_add(8).is_none_or(|end| end > frame_offset)) {
                return Err(ArtifactError::Malformed(format!("a call site's root outside its frame at {ret_addr}")));
            }
            let m = r.count(9)?;
            let mut handlers = Vec::with_capacity(m);
            for _ in 0..m {
                let kind = r.take(1)?[0];
                let (a, b) = (r.u32()?, r.u32()?);
                handlers.push(match kind {
                    0 => Handler::Context(a),
                    1 if !outside(b) => Handler::Tag { tag: a, at: b },
                    2 if !outside(b) => Handler::Default { at: b },
                    _ => return Err(ArtifactError::Malformed(format!("exception handler kind {kind} at {b}"))),
                });
            }
            if outside(ret_addr) || sites.last().is_some_and(|s: &CallSite| s.ret_addr >= ret_addr) {
                return Err(ArtifactError::Malformed("exception table is unsorted or outside .text".into()));
            }
            sites.push(CallSite { ret_addr, frame_offset, handlers, roots });
        }
        r.finish()?;
        Ok(CallSiteTable { sites })
    }

    /// The call site whose return address is text offset `ret_addr`, if it has handlers or
    /// roots.
    pub fn lookup(&self, ret_addr: u32) -> Option<&CallSite> {
        self.sites.binary_search_by_key(&ret_addr, |s| s.ret_addr).ok().map(|i| &self.sites[i])
    }
}

/// The address map: sorted text offsets, each the start of code compiled from the wasm
/// operator at a module offset (until the next entry).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressMap {
    /// Text offsets, ascending.
    pub offsets: Vec<u32>,
    /// The module offset of the operator each was compiled from.
    pub wasm: Vec<u32>,
}

impl AddressMap {
    /// Encode (the offsets must be sorted).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(4 + self.offsets.len() * 8);
        out.extend_from_slice(&(self.offsets.len() as u32).to_le_bytes());
        for o in self.offsets.iter().chain(&self.wasm) {
            out.extend_from_slice(&o.to_le_bytes());
        }
        out
    }

    /// Decode and check.
    ///
    /// # Errors
    /// [`ArtifactError::Malformed`] for a truncated or unsorted map.
    pub fn decode(bytes: &[u8]) -> Result<AddressMap, ArtifactError> {
        let mut r = Reader { bytes, what: "address map" };
        let n = r.count(8)?;
        let offsets: Vec<u32> = (0..n).map(|_| r.u32()).collect::<Result<_, _>>()?;
        if offsets.windows(2).any(|w| w[0] > w[1]) {
            return Err(ArtifactError::Malformed("address map is not sorted".into()));
        }
        let wasm = (0..n).map(|_| r.u32()).collect::<Result<_, _>>()?;
        r.finish()?;
        Ok(AddressMap { offsets, wasm })
    }

    /// The module offset of the code at text offset `offset`, within `within` (the range of
    /// its function: an entry of another function does not count).
    pub fn lookup(&self, offset: u32, within: std::ops::Range<u32>) -> Option<u32> {
        let i = self.offsets.partition_point(|o| *o <= offset).checked_sub(1)?;
        within.contains(&self.offsets[i]).then(|| self.wasm[i])
    }
}

/// One entry of the function table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FuncEntry {
    /// The function's name.
    pub key: FuncKey,
    /// Its offset in `.text`.
    pub start: u32,
    /// Its length in bytes.
    pub len: u32,
}

/// The function table: every function's key and text range, sorted by key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FuncTable {
    /// The entries, sorted by key.
    pub entries: Vec<FuncEntry>,
}

impl FuncTable {
    /// Encode.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(4 + self.entries.len() * 16);
        out.extend_from_slice(&(self.entries.len() as u32).to_le_bytes());
        for e in &self.entries {
            let (ns, index) = e.key.into_raw();
            for v in [ns, index, e.start, e.len] {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        out
    }

    /// Decode and check against the text size.
    ///
    /// # Errors
    /// [`ArtifactError::Malformed`] for a truncated or unsorted table, an unknown key or a
    /// range outside the text.
    pub fn decode(bytes: &[u8], text_len: usize) -> Result<FuncTable, ArtifactError> {
        let mut r = Reader { bytes, what: "function table" };
        let n = r.count(16)?;
        let mut entries = Vec::with_capacity(n);
        for _ in 0..n {
            let (ns, index, start, len) = (r.u32()?, r.u32()?, r.u32()?, r.u32()?);
            let key = FuncKey::from_raw(ns, index)
                .ok_or_else(|| ArtifactError::Malformed(format!("unknown function key ({ns:#x}, {index})")))?;
            if start.checked_add(len).is_none_or(|end| end as usize > text_len) {
                return Err(ArtifactError::Malformed(format!("function {key:?} lies outside .text")));
            }
            entries.push(FuncEntry { key, start, len });
        }
        if entries.windows(2).any(|w| w[0].key >= w[1].key) {
            return Err(ArtifactError::Malformed("function table is not sorted by key".into()));
        }
        r.finish()?;
        Ok(FuncTable { entries })
    }

    /// The text range of `key`.
    pub fn get(&self, key: FuncKey) -> Option<FuncEntry> {
        self.entries.binary_search_by(|e| e.key.cmp(&key)).ok().map(|i| self.entries[i])
    }

    /// The function whose text contains `offset`.
    pub fn containing(&self, offset: u32) -> Option<FuncEntry> {
        self.entries.iter().copied().find(|e| offset >= e.start && offset - e.start < e.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DefinedFuncIndex;
    use crate::StaticModuleIndex;
    use cranelift_entity::EntityRef;

    #[test]
    fn tables_round_trip_and_reject_garbage() {
        let t = TrapTable {
            offsets: vec![1, 5, 9],
            traps: vec![Trap::StackOverflow, Trap::MemoryOutOfBounds, Trap::HostError],
        };
        let bytes = t.encode();
        assert_eq!(TrapTable::decode(&bytes).unwrap(), t);
        assert_eq!(t.lookup(5), Some(Trap::MemoryOutOfBounds));
        assert_eq!(t.lookup(6), None);
        assert_eq!(t.in_range(2..9).collect::<Vec<_>>(), [(5, Trap::MemoryOutOfBounds)]);
        assert_eq!(t.in_range(0..10).count(), 3);
        for cut in 0..bytes.len() {
            assert!(TrapTable::decode(&bytes[..cut]).is_err());
        }
        assert!(TrapTable::decode(&[bytes.as_slice(), &[0]].concat()).is_err(), "a trailing byte");
        let f = FuncTable {
            entries: vec![
                FuncEntry {
                    key: FuncKey::DefinedWasmFunction(StaticModuleIndex::MAIN, DefinedFuncIndex::new(0)),
                    start: 0,
                    len: 16,
                },
                FuncEntry {
                    key: FuncKey::DefinedWasmFunction(StaticModuleIndex::MAIN, DefinedFuncIndex::new(1)),
                    start: 16,
                    len: 8,
                },
            ],
        };
        let bytes = f.encode();
        assert_eq!(FuncTable::decode(&bytes, 24).unwrap(), f);
        assert!(FuncTable::decode(&bytes, 23).is_err());
        assert_eq!(f.containing(17).map(|e| e.start), Some(16));
        for cut in 0..bytes.len() {
            assert!(FuncTable::decode(&bytes[..cut], 24).is_err());
        }
        assert!(FuncTable::decode(&[bytes.as_slice(), &[0]].concat(), 24).is_err(), "a trailing byte");
    }

    #[test]
    fn call_sites_round_trip_and_keep_roots_in_their_frames() {
        let site = |ret_addr, roots: Vec<u32>, handlers| CallSite { ret_addr, frame_offset: 32, handlers, roots };
        let t = CallSiteTable {
            sites: vec![
                site(4, vec![0, 24], vec![]),
                site(9, vec![], vec![Handler::Context(8), Handler::Tag { tag: 1, at: 12 }, Handler::Default { at: 2 }]),
                site(11, vec![8], vec![Handler::Default { at: 3 }]),
            ],
        };
        let bytes = t.encode();
        assert_eq!(CallSiteTable::decode(&bytes, 16).unwrap(), t);
        assert_eq!(t.lookup(11).map(|s| s.roots.as_slice()), Some(&[8][..]));
        assert!(t.lookup(10).is_none());
        for cut in 0..bytes.len() {
            assert!(CallSiteTable::decode(&bytes[..cut], 16).is_err());
        }
        assert!(CallSiteTable::decode(&bytes, 11).is_err(), "a return address outside the text");
        for bad in [vec![32], vec![4], vec![u32::MAX - 7]] {
            let t = CallSiteTable { sites: vec![site(4, bad.clone(), vec![])] };
            assert!(CallSiteTable::decode(&t.encode(), 16).is_err(), "root {bad:?} is outside its frame or unaligned");
        }
    }
}
