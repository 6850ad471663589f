//! Removes nodes that return their input unchanged: Identity, Dropout (inference), Cast to the same
//! dtype, Reshape/Expand/Squeeze/Unsqueeze/Flatten whose output type equals the input type,
//! Transpose with the identity permutation, single-input Concat, and Slice of the whole tensor
//! with unit steps. Uses of the output are redirected to the input. A node whose output is a graph
//! output is kept (the output keeps its name). Precondition: types inferred. Leaves dead nodes for DCE.

use crate::substitute::Substitution;
use crate::{PassCx, PassError};
use infc_ir::{Graph, Node, Op, ValueId};
use std::collections::HashSet;

pub fn eliminate_identities(g: &mut Graph, cx: &mut PassCx) -> Result<bool, PassError> {
    // One sweep with a substitution (see `substitute`): a node's inputs are substituted before it
    // is judged; graph outputs never change (a no-op defining one is kept).
    let outputs: HashSet<ValueId> = g.outputs.iter().copied().collect();
    let mut subst = Substitution::default();
    let mut changed = false;
    for i in 0..g.nodes.len() {
        subst.apply_to_node(g, i);
        let node = &g.nodes[i];
        if node.outputs.len() != 1 || outputs.contains(&node.outputs[0]) || !is_noop(g, node) {
            continue;
        }
        subst.insert(node.outputs[0], node.inputs[0]);
        cx.log
            .record(rule_name(node.op.name()), vec![node.name.clone()]);
        changed = true;
    }
    if changed {
        g.compact();
    }
    Ok(changed)
}

fn rule_name(op: &str) -> &'static str {
    match op {
        "Identity" | "Dropout" => "remove-identity",
        "Cast" => "remove-noop-cast",
        "Reshape" | "Flatten" | "Squeeze" | "Unsqueeze" | "Expand" => "remove-noop-reshape",
        "Transpose" => "remove-noop-transpose",
        _ => "remove-noop",
    }
}

fn is_noop(g: &Graph, node: &Node) -> bool {
    let same_type =
        || g.ty(node.inputs[0]) == g.ty(node.outputs[0]) && g.ty(node.inputs[0]).shape.is_known();
    match &node.op {
        Op::Identity | Op::Dropout => true,
        Op::Cast { to } => g.ty(node.inputs[0]).dtype == *to,
        Op::Reshape { .. }
        | Op::Expand
        | Op::Squeeze { .. }
        | Op::Unsqueeze { .. }
        | Op::Flatten { .. } => same_type(),
        Op::Transpose { perm } => perm.iter().enumerate().all(|(i, &p)| i == p),
        Op::Concat { .. } => node.inputs.len() == 1,
        Op::Slice => {
            same_type()
                && g.const_of(node.inputs[4])
                    .and_then(|t| t.to_i64_vec().ok())
                    .is_some_and(|steps| steps.iter().all(|&s| s == 1))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use infc_ir::{DType, Tensor, TensorType};

    #[test]
    fn identity_chain_collapses_but_graph_output_keeps_its_node() {
        let mut g = Graph::new("t");
        let x = g.add_input("x", TensorType::known(DType::F32, &[2, 3]));
        let ty = TensorType::known(DType::F32, &[2, 3]);
        let a = g.add_value("a", ty.clone());
        g.push_node("id", Op::Identity, vec![x], vec![a]);
        let b = g.add_value("b", ty.clone());
        g.push_node("cast", Op::Cast { to: DType::F32 }, vec![a], vec![b]);
        let c = g.add_value("c", ty.clone());
        g.push_node("relu", Op::Unary(infc_ir::UnaryOp::Relu), vec![b], vec![c]);
        let d = g.add_value("d", ty);
        g.push_node("drop", Op::Dropout, vec![c], vec![d]);
        g.outputs = vec![d];
        let mut cx = PassCx::new();
        assert!(eliminate_identities(&mut g, &mut cx).unwrap());
        let names: Vec<_> = g.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["relu", "drop"]);
        assert_eq!(g.nodes[0].inputs, vec![g.inputs[0]]);
        assert_eq!(
            cx.log.counts(),
            vec![("remove-identity", 1), ("remove-noop-cast", 1)]
        );
        assert!(!eliminate_identities(&mut g, &mut cx).unwrap());
    }

    #[test]
    fn real_reshape_and_cast_stay() {
        let mut g = Graph::new("t");
        let x = g.add_input("x", TensorType::known(DType::F32, &[2, 3]));
        let shape = g.add_const("shape", Tensor::from_vec(vec![1], vec![6i64]).unwrap());
        let r = g.add_value("r", TensorType::known(DType::F32, &[6]));
        g.push_node(
            "reshape",
            Op::Reshape { allowzero: false },
            vec![x, shape],
            vec![r],
        );
        let c = g.add_value("c", TensorType::known(DType::I64, &[6]));
        g.push_node("cast", Op::Cast { to: DType::I64 }, vec![r], vec![c]);
        g.outputs = vec![c];
        assert!(!eliminate_identities(&mut g, &mut PassCx::new()).unwrap());
        assert_eq!(g.nodes.len(), 2);
    }
}
