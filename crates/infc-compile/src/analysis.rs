//! Pre-lowering analysis: which values share a buffer and where every buffer lives.
//!
//! 1. *Aliases*: Reshape/Flatten/Squeeze/Unsqueeze/Identity/Dropout outputs share their input's
//!    buffer (no step, no copy); a Relu fused into the Conv/Gemm/MatMul that feeds it becomes an
//!    alias too. `Shape` outputs are folded into constants.
//!    A *view split* — a Split along the last axis whose every output is read only as q, k or v of
//!    Attention nodes (a fused QKV projection) — emits no step either: its outputs alias its input
//!    at a column offset ([`Analysis::views`]) and attention reads them with the input's row stride.
//!    Under per-row INT8, a LayerNorm over the last axis whose only reader is a quantized matmul's
//!    A emits no step and has no buffer: the matmul normalises each row while quantizing it
//!    ([`Analysis::pre_norm`]), and the LayerNorm's inputs stay live until the matmul.
//! 2. *Liveness* per buffer over node positions: from the defining node (graph inputs: 0) to the
//!    last node reading any alias of it; graph outputs stay live to the end (position `n_nodes`).
//! 3. *In place*: an elementwise node whose input buffer dies at that node, has the output's exact
//!    size and shape (no broadcast) and is not read through another input, writes its output into
//!    that buffer (the two values merge; the merged buffer lives until the output dies).
//! 4. Attention nodes get a scratch buffer (their score matrices) live only at that node.
//! 5. Offsets for all buffers from [`crate::memory::assign_offsets`].
//!
//! Graph inputs live in the arena (the runtime copies caller data in before the first step, so
//! steps may even update them in place); graph outputs live wherever their buffer is (arena or,
//! for constant outputs, the constants blob) and the runtime copies them out.

use crate::error::CompileError;
use crate::lower::fused::attention_scratch_bytes;
use crate::memory::{assign_offsets, Assignment, Interval};
use crate::CompileOptions;
use infc_ir::{BinaryOp, Graph, Op, UnaryOp, ValueId};
use std::collections::HashMap;

/// What the memory plan decided, consumed by lowering.
pub(crate) struct Analysis {
    parent: Vec<u32>,
    /// Shape outputs folded to constants (i64 little-endian bytes), keyed by value index.
    pub folded: HashMap<usize, Vec<u8>>,
    /// Nodes that emit no step (aliases, fused activations, folded shapes).
    pub skip: Vec<bool>,
    /// Activation fused into a Conv/Gemm/MatMul node.
    pub fused_relu: Vec<bool>,
    /// Outputs of view splits, keyed by value index: `(column offset, row stride)` in elements
    /// inside their root buffer.
    pub views: HashMap<usize, (u64, u64)>,
    /// Arena offset of each buffer root (value index).
    pub offsets: HashMap<usize, u64>,
    /// Nodes lowered to quantized INT8 steps (from [`CompileOptions::int8`]).
    pub int8: Vec<bool>,
    /// For a quantized matmul node: the LayerNorm node it absorbs (its A is that LayerNorm's
    /// output, computed row by row during quantization).
    pub pre_norm: Vec<Option<usize>>,
    /// Quantize matmul activations per row (else per tensor).
    pub int8_per_row: bool,
    /// Attention steps take bf16 inputs ([`crate::Int8Lowering::bf16_attention`]).
    pub bf16_attention: bool,
    /// Scratch `(offset, bytes)` per node.
    pub scratch: Vec<Option<(u64, u64)>>,
    /// Buffers in planning order: `(name, interval in node positions, offset)`.
    pub buffers: Vec<(String, Interval, u64)>,
    pub assignment: Assignment,
}

impl Analysis {
    /// Buffer root of value index `v` (follows aliases and in-place merges).
    pub fn find(&self, mut v: usize) -> usize {
        while self.parent[v] as usize != v {
            v = self.parent[v] as usize;
        }
        v
    }
}

fn is_alias_op(op: &Op) -> bool {
    matches!(
        op,
        Op::Reshape { .. }
            | Op::Flatten { .. }
            | Op::Squeeze { .. }
            | Op::Unsqueeze { .. }
            | Op::Identity
            | Op::Dropout
    )
}

