//! Common-subexpression elimination: nodes with equal `(op, inputs)` compute the same outputs, so
//! later ones are replaced by the first; equal small constants (same dtype, shape and bytes, up to
//! [`MAX_DEDUP_CONST_BYTES`]) are merged first so that nodes reading copies of one constant match.
//! Nodes whose outputs are graph outputs are not replaced (output names are kept).
//! Precondition: def-before-use order. Leaves dead nodes for DCE.

use crate::substitute::Substitution;
use crate::{PassCx, PassError};
use infc_ir::{Graph, Op, ValueId};
use std::collections::{HashMap, HashSet};

/// Constants larger than this are not compared byte for byte.
pub const MAX_DEDUP_CONST_BYTES: usize = 4096;

pub fn eliminate_common_subexpressions(g: &mut Graph, cx: &mut PassCx) -> Result<bool, PassError> {
    let mut changed = dedup_constants(g);
    let mut seen: HashMap<(Op, Vec<ValueId>), Vec<ValueId>> = HashMap::new();
    let outputs: HashSet<ValueId> = g.outputs.iter().copied().collect();
    let mut subst = Substitution::default();
    for i in 0..g.nodes.len() {
        subst.apply_to_node(g, i);
        let node = &g.nodes[i];
        let key = (node.op.clone(), node.inputs.clone());
        match seen.get(&key) {
            Some(first) if !node.outputs.iter().any(|o| outputs.contains(o)) => {
                let name = node.name.clone();
                for (&o, &f) in node.outputs.iter().zip(first) {
                    subst.insert(o, f);
                }
                cx.log.record("cse", vec![name]);
                changed = true;
            }
            Some(_) => {}
            None => {
                seen.insert(key, node.outputs.clone());
            }
        }
    }
    if changed {
        g.compact();
    }
    Ok(changed)
}

fn dedup_constants(g: &mut Graph) -> bool {
    let mut canon: HashMap<(infc_ir::DType, Vec<usize>, Vec<u8>), ValueId> = HashMap::new();
    let mut replace = Vec::new();
    for (v, val) in g.values.iter() {
        let Some(c) = val.konst else { continue };
        let t = &g.consts[c].tensor;
        let Ok(bytes) = t.bytes() else { continue };
        if bytes.len() > MAX_DEDUP_CONST_BYTES {
            continue;
        }
        let key = (t.dtype, t.shape.clone(), bytes.to_vec());
        match canon.get(&key) {
            Some(&first) => replace.push((v, first)),
            None => {
                canon.insert(key, v);
            }
        }
    }
    let changed = !replace.is_empty();
    let outputs: HashSet<ValueId> = g.outputs.iter().copied().collect();
    let mut subst = Substitution::default();
    for (v, first) in replace {
        if !outputs.contains(&v) {
            subst.insert(v, first);
        }
    }
    subst.apply_everywhere(g);
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use infc_ir::{BinaryOp, DType, Tensor, TensorType};

    #[test]
    fn duplicate_nodes_over_duplicate_constants_merge() {
        let mut g = Graph::new("t");
        let x = g.add_input("x", TensorType::known(DType::F32, &[4]));
        let one_a = g.add_const("one_a", Tensor::scalar(1.0f32));
        let one_b = g.add_const("one_b", Tensor::scalar(1.0f32));
        let ty = TensorType::known(DType::F32, &[4]);
        let a = g.add_value("a", ty.clone());
        g.push_node("add1", Op::Binary(BinaryOp::Add), vec![x, one_a], vec![a]);
        let b = g.add_value("b", ty.clone());
        g.push_node("add2", Op::Binary(BinaryOp::Add), vec![x, one_b], vec![b]);
        let c = g.add_value("c", ty);
        g.push_node("mul", Op::Binary(BinaryOp::Mul), vec![a, b], vec![c]);
        g.outputs = vec![c];
        let mut cx = PassCx::new();
        assert!(eliminate_common_subexpressions(&mut g, &mut cx).unwrap());
        assert_eq!(g.nodes.len(), 2);
        assert_eq!(g.nodes[1].inputs[0], g.nodes[1].inputs[1]);
        assert_eq!(cx.log.counts(), vec![("cse", 1)]);
        assert!(!eliminate_common_subexpressions(&mut g, &mut cx).unwrap());
    }
}
