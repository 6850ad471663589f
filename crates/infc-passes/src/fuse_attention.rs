//! Fuses multi-head scaled dot-product attention into one `Attention` node whose inputs are the
//! projected q, k, v (`[B, S, H·D]`) and an optional additive mask, so the head split/merge
//! transposes are never materialised.
//!
//! Matched, starting at the `P·V` MatMul:
//!
//! ```text
//! q ─(movement, scalar Mul/Div)→ Qh [B,H,Sq,D]      k ─(…)→ Kᵀ [B,H,D,Sk]      v ─(…)→ Vh [B,H,Sk,D]
//! s = MatMul(Qh, Kᵀ) → scalar Mul/Div* → { Add(s, mask) | Where(bool const, s, fill) | Where(c, fill, s) }*
//!   → Softmax(last axis) → [Where(IsNaN(p), 0, p)] → MatMul(p, Vh) ─(movement)→ y [B,Sq,H·D]
//! ```
//!
//! - "Movement" is any chain of Reshape / Transpose / Squeeze / Unsqueeze / Flatten / Identity with
//!   constant shape operands. Rather than matching particular reshape/transpose spellings (K as
//!   `(0,2,3,1)`, transposed twice, or through a 3-D reshape as dynamo's SDPA decomposition does),
//!   each chain is replayed with the reference interpreter on an index ("iota") tensor and must
//!   produce exactly the head-split (or, on the output side, head-merge) permutation. When the head
//!   merge only exists flattened (dynamo: `Transpose → Reshape [B·Sq, H·D]`), the Attention gets a
//!   new `[B,Sq,H·D]` output and that final Reshape is kept, now reading it.
//! - Scale: scalar Muls/Divs anywhere on the q or k chains (SDPA exports apply √scale to both) and
//!   on the scores before any mask; their product is the op's `scale`.
//! - Masks: at most one additive mask value (f32, broadcastable to `[B,H,Sq,Sk]`, not enlarging the
//!   scores), and any number of `Where` masks with a constant bool condition and a one-element fill
//!   ≤ −1e30. A lower-triangular condition (upper-triangular for the masked-fill form) sets `causal`;
//!   any other constant condition becomes a new additive constant (0 / fill), allowed when there is
//!   no other additive mask.
//! - The NaN guard SDPA exports put after the softmax (`Where(IsNaN(p), 0, p)`) is absorbed: the
//!   fused op yields no NaN for finite inputs, and with finite mask fills the softmax cannot either.
//!
//! Preconditions: types inferred with known shapes; f32. Every intermediate is read only inside the
//! pattern and is not a graph output (the projections and the mask are not swallowed). The Attention
//! replaces the last node of the output chain (keeping its output value); the rest is left dead and
//! removed by the final compaction (invalidates value ids). Log rule: `attention`.

use crate::pattern::{node_names, replace_node, rewrite_sweeps, scalar_const, Matcher};
use crate::{PassCx, PassError};
use infc_ir::{
    AttentionMasking, BinaryOp, DType, Float, Graph, NodeIndex, Op, Tensor, TensorType, UnaryOp,
    ValueId,
};

/// Mask fills at or below this count as "masked out".
pub(crate) const MASK_FILL_MAX: f64 = -1e30;

pub fn fuse_attention(g: &mut Graph, cx: &mut PassCx) -> Result<bool, PassError> {
    rewrite_sweeps(g, cx, fuse_at)
}

