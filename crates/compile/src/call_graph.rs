//! `CallGraph`: the direct calls between a module's wasm functions, in compact adjacency form
//! (each node's sorted, deduplicated successors in one array), indexed by `FuncId`.
use cranelift_entity::{EntityRef, entity_impl};

/// A node of the call graph: a defined wasm function.
#[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FuncId(u32);
entity_impl!(FuncId, "func");

/// Direct calls between functions.
pub struct CallGraph {
    /// `successors[offsets[n]..offsets[n + 1]]` are node `n`'s callees.
    offsets: Vec<u32>,
    successors: Vec<FuncId>,
}

impl CallGraph {
    /// The graph of `num_nodes` nodes with `edges` (caller, callee).
    pub fn new(num_nodes: usize, edges: impl IntoIterator<Item = (FuncId, FuncId)>) -> CallGraph {
        let mut edges: Vec<(FuncId, FuncId)> = edges.into_iter().collect();
        edges.sort_unstable();
        edges.dedup();
        let mut offsets = vec![0u32; num_nodes + 1];
        for (from, _) in &edges {
            offsets[from.index() + 1] += 1;
        }
        for i in 0..num_nodes {
            offsets[i + 1] += offsets[i];
        }
        CallGraph { offsets, successors: edges.into_iter().map(|(_, to)| to).collect() }
    }

    /// The number of nodes.
    pub fn num_nodes(&self) -> usize {
        self.offsets.len() - 1
    }

    /// The callees of `n`, sorted.
    pub fn successors(&self, n: FuncId) -> &[FuncId] {
        &self.successors[self.offsets[n.index()] as usize..self.offsets[n.index() + 1] as usize]
    }

    /// Every node.
    pub fn nodes(&self) -> impl Iterator<Item = FuncId> + use<> {
        (0..self.num_nodes()).map(FuncId::new)
    }
}
