//! Lowering driver: walks the nodes in order and emits plan steps through [`Lowerer`], which
//! resolves every value to a buffer reference (arena offset from the memory plan, or constants
//! blob offset — constants are appended on first use, 64-byte aligned) and collects packed
//! weights. One file per op family does the op-specific work.

pub(crate) mod conv;
mod elementwise;
pub(crate) mod fused;
mod generate;
mod linalg;
mod movement;
mod nchwc;
mod norm;
pub(crate) mod quant;
mod quant_nchwc;
mod scan;
pub(crate) mod strides;

use crate::analysis::Analysis;
use crate::error::CompileError;
use infc_ir::{Graph, Node, Op, Tensor, ValueId};
use infc_plan::{DType, Step, TensorRef};
use std::collections::HashMap;

/// Map an IR dtype to the plan's.
pub(crate) fn plan_dtype(d: infc_ir::DType) -> DType {
    match d {
        infc_ir::DType::F32 => DType::F32,
        infc_ir::DType::F16 => DType::F16,
        infc_ir::DType::I64 => DType::I64,
        infc_ir::DType::I32 => DType::I32,
        infc_ir::DType::I8 => DType::I8,
        infc_ir::DType::U8 => DType::U8,
        infc_ir::DType::Bool => DType::Bool,
    }
}

pub(crate) struct Lowerer<'g> {
    pub g: &'g Graph,
    pub an: &'g Analysis,
    pub steps: Vec<Step>,
    pub names: Vec<String>,
    pub blob: Vec<u8>,
    /// Constants placed so far by buffer root: `(offset, bytes)`.
    pub const_at: HashMap<usize, (u64, u64)>,
    pub node: usize,
    /// Index of the first step of each node (plus one past the end).
    pub node_first_step: Vec<usize>,
    /// The max-shape compile this one must match (a range plan's other shapes).
    reference: Option<std::sync::Arc<crate::Reference>>,
    /// This shape lies beyond the reference's (see `CompileOptions::beyond_reference`).
    beyond_reference: bool,
}

