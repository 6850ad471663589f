//! Lowering decisions recorded on nodes: a node's arithmetic [`Precision`] and how it is
//! [`Realize`]d (its own step, computed by its reader, or a view). Passes set them; lowering carries
//! them out and decides nothing itself, so `explain --print-after-all` shows every decision.
//!
//! Text IR prints a mark after the node's inputs: `MatMul(%a, %c0) @int8_per_row : f32[4,8]`,
//! `LayerNorm[…](%x, %g, %b) @in_reader : …`, `Split[…](%qkv, %c1) @view : …`.
//!
//! The legality rules live here, beside the marks, so the pass that sets a mark and the verifier
//! and lowering that trust it apply one definition ([`mark_error`], [`view_split_columns`],
//! [`absorbable_layer_norm`]).

use crate::{DType, Graph, Node, NodeIndex, Op, SecondaryMap, Value};

/// How a node's arithmetic is carried out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Precision {
    /// f32 (or the node's own integer dtype).
    #[default]
    F32,
    /// Dynamic INT8 (MatMul, Gemm, FusedMatMul with a constant 2-D B; Conv, FusedConv, NchwcConv
    /// with constant weights): weights s8 per output channel at compile time, activations
    /// quantized at run time with one scale per tensor.
    Int8,
    /// As [`Precision::Int8`], activations quantized with one scale per row (matmuls only).
    Int8PerRow,
    /// Attention whose two GEMMs take bf16 inputs with f32 accumulation where the CPU has
    /// AVX512-BF16 (f32 elsewhere).
    Bf16,
}

impl Precision {
    pub const ALL: [Precision; 4] = [
        Precision::F32,
        Precision::Int8,
        Precision::Int8PerRow,
        Precision::Bf16,
    ];

    /// The text IR spelling (after `@`); `F32` has none.
    pub fn name(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::Int8 => "int8",
            Precision::Int8PerRow => "int8_per_row",
            Precision::Bf16 => "bf16",
        }
    }

    pub fn is_int8(self) -> bool {
        matches!(self, Precision::Int8 | Precision::Int8PerRow)
    }
}

/// How a node becomes code.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Realize {
    /// Its own step(s).
    #[default]
    Step,
    /// No step and no buffer: a LayerNorm over the last axis that its only reader, an
    /// [`Precision::Int8PerRow`] matmul reading it as A, normalises row by row while quantizing.
    InReader,
    /// No step and no copy: a Split along the last axis whose outputs are read only as q, k or v of
    /// Attention nodes; each output is a column view of the input, read with the input's row
    /// stride.
    View,
}

impl Realize {
    pub const ALL: [Realize; 3] = [Realize::Step, Realize::InReader, Realize::View];

    /// The text IR spelling (after `@`); `Step` has none.
    pub fn name(self) -> &'static str {
        match self {
            Realize::Step => "step",
            Realize::InReader => "in_reader",
            Realize::View => "view",
        }
    }
}

/// The marks of `node` as text IR suffixes (`" @int8"`, empty when both are the default).
pub fn marks_text(node: &Node) -> String {
    let mut s = String::new();
    if node.precision != Precision::F32 {
        s.push_str(" @");
        s.push_str(node.precision.name());
    }
    if node.realize != Realize::Step {
        s.push_str(" @");
        s.push_str(node.realize.name());
    }
    s
}

/// `(column offset, row stride)` in elements of each output of `node` as a view of its input:
/// `Some` when `node` is a Split along the last axis (rank ≥ 2) of a computed f32 tensor whose
/// sizes cover the axis and whose every output is read only as q/k/v of Attention nodes (never a
/// graph output).
pub fn view_split_columns(
    g: &Graph,
    node: &Node,
    uses: &SecondaryMap<Value, Vec<NodeIndex>>,
) -> Option<Vec<(u64, u64)>> {
    let Op::Split { axis, splits } = &node.op else {
        return None;
    };
    let x = *node.inputs.first()?;
    let dims = g.ty(x).shape.as_known()?;
    let rank = dims.len() as i64;
    let last = *axis == rank - 1 || *axis == -1;
    if !last || rank < 2 || g.ty(x).dtype != DType::F32 || g.const_of(x).is_some() {
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

/// Whether `op` is a matmul that [`Precision::Int8`] / [`Precision::Int8PerRow`] may mark.
pub fn is_int8_matmul(op: &Op) -> bool {
    matches!(op, Op::MatMul | Op::Gemm { .. } | Op::FusedMatMul { .. })
}

/// Whether `op` is a conv that [`Precision::Int8`] may mark.
pub fn is_int8_conv(op: &Op) -> bool {
    matches!(
        op,
        Op::Conv(_) | Op::FusedConv { .. } | Op::NchwcConv { .. }
    )
}

/// The node that may compute LayerNorm node `ln` while quantizing its A ([`Realize::InReader`]):
/// `ln` is a LayerNorm over the last axis of f32 inputs with one output, not a graph output, read
/// only once, as input 0 of a [`Precision::Int8PerRow`] matmul.
pub fn absorbable_layer_norm(
    g: &Graph,
    ln: NodeIndex,
    uses: &SecondaryMap<Value, Vec<NodeIndex>>,
) -> Option<NodeIndex> {
    let node = g.nodes.get(ln)?;
    let Op::LayerNorm { axis, .. } = node.op else {
        return None;
    };
    let [a] = node.outputs[..] else {
        return None;
    };
    let rank = g.ty(a).shape.as_known()?.len() as i64;
    let last_axis = rank >= 1 && (axis == -1 || axis == rank - 1);
    let f32_in = node.inputs.iter().all(|&v| g.ty(v).dtype == DType::F32);
    let &[j] = uses.get(a).map(Vec::as_slice)? else {
        return None;
    };
    let reader = &g.nodes[j];
    let read_once_as_a =
        reader.inputs.first() == Some(&a) && reader.inputs.iter().filter(|&&v| v == a).count() == 1;
    let int8_row = reader.precision == Precision::Int8PerRow && is_int8_matmul(&reader.op);
    (last_axis && f32_in && read_once_as_a && int8_row && !g.outputs.contains(&a)).then_some(j)
}

/// Why node `i`'s marks are not allowed, or `None` when they are.
pub fn mark_error(
    g: &Graph,
    i: NodeIndex,
    uses: &SecondaryMap<Value, Vec<NodeIndex>>,
) -> Option<String> {
    let node = &g.nodes[i];
    let op = node.op.name();
    let precision_ok = match node.precision {
        Precision::F32 => true,
        Precision::Int8 => is_int8_matmul(&node.op) || is_int8_conv(&node.op),
        Precision::Int8PerRow => is_int8_matmul(&node.op),
        Precision::Bf16 => matches!(node.op, Op::Attention { .. }),
    };
    if !precision_ok {
        return Some(format!("@{} does not apply to {op}", node.precision.name()));
    }
    match node.realize {
        Realize::Step => None,
        Realize::InReader => absorbable_layer_norm(g, i, uses).is_none().then(|| {
            format!(
                "@in_reader needs a LayerNorm over the last axis read only as A of one @int8_per_row matmul ({op})"
            )
        }),
        Realize::View => view_split_columns(g, node, uses).is_none().then(|| {
            format!("@view needs a last-axis Split read only as attention q/k/v ({op})")
        }),
    }
}