fn fuse_at(
    g: &mut Graph,
    m: &Matcher,
    pv: NodeIndex,
    cx: &mut PassCx,
) -> Result<Option<Vec<NodeIndex>>, PassError> {
    let Some(found) = match_attention(g, m, pv) else {
        return Ok(None);
    };
    let names = node_names(g, &found.nodes);
    let mut inputs = vec![found.q, found.k, found.v];
    match found.mask {
        Mask::None => {}
        Mask::Value(v) => inputs.push(v),
        Mask::NewConst(t) => {
            let name = format!("{}.additive_mask", g.nodes[pv].name);
            inputs.push(g.add_const(name, t));
        }
    }
    let op = Op::Attention {
        num_heads: found.heads,
        scale: Float::new(found.scale as f32),
        causal: found.causal,
        masking: found.masking,
    };
    let name = g.nodes[pv].name.clone();
    replace_node(g, found.anchor, name, op, inputs);
    if let Some(reshape) = found.flattening_reshape {
        // The head merge was only ever materialised flattened: the Attention gets a new [B,Sq,H·D]
        // output, which the final Reshape now flattens.
        let out = g.nodes[found.anchor].outputs[0];
        let ty = TensorType::known(DType::F32, &found.merged_dims);
        let merged = g.add_value(format!("{}.merged", g.value(out).name), ty);
        g.nodes[found.anchor].outputs = vec![merged];
        g.nodes[reshape].inputs[0] = merged;
    }
    cx.log.record("attention", names);
    Ok(Some(
        found
            .nodes
            .into_iter()
            .filter(|&n| n != found.anchor)
            .collect(),
    ))
}

enum Mask {
    None,
    Value(ValueId),
    NewConst(Tensor),
}

struct Found {
    q: ValueId,
    k: ValueId,
    v: ValueId,
    mask: Mask,
    heads: usize,
    scale: f64,
    causal: bool,
    masking: AttentionMasking,
    nodes: Vec<NodeIndex>,
    anchor: NodeIndex,
    /// Set when the output chain ends in a Reshape that flattens the head merge (dynamo's
    /// `[B·Sq, H·D]` view): that Reshape stays, reading the Attention's new output.
    flattening_reshape: Option<NodeIndex>,
    merged_dims: [usize; 3],
}

/// `Where(condition, s, fill)` (or `Where(condition, fill, s)` when `keep_where_true` is false).
#[derive(Clone, Copy)]
struct WhereMask {
    condition: ValueId,
    fill: f64,
    keep_where_true: bool,
    /// The additive mask's `Add` is applied after this Where (it was met first walking back).
    under_additive: bool,
}

/// What the score chain between `Q·Kᵀ` and the softmax contained.
#[derive(Default)]
struct Scores {
    qk: Option<NodeIndex>,
    scale: f64,
    additive: Option<ValueId>,
    /// Each constant Where mask, outermost first.
    wheres: Vec<WhereMask>,
    nodes: Vec<NodeIndex>,
}

fn match_attention(g: &Graph, m: &Matcher, pv: NodeIndex) -> Option<Found> {
    let pv_node = &g.nodes[pv];
    if pv_node.op != Op::MatMul || g.ty(pv_node.outputs[0]).dtype != DType::F32 {
        return None;
    }
    let (p, vh) = (pv_node.inputs[0], pv_node.inputs[1]);
    let o_dims = g.ty(pv_node.outputs[0]).shape.as_known()?;
    let &[b, heads, sq, d] = &o_dims[..] else {
        return None;
    };
    let mut nodes = vec![pv];

    // Softmax, possibly behind the NaN guard.
    let (p, zero_nan_rows) = match nan_guard(g, m, p) {
        Some((inner, guard)) => {
            nodes.extend(guard);
            (inner, true)
        }
        None => (p, false),
    };
    let (softmax, s) = {
        let (n, node) = m.def_if(g, p, |op| matches!(op, Op::Softmax { .. }))?;
        let Op::Softmax { axis } = node.op else {
            return None;
        };
        if axis != -1 && axis != 3 {
            return None;
        }
        (n, node.inputs[0])
    };
    nodes.push(softmax);
    let scores = score_chain(
        g,
        m,
        s,
        Scores {
            scale: 1.0,
            ..Scores::default()
        },
    )?;
    let qk = scores.qk?;
    nodes.extend(&scores.nodes);
    let (qh, kt) = (g.nodes[qk].inputs[0], g.nodes[qk].inputs[1]);
    let s_dims = g.ty(s).shape.as_known()?;
    let &[_, _, _, sk] = &s_dims[..] else {
        return None;
    };

    // Projections: each chain must be exactly the head split of a [B, S, H·D] value.
    let (q, q_scale, q_nodes) = projection(g, m, qh, Layout::Heads, b, sq, heads, d)?;
    let (k, k_scale, k_nodes) = projection(g, m, kt, Layout::HeadsTransposed, b, sk, heads, d)?;
    let (v, v_scale, v_nodes) = projection(g, m, vh, Layout::Heads, b, sk, heads, d)?;
    if v_scale != 1.0 {
        return None;
    }
    nodes.extend(q_nodes.iter().chain(&k_nodes).chain(&v_nodes));

    // Output: movement chain from [B,H,Sq,D] to the head merge [B,Sq,H·D].
    let (out_nodes, flattening_reshape) = output_chain(g, m, pv, b, heads, sq, d)?;
    nodes.extend(&out_nodes);
    let anchor = out_nodes.last().copied().unwrap_or(pv);

    let (mask, causal, hidden) = resolve_masks(g, &scores, [b, heads, sq, sk])?;
    let masking = AttentionMasking {
        zero_nan_rows,
        ..hidden
    };
    if !m.all_internal(g, &nodes, anchor) {
        return None;
    }
    let scale = scores.scale * q_scale * k_scale;
    let merged_dims = [b, sq, heads * d];
    Some(Found {
        q,
        k,
        v,
        mask,
        heads,
        scale,
        causal,
        masking,
        nodes,
        anchor,
        flattening_reshape,
        merged_dims,
    })
}

