//! What a store keeps for components: every component instance's runtime state (its core
//! instances, lowered functions, the memories and functions its canonical options name,
//! its resource types, handle tables and the canonical ABI's per-instance flags), the
//! host's handle table, and the stack of call scopes.
use cranelift_entity::{PrimaryMap, SecondaryMap, entity_impl};
use kiln_environ::component::{
    LoweredIndex, ResourceIndex, RuntimeComponentInstanceIndex, RuntimeInstanceIndex, RuntimeMemoryIndex,
    RuntimePostReturnIndex, RuntimeReallocIndex,
};

use super::Component;
use super::resources::{CallScope, HandleTable, HostTable};
use super::values::ResourceType;
use crate::{Func, Global, Memory};

/// A component instance in a store.
#[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ComponentInstanceId(u32);
entity_impl!(ComponentInstanceId, "component_instance");

/// One component instance's runtime state.
pub(crate) struct InstanceState {
    pub component: Component,
    pub core: PrimaryMap<RuntimeInstanceIndex, crate::Instance>,
    pub lowered: PrimaryMap<LoweredIndex, Func>,
    pub memories: PrimaryMap<RuntimeMemoryIndex, Memory>,
    pub reallocs: PrimaryMap<RuntimeReallocIndex, Func>,
    pub post_returns: PrimaryMap<RuntimePostReturnIndex, Func>,
    pub resource_types: PrimaryMap<ResourceIndex, ResourceType>,
    pub dtors: SecondaryMap<ResourceIndex, Option<Func>>,
    pub tables: PrimaryMap<RuntimeComponentInstanceIndex, HandleTable>,
    /// The `backpressure.inc`/`.dec` counter.
    pub backpressure: SecondaryMap<RuntimeComponentInstanceIndex, u32>,
    /// The canonical ABI's flags of each component instance (`FLAG_MAY_LEAVE`,
    /// `FLAG_MAY_ENTER`), in a mutable `i32` global that fused adapters read and write too:
    /// `may_enter` is clear while the instance runs, and stays clear once a trap left it.
    pub flags: PrimaryMap<RuntimeComponentInstanceIndex, Global>,
}

/// Everything a store holds for components.
pub(crate) struct ComponentStore {
    pub instances: PrimaryMap<ComponentInstanceId, InstanceState>,
    pub host: HostTable,
    pub scopes: Vec<CallScope>,
    /// The id the next call scope gets.
    pub next_scope: u64,
}

impl ComponentStore {
    /// The component state of the store `store`.
    pub fn new(store: crate::vm::ids::StoreId) -> ComponentStore {
        ComponentStore { instances: PrimaryMap::new(), host: HostTable::new(store), scopes: Vec::new(), next_scope: 0 }
    }
}
