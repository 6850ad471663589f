//! Per-op type and shape inference: given a node's op and its input values, derive the output
//! [`TensorType`]s. One file per op family; this module owns the dispatcher, the shared context
//! (`Cx`) and [`infer_graph`], which re-derives every node output type in execution order.
//!
//! Rules shared by every op family:
//! - Constant inputs (`Graph::const_of`) are read when an op's output shape depends on data
//!   (Reshape/Expand shapes, Slice parameters, Range bounds, ConstantOfShape).
//! - Anything that cannot be determined (data-dependent sizes, non-constant shape inputs, arithmetic
//!   on symbols) becomes a *fresh* symbolic dim named after the node, `"<node>:d<i>"`. Inference never fails merely because something is unknown.
//! - It fails with [`IrError::Shape`] (naming the node and the reason) only on real contradictions:
//!   incompatible broadcasts, element-count mismatches, axes out of range, dtype mismatches.
//! - Broadcasting and dim unification with symbols: see [`broadcast_dim`] and [`unify_dim`].

mod broadcast;
mod elementwise;
mod fused;
mod gather;
mod generate;
mod nchwc;
mod nn;
mod reduce;
mod shape_ops;
mod values;

pub use broadcast::{broadcast_dim, broadcast_shapes, unify_dim};
pub use values::{SymInt, ValueFacts, MAX_FACT_ELEMS};

use crate::{DType, Dim, Graph, IrError, Op, Tensor, TensorType, ValueId};

/// Output types of `op` applied to `inputs` in `g`. Errors name the op (use [`infer_node_named`] to
/// name the node and to get fresh symbols named after it).
pub fn infer_node(g: &Graph, op: &Op, inputs: &[ValueId]) -> Result<Vec<TensorType>, IrError> {
    infer_node_named(g, op.name(), op, inputs)
}

/// Like [`infer_node`]; `node` names the node in errors and in fresh symbolic dims.
pub fn infer_node_named(
    g: &Graph,
    node: &str,
    op: &Op,
    inputs: &[ValueId],
) -> Result<Vec<TensorType>, IrError> {
    Ok(infer_node_facts(g, &ValueFacts::new(), node, op, inputs)?.0)
}

/// Full form: uses and produces element facts of small integer tensors ([`ValueFacts`]), so
/// shape arithmetic (`Shape → Gather → Concat → Reshape`) yields real dims. Returns the output types
/// and, when derivable, the elements of output 0.
pub fn infer_node_facts(
    g: &Graph,
    facts: &ValueFacts,
    node: &str,
    op: &Op,
    inputs: &[ValueId],
) -> Result<(Vec<TensorType>, Option<Vec<SymInt>>), IrError> {
    let cx = Cx {
        g,
        facts,
        node,
        op,
        inputs,
    };
    cx.check_arity()?;
    let types = infer_types(&cx)?;
    let elems = if types.len() == 1 {
        values::eval(&cx, &types[0])?
    } else {
        None
    };
    Ok((types, elems))
}

