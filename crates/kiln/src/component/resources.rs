//! Resource handles: the handle table each component instance keeps (`own` and `borrow`
//! entries, with the canonical ABI's lending rules), the host's own table of the handles it
//! holds, and the per-call scopes that check every borrow ends with its call.
use kiln_environ::component::RuntimeComponentInstanceIndex;

use super::values::{ResourceAny, ResourceType, ResourceTypeKind};
use crate::vm::ids::StoreId;
use crate::{Error, Result};

/// The most handles one table may hold: Kiln's limit, below the canonical ABI's 2^28 - 1 so
/// that a guest minting handles in a loop costs at most some tens of MiB of host memory.
const MAX_HANDLES: usize = 1 << 20;

/// One entry of a handle table.
#[derive(Clone, Debug)]
pub(crate) enum Slot {
    Free,
    Own {
        rep: u32,
        ty: ResourceType,
        lend: u32,
    },
    /// A borrow given to a callee for the call whose scope has id `scope`.
    Borrow {
        rep: u32,
        ty: ResourceType,
        scope: u64,
    },
}

/// A handle table: index 0 is never a handle; freed indices are reused last-freed first.
#[derive(Clone, Debug)]
pub(crate) struct HandleTable {
    slots: Vec<Slot>,
    free: Vec<u32>,
}

impl Default for HandleTable {
    fn default() -> HandleTable {
        HandleTable { slots: vec![Slot::Free], free: Vec::new() }
    }
}

/// A trap of the canonical ABI, with wasmtime's wording.
pub(crate) fn trap(message: impl Into<String>) -> Error {
    Error::ComponentTrap(message.into())
}

fn describe(ty: ResourceType) -> &'static str {
    match ty.0 {
        ResourceTypeKind::Guest(..) => "guest-defined resource",
        ResourceTypeKind::Host(_) => "host-defined resource",
    }
}

fn wrong_type(index: u32, expected: ResourceType, found: ResourceType) -> Error {
    let found = match (expected.0, found.0) {
        (ResourceTypeKind::Guest(..), ResourceTypeKind::Guest(..)) => "a different guest-defined resource",
        (ResourceTypeKind::Host(_), ResourceTypeKind::Host(_)) => "a different host-defined resource",
        (_, f) => describe(ResourceType(f)),
    };
    trap(format!("handle index {index} used with the wrong type, expected {} but found {found}", describe(expected)))
}

impl HandleTable {
    pub fn insert(&mut self, slot: Slot) -> Result<u32> {
        if let Some(i) = self.free.pop() {
            self.slots[i as usize] = slot;
            return Ok(i);
        }
        if self.slots.len() > MAX_HANDLES {
            return Err(trap("resource table has no free slots"));
        }
        self.slots.push(slot);
        Ok((self.slots.len() - 1) as u32)
    }

    pub fn get(&self, index: u32) -> Result<&Slot> {
        match self.slots.get(index as usize) {
            Some(Slot::Free) | None => Err(trap(format!("unknown handle index {index}"))),
            Some(s) => Ok(s),
        }
    }

    fn get_mut(&mut self, index: u32) -> Result<&mut Slot> {
        match self.slots.get_mut(index as usize) {
            Some(Slot::Free) | None => Err(trap(format!("unknown handle index {index}"))),
            Some(s) => Ok(s),
        }
    }

    pub fn remove(&mut self, index: u32) -> Result<Slot> {
        self.get(index)?;
        let slot = std::mem::replace(&mut self.slots[index as usize], Slot::Free);
        self.free.push(index);
        Ok(slot)
    }

    /// The representation behind `index`, checking its type (`resource.rep`).
    pub fn rep(&self, index: u32, ty: ResourceType) -> Result<u32> {
        match *self.get(index)? {
            Slot::Own { rep, ty: t, .. } | Slot::Borrow { rep, ty: t, .. } if t == ty => Ok(rep),
            Slot::Own { ty: t, .. } | Slot::Borrow { ty: t, .. } => Err(wrong_type(index, ty, t)),
            Slot::Free => Err(trap(format!("unknown handle index {index}"))),
        }
    }

    /// Takes an `own` handle out of the table to move it elsewhere.
    pub fn take_own(&mut self, index: u32, ty: ResourceType) -> Result<u32> {
        match *self.get(index)? {
            Slot::Own { ty: t, lend, rep } if t == ty => {
                if lend > 0 {
                    return Err(trap("cannot remove owned resource while borrowed"));
                }
                self.remove(index)?;
                Ok(rep)
            }
            Slot::Own { ty: t, .. } => Err(wrong_type(index, ty, t)),
            Slot::Borrow { .. } => Err(trap(format!("handle index {index} is a borrow, where an own is expected"))),
            Slot::Free => Err(trap(format!("unknown handle index {index}"))),
        }
    }

    /// Lends the resource behind `index` for one call: the representation, and whether a
    /// lend was counted (to be returned with [`HandleTable::end_lend`]).
    pub fn lend(&mut self, index: u32, ty: ResourceType) -> Result<(u32, bool)> {
        match self.get_mut(index)? {
            Slot::Own { ty: t, lend, rep } if *t == ty => {
                *lend += 1;
                Ok((*rep, true))
            }
            Slot::Borrow { ty: t, rep, .. } if *t == ty => Ok((*rep, false)),
            Slot::Own { ty: t, .. } | Slot::Borrow { ty: t, .. } => Err(wrong_type(index, ty, *t)),
            Slot::Free => Err(trap(format!("unknown handle index {index}"))),
        }
    }

