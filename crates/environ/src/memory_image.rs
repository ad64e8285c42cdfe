//! Memory images: the initial contents of a defined memory, laid out page-aligned, so that
//! instantiation can map them copy-on-write instead of copying data segments byte by byte.
//! A memory gets an image when every active data segment aimed at it has a constant offset
//! and lies within the memory's initial size (so none can trap), and the data is dense
//! enough that mapping beats copying.
use crate::{DataIndex, DefinedMemoryIndex, Module, SegmentMode, WASM_PAGE_SIZE};
use std::collections::BTreeMap;

/// The page size images are aligned to (the largest common host page size).
pub const IMAGE_PAGE_SIZE: u64 = 4096;

/// One memory's initial contents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemoryImage {
    /// Where the image starts in the memory (page-aligned).
    pub offset: u64,
    /// The bytes (a whole number of pages).
    pub bytes: Vec<u8>,
    /// The data segments the image replaces.
    pub segments: Vec<DataIndex>,
}

/// The images of `module`'s defined memories that qualify.
pub fn memory_images(module: &Module) -> BTreeMap<DefinedMemoryIndex, MemoryImage> {
    let mut per_memory: BTreeMap<DefinedMemoryIndex, Vec<(u64, DataIndex)>> = BTreeMap::new();
    let mut disqualified = std::collections::BTreeSet::new();
    for (d, segment) in module.data.iter() {
        let SegmentMode::Active(memory, offset) = &segment.mode else { continue };
        let Some(def) = module.defined_memory_index(*memory) else { continue };
        let initial = module.memories[*memory].minimum.saturating_mul(WASM_PAGE_SIZE);
        match offset.constant_offset() {
            Some(at) if at.checked_add(segment.items.len() as u64).is_some_and(|end| end <= initial) => {
                per_memory.entry(def).or_default().push((at, d));
            }
            _ => {
                disqualified.insert(def);
            }
        }
    }
    let mut images = BTreeMap::new();
    for (def, segments) in per_memory {
        if disqualified.contains(&def) {
            continue;
        }
        let data_len: u64 = segments.iter().map(|(_, d)| module.data[*d].items.len() as u64).sum();
        let start = segments.iter().map(|(at, _)| *at).min().unwrap_or(0) / IMAGE_PAGE_SIZE * IMAGE_PAGE_SIZE;
        let end = segments.iter().map(|(at, d)| at + module.data[*d].items.len() as u64).max().unwrap_or(0);
        // A 64-bit memory's segment may end just short of 2^64.
        let Some(end) = end.checked_next_multiple_of(IMAGE_PAGE_SIZE) else { continue };
        // Dense enough: at most four times the data, or small in absolute terms; and worth it.
        let span = end - start;
        if data_len < IMAGE_PAGE_SIZE || (span > 4 * data_len && span > 1 << 20) {
            continue;
        }
        let mut bytes = vec![0u8; span as usize];
        for (at, d) in &segments {
            let items = &module.data[*d].items;
            let from = (at - start) as usize;
            bytes[from..from + items.len()].copy_from_slice(items);
        }
        images.insert(def, MemoryImage { offset: start, bytes, segments: segments.iter().map(|(_, d)| *d).collect() });
    }
    images
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::translate_module;

    fn images(wat: &str) -> BTreeMap<DefinedMemoryIndex, MemoryImage> {
        let wasm = wat::parse_str(wat).unwrap();
        memory_images(&translate_module(&wasm).unwrap().module)
    }

    #[test]
    fn dense_constant_segments_become_an_image() {
        let big = "x".repeat(5000);
        let i =
            images(&format!(r#"(module (memory 2) (data (i32.const 4100) "{big}") (data (i32.const 10000) "yz"))"#));
        let image = &i[&DefinedMemoryIndex::from_u32(0)];
        assert_eq!(image.offset, 4096);
        assert_eq!(image.bytes.len() % 4096, 0);
        assert_eq!(&image.bytes[4..9], b"xxxxx");
        assert_eq!(&image.bytes[10000 - 4096..10002 - 4096], b"yz");
        assert_eq!(image.segments.len(), 2);
    }

    #[test]
    fn segments_that_could_trap_or_move_disqualify_the_memory() {
        let big = "x".repeat(5000);
        // Beyond the initial size: must trap at instantiation, so no image.
        assert!(images(&format!(r#"(module (memory 1) (data (i32.const 65000) "{big}"))"#)).is_empty());
        // An offset from a global.
        assert!(
            images(&format!(r#"(module (global i32 (i32.const 0)) (memory 1) (data (global.get 0) "{big}"))"#))
                .is_empty()
        );
        // Too little data to be worth a mapping.
        assert!(images(r#"(module (memory 1) (data (i32.const 0) "hi"))"#).is_empty());
    }
}
