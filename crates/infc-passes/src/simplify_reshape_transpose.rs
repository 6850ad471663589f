//! Simplifies chains of data-movement ops:
//! - a reshape-like op (Reshape, Flatten, Squeeze, Unsqueeze) whose input comes from another
//!   reshape-like op reads the first op's input instead, becoming one Reshape to its own (known)
//!   output shape: `Reshape(Flatten(x))` → `Reshape(x)`;
//! - `Transpose(Transpose(x, p1), p2)` → `Transpose(x, p)` with `p[i] = p1[p2[i]]`, and dropped when
//!   `p` is the identity.
//!
//! Preconditions: types inferred, shapes of rewritten reshapes known (unknown ones are left alone).
//! The inner op is left for DCE when nothing else reads it. Each rewrite is logged as
//! `reshape-chain` or `transpose-chain`.

use crate::pattern::{known_dims, rewrite_sweeps};
use crate::{PassCx, PassError};
use infc_ir::{Graph, Op, Tensor};

fn is_reshape_like(op: &Op) -> bool {
    matches!(
        op,
        Op::Reshape { .. } | Op::Flatten { .. } | Op::Squeeze { .. } | Op::Unsqueeze { .. }
    )
}

pub fn simplify_reshape_transpose(g: &mut Graph, cx: &mut PassCx) -> Result<bool, PassError> {
    rewrite_sweeps(g, cx, |g, m, i, cx| {
        let node = &g.nodes[i];
        let Some(&input) = node.inputs.first() else {
            return Ok(None);
        };
        let Some(inner) = m.producer(input) else {
            return Ok(None);
        };
        let inner_node = &g.nodes[inner];
        if is_reshape_like(&node.op) && is_reshape_like(&inner_node.op) {
            let Some(dims) = known_dims(g, node.outputs[0]) else {
                return Ok(None);
            };
            let source = inner_node.inputs[0];
            let names = vec![inner_node.name.clone(), node.name.clone()];
            let shape: Vec<i64> = dims.iter().map(|&d| d as i64).collect();
            let target = g.add_const(
                format!("{}.shape", g.nodes[i].name),
                Tensor::from_vec(vec![shape.len()], shape)?,
            );
            let node = &mut g.nodes[i];
            node.op = Op::Reshape { allowzero: false };
            node.inputs = vec![source, target];
            cx.log.record("reshape-chain", names);
            return Ok(Some(vec![]));
        }
        if let (Op::Transpose { perm: p2 }, Op::Transpose { perm: p1 }) = (&node.op, &inner_node.op)
        {
            if p1.len() != p2.len() || p2.iter().any(|&a| a >= p1.len()) {
                return Ok(None);
            }
            let perm: Vec<usize> = p2.iter().map(|&a| p1[a]).collect();
            let source = inner_node.inputs[0];
            let names = vec![inner_node.name.clone(), node.name.clone()];
            let output = node.outputs[0];
            let identity = perm.iter().enumerate().all(|(i, &p)| i == p);
            if identity && !m.is_graph_output(output) {
                m.replace_uses(g, output, source);
                cx.log.record("transpose-chain", names);
                return Ok(Some(vec![i]));
            }
            let node = &mut g.nodes[i];
            node.op = Op::Transpose { perm };
            node.inputs = vec![source];
            cx.log.record("transpose-chain", names);
            return Ok(Some(vec![]));
        }
        Ok(None)
    })
}
