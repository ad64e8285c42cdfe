//! Tests of the call graph, its strongly connected components and their layers: hand-made
//! graphs, a million-node chain and cycle (no recursion on input depth), and seeded random
//! graphs checked against reachability.
use cranelift_entity::EntityRef;
use kiln_compile::call_graph::{CallGraph, FuncId};
use kiln_compile::scc::{Sccs, compute};
use kiln_compile::stratify::stratify;

fn graph(n: usize, edges: &[(usize, usize)]) -> CallGraph {
    CallGraph::new(n, edges.iter().map(|&(a, b)| (FuncId::new(a), FuncId::new(b))))
}

fn layers(g: &CallGraph) -> Vec<Vec<usize>> {
    stratify(g, &compute(g)).into_iter().map(|l| l.into_iter().map(|f| f.index()).collect()).collect()
}

fn same_scc(s: &Sccs, a: usize, b: usize) -> bool {
    s.scc_of(FuncId::new(a)) == s.scc_of(FuncId::new(b))
}

#[test]
fn hand_made_graphs() {
    // A cycle 0 → 1 → 2 → 0 calling a leaf 3.
    let g = graph(4, &[(0, 1), (1, 2), (2, 0), (2, 3)]);
    let s = compute(&g);
    assert!(same_scc(&s, 0, 1) && same_scc(&s, 1, 2) && !same_scc(&s, 2, 3));
    assert!(s.is_recursive(s.scc_of(FuncId::new(0))));
    assert!(!s.is_recursive(s.scc_of(FuncId::new(3))));
    assert_eq!(layers(&g), vec![vec![3], vec![0, 1, 2]]);
    // A self-loop.
    let g = graph(2, &[(0, 0), (0, 1)]);
    let s = compute(&g);
    assert!(s.is_recursive(s.scc_of(FuncId::new(0))));
    assert_eq!(layers(&g), vec![vec![1], vec![0]]);
    // A diamond 0 → {1, 2} → 3, and a disconnected pair 4 → 5.
    let g = graph(6, &[(0, 1), (0, 2), (1, 3), (2, 3), (4, 5)]);
    assert_eq!(layers(&g), vec![vec![3, 5], vec![1, 2, 4], vec![0]]);
    assert_eq!(compute(&g).num_sccs(), 6);
    // Empty, and duplicate edges.
    assert_eq!(layers(&graph(0, &[])), Vec::<Vec<usize>>::new());
    let g = graph(2, &[(0, 1), (0, 1)]);
    assert_eq!(g.successors(FuncId::new(0)).len(), 1);
}

#[test]
fn a_million_node_chain_and_cycle_need_no_recursion() {
    let n = 1_000_000;
    let chain: Vec<(usize, usize)> = (0..n - 1).map(|i| (i, i + 1)).collect();
    let g = graph(n, &chain);
    let l = layers(&g);
    assert_eq!(l.len(), n);
    assert_eq!(l[0], vec![n - 1]);
    let mut cycle = chain;
    cycle.push((n - 1, 0));
    let g = graph(n, &cycle);
    let s = compute(&g);
    assert_eq!(s.num_sccs(), 1);
    assert_eq!(s.members(s.scc_of(FuncId::new(0))).len(), n);
}

struct XorShift(u64);

impl XorShift {
    fn next(&mut self, below: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % below as u64) as usize
    }
}

fn reaches(g: &CallGraph, from: usize, to: usize) -> bool {
    let mut seen = vec![false; g.num_nodes()];
    let mut queue = vec![from];
    while let Some(v) = queue.pop() {
        for w in g.successors(FuncId::new(v)) {
            if w.index() == to {
                return true;
            }
            if !seen[w.index()] {
                seen[w.index()] = true;
                queue.push(w.index());
            }
        }
    }
    false
}

#[test]
fn random_graphs_layer_every_edge_downward_or_within_an_scc() {
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    for _ in 0..300 {
        let n = 1 + rng.next(40);
        let m = rng.next(3 * n);
        let edges: Vec<(usize, usize)> = (0..m).map(|_| (rng.next(n), rng.next(n))).collect();
        let g = graph(n, &edges);
        let s = compute(&g);
        let l = stratify(&g, &s);
        let mut layer_of = vec![usize::MAX; n];
        for (i, layer) in l.iter().enumerate() {
            for f in layer {
                assert_eq!(layer_of[f.index()], usize::MAX, "node in two layers");
                layer_of[f.index()] = i;
            }
        }
        assert!(layer_of.iter().all(|l| *l != usize::MAX), "every node has a layer");
        for &(a, b) in &edges {
            assert!(layer_of[a] > layer_of[b] || same_scc(&s, a, b), "edge {a} -> {b} goes up");
        }
        for a in 0..n {
            for b in 0..n {
                if a != b {
                    let mutual = reaches(&g, a, b) && reaches(&g, b, a);
                    assert_eq!(same_scc(&s, a, b), mutual, "{a} and {b}");
                }
            }
        }
    }
}
