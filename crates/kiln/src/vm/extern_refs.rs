//! `ExternRefs`: a store's slab of the host values that wasm holds as `externref`s (and of
//! its exceptions). Wasm sees a slot as a tagged word (see `RawRef`). A slot is released only
//! by the store's collection (`StoreOpaque::gc`), which may run while wasm waits in a host
//! call: it marks every slot that a table, a global, a suspended wasm frame or a host root
//! names, and keeps every value of which another clone lives (an exception whose `ExnRef`
//! the host holds; `ExternRef`s are held through roots, and their values have none).
use super::ids::ExternSlot;
use super::val_raw::RawRef;
use super::vm_ptr::VmPtr;
use cranelift_entity::{EntitySet, PrimaryMap};
use std::any::Any;
use std::collections::HashMap;
use std::sync::Arc;

/// A host value behind an `externref`.
pub type ExternValue = Arc<dyn Any + Send + Sync>;

/// The slab.
pub struct ExternRefs {
    slots: PrimaryMap<ExternSlot, Option<ExternValue>>,
    /// The slot of each value, by the address of its allocation.
    by_value: HashMap<VmPtr<()>, ExternSlot>,
    free: Vec<ExternSlot>,
    /// Collect when this many values are held.
    gc_threshold: usize,
}

impl Default for ExternRefs {
    fn default() -> ExternRefs {
        ExternRefs { slots: PrimaryMap::new(), by_value: HashMap::new(), free: Vec::new(), gc_threshold: 64 }
    }
}

/// The address of `value`'s allocation, which identifies it.
fn address(value: &ExternValue) -> VmPtr<()> {
    VmPtr::from_ref(&**value).cast()
}

/// The slots found reachable during a collection.
pub struct Marks(EntitySet<ExternSlot>);

impl Marks {
    /// Keep slot `slot`: whether it was not kept yet.
    pub fn mark(&mut self, slot: ExternSlot) -> bool {
        !self.0.insert(slot)
    }
}

impl ExternRefs {
    /// The reference to `value`, giving it a slot if it has none.
    pub fn reference_to(&mut self, value: &ExternValue) -> RawRef {
        let key = address(value);
        if let Some(slot) = self.by_value.get(&key) {
            return RawRef::extern_ref(Some(*slot));
        }
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot] = Some(value.clone());
                slot
            }
            None => self.slots.push(Some(value.clone())),
        };
        self.by_value.insert(key, slot);
        RawRef::extern_ref(Some(slot))
    }

    /// The value behind `r` (`None` for null, or a slot that holds nothing).
    pub fn value_of(&self, r: RawRef) -> Option<ExternValue> {
        self.slots.get(r.as_extern()?)?.clone()
    }

    /// The value behind `r`, borrowed (`None` for null, or a slot that holds nothing).
    pub fn value_ref(&self, r: RawRef) -> Option<&(dyn Any + Send + Sync)> {
        self.slots.get(r.as_extern()?)?.as_deref()
    }

    /// How many values are held.
    pub fn held(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    /// Whether enough values accumulated since the last collection to run another.
    pub fn wants_gc(&self) -> bool {
        self.held() >= self.gc_threshold
    }

    /// An empty set of marks for a collection.
    pub fn marks(&self) -> Marks {
        Marks(EntitySet::with_capacity(self.slots.len()))
    }

    /// Free the slot of `r` now, unless the host holds a clone of its value: for an
    /// exception a handler caught without keeping a reference, which nothing else names.
    pub fn release(&mut self, r: RawRef) {
        let Some(slot) = r.as_extern() else { return };
        let Some(entry) = self.slots.get_mut(slot) else { return };
        if let Some(a) = entry.as_ref().filter(|a| Arc::strong_count(a) == 1) {
            self.by_value.remove(&address(a));
            *entry = None;
            self.free.push(slot);
        }
    }

    /// The slots whose values the host holds a clone of: roots of a collection.
    pub fn held_by_host(&self) -> impl Iterator<Item = ExternSlot> + '_ {
        // A strong count above one means the host still holds a clone.
        self.slots.iter().filter(|(_, e)| e.as_ref().is_some_and(|a| Arc::strong_count(a) > 1)).map(|(s, _)| s)
    }

    /// The references the value in `slot` holds (a kept exception's payload), for tracing.
    pub fn references_of(&self, slot: ExternSlot) -> Vec<RawRef> {
        let Some(Some(value)) = self.slots.get(slot) else { return Vec::new() };
        value.downcast_ref::<super::exception::Exception>().map_or_else(Vec::new, |e| e.references().collect())
    }

    /// Release every value that is not marked (the collection marks the ones the host holds,
    /// [`ExternRefs::held_by_host`], as roots).
    pub fn sweep(&mut self, marks: Marks) {
        for (slot, entry) in self.slots.iter_mut() {
            if let Some(a) = entry.as_ref().filter(|_| !marks.0.contains(slot)) {
                self.by_value.remove(&address(a));
                *entry = None;
                self.free.push(slot);
            }
        }
        self.gc_threshold = (self.held() * 2).max(64);
    }
}
