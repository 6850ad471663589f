//! Matching helpers shared by the fusion passes: a def/use view of the graph ([`Matcher`]), small
//! predicates on constants (scalar values compared with a relative tolerance, per-channel vectors),
//! and the rewrite driver ([`rewrite_sweeps`]) every fusion pass runs its rule through.
//!
//! Conventions every fusion follows:
//! - A rule is tried at each node in order; when it fires it replaces one node of the pattern (the
//!   last one, so every input of the fused node is defined before it) *in place*, keeping that node's
//!   output values, and reports the other nodes it consumed. Those are left dead and removed by
//!   [`Graph::compact`] at the end of the pass.
//! - A pattern only fires when every intermediate value it swallows is read by pattern nodes alone
//!   and is not a graph output ([`Matcher::internal`]).

use crate::{PassCx, PassError};
use infc_ir::{DType, Graph, NodeIndex, Op, Tensor, ValueId};

/// Relative tolerance used when comparing a constant against the value a pattern expects.
pub const CONST_RTOL: f64 = 1e-4;

pub use crate::matcher::Matcher;

/// How many match-and-compact rounds a pass runs at most (each round is a full sweep).
const MAX_ROUNDS: usize = 8;

/// For a commutative operand pair: `(x, y)` ordered so that `pred(y)` holds, trying `(a, b)` first.
pub fn either_order(
    a: ValueId,
    b: ValueId,
    pred: impl Fn(ValueId) -> bool,
) -> Option<(ValueId, ValueId)> {
    if pred(b) {
        Some((a, b))
    } else if pred(a) {
        Some((b, a))
    } else {
        None
    }
}

/// The value of a one-element float constant (shape `[]`, `[1]`, `[1,1]`, …).
pub fn scalar_const(g: &Graph, v: ValueId) -> Option<f64> {
    let t = g.const_of(v)?;
    if t.numel() != 1 || !t.dtype.is_float() || t.is_opaque() {
        return None;
    }
    t.to_f64_vec().ok()?.first().copied()
}

/// `|a − b| ≤ CONST_RTOL·|b|`.
pub fn approx(a: f64, b: f64) -> bool {
    (a - b).abs() <= CONST_RTOL * b.abs()
}

/// True when `v` is a one-element float constant approximately equal to `want`.
pub fn is_scalar(g: &Graph, v: ValueId, want: f64) -> bool {
    scalar_const(g, v).is_some_and(|c| approx(c, want))
}

/// The f32 elements of a constant, when `v` is an f32 constant with real data.
pub fn f32_const(g: &Graph, v: ValueId) -> Option<Vec<f32>> {
    let t = g.const_of(v)?;
    if t.dtype != DType::F32 || t.is_opaque() {
        return None;
    }
    Some(t.view::<f32>().ok()?.into_owned())
}

/// The elements of an f32 constant that holds one value per channel of a `channels`-wide axis:
/// its shape is `[channels]` or that with leading/trailing 1s as given by `layout`.
pub fn channel_vector(
    g: &Graph,
    v: ValueId,
    channels: usize,
    layout: ChannelAxis,
) -> Option<Vec<f32>> {
    let t = g.const_of(v)?;
    let ok_shape = match layout {
        // [.., 1, 1, N] style: only the last dim may differ from 1.
        ChannelAxis::Last => {
            t.shape.last() == Some(&channels)
                && t.shape[..t.shape.len() - 1].iter().all(|&d| d == 1)
        }
        // [C,1,1] or [1,C,1,1] (a per-channel bias broadcast against [N,C,H,W]).
        ChannelAxis::Nchw => {
            matches!(&t.shape[..], [c, 1, 1] if *c == channels)
                || matches!(&t.shape[..], [1, c, 1, 1] if *c == channels)
        }
    };
    if !ok_shape {
        return None;
    }
    f32_const(g, v)
}

/// Which axis a per-channel constant runs along.
#[derive(Clone, Copy, Debug)]
pub enum ChannelAxis {
    /// The last axis (matmul outputs, layer norm).
    Last,
    /// Axis 1 of an NCHW tensor.
    Nchw,
}

/// Known dims of `v`'s type.
pub fn known_dims(g: &Graph, v: ValueId) -> Option<Vec<usize>> {
    g.ty(v).shape.as_known()
}

/// True when `a` and `b` have the same dtype and the same fully known shape.
pub fn same_known_type(g: &Graph, a: ValueId, b: ValueId) -> bool {
    g.ty(a) == g.ty(b) && g.ty(a).shape.is_known()
}

/// Add a new f32 constant named after `base`.
pub fn add_f32_const(
    g: &mut Graph,
    base: &str,
    shape: Vec<usize>,
    data: Vec<f32>,
) -> Result<ValueId, PassError> {
    let t = Tensor::from_vec(shape, data)?;
    Ok(g.add_const(base, t))
}

/// Replace node `at` by a node with the given name, op and inputs, keeping its outputs.
pub fn replace_node(g: &mut Graph, at: NodeIndex, name: String, op: Op, inputs: Vec<ValueId>) {
    let node = &mut g.nodes[at];
    node.name = name;
    node.op = op;
    node.inputs = inputs;
}

/// Source names of `nodes`, in the given order (for the fusion log).
pub fn node_names(g: &Graph, nodes: &[NodeIndex]) -> Vec<String> {
    nodes.iter().map(|&n| g.nodes[n].name.clone()).collect()
}

/// Run `rule` at every node, in order, until a sweep changes nothing. `rule(g, m, i, cx)` tries a
/// pattern anchored at node `i`; when it rewrites it returns the indices of the nodes it consumed
/// (left dead). The matcher is refreshed after each rewrite (rules rewire readers with
/// [`Matcher::replace_uses`], never [`Graph::replace_uses`], so the refresh sees them); dead nodes are not tried as anchors.
/// Between sweeps the graph is re-sorted (a rewrite may expose a value earlier than its old
/// definition, e.g. SkipLayerNorm's `sum`) and compacted. Returns whether anything changed.
pub fn rewrite_sweeps(
    g: &mut Graph,
    cx: &mut PassCx,
    mut rule: impl FnMut(
        &mut Graph,
        &Matcher,
        NodeIndex,
        &mut PassCx,
    ) -> Result<Option<Vec<NodeIndex>>, PassError>,
) -> Result<bool, PassError> {
    let mut changed_any = false;
    for _ in 0..MAX_ROUNDS {
        let mut changed = false;
        let mut m = Matcher::new(g);
        let mut dead = vec![false; g.nodes.len()];
        for i in 0..g.nodes.len() {
            if dead[i] {
                continue;
            }
            if let Some(consumed) = rule(g, &m, i, cx)? {
                for &c in &consumed {
                    dead[c] = true;
                }
                changed = true;
                m.refresh(g, i, &consumed);
            }
        }
        if !changed {
            break;
        }
        changed_any = true;
        g.toposort()?;
        g.compact();
    }
    Ok(changed_any)
}
