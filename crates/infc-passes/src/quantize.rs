//! The INT8 selection (`--int8`): decides which weight layers run as dynamically quantized INT8
//! steps and returns an [`Int8Selection`]: the node positions to quantize and, for every candidate
//! kept in f32, the reason. Pass `mark-int8` ([`crate::mark_int8`]) records it on the graph as
//! precision marks at once (quantized weights are produced by lowering, which packs them for the
//! integer kernels).
//!
//! Candidates: `MatMul`, `FusedMatMul` and `Gemm` (alpha = beta = 1, no transA) whose right-hand
//! side is a constant f32 matrix (2-D, so attention's activation×activation products stay f32),
//! and `Conv`/`FusedConv` (1-D or 2-D) with constant f32 weights, and the -O3 layout pass's
//! `NchwcConv` (block 16, group 1, constant weights and bias: lowered to the INT8 blocked conv,
//! so an `-O3 --int8` network stays in NCHW16c). A layer is kept in f32 when it
//! is named in [`Int8Options::exclude`], when its reduction is longer than the integer kernels
//! accept, or when it is too small for quantization to pay off. Preconditions: shapes bound (run
//! after the `-O` pipeline, on the graph that is compiled). Node positions refer to that graph; the
//! marks, not the positions, are what survives later passes.

use infc_ir::{DType, Graph, Node, Op, ValueId};

/// Longest reduction the integer kernels accept (`infc_kernels::int8::K_MAX`).
pub const INT8_K_MAX: usize = 1 << 16;

/// Layers with fewer multiply-adds than this stay f32 (quantizing the activations costs more
/// than the integer product saves).
pub const INT8_MIN_MACS: u64 = 4096;

/// Knobs of the selection.
#[derive(Clone, Debug, Default)]
pub struct Int8Options {
    /// Node names to keep in f32 (`--int8-exclude`).
    pub exclude: Vec<String>,
}

/// The kind of a quantizable layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Int8Kind {
    MatMul,
    Conv,
}

/// A layer considered for INT8.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Int8Layer {
    /// Position in `Graph::nodes`.
    pub node: usize,
    pub name: String,
    pub kind: Int8Kind,
    /// Multiply-adds of one run.
    pub macs: u64,
}

/// Result of [`select_int8_layers`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Int8Selection {
    /// Layers to quantize, in execution order.
    pub quantize: Vec<Int8Layer>,
    /// Candidates kept in f32, with the reason.
    pub kept: Vec<(Int8Layer, String)>,
}

impl Int8Selection {
    /// Node positions to quantize.
    pub fn nodes(&self) -> std::collections::BTreeSet<usize> {
        self.quantize.iter().map(|l| l.node).collect()
    }

    /// Move the layers named in `names` to `kept` with `reason`.
    pub fn keep_f32(&mut self, names: &[String], reason: &str) {
        let (out, stay): (Vec<_>, Vec<_>) = std::mem::take(&mut self.quantize)
            .into_iter()
            .partition(|l| names.contains(&l.name));
        self.quantize = stay;
        self.kept
            .extend(out.into_iter().map(|l| (l, reason.to_string())));
    }
}

fn known(g: &Graph, v: ValueId) -> Option<Vec<usize>> {
    g.ty(v).shape.as_known()
}

fn const_f32(g: &Graph, v: ValueId) -> bool {
    g.const_of(v)
        .is_some_and(|t| t.dtype == DType::F32 && !t.is_opaque())
}

