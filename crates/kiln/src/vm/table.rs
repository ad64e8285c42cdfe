//! `TableStorage`: a wasm table's elements and the `VMTableDefinition` compiled code reads,
//! kept up to date like a memory's. An element is a pointer (`*const VMFuncRef` for funcref
//! tables, an ExternRef slot for externref tables; 0 is null). With lazy initialization, the
//! elements of funcref tables are *encoded* as compiled code expects: 0 is "not yet
//! initialized" (the store fills it from the table's image on first read) and any other value
//! is the reference with bit 0 set. The methods here take and return decoded values.
use super::vmcontext::VMTableDefinition;
use kiln_environ::{FuncIndex, Table};
use std::sync::Arc;

/// The precomputed initial contents of a lazily initialized table: the functions of
/// `instance` its elements refer to.
#[derive(Clone)]
pub struct LazyImage {
    pub instance: usize,
    pub elements: Arc<[Option<FuncIndex>]>,
}

/// The most elements Kiln lets a table have.
const LIMIT: u64 = 10_000_000;

/// A table.
pub struct TableStorage {
    elements: Vec<usize>,
    ty: Table,
    /// Whether elements are encoded (see the module docs).
    encoded: bool,
    image: Option<LazyImage>,
    definition: *mut VMTableDefinition,
    own_definition: Box<VMTableDefinition>,
}

// SAFETY: owned by one store and accessed through it.
unsafe impl Send for TableStorage {}

impl TableStorage {
    /// A table of type `ty` with its minimum size, every element `init`; `encoded` says
    /// whether its elements use the lazy-initialization encoding.
    pub fn new(ty: Table, init: usize, encoded: bool) -> Result<TableStorage, String> {
        if ty.maximum.is_some_and(|max| max < ty.minimum) {
            return Err(format!("table minimum of {} exceeds its maximum", ty.minimum));
        }
        if ty.minimum > LIMIT {
            return Err(format!("table minimum {} exceeds Kiln's limit of {LIMIT} elements", ty.minimum));
        }
        let mut t = TableStorage {
            elements: vec![if encoded { init | 1 } else { init }; ty.minimum as usize],
            ty,
            encoded,
            image: None,
            definition: std::ptr::null_mut(),
            own_definition: Box::new(VMTableDefinition { base: std::ptr::null_mut(), current_elements: 0 }),
        };
        t.definition = &mut *t.own_definition;
        t.publish();
        Ok(t)
    }

    fn publish(&mut self) {
        let def = VMTableDefinition { base: self.elements.as_mut_ptr(), current_elements: self.elements.len() as u64 };
        // SAFETY: `definition` points at `own_definition` or at the inline definition in the
        // owning instance's vmctx, which lives as long as this table (same store).
        unsafe { self.definition.write(def) };
    }

    /// Keep the definition at `def` up to date from now on. `def` must outlive this table.
    pub fn set_definition(&mut self, def: *mut VMTableDefinition) {
        self.definition = def;
        self.publish();
    }

    /// The definition compiled code reads.
    pub fn definition(&self) -> *mut VMTableDefinition {
        self.definition
    }

    /// The table's type with its current size as the minimum.
    pub fn ty(&self) -> Table {
        Table { minimum: self.elements.len() as u64, ..self.ty }
    }

    /// Make every element "not yet initialized", to be filled from `image` on first read.
    pub fn set_lazy_image(&mut self, image: LazyImage) {
        debug_assert!(self.encoded);
        self.elements.fill(0);
        self.image = Some(image);
    }

    /// The image uninitialized elements come from.
    pub fn image(&self) -> Option<&LazyImage> {
        self.image.as_ref()
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        self.elements.len()
    }

    /// Element `i`: `None` past the end, `Some(None)` when not yet initialized.
    pub fn get(&self, i: usize) -> Option<Option<usize>> {
        let raw = *self.elements.get(i)?;
        Some(match (self.encoded, raw) {
            (false, raw) => Some(raw),
            (true, 0) => None,
            (true, raw) => Some(raw & !1),
        })
    }

    /// Set element `i` (which must exist) to `value`.
    pub fn set(&mut self, i: usize, value: usize) {
        self.elements[i] = self.encode(value);
    }

    /// Set elements `dst..dst + values.len()` (which must exist).
    pub fn write(&mut self, dst: usize, values: &[usize]) {
        let encoded = self.encoded;
        for (slot, v) in self.elements[dst..dst + values.len()].iter_mut().zip(values) {
            *slot = if encoded { v | 1 } else { *v };
        }
    }

    /// Set elements `dst..dst + len` (which must exist) to `value`.
    pub fn fill(&mut self, dst: usize, len: usize, value: usize) {
        let value = self.encode(value);
        self.elements[dst..dst + len].fill(value);
    }

    fn encode(&self, value: usize) -> usize {
        if self.encoded { value | 1 } else { value }
    }

    /// The raw elements of an externref table (never encoded), for the collector.
    pub fn extern_elements(&self) -> &[usize] {
        debug_assert!(!self.encoded);
        &self.elements
    }

    /// Grow by `delta` elements set to `init`; the old size, or `None` past the maximum (or
    /// Kiln's limit).
    pub fn grow(&mut self, delta: u32, init: usize) -> Option<u32> {
        let init = self.encode(init);
        let old = self.elements.len() as u64;
        let new = old + u64::from(delta);
        if new > self.ty.maximum.unwrap_or(u64::from(u32::MAX)) || new > LIMIT {
            return None;
        }
        self.elements.resize(new as usize, init);
        self.publish();
        Some(old as u32)
    }
}
