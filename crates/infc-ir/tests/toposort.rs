//! `Graph::toposort` gives the order of the repeated forward sweeps it replaced (checked against
//! that algorithm on shuffled random DAGs), reports cycles, and sorts a 50 000-node chain given
//! in reverse order at once (the sweeps took one pass per node: quadratic).

use infc_ir::{BinaryOp, DType, Graph, Op, TensorType, UnaryOp, ValueId};
use proptest::prelude::*;

fn ty() -> TensorType {
    TensorType::known(DType::F32, &[2])
}

/// The former algorithm: sweep the nodes in order, placing every node whose inputs are defined,
/// until all are placed. Returns the node names in the order placed.
fn sweeps(g: &Graph) -> Vec<String> {
    let mut defined = vec![false; g.values.len()];
    for &v in &g.inputs {
        defined[v.index()] = true;
    }
    let mut done = vec![false; g.nodes.len()];
    let mut order = Vec::new();
    while order.len() < g.nodes.len() {
        for (i, node) in g.nodes.iter().enumerate() {
            if done[i] || !node.inputs.iter().all(|v| defined[v.index()]) {
                continue;
            }
            done[i] = true;
            order.push(node.name.clone());
            for &o in &node.outputs {
                defined[o.index()] = true;
            }
        }
    }
    order
}

/// A random DAG: node `k` reads one or two of the values defined before it; nodes are then pushed
/// in the order `perm` gives.
fn dag(reads: &[(usize, usize, bool)], perm: &[usize]) -> Graph {
    let mut g = Graph::new("t");
    let mut vals: Vec<ValueId> = vec![g.add_input("x", ty())];
    let mut nodes = Vec::new();
    for (k, &(a, b, binary)) in reads.iter().enumerate() {
        let out = g.add_value(format!("v{k}"), ty());
        let (a, b) = (vals[a % vals.len()], vals[b % vals.len()]);
        let (op, inputs) = if binary {
            (Op::Binary(BinaryOp::Add), vec![a, b])
        } else {
            (Op::Unary(UnaryOp::Relu), vec![a])
        };
        nodes.push((format!("n{k}"), op, inputs, vec![out]));
        vals.push(out);
    }
    for &i in perm {
        let (name, op, inputs, outputs) = nodes[i].clone();
        g.push_node(name, op, inputs, outputs);
    }
    g.outputs = vec![*vals.last().unwrap()];
    g
}

proptest! {
    #[test]
    fn order_equals_the_repeated_sweeps(
        reads in prop::collection::vec((0usize..64, 0usize..64, any::<bool>()), 1..40),
        seed in any::<u64>(),
    ) {
        let n = reads.len();
        let mut perm: Vec<usize> = (0..n).collect();
        let mut s = seed | 1;
        for i in (1..n).rev() {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            perm.swap(i, (s % (i as u64 + 1)) as usize);
        }
        let mut g = dag(&reads, &perm);
        let want = sweeps(&g);
        g.toposort().unwrap();
        let got: Vec<String> = g.nodes.iter().map(|n| n.name.clone()).collect();
        prop_assert_eq!(got, want);
    }
}

#[test]
fn a_cycle_is_reported() {
    let mut g = Graph::new("t");
    let x = g.add_input("x", ty());
    let (a, b) = (g.add_value("a", ty()), g.add_value("b", ty()));
    g.push_node("first", Op::Binary(BinaryOp::Add), vec![x, b], vec![a]);
    g.push_node("second", Op::Unary(UnaryOp::Relu), vec![a], vec![b]);
    g.outputs = vec![b];
    let e = g.toposort().unwrap_err().to_string();
    assert!(e.contains("cycle through node 'first'"), "{e}");
}

#[test]
fn a_long_chain_in_reverse_order_sorts() {
    let n = 50_000;
    let reads: Vec<(usize, usize, bool)> = (0..n).map(|k| (k, k, false)).collect();
    let perm: Vec<usize> = (0..n).rev().collect();
    let mut g = dag(&reads, &perm);
    g.toposort().unwrap();
    assert!(g
        .nodes
        .iter()
        .enumerate()
        .all(|(i, node)| node.name == format!("n{i}")));
}