/// `(kind, k, macs)` of a candidate node, or why it is not one (`Err(None)`: not a weight layer
/// at all; `Err(Some(reason))`: a weight layer that must stay f32).
fn classify(g: &Graph, node: &Node) -> Result<(Int8Kind, usize, u64), Option<String>> {
    let f32_in = |i: usize| {
        node.inputs
            .get(i)
            .is_some_and(|&v| g.ty(v).dtype == DType::F32)
    };
    match &node.op {
        Op::MatMul | Op::FusedMatMul { .. } | Op::Gemm { .. } => {
            if let Op::Gemm {
                alpha,
                beta,
                trans_a,
                ..
            } = node.op
            {
                if trans_a || alpha.get() != 1.0 || (node.inputs.len() > 2 && beta.get() != 1.0) {
                    return Err(Some("Gemm with transA or alpha/beta ≠ 1".into()));
                }
            }
            if matches!(node.op, Op::FusedMatMul { trans_a: true, .. }) {
                return Err(Some("FusedMatMul reading A transposed".into()));
            }
            let (a, b) = (node.inputs[0], node.inputs[1]);
            if !const_f32(g, b) {
                return Err(None);
            }
            let (Some(sa), Some(sb)) = (known(g, a), known(g, b)) else {
                return Err(Some("shapes not bound".into()));
            };
            if sb.len() != 2 || sa.is_empty() || !f32_in(0) {
                return Err(Some(format!("operands {sa:?} × {sb:?} are not f32 × 2-D")));
            }
            let k = *sa.last().unwrap_or(&0);
            let n = if matches!(
                node.op,
                Op::Gemm { trans_b: true, .. } | Op::FusedMatMul { trans_b: true, .. }
            ) {
                sb[0]
            } else {
                sb[1]
            };
            let m: usize = sa[..sa.len() - 1].iter().product();
            Ok((Int8Kind::MatMul, k, (m * n * k) as u64))
        }
        Op::Conv(attrs) | Op::FusedConv { attrs, .. } => {
            if !const_f32(g, node.inputs[1]) {
                return Err(Some("weights are not a constant f32 tensor".into()));
            }
            let (Some(sx), Some(sw), Some(sy)) = (
                known(g, node.inputs[0]),
                known(g, node.inputs[1]),
                known(g, node.outputs[0]),
            ) else {
                return Err(Some("shapes not bound".into()));
            };
            if !matches!(attrs.kernel.len(), 1 | 2) || sx.len() != sw.len() || !f32_in(0) {
                return Err(Some(format!(
                    "{}-D conv (1-D and 2-D only)",
                    attrs.kernel.len()
                )));
            }
            let k: usize = sw[1..].iter().product();
            let macs = sy.iter().product::<usize>() * k;
            Ok((Int8Kind::Conv, k, macs as u64))
        }
        Op::NchwcConv {
            attrs,
            epilogue,
            block,
        } => classify_nchwc(g, node, attrs, epilogue, *block),
        _ => Err(None),
    }
}

/// Block of the INT8 blocked conv kernel (`infc_kernels::int8::QCONV_BLOCK`).
const INT8_NCHWC_BLOCK: usize = 16;

/// A blocked conv from the -O3 layout pass runs as an INT8 blocked conv when it has block 16,
/// group 1, constant f32 weights and bias, and a plain input of at most 16 channels (the stem)
/// or a blocked one. The reduction is counted with the kernel's channel padding.
fn classify_nchwc(
    g: &Graph,
    node: &Node,
    attrs: &infc_ir::ConvAttrs,
    epilogue: &[infc_ir::Epilogue],
    block: usize,
) -> Result<(Int8Kind, usize, u64), Option<String>> {
    if block != INT8_NCHWC_BLOCK || attrs.group != 1 || attrs.kernel.len() != 2 {
        return Err(Some(format!(
            "blocked conv with block {block}, group {} (int8 needs block 16, group 1, 2-D)",
            attrs.group
        )));
    }
    if !const_f32(g, node.inputs[1]) {
        return Err(Some("weights are not a constant f32 tensor".into()));
    }
    let extras = epilogue.iter().filter(|s| s.takes_input());
    for (st, &v) in extras.zip(&node.inputs[2..]) {
        if *st == infc_ir::Epilogue::Bias && !const_f32(g, v) {
            return Err(Some("bias is not a constant f32 tensor".into()));
        }
    }
    let (Some(sx), Some(sw), Some(sy)) = (
        known(g, node.inputs[0]),
        known(g, node.inputs[1]),
        known(g, node.outputs[0]),
    ) else {
        return Err(Some("shapes not bound".into()));
    };
    let (&[c_out, c_in, kh, kw], &[n, _, oh, ow, _]) = (sw.as_slice(), sy.as_slice()) else {
        return Err(Some(format!(
            "weights {sw:?} / output {sy:?} not 2-D blocked"
        )));
    };
    let lanes = match sx.len() {
        5 => c_in.div_ceil(INT8_NCHWC_BLOCK) * INT8_NCHWC_BLOCK,
        4 if c_in <= INT8_NCHWC_BLOCK => c_in.div_ceil(4) * 4,
        _ => {
            return Err(Some(format!(
                "plain input {sx:?} with more than 16 channels"
            )))
        }
    };
    if node
        .inputs
        .first()
        .is_none_or(|&v| g.ty(v).dtype != DType::F32)
    {
        return Err(Some("input is not f32".into()));
    }
    let macs = (n * c_out * oh * ow * c_in * kh * kw) as u64;
    Ok((Int8Kind::Conv, lanes * kh * kw, macs))
}

