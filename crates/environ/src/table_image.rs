//! Table images: the initial contents of a defined funcref table, precomputed from its active
//! element segments, so that instantiation need not fill the table: entries start "not yet
//! initialized" and are filled from the image on first read. A table gets an image when it has
//! no initializer expression and every active segment aimed at it has a constant offset,
//! lists functions (or `ref.func`/`ref.null` expressions) and lies within the table's
//! initial size, so that none can trap, and within the image's size limit.
use crate::{ConstOp, DefinedTableIndex, ElemIndex, ElementItems, FuncIndex, Module, SegmentMode, WasmValType};
use std::collections::BTreeMap;

/// The longest image Kiln builds, in elements: a segment placed further into a huge table
/// is written at instantiation instead (where the table's own limits apply), so that a
/// small module cannot make the compiler allocate gigabytes.
const MAX_IMAGE_LEN: u64 = 1 << 22;

/// One table's initial contents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableImage {
    /// Element `i` is `Some(f)` for a reference to function `f`, `None` for null.
    pub elements: Vec<Option<FuncIndex>>,
    /// The element segments the image replaces.
    pub segments: Vec<ElemIndex>,
}

/// The images of `module`'s defined funcref tables that qualify.
pub fn table_images(module: &Module) -> BTreeMap<DefinedTableIndex, TableImage> {
    let mut images: BTreeMap<DefinedTableIndex, TableImage> = BTreeMap::new();
    let mut disqualified = std::collections::BTreeSet::new();
    for (def, init) in module.table_inits.iter() {
        let table = module.tables[module.table_index(def)];
        if init.is_some() || table.element_type() != WasmValType::FuncRef {
            disqualified.insert(def);
        } else {
            let size = usize::try_from(table.minimum).unwrap_or(usize::MAX);
            images.insert(def, TableImage { elements: Vec::with_capacity(size.min(1 << 20)), segments: Vec::new() });
        }
    }
    for (e, segment) in module.elements.iter() {
        let SegmentMode::Active(table, offset) = &segment.mode else { continue };
        let Some(def) = module.defined_table_index(*table) else { continue };
        let Some(image) = images.get_mut(&def) else { continue };
        let minimum = module.tables[*table].minimum;
        let items: Option<Vec<Option<FuncIndex>>> = match &segment.items {
            ElementItems::Functions(f) => Some(f.iter().map(|f| Some(*f)).collect()),
            ElementItems::Expressions(_, exprs) => exprs
                .iter()
                .map(|e| match e.ops.as_slice() {
                    [ConstOp::RefFunc(f)] => Some(Some(*f)),
                    [ConstOp::RefNull] => Some(None),
                    _ => None,
                })
                .collect(),
        };
        let at = offset.constant_offset().unwrap_or(u64::MAX);
        match items {
            Some(items) if at.saturating_add(items.len() as u64) <= minimum.min(MAX_IMAGE_LEN) => {
                let end = at as usize + items.len();
                if image.elements.len() < end {
                    image.elements.resize(end, None);
                }
                image.elements[at as usize..end].copy_from_slice(&items);
                image.segments.push(e);
            }
            _ => {
                disqualified.insert(def);
            }
        }
    }
    images.retain(|def, _| !disqualified.contains(def));
    images
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::translate_module;

    fn images(wat: &str) -> BTreeMap<DefinedTableIndex, TableImage> {
        let wasm = wat::parse_str(wat).unwrap();
        table_images(&translate_module(&wasm).unwrap().module)
    }

    #[test]
    fn constant_segments_make_an_image() {
        let i = images(
            "(module (table 10 funcref) (func $a) (func $b)
              (elem (i32.const 2) $a $b) (elem (i32.const 3) funcref (ref.null func) (ref.func $a)))",
        );
        let image = &i[&DefinedTableIndex::from_u32(0)];
        let a = Some(FuncIndex::from_u32(0));
        assert_eq!(image.elements, vec![None, None, a, None, a]);
        assert_eq!(image.segments.len(), 2);
    }

    #[test]
    fn trapping_or_dynamic_segments_disqualify_the_table() {
        assert!(images("(module (table 1 funcref) (func $a) (elem (i32.const 1) $a))").is_empty());
        assert!(
            images("(module (global i32 (i32.const 0)) (table 2 funcref) (func $a) (elem (global.get 0) $a))")
                .is_empty()
        );
        assert!(images("(module (table 2 funcref (ref.null func)))").is_empty());
        assert!(images("(module (table 2 externref))").is_empty());
        assert_eq!(images("(module (table 2 funcref))").len(), 1);
    }
}
