//! `mark-int8` (runs when `--int8` is given, after the `-O` pipeline): records the quantization
//! pass's [`crate::select_int8_layers`] choice on the graph as precision marks, so lowering
//! follows the IR and a later pass cannot shift a selection made of node positions.
//!
//! - Each selected matmul gets `@int8_per_row` (activations quantized with one scale per row) or
//!   `@int8` under [`Int8Marking::per_row`] = false; each selected conv gets `@int8`.
//! - With [`Int8Marking::bf16_attention`], every `Attention` node gets `@bf16` (its two GEMMs take
//!   bf16 inputs with f32 accumulation where the CPU has AVX512-BF16).
//! - Layers named in [`Int8Marking::exclude`] stay f32.
//!
//! Does nothing when [`crate::PassCx::int8`] is `None`. Log rule: `int8` (one entry per marked
//! node) and `bf16-attention`.

use crate::quantize::{select_int8_layers, Int8Kind, Int8Options};
use crate::{PassCx, PassError};
use infc_ir::{Graph, Op, Precision};

/// What `mark-int8` marks (`--int8` and its options).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Int8Marking {
    /// Node names kept in f32 (`--int8-exclude`, and the layers over `--int8-budget`).
    pub exclude: Vec<String>,
    /// Quantize matmul activations per row (else per tensor). Convs are always per tensor.
    pub per_row: bool,
    /// Mark attention `@bf16`.
    pub bf16_attention: bool,
}

impl Int8Marking {
    /// The mark a selected layer of `kind` gets.
    pub fn precision(&self, kind: Int8Kind) -> Precision {
        match kind {
            Int8Kind::MatMul if self.per_row => Precision::Int8PerRow,
            Int8Kind::MatMul | Int8Kind::Conv => Precision::Int8,
        }
    }
}

/// Mark the layers [`select_int8_layers`] picks (see the module docs).
pub fn mark_int8(g: &mut Graph, cx: &mut PassCx) -> Result<bool, PassError> {
    let Some(m) = cx.int8.clone() else {
        return Ok(false);
    };
    let sel = select_int8_layers(
        g,
        &Int8Options {
            exclude: m.exclude.clone(),
        },
    );
    let mut changed = false;
    for layer in &sel.quantize {
        let precision = m.precision(layer.kind);
        let node = &mut g.nodes[layer.node];
        if node.precision != precision {
            node.precision = precision;
            changed = true;
            cx.log.record("int8", vec![node.name.clone()]);
        }
    }
    if m.bf16_attention {
        for node in &mut g.nodes {
            if matches!(node.op, Op::Attention { .. }) && node.precision != Precision::Bf16 {
                node.precision = Precision::Bf16;
                changed = true;
                cx.log.record("bf16-attention", vec![node.name.clone()]);
            }
        }
    }
    Ok(changed)
}