/// Inputs an elementwise node may overwrite with its output.
fn in_place_candidates(op: &Op) -> &'static [usize] {
    match op {
        Op::Unary(_) | Op::Clip | Op::BatchNorm { .. } | Op::Gelu { .. } => &[0],
        Op::Cast { .. } => &[0],
        Op::Binary(_) => &[0, 1],
        Op::Where => &[1, 2],
        _ => &[],
    }
}

/// `(column offset, row stride)` of each output of a Split along the last axis of a computed f32
/// tensor whose outputs are read only as q/k/v of Attention nodes (never graph outputs); `None`
/// otherwise.
fn view_split_columns(
    g: &Graph,
    node: &infc_ir::Node,
    uses: &infc_ir::SecondaryMap<infc_ir::Value, Vec<infc_ir::NodeIndex>>,
) -> Option<Vec<(u64, u64)>> {
    let Op::Split { axis, splits } = &node.op else {
        return None;
    };
    let x = *node.inputs.first()?;
    let dims = g.ty(x).shape.as_known()?;
    let rank = dims.len() as i64;
    let last = *axis == rank - 1 || *axis == -1;
    if !last || rank < 2 || g.ty(x).dtype != infc_ir::DType::F32 || g.const_of(x).is_some() {
        return None;
    }
    if splits.len() != node.outputs.len() || splits.iter().sum::<usize>() != dims[dims.len() - 1] {
        return None;
    }
    if !node
        .outputs
        .iter()
        .all(|&o| g.read_only_as_attention_qkv(uses, o))
    {
        return None;
    }
    let stride = dims[dims.len() - 1] as u64;
    let mut views = Vec::with_capacity(splits.len());
    let mut at = 0u64;
    for &w in splits {
        views.push((at, stride));
        at += w as u64;
    }
    Some(views)
}

/// The LayerNorm node a quantized matmul node `j` can absorb: `j` is selected for INT8 and is a
/// MatMul/Gemm/FusedMatMul whose A is the f32 output of a LayerNorm over the last axis, read by
/// nothing else and not a graph output.
fn absorbed_layer_norm(
    g: &Graph,
    j: usize,
    node: &infc_ir::Node,
    uses: &infc_ir::SecondaryMap<infc_ir::Value, Vec<infc_ir::NodeIndex>>,
    producers: &infc_ir::SecondaryMap<infc_ir::Value, (infc_ir::NodeIndex, usize)>,
    int8: bool,
) -> Option<usize> {
    let matmul = matches!(
        node.op,
        Op::MatMul | Op::Gemm { .. } | Op::FusedMatMul { .. }
    );
    if !int8 || !matmul {
        return None;
    }
    let a = *node.inputs.first()?;
    let &(i, _) = producers.get(a)?;
    let ln = &g.nodes[i];
    let Op::LayerNorm { axis, .. } = ln.op else {
        return None;
    };
    let rank = g.ty(a).shape.as_known()?.len() as i64;
    let last_axis = axis == -1 || axis == rank - 1;
    let only_reader = uses.get(a).is_some_and(|u| u.len() == 1 && u[0] == j)
        && node.inputs.iter().filter(|&&v| v == a).count() == 1;
    let f32_in = ln
        .inputs
        .iter()
        .all(|&v| g.ty(v).dtype == infc_ir::DType::F32);
    (last_axis
        && rank >= 1
        && only_reader
        && f32_in
        && ln.outputs.len() == 1
        && !g.outputs.contains(&a))
    .then_some(i)
}

/// The root of `v`'s alias set, halving the path on the way (a chain of 200 000 Identity or
/// Reshape aliases made every walk from its end as long as the chain: quadratic).
fn find(parent: &mut [u32], mut v: usize) -> usize {
    while parent[v] as usize != v {
        let p = parent[v] as usize;
        parent[v] = parent[p];
        v = p;
    }
    v
}

fn byte_size(g: &Graph, v: ValueId) -> u64 {
    g.ty(v).byte_size().unwrap_or(0) as u64
}