fn infer_types(cx: &Cx) -> Result<Vec<TensorType>, IrError> {
    match cx.op {
        Op::Unary(u) => elementwise::unary(cx, *u),
        Op::Binary(b) => elementwise::binary(cx, *b),
        Op::Where => elementwise::where_(cx),
        Op::Cast { to } => elementwise::cast(cx, *to),
        Op::Clip => elementwise::clip(cx),
        Op::Identity
        | Op::Dropout
        | Op::BatchNorm { .. }
        | Op::Trilu { .. }
        | Op::CumSum { .. } => elementwise::same(cx),
        Op::Conv(a) => nn::conv(cx, a),
        Op::MaxPool(a) => nn::pool(cx, a),
        Op::AveragePool { attrs, .. } => nn::pool(cx, attrs),
        Op::GlobalAveragePool => nn::global_pool(cx),
        Op::Gemm {
            trans_a, trans_b, ..
        } => nn::gemm(cx, *trans_a, *trans_b),
        Op::MatMul => nn::matmul(cx),
        Op::Softmax { axis } | Op::LayerNorm { axis, .. } => nn::along_axis(cx, *axis),
        Op::Reduce { axes, keepdims, .. } => reduce::reduce(cx, axes.as_deref(), *keepdims),
        Op::Reshape { allowzero } => shape_ops::reshape(cx, *allowzero),
        Op::Flatten { axis } => shape_ops::flatten(cx, *axis),
        Op::Transpose { perm } => shape_ops::transpose(cx, perm),
        Op::Concat { axis } => shape_ops::concat(cx, *axis),
        Op::Split { axis, splits } => shape_ops::split(cx, *axis, splits),
        Op::Slice => shape_ops::slice(cx),
        Op::Unsqueeze { axes } => shape_ops::unsqueeze(cx, axes),
        Op::Squeeze { axes } => shape_ops::squeeze(cx, axes.as_deref()),
        Op::Expand => shape_ops::expand(cx),
        Op::Gather { axis } => gather::gather(cx, *axis),
        Op::GatherND { batch_dims } => gather::gather_nd(cx, *batch_dims),
        Op::GatherElements { axis } => gather::gather_elements(cx, *axis),
        Op::Shape { start, end } => generate::shape(cx, *start, *end),
        Op::Range => generate::range(cx),
        Op::ConstantOfShape { dtype, .. } => generate::constant_of_shape(cx, *dtype),
        Op::Gelu { .. } => fused::gelu(cx),
        Op::FusedConv { attrs, epilogue } => fused::fused_conv(cx, attrs, epilogue),
        Op::FusedMatMul {
            epilogue,
            trans_a,
            trans_b,
        } => fused::fused_matmul(cx, epilogue, *trans_a, *trans_b),
        Op::SkipLayerNorm { .. } => fused::skip_layer_norm(cx),
        Op::RmsNorm { .. } => nn::along_axis(cx, -1),
        Op::Attention { num_heads, .. } => fused::attention(cx, *num_heads),
        Op::Reorder {
            to_blocked,
            block,
            channels,
        } => nchwc::reorder(cx, *to_blocked, *block, *channels),
        Op::NchwcConv {
            attrs,
            epilogue,
            block,
        } => nchwc::conv(cx, attrs, epilogue, *block),
        Op::NchwcMaxPool(a) => nchwc::max_pool(cx, a),
    }
}

/// Re-derive the type of every node output, in node order. Graph inputs and constants keep their
/// types. Errors on the first contradiction, naming the node.
pub fn infer_graph(g: &mut Graph) -> Result<(), IrError> {
    let mut facts = ValueFacts::new();
    for i in 0..g.nodes.len() {
        let (types, elems) = {
            let n = &g.nodes[i];
            infer_node_facts(g, &facts, &n.name, &n.op, &n.inputs)?
        };
        if let (Some(e), Some(&o)) = (elems, g.nodes[i].outputs.first()) {
            facts.insert(o, e);
        }
        let n = &g.nodes[i];
        if types.len() != n.outputs.len() {
            return Err(IrError::Shape(format!(
                "node '{}' ({}): has {} outputs, its op defines {}",
                n.name,
                n.op.name(),
                n.outputs.len(),
                types.len()
            )));
        }
        let outputs = n.outputs.clone();
        for (o, t) in outputs.into_iter().zip(types) {
            g.values[o].ty = t;
        }
    }
    Ok(())
}

/// What an op family's inference function sees: the graph, the node's name, its op and inputs.
pub(crate) struct Cx<'a> {
    pub g: &'a Graph,
    pub facts: &'a ValueFacts,
    pub node: &'a str,
    pub op: &'a Op,
    pub inputs: &'a [ValueId],
}

