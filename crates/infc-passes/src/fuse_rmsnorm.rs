//! Recognises RMS normalisation (Llama's, T5's) as exported and replaces it by one
//! `RmsNorm` node:
//!
//! ```text
//! p = Pow(x, 2) | Mul(x, x)   v = ReduceMean(p, last axis, keepdims)   e = Add(v, ε)   s = Sqrt(e)
//! n = Mul(x, Div(1, s)) | Mul(x, Reciprocal(s)) | Div(x, s)   y = Mul(n, γ)   →   y = RmsNorm(x, γ)
//! ```
//!
//! The Add, the Muls and the `1/s` Mul are matched in either operand order. Preconditions: types
//! inferred; x is f32 with a known last dim C; ε is a one-element constant; γ is a value of type
//! f32[C] (so it broadcasts along the last axis only); every intermediate is read only inside the
//! pattern and is not a graph output. The RmsNorm replaces the final Mul (keeping its output value);
//! the other nodes are left dead and removed by the final compaction, which invalidates value ids.
//! Log rule: `rmsnorm`.

use crate::fuse_layernorm::last_axis_mean;
use crate::pattern::{
    either_order, is_scalar, node_names, replace_node, rewrite_sweeps, scalar_const, Matcher,
};
use crate::{PassCx, PassError};
use infc_ir::{BinaryOp, DType, Dim, Float, Graph, NodeIndex, Op, UnaryOp, ValueId};

pub fn fuse_rmsnorm(g: &mut Graph, cx: &mut PassCx) -> Result<bool, PassError> {
    rewrite_sweeps(g, cx, |g, m, i, cx| {
        let Some(found) = match_rmsnorm(g, m, i) else {
            return Ok(None);
        };
        let names = node_names(g, &found.pattern);
        let name = g.nodes[i].name.clone();
        let op = Op::RmsNorm {
            epsilon: Float::new(found.epsilon as f32),
        };
        replace_node(g, i, name, op, vec![found.x, found.gamma]);
        cx.log.record("rmsnorm", names);
        Ok(Some(
            found.pattern.into_iter().filter(|&n| n != i).collect(),
        ))
    })
}

struct Found {
    x: ValueId,
    gamma: ValueId,
    epsilon: f64,
    pattern: Vec<NodeIndex>,
}

fn match_rmsnorm(g: &Graph, m: &Matcher, anchor: NodeIndex) -> Option<Found> {
    let node = &g.nodes[anchor];
    if node.op != Op::Binary(BinaryOp::Mul) {
        return None;
    }
    let out = node.outputs[0];
    let c = match g.ty(out).shape.dims().last() {
        Some(Dim::Known(c)) => *c,
        _ => return None,
    };
    let is_channel_vec =
        |v: ValueId| g.ty(v).dtype == DType::F32 && g.ty(v).shape.dims() == [Dim::Known(c)];
    // y = Mul(n, γ)
    let (n, gamma) = either_order(node.inputs[0], node.inputs[1], is_channel_vec)?;
    // n = Div(x, s), or Mul(x, r) with r = Div(1, s) | Reciprocal(s)
    let (x, s, scaling) = match m.def_binary(g, n, BinaryOp::Div) {
        Some((div, x, s)) => (x, s, vec![div]),
        None => {
            let (mul, a, b) = m.def_binary(g, n, BinaryOp::Mul)?;
            [(a, b), (b, a)].into_iter().find_map(|(x, r)| {
                if let Some((div, one, s)) = m.def_binary(g, r, BinaryOp::Div) {
                    return is_scalar(g, one, 1.0).then(|| (x, s, vec![mul, div]));
                }
                let (rec, s) = m.def_unary(g, r, UnaryOp::Reciprocal)?;
                Some((x, s, vec![mul, rec]))
            })?
        }
    };
    // s = Sqrt(e), e = Add(v, ε)
    let (sqrt, e) = m.def_unary(g, s, UnaryOp::Sqrt)?;
    let (add_eps, e0, e1) = m.def_binary(g, e, BinaryOp::Add)?;
    let (v, eps) = either_order(e0, e1, |k| scalar_const(g, k).is_some())?;
    let epsilon = scalar_const(g, eps)?;
    // v = ReduceMean(p, last), p = Pow(x, 2) | Mul(x, x)
    let (mean, sq) = last_axis_mean(g, m, v)?;
    let square = match m.def_binary(g, sq, BinaryOp::Pow) {
        Some((pow, base, exp)) if base == x && is_scalar(g, exp, 2.0) => pow,
        Some(_) => return None,
        None => {
            let (mul_sq, l, r) = m.def_binary(g, sq, BinaryOp::Mul)?;
            if l != x || r != x {
                return None;
            }
            mul_sq
        }
    };
    if g.ty(x) != g.ty(out) || g.ty(x).dtype != DType::F32 {
        return None;
    }
    let mut pattern = vec![square, mean, add_eps, sqrt];
    pattern.extend(scaling);
    pattern.push(anchor);
    m.all_internal(g, &pattern, anchor).then_some(Found {
        x,
        gamma,
        epsilon,
        pattern,
    })
}