/// `p = Where(IsNaN(x), 0, x)`: returns (x, [where, isnan]).
fn nan_guard(g: &Graph, m: &Matcher, p: ValueId) -> Option<(ValueId, Vec<NodeIndex>)> {
    let (w, node) = m.def_if(g, p, |op| *op == Op::Where)?;
    let (c, zero, x) = (node.inputs[0], node.inputs[1], node.inputs[2]);
    let (isnan, inner) = m.def_unary(g, c, UnaryOp::IsNaN)?;
    (inner == x && scalar_const(g, zero) == Some(0.0)).then_some((x, vec![w, isnan]))
}

/// Walk back from the softmax input to `MatMul(Qh, Kᵀ)` through scale and mask ops.
fn score_chain(g: &Graph, m: &Matcher, s: ValueId, mut acc: Scores) -> Option<Scores> {
    let n = m.producer(s)?;
    let node = &g.nodes[n];
    let scaled = acc.scale != 1.0;
    match &node.op {
        Op::MatMul => {
            acc.qk = Some(n);
            acc.nodes.push(n);
            Some(acc)
        }
        Op::Binary(BinaryOp::Mul) | Op::Binary(BinaryOp::Div) => {
            let (a, c) = (node.inputs[0], node.inputs[1]);
            let is_div = node.op == Op::Binary(BinaryOp::Div);
            let (x, factor) = match (scalar_const(g, c), scalar_const(g, a)) {
                (Some(f), _) if f != 0.0 => (a, if is_div { 1.0 / f } else { f }),
                (None, Some(f)) if !is_div => (c, f),
                _ => return None,
            };
            acc.scale *= factor;
            acc.nodes.push(n);
            score_chain(g, m, x, acc)
        }
        Op::Binary(BinaryOp::Add) if !scaled && acc.additive.is_none() => {
            let out_ty = g.ty(node.outputs[0]);
            for (x, mask) in [
                (node.inputs[0], node.inputs[1]),
                (node.inputs[1], node.inputs[0]),
            ] {
                if g.ty(x) != out_ty || g.ty(mask).dtype != DType::F32 || x == mask {
                    continue;
                }
                let mut next = Scores {
                    scale: acc.scale,
                    additive: Some(mask),
                    ..Scores::default()
                };
                next.wheres.clone_from(&acc.wheres);
                next.nodes.clone_from(&acc.nodes);
                next.nodes.push(n);
                if let Some(found) = score_chain(g, m, x, next) {
                    return Some(found);
                }
            }
            None
        }
        Op::Where if !scaled => {
            let (c, a, bv) = (node.inputs[0], node.inputs[1], node.inputs[2]);
            g.const_of(c)
                .filter(|t| t.dtype == DType::Bool && !t.is_opaque())?;
            let out_ty = g.ty(node.outputs[0]);
            let (x, fill, keep_where_true) = match (scalar_const(g, bv), scalar_const(g, a)) {
                (Some(f), _) if f <= MASK_FILL_MAX && g.ty(a) == out_ty => (a, f, true),
                (_, Some(f)) if f <= MASK_FILL_MAX && g.ty(bv) == out_ty => (bv, f, false),
                _ => return None,
            };
            acc.wheres.push(WhereMask {
                condition: c,
                fill,
                keep_where_true,
                under_additive: acc.additive.is_some(),
            });
            acc.nodes.push(n);
            score_chain(g, m, x, acc)
        }
        _ => None,
    }
}