impl Cx<'_> {
    fn check_arity(&self) -> Result<(), IrError> {
        let a = self.op.arity();
        let n = self.inputs.len();
        if n < a.min_inputs || n > a.max_inputs {
            let want = if a.min_inputs == a.max_inputs {
                a.min_inputs.to_string()
            } else if a.max_inputs == usize::MAX {
                format!("at least {}", a.min_inputs)
            } else {
                format!("{}..={}", a.min_inputs, a.max_inputs)
            };
            return Err(self.err(format!("takes {want} inputs, got {n}")));
        }
        Ok(())
    }

    /// A shape-inference error naming this node and op.
    pub fn err(&self, msg: impl std::fmt::Display) -> IrError {
        IrError::Shape(format!("node '{}' ({}): {msg}", self.node, self.op.name()))
    }

    /// Type of input `i` (arity was checked, so `i` below `min_inputs` is always present).
    pub fn ty(&self, i: usize) -> &TensorType {
        self.g.ty(self.inputs[i])
    }

    pub fn has_input(&self, i: usize) -> bool {
        i < self.inputs.len()
    }

    /// Constant data of input `i`, if it is a constant whose bytes are available.
    pub fn konst(&self, i: usize) -> Option<&Tensor> {
        self.inputs
            .get(i)
            .and_then(|&v| self.g.const_of(v))
            .filter(|t| !t.is_opaque())
    }

    /// Constant integer elements of input `i` (None when not constant). Errors on float data.
    pub fn const_ints(&self, i: usize) -> Result<Option<Vec<i64>>, IrError> {
        match self.konst(i) {
            None => Ok(None),
            Some(t) => t
                .to_i64_vec()
                .map(Some)
                .map_err(|e| self.err(format!("input {i}: {e}"))),
        }
    }

    /// Constant elements of input `i` as f64 (None when not constant).
    pub fn const_f64(&self, i: usize) -> Result<Option<Vec<f64>>, IrError> {
        match self.konst(i) {
            None => Ok(None),
            Some(t) => t
                .to_f64_vec()
                .map(Some)
                .map_err(|e| self.err(format!("input {i}: {e}"))),
        }
    }

    /// Fresh symbolic dim for position `i` of output 0.
    pub fn fresh(&self, i: usize) -> Dim {
        Dim::sym(&format!("{}:d{i}", self.node))
    }

    /// Normalise an ONNX axis (`-rank..rank`) to `0..rank`.
    pub fn axis(&self, axis: i64, rank: usize) -> Result<usize, IrError> {
        normalize_axis(axis, rank)
            .ok_or_else(|| self.err(format!("axis {axis} out of range for rank {rank}")))
    }

    /// Require input `i` to have dtype `want`.
    pub fn expect_dtype(&self, i: usize, want: DType) -> Result<(), IrError> {
        let got = self.ty(i).dtype;
        if got != want {
            return Err(self.err(format!("input {i} must be {want}, got {got}")));
        }
        Ok(())
    }

    /// Require inputs `i` and `j` to share a dtype; returns it.
    pub fn same_dtype(&self, i: usize, j: usize) -> Result<DType, IrError> {
        let (a, b) = (self.ty(i).dtype, self.ty(j).dtype);
        if a != b {
            return Err(self.err(format!("inputs {i} and {j} differ in dtype ({a} vs {b})")));
        }
        Ok(a)
    }

    /// Require input `i` to be an integer tensor.
    pub fn expect_int(&self, i: usize) -> Result<(), IrError> {
        let d = self.ty(i).dtype;
        if !d.is_integer() {
            return Err(self.err(format!("input {i} must be an integer tensor, got {d}")));
        }
        Ok(())
    }

    /// Require input `i` to have rank `r`.
    pub fn expect_rank(&self, i: usize, r: usize) -> Result<(), IrError> {
        let got = self.ty(i).rank();
        if got != r {
            return Err(self.err(format!("input {i} must have rank {r}, got {}", self.ty(i))));
        }
        Ok(())
    }

    /// Length of a 1-D "shape-like" input (Reshape/Expand shape, ConstantOfShape): must be known.
    pub fn shape_input_len(&self, i: usize) -> Result<usize, IrError> {
        let t = self.ty(i);
        if t.rank() != 1 {
            return Err(self.err(format!("shape input {i} must be 1-D, got {t}")));
        }
        t.shape.0[0].known().ok_or_else(|| {
            self.err(format!(
                "output rank depends on the length of input {i} ({t}), which is not known"
            ))
        })
    }
}

/// Normalise an ONNX axis (`-rank..rank`) to `0..rank`.
pub fn normalize_axis(axis: i64, rank: usize) -> Option<usize> {
    let r = rank as i64;
    let a = if axis < 0 { axis + r } else { axis };
    (0..r).contains(&a).then_some(a as usize)
}

/// Product of dims: known when all are known; the dim itself when all but one are known 1s; else None.
pub(crate) fn dim_product(dims: &[Dim]) -> Option<Dim> {
    let mut known = 1usize;
    let mut sym: Option<&Dim> = None;
    for d in dims {
        match d {
            Dim::Known(n) => known = known.checked_mul(*n)?,
            Dim::Sym(_) => {
                if sym.is_some() {
                    return None;
                }
                sym = Some(d);
            }
        }
    }
    match sym {
        None => Some(Dim::Known(known)),
        Some(s) if known == 1 => Some(s.clone()),
        Some(_) => None,
    }
}

