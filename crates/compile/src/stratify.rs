//! Stratification of a call graph's condensation into layers, bottom-up: layer 0 holds the
//! functions whose component calls no other component, layer k those whose component calls
//! only components of layers below k. Members of one component share a layer. Linear time,
//! no recursion: components come from Tarjan in callee-before-caller order, so one pass over
//! them sees every callee's layer before its callers'.
use crate::call_graph::{CallGraph, FuncId};
use crate::scc::{SccId, Sccs};
use cranelift_entity::EntityRef;

/// The layers of `graph`, each sorted by `FuncId`.
pub fn stratify(graph: &CallGraph, sccs: &Sccs) -> Vec<Vec<FuncId>> {
    let mut height = vec![0usize; sccs.num_sccs()];
    for s in (0..sccs.num_sccs()).map(SccId::new) {
        let mut h = 0;
        for &m in sccs.members(s) {
            for &callee in graph.successors(m) {
                let c = sccs.scc_of(callee);
                if c != s {
                    h = h.max(height[c.index()] + 1);
                }
            }
        }
        height[s.index()] = h;
    }
    let mut layers: Vec<Vec<FuncId>> = vec![Vec::new(); height.iter().max().map_or(0, |h| h + 1)];
    for n in graph.nodes() {
        layers[height[sccs.scc_of(n).index()]].push(n);
    }
    layers
}
