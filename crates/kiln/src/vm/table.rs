//! `TableStorage`: a wasm table's elements (raw `*const VMFuncRef` pointers for funcref
//! tables, 0 for null) and the `VMTableDefinition` compiled code reads, kept up to date like a
//! memory's.
use super::vmcontext::VMTableDefinition;
use kiln_environ::Table;

/// The most elements Kiln lets a table have.
const LIMIT: u64 = 10_000_000;

/// A table.
pub struct TableStorage {
    elements: Vec<usize>,
    ty: Table,
    definition: *mut VMTableDefinition,
    own_definition: Box<VMTableDefinition>,
}

// SAFETY: owned by one store and accessed through it.
unsafe impl Send for TableStorage {}

impl TableStorage {
    /// A table of type `ty` with its minimum size, every element `init`.
    pub fn new(ty: Table, init: usize) -> Result<TableStorage, String> {
        if ty.maximum.is_some_and(|max| max < ty.minimum) {
            return Err(format!("table minimum of {} exceeds its maximum", ty.minimum));
        }
        if ty.minimum > LIMIT {
            return Err(format!("table minimum {} exceeds Kiln's limit of {LIMIT} elements", ty.minimum));
        }
        let mut t = TableStorage {
            elements: vec![init; ty.minimum as usize],
            ty,
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

    /// The elements.
    pub fn elements(&self) -> &[usize] {
        &self.elements
    }

    /// Grow by `delta` elements set to `init`; the old size, or `None` past the maximum (or
    /// Kiln's limit).
    pub fn grow(&mut self, delta: u32, init: usize) -> Option<u32> {
        let old = self.elements.len() as u64;
        let new = old + u64::from(delta);
        if new > self.ty.maximum.unwrap_or(u64::from(u32::MAX)) || new > LIMIT {
            return None;
        }
        self.elements.resize(new as usize, init);
        self.publish();
        Some(old as u32)
    }

    /// The elements, for writing.
    pub fn elements_mut(&mut self) -> &mut [usize] {
        &mut self.elements
    }
}
