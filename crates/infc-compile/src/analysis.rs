//! Pre-lowering analysis: which values share a buffer and where every buffer lives.
//!
//! It decides nothing about what the code computes: precision and realization are the nodes'
//! marks ([`infc_ir::marks`]), set by passes and checked here (an illegal mark is an error).
//!
//! 1. *Aliases*: Reshape/Flatten/Squeeze/Unsqueeze/Identity/Dropout outputs share their input's
//!    buffer (no step, no copy). `Shape` outputs are folded into constants.
//!    A Split marked `@view` emits no step either: its outputs alias its input at a column offset
//!    ([`Analysis::views`]) and attention reads them with the input's row stride.
//!    A LayerNorm marked `@in_reader` emits no step and has no buffer: its reader, an
//!    `@int8_per_row` matmul, normalises each row while quantizing it ([`Analysis::pre_norm`]),
//!    and the LayerNorm's inputs stay live until the matmul.
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
use infc_ir::marks::{absorbable_layer_norm, mark_error, view_split_columns};
use infc_ir::{BinaryOp, Graph, Op, Realize, ValueId};
use std::collections::HashMap;

/// What the memory plan decided, consumed by lowering.
pub(crate) struct Analysis {
    parent: Vec<u32>,
    /// Shape outputs folded to constants (i64 little-endian bytes), keyed by value index.
    pub folded: HashMap<usize, Vec<u8>>,
    /// Nodes that emit no step (aliases, views, absorbed LayerNorms, folded shapes).
    pub skip: Vec<bool>,
    /// Outputs of view splits, keyed by value index: `(column offset, row stride)` in elements
    /// inside their root buffer.
    pub views: HashMap<usize, (u64, u64)>,
    /// Arena offset of each buffer root (value index).
    pub offsets: HashMap<usize, u64>,
    /// For a quantized matmul node: the LayerNorm node it absorbs (its A is that LayerNorm's
    /// output, computed row by row during quantization).
    pub pre_norm: Vec<Option<usize>>,
    /// Scratch `(offset, bytes)` per node.
    pub scratch: Vec<Option<(u64, u64)>>,
    /// Buffers in planning order: `(name, interval in node positions, offset)`.
    pub buffers: Vec<(String, Interval, u64)>,
    pub assignment: Assignment,
    /// In-place updates chosen: `(node, input slot)`, in node order.
    pub in_place: Vec<(usize, usize)>,
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

/// Whether a node carries a non-default mark.
fn marked(node: &infc_ir::Node) -> bool {
    node.precision != infc_ir::Precision::F32 || node.realize != Realize::Step
}

/// The error for node `i`, whose mark is not legal where it stands.
fn illegal_mark(g: &Graph, i: usize, msg: String) -> CompileError {
    let node = &g.nodes[i];
    CompileError::Malformed {
        node: node.name.clone(),
        op: node.op.name(),
        msg,
    }
}

pub(crate) fn analyse(g: &Graph, opts: &CompileOptions) -> Result<Analysis, CompileError> {
    let nv = g.values.len();
    let nn = g.nodes.len();
    let mut parent: Vec<u32> = (0..nv as u32).collect();
    let mut folded = HashMap::new();
    let mut skip = vec![false; nn];
    let uses = g.uses();
    let mut views = HashMap::new();
    let mut pre_norm = vec![None; nn];

    // 1. Aliases, views, absorbed LayerNorms and folded shapes.
    for (i, node) in g.nodes.iter().enumerate() {
        if let Some(msg) = marked(node).then(|| mark_error(g, i, &uses)).flatten() {
            return Err(illegal_mark(g, i, msg));
        }
        if is_alias_op(&node.op) {
            parent[node.outputs[0].index()] = node.inputs[0].index() as u32;
            skip[i] = true;
        } else if node.realize == Realize::InReader {
            let j = absorbable_layer_norm(g, i, &uses)
                .ok_or_else(|| illegal_mark(g, i, "@in_reader without a reader".into()))?;
            pre_norm[j] = Some(i);
            skip[i] = true;
        } else if node.realize == Realize::View {
            let cols = view_split_columns(g, node, &uses)
                .ok_or_else(|| illegal_mark(g, i, "@view that is not a view split".into()))?;
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
    let mut in_place = Vec::new();
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
                // A range plan's shapes all make the max shape's in-place choices: a dim of 1
                // can make a broadcast input the output's size at one shape and not another.
                let ok = match &opts.reference {
                    None => ok,
                    Some(reference) => {
                        let chosen = reference.layout.in_place.binary_search(&(i, slot)).is_ok();
                        if chosen && !ok {
                            return Err(CompileError::Range(format!(
                                "node '{}' updates input {slot} in place at the max shape but cannot here",
                                node.name
                            )));
                        }
                        chosen
                    }
                };
                if ok {
                    in_place.push((i, slot));
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
        let int8 = node.precision.is_int8();
        if matches!(node.op, Op::Attention { .. }) || int8 {
            let bytes = if int8 {
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
    let assignment = match &opts.reference {
        None => assign_offsets(&items),
        Some(r) => {
            let named: Vec<(String, Interval)> =
                names.iter().cloned().zip(items.iter().copied()).collect();
            let adopted = r.layout.adopt(&named, opts.beyond_reference)?;
            match &opts.offsets {
                None => adopted,
                Some(o) if o.offsets.len() == items.len() => (**o).clone(),
                Some(o) => {
                    return Err(CompileError::Range(format!(
                        "{} offsets given for {} arena buffers",
                        o.offsets.len(),
                        items.len()
                    )))
                }
            }
        }
    };
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
        views,
        pre_norm,
        offsets,
        scratch,
        buffers,
        assignment,
        in_place,
    })
}