/// Turn the matched masks into the op's mask input, `causal` flag and what hidden keys hold
/// (`hidden_fill`, `mask_hidden`; `zero_nan_rows` is left to the caller).
///
/// Exactness: a causal `Where` replaces hidden scores by its fill; an additive mask applied
/// after it (met first walking back) reaches them too (`mask_hidden`). A non-causal constant
/// `Where` becomes an additive `0 / fill` constant, which equals the replacement for any score
/// `|s|` below 2⁻²⁵·|fill| (the fills are ≤ −1e30): it is allowed when there is no other
/// additive mask and no causal `Where` inside it (the two fills would then add instead of the
/// outer one replacing the inner one). An additive constant that is exactly `0` on a causal
/// triangle and one fill ≤ −1e30 above it (an export without a padding input) becomes `causal`
/// with that fill, by the same approximation.
fn resolve_masks(
    g: &Graph,
    scores: &Scores,
    [b, h, sq, sk]: [usize; 4],
) -> Option<(Mask, bool, AttentionMasking)> {
    let mut causal = false;
    let mut hidden = AttentionMasking::default();
    let mut mask = match scores.additive {
        Some(v) => {
            let dims = g.ty(v).shape.as_known()?;
            if !broadcasts_to(&dims, &[b, h, sq, sk]) {
                return None;
            }
            match g.const_of(v).and_then(|t| causal_constant(t, sq, sk)) {
                Some(fill) => {
                    causal = true;
                    hidden.hidden_fill = Float::new(fill);
                    Mask::None
                }
                None => Mask::Value(v),
            }
        }
        None => Mask::None,
    };
    let mut replaced_outside_causal = false;
    for w in &scores.wheres {
        let t = g.const_of(w.condition)?;
        if !broadcasts_to(&t.shape, &[b, h, sq, sk]) {
            return None;
        }
        let keep: Vec<bool> = t
            .bytes()
            .ok()?
            .iter()
            .map(|&x| (x != 0) == w.keep_where_true)
            .collect();
        if is_causal(&t.shape, &keep, sq, sk) {
            if causal || replaced_outside_causal {
                return None;
            }
            causal = true;
            hidden.hidden_fill = Float::new(w.fill as f32);
            hidden.mask_hidden = w.under_additive && matches!(mask, Mask::Value(_));
            continue;
        }
        if !matches!(mask, Mask::None) {
            return None;
        }
        replaced_outside_causal = !causal;
        let fill = w.fill as f32;
        let data: Vec<f32> = keep.iter().map(|&k| if k { 0.0 } else { fill }).collect();
        mask = Mask::NewConst(Tensor::from_vec(t.shape.clone(), data).ok()?);
    }
    Some((mask, causal, hidden))
}

/// The fill of an additive constant mask that is `0` exactly on the causal triangle of its last
/// two dims `[sq, sk]` and one value ≤ −1e30 everywhere above it, in every slice.
fn causal_constant(t: &Tensor, sq: usize, sk: usize) -> Option<f32> {
    if t.dtype != DType::F32 || t.is_opaque() {
        return None;
    }
    let [.., rows, cols] = t.shape[..] else {
        return None;
    };
    // With one query row nothing is hidden.
    if (rows, cols) != (sq, sk) || sk < sq || sq < 2 {
        return None;
    }
    let values = t.view::<f32>().ok()?;
    // Row 0's last key is hidden.
    let fill = *values.get(sk - 1)?;
    if f64::from(fill).is_nan() || f64::from(fill) > MASK_FILL_MAX {
        return None;
    }
    let fits = values.iter().enumerate().all(|(idx, &v)| {
        let (i, j) = (idx / sk % sq, idx % sk);
        if j <= i + (sk - sq) {
            v == 0.0 && v.is_sign_positive()
        } else {
            v.to_bits() == fill.to_bits()
        }
    });
    fits.then_some(fill)
}