/// Choose the layers of `g` to quantize.
pub fn select_int8_layers(g: &Graph, opts: &Int8Options) -> Int8Selection {
    let mut sel = Int8Selection::default();
    for (i, node) in g.nodes.iter().enumerate() {
        let layer = |kind, macs| Int8Layer {
            node: i,
            name: node.name.clone(),
            kind,
            macs,
        };
        match classify(g, node) {
            Err(None) => {}
            Err(Some(reason)) => {
                let kind = if matches!(
                    node.op,
                    Op::Conv(_) | Op::FusedConv { .. } | Op::NchwcConv { .. }
                ) {
                    Int8Kind::Conv
                } else {
                    Int8Kind::MatMul
                };
                sel.kept.push((layer(kind, 0), reason));
            }
            Ok((kind, k, macs)) => {
                let l = layer(kind, macs);
                if opts.exclude.contains(&node.name) {
                    sel.kept.push((l, "excluded by --int8-exclude".into()));
                } else if k > INT8_K_MAX {
                    sel.kept
                        .push((l, format!("reduction {k} exceeds {INT8_K_MAX}")));
                } else if macs < INT8_MIN_MACS {
                    sel.kept
                        .push((l, format!("{macs} multiply-adds: too small to pay off")));
                } else {
                    sel.quantize.push(l);
                }
            }
        }
    }
    sel
}

#[cfg(test)]
mod tests {
    use super::*;
    use infc_ir::{Tensor, TensorType};

    fn graph(wshape: &[usize], exclude: bool) -> (Graph, Int8Selection) {
        let mut g = Graph::new("t");
        let x = g.add_input("x", TensorType::known(DType::F32, &[4, 64]));
        let n: usize = wshape.iter().product();
        let w = g.add_const(
            "w",
            Tensor::from_vec(wshape.to_vec(), vec![0.5f32; n]).unwrap(),
        );
        let y = g.add_value(
            "y",
            TensorType::known(DType::F32, &[4, *wshape.last().unwrap()]),
        );
        g.push_node("mm", Op::MatMul, vec![x, w], vec![y]);
        let z = g.add_value("z", TensorType::known(DType::F32, &[4, 4]));
        g.push_node("act_x_act", Op::MatMul, vec![y, x], vec![z]);
        g.outputs.push(z);
        let opts = Int8Options {
            exclude: if exclude { vec!["mm".into()] } else { vec![] },
        };
        let sel = select_int8_layers(&g, &opts);
        (g, sel)
    }

    #[test]
    fn weight_matmul_is_selected_and_activation_product_is_not() {
        let (_, sel) = graph(&[64, 64], false);
        assert_eq!(sel.quantize.len(), 1);
        assert_eq!(sel.quantize[0].name, "mm");
        assert_eq!(sel.quantize[0].macs, 4 * 64 * 64);
        assert!(sel.kept.is_empty(), "{:?}", sel.kept);
    }

    #[test]
    fn excluded_and_tiny_layers_stay_f32_with_a_reason() {
        let (_, sel) = graph(&[64, 64], true);
        assert!(sel.quantize.is_empty());
        assert_eq!(sel.kept[0].1, "excluded by --int8-exclude");
        let (_, sel) = graph(&[64, 2], false);
        assert!(sel.quantize.is_empty());
        assert!(sel.kept[0].1.contains("too small"), "{:?}", sel.kept);
    }

    #[test]
    fn keep_f32_moves_named_layers() {
        let (_, mut sel) = graph(&[64, 64], false);
        sel.keep_f32(&["mm".to_string()], "error above budget");
        assert!(sel.quantize.is_empty());
        assert_eq!(sel.kept[0].1, "error above budget");
    }
}
