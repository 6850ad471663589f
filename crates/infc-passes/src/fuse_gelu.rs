//! Recognises the two GELU forms torch exports and replaces each by one `Gelu` node:
//! - erf form (DistilBERT, BERT): `x · 0.5 · (1 + erf(x / √2))`, the inner scaling as `Div(x, 1.41421…)`
//!   or `Mul(x, 0.70710…)`;
//! - tanh form (GPT-2 `gelu_new`): `0.5 · x · (1 + tanh(√(2/π) · (x + 0.044715 · x³)))`, the cube as
//!   `Pow(x, 3)` or `x·x·x`.
//!
//! The outer product is matched as a tree of Muls in any association and operand order (the 0.5
//! applied first or last), and every commutative inner op in either operand order. Constants are
//! one-element f32 tensors (scalars or shape `[1]`) compared with a relative tolerance of 1e-4.
//!
//! Preconditions: types inferred; the result must have exactly `x`'s type (the constants do not
//! broadcast it). Every intermediate is read only inside the pattern and is not a graph output. The
//! `Gelu` replaces the last Mul (keeping its output value); the other nodes are left dead and removed
//! by the final compaction, which invalidates value ids. Log rules: `gelu-erf`, `gelu-tanh`.

use crate::pattern::{either_order, is_scalar, node_names, replace_node, rewrite_sweeps, Matcher};
use crate::{PassCx, PassError};
use infc_ir::{BinaryOp, Graph, NodeIndex, Op, UnaryOp, ValueId};

const SQRT_2: f64 = std::f64::consts::SQRT_2;
/// √(2/π)
const SQRT_2_OVER_PI: f64 = 0.797_884_560_802_865_4;
const TANH_CUBIC: f64 = 0.044715;

pub fn fuse_gelu(g: &mut Graph, cx: &mut PassCx) -> Result<bool, PassError> {
    rewrite_sweeps(g, cx, |g, m, i, cx| {
        let Some((x, tanh, pattern)) = match_gelu(g, m, i) else {
            return Ok(None);
        };
        let names = node_names(g, &pattern);
        let name = g.nodes[i].name.clone();
        replace_node(g, i, name, Op::Gelu { tanh }, vec![x]);
        cx.log
            .record(if tanh { "gelu-tanh" } else { "gelu-erf" }, names);
        Ok(Some(pattern.into_iter().filter(|&n| n != i).collect()))
    })
}

/// Match a GELU whose last node is `anchor`: returns `(x, tanh form?, pattern nodes)`.
fn match_gelu(
    g: &Graph,
    m: &Matcher,
    anchor: NodeIndex,
) -> Option<(ValueId, bool, Vec<NodeIndex>)> {
    if g.nodes[anchor].op != Op::Binary(BinaryOp::Mul) {
        return None;
    }
    let mut pattern = vec![anchor];
    let mut leaves = Vec::new();
    collect_product(g, m, anchor, &mut pattern, &mut leaves);
    if leaves.len() != 3 {
        return None;
    }
    // One leaf is `1 + erf(..)` or `1 + tanh(..)`; of the other two one is 0.5 and one is x.
    for (k, &leaf) in leaves.iter().enumerate() {
        let Some((x, tanh, inner)) = match_one_plus(g, m, leaf) else {
            continue;
        };
        let rest: Vec<ValueId> = leaves
            .iter()
            .enumerate()
            .filter(|&(j, _)| j != k)
            .map(|(_, &v)| v)
            .collect();
        let Some((x_leaf, _)) = either_order(rest[0], rest[1], |v| is_scalar(g, v, 0.5)) else {
            continue;
        };
        if x_leaf != x {
            continue;
        }
        let out = g.nodes[anchor].outputs[0];
        if g.ty(out) != g.ty(x) || !g.ty(x).dtype.is_float() {
            return None;
        }
        pattern.extend(inner);
        if !m.all_internal(g, &pattern, anchor) {
            return None;
        }
        return Some((x, tanh, pattern));
    }
    None
}

