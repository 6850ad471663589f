//! Merges the separate q/k/v projections of an attention into one matmul:
//!
//! ```text
//! q = FusedMatMul[bias](x, Wq, bq)              qkv = FusedMatMul[bias](x, [Wq|Wk|Wv], [bq|bk|bv])
//! k = FusedMatMul[bias](x, Wk, bk)      →      q, k, v = Split[axis=-1](qkv)
//! v = FusedMatMul[bias](x, Wv, bv)
//! ```
//!
//! DistilBERT/BERT exports project q, k and v with three matmuls of one input; one matmul with the
//! weights concatenated along N reads (and under `--int8` quantizes) that input once, runs one
//! wider GEMM and one step instead of three. The Split costs nothing: its outputs are read only as
//! attention q/k/v, which lowering turns into strided views of the merged output (a *view split*).
//!
//! Members of a group: `MatMul` or `FusedMatMul` with epilogue `[]` or `[bias]` (all the same),
//! no `trans_a`, equal `trans_b`, reading the same A; constant, non-opaque f32 B of rank 2 with the
//! same K, constant f32 bias `[N]`; output not a graph output and read only as input 0–2 of
//! `Attention` nodes. Exact: each output column is the same dot product plus the same bias (and
//! INT8 quantizes weights per output column, so the merged weights quantize identically).
//!
//! Preconditions: types inferred with known shapes. Leaves the old matmuls dead (for DCE).
//! Log rule: `qkv-projection` (the merged nodes, in order).

use crate::{PassCx, PassError};
use infc_ir::{DType, Epilogue, Graph, NodeIndex, Op, Tensor, TensorType, ValueId};

/// A merge candidate: the node, its weights `[K, N]` (or `[N, K]` with `trans_b`) and bias.
struct Member {
    node: NodeIndex,
    w: ValueId,
    bias: Option<ValueId>,
    n: usize,
}

/// What members of one group share: A, `trans_b`, whether they add a bias, K.
type GroupKey = (ValueId, bool, bool, usize);

pub fn fuse_qkv_projection(g: &mut Graph, cx: &mut PassCx) -> Result<bool, PassError> {
    let uses = g.uses();
    // Groups keyed by (A, trans_b, has bias, K), in node order.
    let mut groups: Vec<(GroupKey, Vec<Member>)> = Vec::new();
    for (i, node) in g.nodes.iter().enumerate() {
        let (bias, trans_b) = match &node.op {
            Op::MatMul => (false, false),
            Op::FusedMatMul {
                epilogue,
                trans_a: false,
                trans_b,
            } if epilogue.is_empty() || epilogue.as_slice() == [Epilogue::Bias] => {
                (!epilogue.is_empty(), *trans_b)
            }
            _ => continue,
        };
        let (a, w, y) = (node.inputs[0], node.inputs[1], node.outputs[0]);
        let Some((k, n)) = weight_dims(g, w, trans_b) else {
            continue;
        };
        let bias_v = node.inputs.get(2).copied().filter(|_| bias);
        if bias && !bias_v.is_some_and(|b| is_vector(g, b, n)) {
            continue;
        }
        if g.ty(a).dtype != DType::F32 || !g.read_only_as_attention_qkv(&uses, y) {
            continue;
        }
        let member = Member {
            node: i,
            w,
            bias: bias_v,
            n,
        };
        let key = (a, trans_b, bias, k);
        match groups.iter_mut().find(|(g_key, _)| *g_key == key) {
            Some((_, members)) => members.push(member),
            None => groups.push((key, vec![member])),
        }
    }
    let mut changed = false;
    for ((a, trans_b, _, k), members) in groups {
        if members.len() < 2 {
            continue;
        }
        merge(g, cx, a, trans_b, k, &members)?;
        changed = true;
    }
    if changed {
        g.toposort()?;
    }
    Ok(changed)
}