#[cfg(test)]
pub(crate) mod test_util {
    //! Small helpers to build one-node graphs in the per-family tests.
    use crate::{DType, Dim, Graph, Op, Tensor, TensorType, ValueId};

    /// Parse `"f32[batch,3,224,224]"`-like strings into a type (numbers known, names symbolic).
    pub fn ty(s: &str) -> TensorType {
        let (dt, rest) = s.split_once('[').expect("type has [");
        let dims = rest.trim_end_matches(']');
        let dims: Vec<Dim> = if dims.is_empty() {
            vec![]
        } else {
            dims.split(',')
                .map(|d| {
                    d.trim()
                        .parse::<usize>()
                        .map(Dim::Known)
                        .unwrap_or_else(|_| Dim::sym(d.trim()))
                })
                .collect()
        };
        TensorType::new(DType::from_name(dt).expect("dtype name"), dims)
    }

    pub struct Builder {
        pub g: Graph,
        pub ins: Vec<ValueId>,
    }

    impl Builder {
        pub fn new() -> Builder {
            Builder {
                g: Graph::new("t"),
                ins: vec![],
            }
        }
        pub fn input(mut self, t: &str) -> Builder {
            let n = format!("x{}", self.ins.len());
            let v = self.g.add_input(n, ty(t));
            self.ins.push(v);
            self
        }
        pub fn ints(mut self, vals: &[i64]) -> Builder {
            let n = format!("c{}", self.ins.len());
            let v = self.g.add_const(
                n,
                Tensor::from_vec(vec![vals.len()], vals.to_vec()).unwrap(),
            );
            self.ins.push(v);
            self
        }
        pub fn scalar_i64(mut self, v: i64) -> Builder {
            let n = format!("c{}", self.ins.len());
            let v = self.g.add_const(n, Tensor::scalar(v));
            self.ins.push(v);
            self
        }
        pub fn scalar_f32(mut self, v: f32) -> Builder {
            let n = format!("c{}", self.ins.len());
            let v = self.g.add_const(n, Tensor::scalar(v));
            self.ins.push(v);
            self
        }
        /// Infer `op` over the inputs; types rendered as strings; errors rendered as their message.
        pub fn run(&self, op: Op) -> Result<Vec<String>, String> {
            super::infer_node_named(&self.g, "n", &op, &self.ins)
                .map(|ts| ts.iter().map(|t| t.to_string()).collect())
                .map_err(|e| e.to_string())
        }
        /// Single-output convenience.
        pub fn one(&self, op: Op) -> String {
            match self.run(op) {
                Ok(v) => v.join(" "),
                Err(e) => format!("error: {e}"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_util::*;
    use crate::{BinaryOp, Op, UnaryOp};

    #[test]
    fn infer_graph_rederives_types_in_order() {
        let mut b = Builder::new().input("f32[batch,4]");
        let x = b.ins[0];
        let y = b.g.add_value("y", ty("f32[1]"));
        let z = b.g.add_value("z", ty("f32[1]"));
        b.g.push_node("relu", Op::Unary(UnaryOp::Relu), vec![x], vec![y]);
        b.g.push_node("add", Op::Binary(BinaryOp::Add), vec![y, x], vec![z]);
        super::infer_graph(&mut b.g).unwrap();
        assert_eq!(b.g.ty(z).to_string(), "f32[batch,4]");
    }

    #[test]
    fn arity_is_checked() {
        let b = Builder::new().input("f32[2]");
        assert_eq!(
            b.one(Op::MatMul),
            "error: shape inference: node 'n' (MatMul): takes 2 inputs, got 1"
        );
    }

    #[test]
    fn output_count_mismatch_is_an_error() {
        let mut b = Builder::new().input("f32[2]");
        let x = b.ins[0];
        let y = b.g.add_value("y", ty("f32[2]"));
        let z = b.g.add_value("z", ty("f32[2]"));
        b.g.push_node("r", Op::Unary(UnaryOp::Relu), vec![x], vec![y, z]);
        let e = super::infer_graph(&mut b.g).unwrap_err().to_string();
        assert_eq!(
            e,
            "shape inference: node 'r' (Relu): has 2 outputs, its op defines 1"
        );
    }
}
