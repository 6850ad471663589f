//! Splits the causal part out of an attention mask that HuggingFace builds as one tensor:
//!
//! ```text
//! m = Where(And(tril, pad), 0, fill)          (tril: a constant lower-triangular bool [.., Sq, Sk])
//! Attention[causal=false](q, k, v, m)  →  Attention[causal=true, hidden_fill=fill](q, k, v, Where(pad, 0, fill))
//! ```
//!
//! GPT-2's exports (TorchScript and dynamo; eager attention fills with `f32::MIN`, SDPA with `−∞`)
//! combine the causal triangle with the padding mask this way, which hides from the kernel that
//! half of every score matrix is masked. With `causal` set the kernel skips the hidden keys, and
//! the new mask is `[.., 1, Sk]` instead of `[.., Sq, Sk]`.
//!
//! Exactness: for a hidden key (`j > i + Sk − Sq`) the original score is `s + fill`, which is
//! `fill` exactly for `−∞` and rounds to it for any `|s|` below 2⁻²⁵·|fill| (10³¹ for `f32::MIN`;
//! fills are ≤ −1e30); the causal op writes `hidden_fill = fill` there. Visible keys get the same
//! `s + (pad ? 0 : fill)`. So fully padded rows come out as the graph computes them: uniform
//! over all keys for a finite fill, NaN for `−∞` (zeros behind SDPA's NaN guard, which the op
//! keeps). The true value must be 0.
//!
//! DistilBERT's sdpa exports build the same `Where(And(c, pad), 0, f32::MIN)` with `c` an
//! all-true constant `[.., Sq, 1]`: the And only broadcasts `pad` to `[.., Sq, Sk]`. That mask
//! becomes `Where(pad, 0, f32::MIN)` too, with the attention left non-causal (exact: `true ∧ p = p`,
//! and the kernel broadcasts the mask's rows), so the mask step is `[.., 1, Sk]`.
//!
//! Preconditions: types inferred with known shapes. One new `Where` per distinct mask, named after
//! the old one with `.padding`; the old Where/And are left for DCE when nothing else reads them.
//! Log rules: `causal-mask` / `padding-mask` (the attention node).

use crate::fuse_attention::{broadcasts_to, is_causal, MASK_FILL_MAX};
use crate::pattern::scalar_const;
use crate::{PassCx, PassError};
use infc_ir::{
    AttentionMasking, BinaryOp, DType, Float, Graph, NodeIndex, Op, TensorType, ValueId,
};
use std::collections::HashMap;

pub fn split_causal_mask(g: &mut Graph, cx: &mut PassCx) -> Result<bool, PassError> {
    let producers = g.producers();
    let mut made: HashMap<ValueId, (ValueId, bool, f32)> = HashMap::new();
    let mut changed = false;
    for i in 0..g.nodes.len() {
        let node = &g.nodes[i];
        let Op::Attention {
            num_heads,
            scale,
            causal: false,
            masking,
        } = node.op
        else {
            continue;
        };
        let (Some(&mask), Some(qd), Some(kd)) = (
            node.inputs.get(3),
            g.ty(node.inputs[0]).shape.as_known(),
            g.ty(node.inputs[1]).shape.as_known(),
        ) else {
            continue;
        };
        let (&[b, sq, _], &[_, sk, _]) = (qd.as_slice(), kd.as_slice()) else {
            continue;
        };
        let (padding, causal, fill_value) = match made.get(&mask) {
            Some(&v) => v,
            None => {
                let Some((pad, zero, fill, fill_value, at, causal)) =
                    causal_where(g, &producers, mask, [b, num_heads, sq, sk])
                else {
                    continue;
                };
                // The scalars broadcast into `pad`'s shape unless they have more dims.
                let Some(dims) = g.ty(pad).shape.as_known() else {
                    continue;
                };
                if g.ty(zero).rank() > dims.len() || g.ty(fill).rank() > dims.len() {
                    continue;
                }
                let name = format!("{}.padding", g.nodes[at].name);
                let out = g.add_value(
                    format!("{}.padding", g.value(mask).name),
                    TensorType::known(DType::F32, &dims),
                );
                g.push_node(name, Op::Where, vec![pad, zero, fill], vec![out]);
                made.insert(mask, (out, causal, fill_value));
                (out, causal, fill_value)
            }
        };
        let node = &mut g.nodes[i];
        node.inputs[3] = padding;
        node.op = Op::Attention {
            num_heads,
            scale,
            causal,
            masking: if causal {
                AttentionMasking {
                    hidden_fill: Float::new(fill_value),
                    mask_hidden: false,
                    ..masking
                }
            } else {
                masking
            },
        };
        let rule = if causal {
            "causal-mask"
        } else {
            "padding-mask"
        };
        cx.log.record(rule, vec![node.name.clone()]);
        changed = true;
    }
    if changed {
        g.toposort()?;
    }
    Ok(changed)
}

/// `mask = Where(And(c, pad), 0, fill)` (fill ≤ −1e30) with `c` a causal constant for `[sq, sk]`
/// (or an all-true one) and `pad` a bool broadcastable to `[b, h, sq, sk]`: returns
/// `(pad, zero, fill, fill's value, where node, c is causal)`.
fn causal_where(
    g: &Graph,
    producers: &infc_ir::SecondaryMap<infc_ir::Value, (NodeIndex, usize)>,
    mask: ValueId,
    target: [usize; 4],
) -> Option<(ValueId, ValueId, ValueId, f32, NodeIndex, bool)> {
    let &(w, _) = producers.get(mask)?;
    let wn = &g.nodes[w];
    if wn.op != Op::Where {
        return None;
    }
    let (cond, zero, fill) = (wn.inputs[0], wn.inputs[1], wn.inputs[2]);
    let fill_value = scalar_const(g, fill).filter(|&f| f <= MASK_FILL_MAX)? as f32;
    if scalar_const(g, zero) != Some(0.0) {
        return None;
    }
    if g.ty(zero).dtype != DType::F32 || g.ty(fill).dtype != DType::F32 {
        return None;
    }
    let &(a, _) = producers.get(cond)?;
    let an = &g.nodes[a];
    if an.op != Op::Binary(BinaryOp::And) {
        return None;
    }
    let [sq, sk] = [target[2], target[3]];
    for (tril, pad) in [(an.inputs[0], an.inputs[1]), (an.inputs[1], an.inputs[0])] {
        let Some(t) = g.const_of(tril) else {
            continue;
        };
        if t.dtype != DType::Bool || t.is_opaque() || !broadcasts_to(&t.shape, &target) {
            continue;
        }
        let Ok(bytes) = t.bytes() else {
            continue;
        };
        let keep: Vec<bool> = bytes.iter().map(|&x| x != 0).collect();
        let pad_dims = g.ty(pad).shape.as_known()?;
        if g.ty(pad).dtype != DType::Bool || !broadcasts_to(&pad_dims, &target) {
            continue;
        }
        if is_causal(&t.shape, &keep, sq, sk) {
            return Some((pad, zero, fill, fill_value, w, true));
        }
        if keep.iter().all(|&k| k) {
            return Some((pad, zero, fill, fill_value, w, false));
        }
    }
    None
}
