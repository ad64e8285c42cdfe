//! Strongly connected components of a call graph, by Tarjan's algorithm run with an explicit
//! stack: the input is untrusted, so nothing recurses on its depth (a chain of a million
//! functions is fine). Components are numbered in the order Tarjan completes them, which is a
//! reverse topological order of the condensation: callees before callers.
use crate::call_graph::{CallGraph, FuncId};
use cranelift_entity::{EntityRef, entity_impl};

/// A strongly connected component.
#[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SccId(u32);
entity_impl!(SccId, "scc");

/// The components of a graph.
pub struct Sccs {
    scc_of: Vec<SccId>,
    /// `members[starts[s]..starts[s + 1]]` are component `s`'s nodes, sorted.
    starts: Vec<u32>,
    members: Vec<FuncId>,
    recursive: Vec<bool>,
}

const UNVISITED: u32 = u32::MAX;

/// Compute the components of `graph`.
pub fn compute(graph: &CallGraph) -> Sccs {
    let n = graph.num_nodes();
    let mut index = vec![UNVISITED; n];
    let mut lowlink = vec![0u32; n];
    let mut on_stack = vec![false; n];
    let mut stack: Vec<FuncId> = Vec::new();
    // The explicit call stack: (node, position in its successor list).
    let mut work: Vec<(FuncId, usize)> = Vec::new();
    let mut next_index = 0u32;
    let mut scc_of = vec![SccId::new(0); n];
    let (mut starts, mut members, mut recursive) = (vec![0u32], Vec::with_capacity(n), Vec::new());

    for root in graph.nodes() {
        if index[root.index()] != UNVISITED {
            continue;
        }
        work.push((root, 0));
        while let Some((v, pos)) = work.pop() {
            let vi = v.index();
            if pos == 0 && index[vi] == UNVISITED {
                index[vi] = next_index;
                lowlink[vi] = next_index;
                next_index += 1;
                stack.push(v);
                on_stack[vi] = true;
            }
            let successors = graph.successors(v);
            if let Some(&w) = successors.get(pos) {
                work.push((v, pos + 1));
                if index[w.index()] == UNVISITED {
                    work.push((w, 0));
                } else if on_stack[w.index()] {
                    lowlink[vi] = lowlink[vi].min(index[w.index()]);
                }
                continue;
            }
            // All successors done: propagate to the parent, and close a component at a root.
            if let Some(&(parent, _)) = work.last() {
                lowlink[parent.index()] = lowlink[parent.index()].min(lowlink[vi]);
            }
            if lowlink[vi] == index[vi] {
                let s = SccId::new(recursive.len());
                let first = members.len();
                loop {
                    let w = stack.pop().expect("v is on the stack");
                    on_stack[w.index()] = false;
                    scc_of[w.index()] = s;
                    members.push(w);
                    if w == v {
                        break;
                    }
                }
                members[first..].sort_unstable();
                let size = members.len() - first;
                recursive.push(size > 1 || graph.successors(v).contains(&v));
                starts.push(members.len() as u32);
            }
        }
    }
    Sccs { scc_of, starts, members, recursive }
}

impl Sccs {
    /// The number of components.
    pub fn num_sccs(&self) -> usize {
        self.recursive.len()
    }

    /// The component of `n`.
    pub fn scc_of(&self, n: FuncId) -> SccId {
        self.scc_of[n.index()]
    }

    /// The nodes of `s`, sorted.
    pub fn members(&self, s: SccId) -> &[FuncId] {
        &self.members[self.starts[s.index()] as usize..self.starts[s.index() + 1] as usize]
    }

    /// Whether `s` is recursive: several members, or one that calls itself.
    pub fn is_recursive(&self, s: SccId) -> bool {
        self.recursive[s.index()]
    }
}