pub(crate) fn analyse(g: &Graph, opts: &CompileOptions) -> Result<Analysis, CompileError> {
    let nv = g.values.len();
    let nn = g.nodes.len();
    let mut parent: Vec<u32> = (0..nv as u32).collect();
    let mut folded = HashMap::new();
    let mut skip = vec![false; nn];
    let mut fused_relu = vec![false; nn];
    let uses = g.uses();
    let producers = g.producers();
    let is_output = |v: ValueId| g.outputs.contains(&v);
    let mut views = HashMap::new();

    // 1. Aliases, fusions and folded shapes.
    for (i, node) in g.nodes.iter().enumerate() {
        if is_alias_op(&node.op) {
            parent[node.outputs[0].index()] = node.inputs[0].index() as u32;
            skip[i] = true;
        } else if let Some(cols) = view_split_columns(g, node, &uses) {
            for (&o, view) in node.outputs.iter().zip(cols) {
                parent[o.index()] = node.inputs[0].index() as u32;
                views.insert(o.index(), view);
            }
            skip[i] = true;
        } else if let Op::Shape { start, end } = &node.op {
            let dims = g.ty(node.inputs[0]).shape.as_known().unwrap_or_default();
            let r = dims.len() as i64;
            let clamp = |x: i64| (if x < 0 { x + r } else { x }).clamp(0, r) as usize;
            let (s, e) = (clamp(*start), clamp(end.unwrap_or(r)));
            let vals: Vec<u8> = dims[s..e.max(s)]
                .iter()
                .flat_map(|&d| (d as i64).to_le_bytes())
                .collect();
            let want = byte_size(g, node.outputs[0]) as usize;
            if vals.len() != want {
                return Err(CompileError::Malformed {
                    node: node.name.clone(),
                    op: "Shape",
                    msg: format!(
                        "computed {} bytes of shape, output type needs {want}",
                        vals.len()
                    ),
                });
            }
            folded.insert(node.outputs[0].index(), vals);
            skip[i] = true;
        } else if opts.fuse_activations && node.op == Op::Unary(UnaryOp::Relu) {
            let x = node.inputs[0];
            let single_use = uses.get(x).is_some_and(|u| u.len() == 1);
            if let Some(&(j, _)) = producers.get(x) {
                let fusable = matches!(g.nodes[j].op, Op::Conv(_) | Op::Gemm { .. } | Op::MatMul);
                if fusable && single_use && !is_output(x) && !fused_relu[j] {
                    fused_relu[j] = true;
                    parent[node.outputs[0].index()] = x.index() as u32;
                    skip[i] = true;
                }
            }
        }
    }
    let mut int8 = vec![false; nn];
    if let Some(q) = &opts.int8 {
        for &i in &q.nodes {
            if i < nn && !skip[i] {
                int8[i] = true;
            }
        }
    }
    let per_row = opts.int8.as_ref().is_some_and(|q| q.per_row);
    let mut pre_norm = vec![None; nn];
    if per_row {
        for (j, node) in g.nodes.iter().enumerate() {
            if let Some(i) = absorbed_layer_norm(g, j, node, &uses, &producers, int8[j]) {
                if !skip[i] {
                    pre_norm[j] = Some(i);
                    skip[i] = true;
                }
            }
        }
    }

    // 2. Liveness of roots.
    let mut def = vec![u32::MAX; nv];
    let mut last = vec![0u32; nv];
    let is_buffer_root =
        |v: usize| g.values[ValueId::from_index(v)].konst.is_none() && !folded.contains_key(&v);
    for &v in &g.inputs {
        def[v.index()] = 0;
    }
    for (i, node) in g.nodes.iter().enumerate() {
        if !skip[i] {
            for &o in &node.outputs {
                def[o.index()] = i as u32;
                last[o.index()] = i as u32;
            }
        }
    }
    for (i, node) in g.nodes.iter().enumerate() {
        if folded.contains_key(&node.outputs[0].index()) {
            continue;
        }
        for &v in &node.inputs {
            let r = find(&mut parent, v.index());
            last[r] = last[r].max(i as u32);
        }
    }
    for (j, i) in pre_norm.iter().enumerate() {
        for &v in i.map_or(&[][..], |i| &g.nodes[i].inputs[..]) {
            let r = find(&mut parent, v.index());
            last[r] = last[r].max(j as u32);
        }
    }
    for &v in &g.outputs {
        let r = find(&mut parent, v.index());
        last[r] = nn as u32;
    }

    // 3. In-place merges, in execution order.
    if opts.in_place {
        for (i, node) in g.nodes.iter().enumerate() {
            if skip[i] || node.outputs.len() != 1 {
                continue;
            }
            let o = node.outputs[0];
            let oty = g.ty(o);
            for &slot in in_place_candidates(&node.op) {
                let Some(&v) = node.inputs.get(slot) else {
                    continue;
                };
                let r = find(&mut parent, v.index());
                let vty = g.ty(v);
                let shared = node
                    .inputs
                    .iter()
                    .enumerate()
                    .any(|(k, &u)| k != slot && find(&mut parent, u.index()) == r);
                let comparison = matches!(&node.op, Op::Binary(b) if b.is_comparison());
                let ok = is_buffer_root(r)
                    && def[r] != u32::MAX
                    && last[r] == i as u32
                    && vty.shape == oty.shape
                    && vty.dtype.size() == oty.dtype.size()
                    && !comparison
                    && !shared
                    && !matches!(node.op, Op::Binary(BinaryOp::Pow) if vty.dtype != infc_ir::DType::F32);
                if ok {
                    parent[o.index()] = r as u32;
                    last[r] = last[r].max(last[o.index()]);
                    break;
                }
            }
        }
    }

    // 4 + 5. Collect buffers and scratch, assign offsets.
    let mut roots: Vec<usize> = Vec::new();
    let mut seen = vec![false; nv];
    let mut note = |v: ValueId, roots: &mut Vec<usize>| {
        let r = find(&mut parent, v.index());
        if !seen[r] && is_buffer_root(r) && def[r] != u32::MAX {
            seen[r] = true;
            roots.push(r);
        }
    };
    for &v in &g.inputs {
        note(v, &mut roots);
    }
    for (i, node) in g.nodes.iter().enumerate() {
        if !skip[i] {
            for &o in &node.outputs {
                note(o, &mut roots);
            }
        }
    }
    let mut items = Vec::with_capacity(roots.len());
    let mut names = Vec::with_capacity(roots.len());
    for &r in &roots {
        let v = ValueId::from_index(r);
        items.push(Interval {
            size: byte_size(g, v),
            first: def[r],
            last: last[r].max(def[r]),
        });
        names.push(g.values[v].name.clone());
    }
    let mut scratch_items = Vec::new();
    for (i, node) in g.nodes.iter().enumerate() {
        if matches!(node.op, Op::Attention { .. }) || int8[i] {
            let bytes = if int8[i] {
                crate::lower::quant::scratch_bytes(g, node)
            } else {
                attention_scratch_bytes(g, node)
            };
            if bytes > 0 {
                scratch_items.push((i, items.len()));
                items.push(Interval {
                    size: bytes,
                    first: i as u32,
                    last: i as u32,
                });
                names.push(format!("{}:scratch", node.name));
            }
        }
    }
    // Every value points at its root, so `Analysis::root` is one step.
    for v in 0..nv {
        parent[v] = find(&mut parent, v) as u32;
    }
    let assignment = assign_offsets(&items);
    let mut offsets = HashMap::with_capacity(roots.len());
    for (k, &r) in roots.iter().enumerate() {
        offsets.insert(r, assignment.offsets[k]);
    }
    let mut scratch = vec![None; nn];
    for &(node, k) in &scratch_items {
        scratch[node] = Some((assignment.offsets[k], items[k].size));
    }
    let buffers = names
        .into_iter()
        .zip(items.iter().copied())
        .zip(assignment.offsets.iter().copied())
        .map(|((n, it), o)| (n, it, o))
        .collect();
    Ok(Analysis {
        parent,
        folded,
        skip,
        fused_relu,
        views,
        int8,
        pre_norm,
        int8_per_row: per_row,
        bf16_attention: opts.int8.as_ref().is_some_and(|q| q.bf16_attention),
        offsets,
        scratch,
        buffers,
        assignment,
    })
}
