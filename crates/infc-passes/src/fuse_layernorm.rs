//! Recognises layer normalisation decomposed by opset ≤ 16 exporters and replaces it by one
//! `LayerNorm { axis: -1 }` node:
//!
//! ```text
//! m = ReduceMean(x, last axis, keepdims)   d = Sub(x, m)   p = Pow(d, 2) | Mul(d, d)
//! v = ReduceMean(p, last axis, keepdims)   e = Add(v, ε)   s = Sqrt(e)   n = Div(d, s)
//! y = Mul(n, γ)   o = Add(y, β)                                   →   o = LayerNorm(x, γ, β)
//! ```
//!
//! The Adds and the Mul by γ are matched in either operand order. Preconditions: types inferred; x
//! is f32 with a known last dim C; ε is a one-element constant; γ and β are values of type f32[C]
//! (so they broadcast along the last axis only); every intermediate is read only inside the pattern
//! and is not a graph output. The LayerNorm replaces the final Add (keeping its output value); the
//! other nodes are left dead and removed by the final compaction, which invalidates value ids.
//! Log rule: `layernorm`.

use crate::pattern::{
    either_order, is_scalar, node_names, replace_node, rewrite_sweeps, scalar_const, Matcher,
};
use crate::{PassCx, PassError};
use infc_ir::{BinaryOp, DType, Dim, Float, Graph, NodeIndex, Op, ReduceOp, UnaryOp, ValueId};

pub fn fuse_layernorm(g: &mut Graph, cx: &mut PassCx) -> Result<bool, PassError> {
    rewrite_sweeps(g, cx, |g, m, i, cx| {
        let Some(found) = match_layernorm(g, m, i) else {
            return Ok(None);
        };
        let names = node_names(g, &found.pattern);
        let name = g.nodes[i].name.clone();
        let op = Op::LayerNorm {
            axis: -1,
            epsilon: Float::new(found.epsilon as f32),
        };
        replace_node(g, i, name, op, vec![found.x, found.gamma, found.beta]);
        cx.log.record("layernorm", names);
        Ok(Some(
            found.pattern.into_iter().filter(|&n| n != i).collect(),
        ))
    })
}

struct Found {
    x: ValueId,
    gamma: ValueId,
    beta: ValueId,
    epsilon: f64,
    pattern: Vec<NodeIndex>,
}

fn match_layernorm(g: &Graph, m: &Matcher, anchor: NodeIndex) -> Option<Found> {
    let node = &g.nodes[anchor];
    if node.op != Op::Binary(BinaryOp::Add) {
        return None;
    }
    let out = node.outputs[0];
    let dims = g.ty(out).shape.dims().to_vec();
    let c = match dims.last() {
        Some(Dim::Known(c)) => *c,
        _ => return None,
    };
    let is_channel_vec =
        |v: ValueId| g.ty(v).dtype == DType::F32 && g.ty(v).shape.dims() == [Dim::Known(c)];
    // o = Add(y, β), y = Mul(n, γ)
    let (a, b) = (node.inputs[0], node.inputs[1]);
    let (mul, p, q, beta) = [(a, b), (b, a)].into_iter().find_map(|(y, beta)| {
        let (mul, p, q) = m.def_binary(g, y, BinaryOp::Mul)?;
        is_channel_vec(beta).then_some((mul, p, q, beta))
    })?;
    let (n, gamma) = [(p, q), (q, p)]
        .into_iter()
        .find(|&(n, gamma)| is_channel_vec(gamma) && m.def_binary(g, n, BinaryOp::Div).is_some())?;
    // n = Div(d, s), s = Sqrt(e), e = Add(v, ε)
    let (div, d, s) = m.def_binary(g, n, BinaryOp::Div)?;
    let (sqrt, e) = m.def_unary(g, s, UnaryOp::Sqrt)?;
    let (add_eps, e0, e1) = m.def_binary(g, e, BinaryOp::Add)?;
    let (v, eps) = either_order(e0, e1, |k| scalar_const(g, k).is_some())?;
    let epsilon = scalar_const(g, eps)?;
    // v = ReduceMean(p, last), p = Pow(d, 2) | Mul(d, d)
    let (mean2, sq) = last_axis_mean(g, m, v)?;
    let square = match m.def_binary(g, sq, BinaryOp::Pow) {
        Some((pow, base, exp)) if base == d && is_scalar(g, exp, 2.0) => pow,
        Some(_) => return None,
        None => {
            let (mul_sq, l, r) = m.def_binary(g, sq, BinaryOp::Mul)?;
            if l != d || r != d {
                return None;
            }
            mul_sq
        }
    };
    // d = Sub(x, m), m = ReduceMean(x, last)
    let (sub, x, mean) = m.def_binary(g, d, BinaryOp::Sub)?;
    let (mean1, x2) = last_axis_mean(g, m, mean)?;
    if x2 != x || g.ty(x) != g.ty(out) || g.ty(x).dtype != DType::F32 {
        return None;
    }
    let pattern = vec![mean1, sub, square, mean2, add_eps, sqrt, div, mul, anchor];
    m.all_internal(g, &pattern, anchor).then_some(Found {
        x,
        gamma,
        beta,
        epsilon,
        pattern,
    })
}

/// `v = ReduceMean(x, [last axis], keepdims)`: returns (node, x).
pub(crate) fn last_axis_mean(g: &Graph, m: &Matcher, v: ValueId) -> Option<(NodeIndex, ValueId)> {
    let (n, node) = m.def_if(g, v, |op| {
        matches!(
            op,
            Op::Reduce {
                op: ReduceOp::Mean,
                keepdims: true,
                ..
            }
        )
    })?;
    let Op::Reduce {
        axes: Some(axes), ..
    } = &node.op
    else {
        return None;
    };
    let x = node.inputs[0];
    let rank = g.ty(x).rank() as i64;
    (rank > 0 && axes.len() == 1 && (axes[0] == -1 || axes[0] == rank - 1)).then_some((n, x))
}