impl<'g> Lowerer<'g> {
    pub fn new(g: &'g Graph, an: &'g Analysis) -> Lowerer<'g> {
        Lowerer {
            g,
            an,
            steps: Vec::new(),
            names: Vec::new(),
            blob: Vec::new(),
            const_at: HashMap::new(),
            node: 0,
            node_first_step: Vec::with_capacity(g.nodes.len() + 1),
            reference: None,
            beyond_reference: false,
        }
    }

    pub fn cur(&self) -> &'g Node {
        &self.g.nodes[self.node]
    }

    pub fn unsupported(&self, msg: impl Into<String>) -> CompileError {
        let n = self.cur();
        CompileError::Unsupported {
            node: n.name.clone(),
            op: n.op.name(),
            msg: msg.into(),
        }
    }

    pub fn malformed(&self, msg: impl Into<String>) -> CompileError {
        let n = self.cur();
        CompileError::Malformed {
            node: n.name.clone(),
            op: n.op.name(),
            msg: msg.into(),
        }
    }

    /// Input `i` of the current node, or a malformed-node error.
    pub fn input(&self, i: usize) -> Result<ValueId, CompileError> {
        self.cur()
            .inputs
            .get(i)
            .copied()
            .ok_or_else(|| self.malformed(format!("missing input {i}")))
    }

    pub fn output(&self, i: usize) -> Result<ValueId, CompileError> {
        self.cur()
            .outputs
            .get(i)
            .copied()
            .ok_or_else(|| self.malformed(format!("missing output {i}")))
    }

    pub fn has_input(&self, i: usize) -> bool {
        i < self.cur().inputs.len()
    }

    /// Known dims of `v` (all shapes were checked to be known before lowering).
    pub fn shape(&self, v: ValueId) -> Vec<u64> {
        self.g
            .ty(v)
            .shape
            .as_known()
            .unwrap_or_default()
            .into_iter()
            .map(|d| d as u64)
            .collect()
    }

    pub fn numel(&self, v: ValueId) -> u64 {
        self.shape(v).iter().product()
    }

    pub fn dtype(&self, v: ValueId) -> DType {
        plan_dtype(self.g.ty(v).dtype)
    }

    pub fn ir_dtype(&self, v: ValueId) -> infc_ir::DType {
        self.g.ty(v).dtype
    }

    /// Append bytes to the constants blob at a 64-byte aligned offset.
    pub fn push_bytes(&mut self, bytes: &[u8]) -> u64 {
        let at = self.blob.len().next_multiple_of(64);
        self.blob.resize(at, 0);
        self.blob.extend_from_slice(bytes);
        at as u64
    }

    pub fn push_f32(&mut self, vals: &[f32]) -> u64 {
        let bytes: Vec<u8> = vals.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.push_bytes(&bytes)
    }

    /// The constant tensor behind `v` (through aliases), if any.
    pub fn const_tensor(&self, v: ValueId) -> Option<&'g Tensor> {
        let r = ValueId::from_index(self.an.find(v.index()));
        self.g.const_of(r)
    }

    /// Constant integer contents of `v` (constants and folded shapes).
    pub fn const_i64(&self, v: ValueId) -> Result<Option<Vec<i64>>, CompileError> {
        let r = self.an.find(v.index());
        if let Some(bytes) = self.an.folded.get(&r) {
            return Ok(Some(
                bytes
                    .chunks_exact(8)
                    .map(|c| i64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
                    .collect(),
            ));
        }
        match self.const_tensor(v) {
            None => Ok(None),
            Some(t) => t
                .to_i64_vec()
                .map(Some)
                .map_err(|e| self.malformed(format!("constant input: {e}"))),
        }
    }

    /// Constant contents of `v` as f32 (any numeric dtype).
    pub fn const_f32(&self, v: ValueId) -> Result<Option<Vec<f32>>, CompileError> {
        match self.const_tensor(v) {
            None => Ok(self
                .const_i64(v)?
                .map(|x| x.into_iter().map(|i| i as f32).collect())),
            Some(t) => {
                let vals = t
                    .to_f64_vec()
                    .map_err(|e| self.malformed(format!("constant input: {e}")))?;
                Ok(Some(vals.into_iter().map(|x| x as f32).collect()))
            }
        }
    }

    /// Where the rows of a `[.., cols]` f32 value start and how many elements apart they are: its
    /// own buffer with stride `cols`, or for a view-split output (see [`Analysis::views`]) its
    /// column range inside the split input.
    pub fn rows_at(&mut self, v: ValueId) -> Result<(TensorRef, u64), CompileError> {
        let t = self.at(v)?;
        match self.an.views.get(&v.index()) {
            Some(&(col, stride)) => Ok((
                TensorRef {
                    offset: t.offset + col * 4,
                    ..t
                },
                stride,
            )),
            None => Ok((t, self.shape(v).last().copied().unwrap_or(0))),
        }
    }

    /// Where `v`'s bytes are: arena buffer, or constants blob (appended on first use).
    pub fn at(&mut self, v: ValueId) -> Result<TensorRef, CompileError> {
        let r = self.an.find(v.index());
        if let Some(&off) = self.an.offsets.get(&r) {
            return Ok(TensorRef::arena(off));
        }
        if let Some(&(off, _)) = self.const_at.get(&r) {
            return Ok(TensorRef::konst(off));
        }
        let rv = ValueId::from_index(r);
        let bytes: Vec<u8> = if let Some(b) = self.an.folded.get(&r) {
            b.clone()
        } else if let Some(t) = self.g.const_of(rv) {
            t.bytes()
                .map_err(|e| CompileError::Constant {
                    name: self.g.values[rv].name.clone(),
                    msg: e.to_string(),
                })?
                .to_vec()
        } else {
            return Err(CompileError::Graph(format!(
                "value '{}' has no buffer (nothing defines it)",
                self.g.values[v].name
            )));
        };
        let off = match self.reference.clone() {
            None => self.push_bytes(&bytes),
            Some(reference) => {
                let name = &self.g.values[rv].name;
                let max = reference.constant(r, name, &bytes, self.beyond_reference)?;
                let off = self.push_bytes(max);
                if Some(&(off, max.len() as u64)) != reference.layout.consts.get(&r) {
                    return Err(CompileError::Range(format!(
                        "constant '{name}' lands at {off}, not where the max shape put it"
                    )));
                }
                off
            }
        };
        self.const_at.insert(r, (off, bytes.len() as u64));
        Ok(TensorRef::konst(off))
    }

    pub fn emit(&mut self, step: Step) {
        self.steps.push(step);
        self.names.push(self.cur().name.clone());
    }
}

/// Lower every node; returns the lowerer holding steps and constants.
pub(crate) fn lower_graph<'g>(
    g: &'g Graph,
    an: &'g Analysis,
    opts: &crate::CompileOptions,
) -> Result<Lowerer<'g>, CompileError> {
    let mut lw = Lowerer::new(g, an);
    lw.reference = opts.reference.clone();
    lw.beyond_reference = opts.beyond_reference;
    for i in 0..g.nodes.len() {
        lw.node = i;
        lw.node_first_step.push(lw.steps.len());
        if an.skip[i] {
            continue;
        }
        let precision = g.nodes[i].precision;
        if precision.is_int8() {
            quant::lower(&mut lw, precision == infc_ir::Precision::Int8PerRow)?;
            continue;
        }
        lower_node(&mut lw)?;
    }
    lw.node_first_step.push(lw.steps.len());
    Ok(lw)
}