/// `(K, N)` of a constant, non-opaque f32 rank-2 weight.
fn weight_dims(g: &Graph, w: ValueId, trans_b: bool) -> Option<(usize, usize)> {
    let t = g.const_of(w)?;
    if t.dtype != DType::F32 || t.is_opaque() || t.shape.len() != 2 {
        return None;
    }
    let (r, c) = (t.shape[0], t.shape[1]);
    Some(if trans_b { (c, r) } else { (r, c) })
}

fn is_vector(g: &Graph, b: ValueId, n: usize) -> bool {
    g.const_of(b)
        .is_some_and(|t| t.dtype == DType::F32 && !t.is_opaque() && t.shape == [n])
}

/// Replaces the members by one matmul with concatenated weights (and bias) plus a Split.
fn merge(
    g: &mut Graph,
    cx: &mut PassCx,
    a: ValueId,
    trans_b: bool,
    k: usize,
    members: &[Member],
) -> Result<(), PassError> {
    let widths: Vec<usize> = members.iter().map(|m| m.n).collect();
    let n_total: usize = widths.iter().sum();
    let floats = |v: ValueId| -> Result<Vec<f32>, PassError> {
        let t = g.const_of(v).expect("checked constant");
        Ok(t.view::<f32>()?.into_owned())
    };
    let has_bias = members[0].bias.is_some();
    let mut bias = Vec::with_capacity(n_total);
    if has_bias {
        for m in members {
            bias.extend(floats(m.bias.expect("grouped by bias"))?);
        }
    }
    let mut w = Vec::with_capacity(k * n_total);
    if trans_b {
        // [N_i, K] blocks stack along N.
        for m in members {
            w.extend(floats(m.w)?);
        }
    } else {
        // [K, N_i] blocks sit side by side: row kk is every member's row kk.
        let blocks: Vec<Vec<f32>> = members
            .iter()
            .map(|m| floats(m.w))
            .collect::<Result<_, _>>()?;
        for kk in 0..k {
            for (m, b) in members.iter().zip(&blocks) {
                w.extend_from_slice(&b[kk * m.n..(kk + 1) * m.n]);
            }
        }
    }
    let base = g.nodes[members[0].node].name.clone();
    let first_out = g.nodes[members[0].node].outputs[0];
    let w_shape = if trans_b {
        vec![n_total, k]
    } else {
        vec![k, n_total]
    };
    let w_v = g.add_const(format!("{base}.qkv_weight"), Tensor::from_vec(w_shape, w)?);
    let mut inputs = vec![a, w_v];
    if has_bias {
        inputs.push(g.add_const(
            format!("{base}.qkv_bias"),
            Tensor::from_vec(vec![n_total], bias)?,
        ));
    }
    let mut dims = g.ty(first_out).shape.as_known().expect("known shapes");
    *dims.last_mut().expect("matmul output rank ≥ 1") = n_total;
    let y = g.add_value(
        format!("{}.qkv", g.value(first_out).name),
        TensorType::known(DType::F32, &dims),
    );
    let epilogue = if has_bias {
        vec![Epilogue::Bias]
    } else {
        vec![]
    };
    g.push_node(
        format!("{base}.qkv"),
        Op::FusedMatMul {
            epilogue,
            trans_a: false,
            trans_b,
        },
        inputs,
        vec![y],
    );
    let outs: Vec<ValueId> = members
        .iter()
        .map(|m| {
            let old = g.nodes[m.node].outputs[0];
            g.add_value(format!("{}.view", g.value(old).name), g.ty(old).clone())
        })
        .collect();
    let rank = dims.len() as i64;
    g.push_node(
        format!("{base}.split_qkv"),
        Op::Split {
            axis: rank - 1,
            splits: widths,
        },
        vec![y],
        outs.clone(),
    );
    let mut names = Vec::with_capacity(members.len());
    for (m, &o) in members.iter().zip(&outs) {
        let old = g.nodes[m.node].outputs[0];
        g.replace_uses(old, o);
        names.push(g.nodes[m.node].name.clone());
    }
    cx.log.record("qkv-projection", names);
    Ok(())
}