    /// Frees `index` if it still holds a borrow of the scope `scope`.
    pub fn remove_borrow(&mut self, index: u32, scope: u64) {
        if matches!(self.slots.get(index as usize), Some(Slot::Borrow { scope: s, .. }) if *s == scope) {
            self.slots[index as usize] = Slot::Free;
            self.free.push(index);
        }
    }

    pub fn end_lend(&mut self, index: u32) {
        if let Some(Slot::Own { lend, .. }) = self.slots.get_mut(index as usize) {
            *lend = lend.saturating_sub(1);
        }
    }
}

/// What one call across the canonical ABI has lent and borrowed, checked when it ends.
#[derive(Default, Debug)]
pub(crate) struct CallScope {
    /// The scope's id, which its borrow handles record (unique in the store).
    pub id: u64,
    /// Borrow handles given to the callee that it has not dropped yet: its instance, table
    /// and handle.
    pub borrowed: Vec<(super::store::ComponentInstanceId, RuntimeComponentInstanceIndex, u32)>,
    /// Host bytes the values lifted in this call take so far (see `Cx::charge`).
    pub lifted: usize,
    /// The task's context slots (`context.get`/`context.set`).
    pub context: [u32; 2],
    /// For a call of a lifted function: the callee's instance and its result type.
    pub task: Option<(RuntimeComponentInstanceIndex, Option<kiln_environ::component::InterfaceType>)>,
    /// Whether the call is of an `async` lifted function, which returns through
    /// `task.return`.
    pub async_task: bool,
    /// What `task.return` gave, once it has been called.
    pub returned: Option<Vec<super::values::Val>>,
    /// Own handles lent out for the call: the table's instance (`None`: the host's) and index.
    pub lends: Vec<(Option<(super::store::ComponentInstanceId, RuntimeComponentInstanceIndex)>, u32)>,
}

/// A host-held handle, for [`ResourceAny`].
#[derive(Clone, Debug)]
pub(crate) struct HostSlot {
    pub generation: u32,
    pub rep: Option<u32>,
    pub ty: ResourceType,
}

/// The handles the host holds: `own`s lifted out of components (and host resources the
/// embedder made), each a generation-checked slot, at most `MAX_HANDLES` live at once.
#[derive(Debug)]
pub(crate) struct HostTable {
    /// The store whose table this is: a handle of another store is refused.
    store: StoreId,
    slots: Vec<HostSlot>,
    free: Vec<u32>,
}

impl HostTable {
    pub fn new(store: StoreId) -> HostTable {
        HostTable { store, slots: Vec::new(), free: Vec::new() }
    }

    /// A borrowed handle (of representation `rep`) in this store.
    pub fn borrowed(&self, rep: u32, ty: ResourceType) -> ResourceAny {
        ResourceAny { store: self.store, index: rep, generation: u32::MAX, ty, own: false }
    }

    /// Refuses a handle of another store.
    pub fn check(&self, r: &ResourceAny) -> Result<()> {
        if r.store == self.store { Ok(()) } else { Err(Error::Other("a resource handle of another store".into())) }
    }

    pub fn insert(&mut self, rep: u32, ty: ResourceType) -> Result<ResourceAny> {
        if self.free.is_empty() && self.slots.len() >= MAX_HANDLES {
            return Err(Error::Limit(format!(
                "the host holds {MAX_HANDLES} resource handles already (drop some with ResourceAny::resource_drop)"
            )));
        }
        let index = match self.free.pop() {
            Some(i) => {
                let slot = &mut self.slots[i as usize];
                slot.generation = slot.generation.wrapping_add(1);
                slot.rep = Some(rep);
                slot.ty = ty;
                i
            }
            None => {
                self.slots.push(HostSlot { generation: 0, rep: Some(rep), ty });
                (self.slots.len() - 1) as u32
            }
        };
        Ok(ResourceAny { store: self.store, index, generation: self.slots[index as usize].generation, ty, own: true })
    }

    /// Takes the representation of an owned handle out (it moves into a component).
    pub fn take(&mut self, r: &ResourceAny) -> Result<u32> {
        self.check(r)?;
        let slot = self
            .slots
            .get_mut(r.index as usize)
            .filter(|s| s.generation == r.generation && s.rep.is_some())
            .ok_or_else(|| Error::Other("resource handle has already been moved or dropped".into()))?;
        let rep = slot.rep.take().unwrap_or_default();
        self.free.push(r.index);
        Ok(rep)
    }

    /// The representation of a live handle.
    pub fn rep(&self, r: &ResourceAny) -> Result<u32> {
        self.check(r)?;
        self.slots
            .get(r.index as usize)
            .filter(|s| s.generation == r.generation)
            .and_then(|s| s.rep)
            .ok_or_else(|| Error::Other("resource handle has already been moved or dropped".into()))
    }
}