fn lower_node(lw: &mut Lowerer<'_>) -> Result<(), CompileError> {
    let op = &lw.cur().op;
    match op {
        Op::Unary(u) => elementwise::unary(lw, *u),
        Op::Binary(b) => elementwise::binary(lw, *b),
        Op::Where => elementwise::where_(lw),
        Op::Cast { to } => elementwise::cast(lw, *to),
        Op::Clip => elementwise::clip(lw),
        Op::Identity
        | Op::Dropout
        | Op::Reshape { .. }
        | Op::Flatten { .. }
        | Op::Squeeze { .. }
        | Op::Unsqueeze { .. } => Err(lw.malformed("alias op reached lowering")),
        Op::Conv(attrs) => conv::conv(lw, attrs),
        Op::BatchNorm { epsilon } => conv::batch_norm(lw, epsilon.get()),
        Op::MaxPool(attrs) => conv::pool(lw, attrs, infc_plan::PoolKind::Max),
        Op::AveragePool {
            attrs,
            count_include_pad,
        } => {
            let kind = if *count_include_pad {
                infc_plan::PoolKind::AvgIncludePad
            } else {
                infc_plan::PoolKind::AvgExcludePad
            };
            conv::pool(lw, attrs, kind)
        }
        Op::GlobalAveragePool => conv::global_avg_pool(lw),
        Op::Gemm {
            alpha,
            beta,
            trans_a,
            trans_b,
        } => linalg::gemm(lw, alpha.get(), beta.get(), *trans_a, *trans_b),
        Op::MatMul => linalg::matmul(lw),
        Op::Softmax { axis } => norm::softmax(lw, *axis),
        Op::LayerNorm { axis, epsilon } => norm::layer_norm(lw, *axis, epsilon.get()),
        Op::Reduce {
            op,
            axes,
            keepdims: _,
        } => norm::reduce(lw, *op, axes.as_deref()),
        Op::Transpose { perm } => movement::transpose(lw, perm),
        Op::Concat { axis } => movement::concat(lw, *axis),
        Op::Split { axis, splits } => movement::split(lw, *axis, splits),
        Op::Slice => movement::slice(lw),
        Op::Gather { axis } => movement::gather(lw, *axis),
        Op::GatherND { batch_dims } => movement::gather_nd(lw, *batch_dims),
        Op::Expand => movement::expand(lw),
        Op::Trilu { upper } => movement::trilu(lw, *upper),
        Op::CumSum { exclusive, reverse } => scan::cumsum(lw, *exclusive, *reverse),
        Op::Shape { .. } => Err(lw.malformed("Shape should have been folded")),
        Op::GatherElements { .. } => Err(lw.unsupported(
            "GatherElements has no kernel: it must fold away, so its inputs must be constants once \
             the shapes are bound (exports use it on position and token-type tables)",
        )),
        Op::Range => generate::range(lw),
        Op::ConstantOfShape { dtype, value_bits } => {
            generate::constant_of_shape(lw, *dtype, *value_bits)
        }
        Op::Gelu { tanh } => fused::gelu(lw, *tanh),
        Op::FusedConv { attrs, epilogue } => fused::fused_conv(lw, attrs, epilogue),
        Op::FusedMatMul {
            epilogue,
            trans_a,
            trans_b,
        } => {
            let trans = linalg::Transposed {
                a: *trans_a,
                b: *trans_b,
            };
            fused::fused_matmul(lw, epilogue, trans)
        }
        Op::SkipLayerNorm { epsilon } => fused::skip_layer_norm(lw, epsilon.get()),
        Op::RmsNorm { epsilon } => norm::rms_norm(lw, epsilon.get()),
        Op::Attention {
            num_heads,
            scale,
            causal,
            masking,
        } => fused::attention(lw, *num_heads, scale.get(), *causal, *masking),
        Op::NchwcConv {
            attrs,
            epilogue,
            block,
        } => nchwc::conv(lw, attrs, epilogue, *block),
        Op::Reorder {
            to_blocked,
            block,
            channels,
        } => nchwc::reorder(lw, *to_blocked, *block, *channels),
        Op::NchwcMaxPool(attrs) => nchwc::max_pool(lw, attrs),
    }
}

/// Normalise an ONNX axis for rank `rank`.
pub(crate) fn norm_axis(lw: &Lowerer<'_>, axis: i64, rank: usize) -> Result<usize, CompileError> {
    let r = rank as i64;
    let a = if axis < 0 { axis + r } else { axis };
    if a < 0 || a >= r.max(1) {
        return Err(lw.malformed(format!("axis {axis} out of range for rank {rank}")));
    }
    Ok(a as usize)
}