/// True when `dims` broadcasts to `target` without changing it.
pub(crate) fn broadcasts_to(dims: &[usize], target: &[usize]) -> bool {
    dims.len() <= target.len()
        && dims
            .iter()
            .rev()
            .zip(target.iter().rev())
            .all(|(&d, &t)| d == 1 || d == t)
}

/// `keep` (shape `shape`, last two dims `[sq, sk]`) keeps exactly `j ≤ i + (sk − sq)` in every slice.
pub(crate) fn is_causal(shape: &[usize], keep: &[bool], sq: usize, sk: usize) -> bool {
    let [.., rows, cols] = shape else {
        return false;
    };
    if (*rows, *cols) != (sq, sk) || sk < sq {
        return false;
    }
    keep.chunks(sq * sk).all(|slice| {
        slice
            .iter()
            .enumerate()
            .all(|(idx, &k)| k == (idx % sk <= idx / sk + (sk - sq)))
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// `[B,H,S,D]`
    Heads,
    /// `[B,H,D,S]`
    HeadsTransposed,
}

fn is_movement(op: &Op) -> bool {
    matches!(
        op,
        Op::Reshape { .. }
            | Op::Transpose { .. }
            | Op::Squeeze { .. }
            | Op::Unsqueeze { .. }
            | Op::Flatten { .. }
            | Op::Identity
            | Op::Dropout
    )
}

/// A scalar Mul/Div on the chain: returns (data operand, factor).
fn scale_op(g: &Graph, op: &Op, inputs: &[ValueId]) -> Option<(ValueId, f64)> {
    match op {
        Op::Binary(BinaryOp::Mul) => match (scalar_const(g, inputs[1]), scalar_const(g, inputs[0]))
        {
            (Some(f), _) => Some((inputs[0], f)),
            (None, Some(f)) => Some((inputs[1], f)),
            _ => None,
        },
        Op::Binary(BinaryOp::Div) => scalar_const(g, inputs[1])
            .filter(|&f| f != 0.0)
            .map(|f| (inputs[0], 1.0 / f)),
        _ => None,
    }
}

/// Walk back from a head-layout operand through movement and scalar-scale ops and find the
/// `[B, S, H·D]` value it is a head split of. Returns (projection, scale factor, chain nodes).
#[allow(clippy::too_many_arguments)]
fn projection(
    g: &Graph,
    m: &Matcher,
    operand: ValueId,
    layout: Layout,
    b: usize,
    s: usize,
    heads: usize,
    d: usize,
) -> Option<(ValueId, f64, Vec<NodeIndex>)> {
    // (node, its data input, scale factor), collected walking backwards from `operand`.
    let mut chain: Vec<(NodeIndex, ValueId, f64)> = Vec::new();
    let mut cur = operand;
    while let Some(n) = m.producer(cur) {
        if m.users(cur).len() != 1 || m.is_graph_output(cur) {
            break;
        }
        let node = &g.nodes[n];
        let (input, factor) = if is_movement(&node.op) {
            if !node.inputs[1..]
                .iter()
                .all(|&v| g.const_of(v).is_some_and(|t| !t.is_opaque()))
            {
                break;
            }
            (node.inputs[0], 1.0)
        } else if let Some(x) = scale_op(g, &node.op, &node.inputs) {
            x
        } else {
            break;
        };
        chain.push((n, input, factor));
        cur = input;
    }
    // Try the deepest candidate root first.
    let e = heads * d;
    for root_at in (0..chain.len()).rev() {
        let root = chain[root_at].1;
        if g.ty(root).dtype != DType::F32
            || g.ty(root).shape.as_known().as_deref() != Some(&[b, s, e][..])
        {
            continue;
        }
        let ops: Vec<NodeIndex> = chain[..=root_at].iter().rev().map(|&(n, _, _)| n).collect();
        let Some(got) = replay(g, &ops, iota(&[b, s, e])?) else {
            continue;
        };
        if got == head_split(layout, b, s, heads, d) {
            let scale = chain[..=root_at].iter().map(|&(_, _, f)| f).product();
            return Some((root, scale, ops));
        }
    }
    None
}

/// Walk forward from the `P·V` MatMul through movement ops to the first value that is the head merge
/// `[B,Sq,H·D]` of its `[B,H,Sq,D]` output. Returns the chain nodes (the last one is the anchor).
/// When a Reshape reaches the head merge's elements in merge order but in another shape (e.g.
/// `[B·Sq, H·D]`), the chain before it is returned with that Reshape as the second value.
fn output_chain(
    g: &Graph,
    m: &Matcher,
    pv: NodeIndex,
    b: usize,
    heads: usize,
    sq: usize,
    d: usize,
) -> Option<(Vec<NodeIndex>, Option<NodeIndex>)> {
    let mut cur = g.nodes[pv].outputs[0];
    let mut ops = Vec::new();
    let want = head_merge(b, heads, sq, d);
    while let Some(u) = m.sole_user(cur) {
        let node = &g.nodes[u];
        if !is_movement(&node.op) || node.inputs[0] != cur {
            return None;
        }
        if !node.inputs[1..]
            .iter()
            .all(|&v| g.const_of(v).is_some_and(|t| !t.is_opaque()))
        {
            return None;
        }
        ops.push(u);
        cur = node.outputs[0];
        let dims = g.ty(cur).shape.as_known()?;
        let is_merge_shape = dims == want.0;
        let is_reshape = matches!(node.op, Op::Reshape { .. });
        if is_merge_shape || is_reshape {
            let (shape, elems) = replay(g, &ops, iota(&[b, heads, sq, d])?)?;
            if elems == want.1 && is_merge_shape {
                return Some((ops, None));
            }
            if elems == want.1 && is_reshape && shape.iter().product::<usize>() == want.1.len() {
                ops.pop();
                return Some((ops, Some(u)));
            }
        }
    }
    None
}

/// An i64 tensor holding `0..n` in `shape`.
fn iota(shape: &[usize]) -> Option<Tensor> {
    let n: usize = shape.iter().product();
    Tensor::from_vec(shape.to_vec(), (0..n as i64).collect()).ok()
}

/// Apply the movement ops `ops` (data-flow order; scalar scale ops are skipped) to `t`; returns the
/// resulting shape and elements.
fn replay(g: &Graph, ops: &[NodeIndex], mut t: Tensor) -> Option<(Vec<usize>, Vec<i64>)> {
    for &n in ops {
        let node = &g.nodes[n];
        if !is_movement(&node.op) {
            continue;
        }
        let mut inputs = vec![&t];
        for &v in &node.inputs[1..] {
            inputs.push(g.const_of(v)?);
        }
        t = infc_reference::eval_op(&node.op, &inputs)
            .ok()?
            .into_iter()
            .next()?;
    }
    Some((t.shape.clone(), t.to_i64_vec().ok()?))
}

/// Expected replay result of splitting `[B,S,H·D]` into heads.
fn head_split(
    layout: Layout,
    b: usize,
    s: usize,
    heads: usize,
    d: usize,
) -> (Vec<usize>, Vec<i64>) {
    let e = heads * d;
    let mut out = Vec::with_capacity(b * s * e);
    let at = |bi: usize, si: usize, hi: usize, di: usize| ((bi * s + si) * e + hi * d + di) as i64;
    for bi in 0..b {
        for hi in 0..heads {
            match layout {
                Layout::Heads => {
                    for si in 0..s {
                        out.extend((0..d).map(|di| at(bi, si, hi, di)));
                    }
                }
                Layout::HeadsTransposed => {
                    for di in 0..d {
                        out.extend((0..s).map(|si| at(bi, si, hi, di)));
                    }
                }
            }
        }
    }
    let shape = match layout {
        Layout::Heads => vec![b, heads, s, d],
        Layout::HeadsTransposed => vec![b, heads, d, s],
    };
    (shape, out)
}

/// Expected replay result of merging `[B,H,Sq,D]` heads into `[B,Sq,H·D]`.
fn head_merge(b: usize, heads: usize, sq: usize, d: usize) -> (Vec<usize>, Vec<i64>) {
    let mut out = Vec::with_capacity(b * sq * heads * d);
    for bi in 0..b {
        for si in 0..sq {
            for hi in 0..heads {
                out.extend((0..d).map(|di| (((bi * heads + hi) * sq + si) * d + di) as i64));
            }
        }
    }
    (vec![b, sq, heads * d], out)
}
