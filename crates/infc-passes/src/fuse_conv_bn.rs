//! Folds an inference-mode BatchNormalization into the Conv that feeds it:
//! `BN(Conv(x, w, b?), γ, β, μ, σ²)` → `Conv(x, w', b')` with, per output channel c,
//! `s = γ[c]/√(σ²[c]+ε)`, `w'[c] = w[c]·s`, `b'[c] = (b[c] − μ[c])·s + β[c]` (b = 0 when absent).
//!
//! Preconditions: the Conv weight, its optional bias and all four BN parameters are f32 constants
//! with real data (parameters of shape `[C_out]`), and the Conv output is read by the BN alone and is
//! not a graph output. The folded Conv replaces the BN node (keeping its output value); the old
//! Conv is left dead and the old weights become unreferenced (both dropped by the final compaction).
//! Invalidates value ids (the graph is compacted). Log rule: `conv-bn`.

use crate::pattern::{add_f32_const, f32_const, node_names, replace_node, rewrite_sweeps, Matcher};
use crate::{PassCx, PassError};
use infc_ir::{Graph, NodeIndex, Op};

pub fn fuse_conv_bn(g: &mut Graph, cx: &mut PassCx) -> Result<bool, PassError> {
    rewrite_sweeps(g, cx, fold_at)
}

fn fold_at(
    g: &mut Graph,
    m: &Matcher,
    bn: NodeIndex,
    cx: &mut PassCx,
) -> Result<Option<Vec<NodeIndex>>, PassError> {
    let Op::BatchNorm { epsilon } = g.nodes[bn].op else {
        return Ok(None);
    };
    let bn_inputs = g.nodes[bn].inputs.clone();
    let Some((conv, conv_node)) = m.def_if(g, bn_inputs[0], |op| matches!(op, Op::Conv(_))) else {
        return Ok(None);
    };
    let Op::Conv(attrs) = conv_node.op.clone() else {
        return Ok(None);
    };
    let conv_inputs = conv_node.inputs.clone();
    if m.sole_user(bn_inputs[0]) != Some(bn) {
        return Ok(None);
    }
    let Some(w_tensor) = g.const_of(conv_inputs[1]).cloned() else {
        return Ok(None);
    };
    let Some(w) = f32_const(g, conv_inputs[1]) else {
        return Ok(None);
    };
    let c_out = match w_tensor.shape.first() {
        Some(&c) if c > 0 => c,
        _ => return Ok(None),
    };
    let per_channel = |v| {
        f32_const(g, v)
            .filter(|d| d.len() == c_out && g.const_of(v).is_some_and(|t| t.shape == [c_out]))
    };
    let (Some(gamma), Some(beta), Some(mean), Some(var)) = (
        per_channel(bn_inputs[1]),
        per_channel(bn_inputs[2]),
        per_channel(bn_inputs[3]),
        per_channel(bn_inputs[4]),
    ) else {
        return Ok(None);
    };
    let bias = match conv_inputs.get(2) {
        Some(&b) => match per_channel(b) {
            Some(b) => b,
            None => return Ok(None),
        },
        None => vec![0.0; c_out],
    };

    let eps = epsilon.get() as f64;
    let scale: Vec<f64> = (0..c_out)
        .map(|c| gamma[c] as f64 / (var[c] as f64 + eps).sqrt())
        .collect();
    let per_out = w.len() / c_out;
    let new_w: Vec<f32> = w
        .iter()
        .enumerate()
        .map(|(i, &x)| (x as f64 * scale[i / per_out]) as f32)
        .collect();
    let new_b: Vec<f32> = (0..c_out)
        .map(|c| ((bias[c] as f64 - mean[c] as f64) * scale[c] + beta[c] as f64) as f32)
        .collect();

    let names = node_names(g, &[conv, bn]);
    let w_name = format!("{}.folded_weight", g.nodes[conv].name);
    let b_name = format!("{}.folded_bias", g.nodes[conv].name);
    let w_val = add_f32_const(g, &w_name, w_tensor.shape.clone(), new_w)?;
    let b_val = add_f32_const(g, &b_name, vec![c_out], new_b)?;
    let name = g.nodes[conv].name.clone();
    replace_node(
        g,
        bn,
        name,
        Op::Conv(attrs),
        vec![conv_inputs[0], w_val, b_val],
    );
    cx.log.record("conv-bn", names);
    Ok(Some(vec![conv]))
}
