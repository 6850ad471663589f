//! Fuses a residual Add into the LayerNorm it feeds: `s = Add(a, b)`, `y = LayerNorm(s, γ, β)` over
//! the last axis → `(y, sum) = SkipLayerNorm(a, b, γ, β)`. The `sum` output replaces `s` for every
//! other reader (and as a graph output), which is what a pre-LN residual stream (GPT-2) needs.
//!
//! Preconditions: types inferred; `a`, `b` and `s` have the same f32 type with known shape (no
//! broadcasting); the LayerNorm normalises the last axis only and has a bias; γ and β are constants
//! (so they cannot depend on `s`). The SkipLayerNorm replaces the LayerNorm node, keeping `y`; `sum`
//! is a new value. Readers of `s` that ran before the LayerNorm now read `sum`, so the graph is
//! re-sorted (stably) and compacted at the end, which invalidates value ids. Log rule:
//! `skip-layernorm`.

use crate::pattern::{node_names, replace_node, rewrite_sweeps, same_known_type, Matcher};
use crate::{PassCx, PassError};
use infc_ir::{BinaryOp, DType, Float, Graph, NodeIndex, Op, ValueId};

pub fn fuse_skip_layernorm(g: &mut Graph, cx: &mut PassCx) -> Result<bool, PassError> {
    rewrite_sweeps(g, cx, fuse_at)
}

fn fuse_at(
    g: &mut Graph,
    m: &Matcher,
    ln: NodeIndex,
    cx: &mut PassCx,
) -> Result<Option<Vec<NodeIndex>>, PassError> {
    let Some((add, a, b, epsilon)) = match_skip(g, m, ln) else {
        return Ok(None);
    };
    let node = &g.nodes[ln];
    let (s, gamma, beta) = (node.inputs[0], node.inputs[1], node.inputs[2]);
    let names = node_names(g, &[add, ln]);
    // `sum` takes over the name of `s` (which may be a graph output); the dead `s` is renamed.
    let s_name = g.value(s).name.clone();
    let sum = g.add_value(s_name.clone(), g.ty(s).clone());
    g.values[s].name = format!("{s_name}.unfused");
    let name = g.nodes[ln].name.clone();
    replace_node(
        g,
        ln,
        name,
        Op::SkipLayerNorm { epsilon },
        vec![a, b, gamma, beta],
    );
    g.nodes[ln].outputs.push(sum);
    m.replace_uses(g, s, sum);
    cx.log.record("skip-layernorm", names);
    Ok(Some(vec![add]))
}

fn match_skip(
    g: &Graph,
    m: &Matcher,
    ln: NodeIndex,
) -> Option<(NodeIndex, ValueId, ValueId, Float)> {
    let node = &g.nodes[ln];
    let Op::LayerNorm { axis, epsilon } = node.op else {
        return None;
    };
    if node.inputs.len() != 3 {
        return None;
    }
    let (s, gamma, beta) = (node.inputs[0], node.inputs[1], node.inputs[2]);
    let rank = g.ty(s).rank() as i64;
    if rank == 0 || (axis != -1 && axis != rank - 1) || g.ty(s).dtype != DType::F32 {
        return None;
    }
    if !g.is_const(gamma) || !g.is_const(beta) {
        return None;
    }
    let (add, a, b) = m.def_binary(g, s, BinaryOp::Add)?;
    if !same_known_type(g, a, s) || !same_known_type(g, b, s) {
        return None;
    }
    Some((add, a, b, epsilon))
}