/// Flatten the Mul tree under node `n`: descend into a Mul operand when that Mul's output is read
/// only by its parent; other operands are leaves. Stops early past 3 leaves.
fn collect_product(
    g: &Graph,
    m: &Matcher,
    n: NodeIndex,
    pattern: &mut Vec<NodeIndex>,
    leaves: &mut Vec<ValueId>,
) {
    for &v in &g.nodes[n].inputs {
        if leaves.len() > 3 {
            return;
        }
        match m.def_binary(g, v, BinaryOp::Mul) {
            Some((p, _, _)) if m.sole_user(v) == Some(n) && !pattern.contains(&p) => {
                pattern.push(p);
                collect_product(g, m, p, pattern, leaves);
            }
            _ => leaves.push(v),
        }
    }
}

/// `v = Add(1, erf(x/√2))` or `v = Add(1, tanh(√(2/π)·(x + 0.044715·x³)))` in either operand order.
fn match_one_plus(g: &Graph, m: &Matcher, v: ValueId) -> Option<(ValueId, bool, Vec<NodeIndex>)> {
    let (add, a, b) = m.def_binary(g, v, BinaryOp::Add)?;
    let (f, _) = either_order(a, b, |c| is_scalar(g, c, 1.0))?;
    if let Some((erf, arg)) = m.def_unary(g, f, UnaryOp::Erf) {
        let (scale, x) = match_erf_argument(g, m, arg)?;
        return Some((x, false, vec![add, erf, scale]));
    }
    let (tanh, arg) = m.def_unary(g, f, UnaryOp::Tanh)?;
    let (x, mut inner) = match_tanh_argument(g, m, arg)?;
    inner.extend([add, tanh]);
    Some((x, true, inner))
}

/// `x / √2` or `x · (1/√2)`: returns (node, x).
fn match_erf_argument(g: &Graph, m: &Matcher, v: ValueId) -> Option<(NodeIndex, ValueId)> {
    if let Some((n, x, c)) = m.def_binary(g, v, BinaryOp::Div) {
        return is_scalar(g, c, SQRT_2).then_some((n, x));
    }
    let (n, a, b) = m.def_binary(g, v, BinaryOp::Mul)?;
    let (x, _) = either_order(a, b, |c| is_scalar(g, c, 1.0 / SQRT_2))?;
    Some((n, x))
}

/// `√(2/π) · (x + 0.044715 · x³)`: returns x and the nodes.
fn match_tanh_argument(g: &Graph, m: &Matcher, v: ValueId) -> Option<(ValueId, Vec<NodeIndex>)> {
    let (scale, a, b) = m.def_binary(g, v, BinaryOp::Mul)?;
    let (sum, _) = either_order(a, b, |c| is_scalar(g, c, SQRT_2_OVER_PI))?;
    let (add, a, b) = m.def_binary(g, sum, BinaryOp::Add)?;
    // One operand is x, the other 0.044715·x³; try both assignments.
    for (x, cubic) in [(a, b), (b, a)] {
        let Some((mul, p, q)) = m.def_binary(g, cubic, BinaryOp::Mul) else {
            continue;
        };
        let Some((cube, _)) = either_order(p, q, |c| is_scalar(g, c, TANH_CUBIC)) else {
            continue;
        };
        let Some(cube_nodes) = match_cube(g, m, cube, x) else {
            continue;
        };
        let mut nodes = vec![scale, add, mul];
        nodes.extend(cube_nodes);
        return Some((x, nodes));
    }
    None
}

/// `v = Pow(x, 3)` or `v = x·x·x` (either association): returns the nodes.
fn match_cube(g: &Graph, m: &Matcher, v: ValueId, x: ValueId) -> Option<Vec<NodeIndex>> {
    if let Some((n, base, e)) = m.def_binary(g, v, BinaryOp::Pow) {
        return (base == x && is_scalar(g, e, 3.0)).then_some(vec![n]);
    }
    let (outer, a, b) = m.def_binary(g, v, BinaryOp::Mul)?;
    let (sq, _) = either_order(a, b, |c| c == x)?;
    let (inner, p, q) = m.def_binary(g, sq, BinaryOp::Mul)?;
    (p == x && q == x).then_some(vec![outer, inner])
}
