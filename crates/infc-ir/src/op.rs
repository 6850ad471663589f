//! The closed set of IR operations. Attributes are typed fields (ONNX's constant "attribute inputs"
//! such as Unsqueeze axes are lifted into fields at import). `Op` derives `Eq`/`Hash` so CSE can key
//! on `(op, inputs)`; float attributes use [`Float`], compared bit for bit.

use crate::DType;
use std::fmt;

/// An `f32` attribute compared and hashed by its bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Float(u32);

impl Float {
    pub fn new(v: f32) -> Float {
        Float(v.to_bits())
    }
    pub fn get(self) -> f32 {
        f32::from_bits(self.0)
    }
}

/// How a fused [`Op::Attention`] fills causally hidden scores and treats rows without a finite
/// softmax, so that it computes exactly what the graph it replaced computed. The default is
/// HuggingFace's combined mask `Where(And(tril, pad), 0, f32::MIN)` without a NaN guard.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AttentionMasking {
    /// The score of a causally hidden key: the fill of the mask that hid it (`f32::MIN`, `−∞`, …).
    pub hidden_fill: Float,
    /// The additive mask is added to hidden keys too: the graph applied the causal `Where` before
    /// the mask's `Add` (`Add(Where(tril, s, fill), mask)`).
    pub mask_hidden: bool,
    /// A row whose softmax is NaN (every score `−∞`, or a NaN or `+∞` score) gives zero
    /// probabilities: SDPA exports' `Where(IsNaN(p), 0, p)` after the softmax.
    pub zero_nan_rows: bool,
}

impl Default for AttentionMasking {
    fn default() -> Self {
        AttentionMasking {
            hidden_fill: Float::new(f32::MIN),
            mask_hidden: false,
            zero_nan_rows: false,
        }
    }
}

impl From<f32> for Float {
    fn from(v: f32) -> Float {
        Float::new(v)
    }
}

impl fmt::Display for Float {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `{:?}` prints the shortest representation that round-trips exactly.
        write!(f, "{:?}", self.get())
    }
}

/// An enum of op kinds whose text-IR name is the variant's name (the ONNX op type where one
/// exists): the enum, `ALL`, `name()` and `from_name()` follow from one list, so a new op kind is
/// one line here.
macro_rules! named_ops {
    ($(#[$meta:meta])* $name:ident { $( $(#[$vmeta:meta])* $variant:ident ),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )*
        }

        impl $name {
            /// Every kind, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            /// Name in text IR (and the ONNX op type where one exists).
            pub fn name(self) -> &'static str {
                match self {
                    $( $name::$variant => stringify!($variant), )*
                }
            }

            /// The kind named `name` (see [`Self::name`]).
            pub fn from_name(name: &str) -> Option<$name> {
                $name::ALL.iter().copied().find(|k| k.name() == name)
            }
        }
    };
}

named_ops! {
    /// One-input elementwise operations.
    UnaryOp {
        Relu,
        Sqrt,
        Erf,
        Tanh,
        Sigmoid,
        Exp,
        Log,
        Neg,
        Abs,
        Reciprocal,
        Floor,
        Ceil,
        Sin,
        Cos,
        /// `x != x`, output bool.
        IsNaN,
        /// Logical not on bool.
        Not,
    }
}

named_ops! {
    /// Two-input elementwise operations with numpy broadcasting.
    BinaryOp {
        Add,
        Sub,
        Mul,
        Div,
        Pow,
        Max,
        Min,
        /// Comparisons produce bool.
        Equal,
        Less,
        LessOrEqual,
        Greater,
        GreaterOrEqual,
        And,
        Or,
        Xor,
        /// ONNX `Mod` with `fmod=0`: integer remainder with the divisor's sign (Python's `%`).
        Mod,
        /// ONNX `Mod` with `fmod=1`: C `fmod`, the remainder with the dividend's sign.
        FMod,
    }
}

impl BinaryOp {
    /// True for ops whose output is bool whatever the input type.
    pub fn is_comparison(self) -> bool {
        use BinaryOp::*;
        matches!(
            self,
            Equal | Less | LessOrEqual | Greater | GreaterOrEqual | And | Or | Xor
        )
    }
}

/// Reductions over a set of axes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ReduceOp {
    Mean,
    Sum,
    Max,
    Min,
    Prod,
}

/// One stage of a fused op's epilogue, applied in order to the accumulator before it is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Epilogue {
    /// `+ bias`, a per-output-channel vector (f32\[C_out\] for conv, f32\[N\] for matmul). Consumes the next extra input.
    Bias,
    /// `+ r`, a tensor of exactly the output's shape (a residual connection). Consumes the next extra input.
    Residual,
    Relu,
    /// `0.5·x·(1 + erf(x/√2))`
    GeluErf,
    /// `0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))`
    GeluTanh,
}

impl Epilogue {
    pub fn name(self) -> &'static str {
        match self {
            Epilogue::Bias => "bias",
            Epilogue::Residual => "residual",
            Epilogue::Relu => "relu",
            Epilogue::GeluErf => "gelu_erf",
            Epilogue::GeluTanh => "gelu_tanh",
        }
    }

    pub fn from_name(s: &str) -> Option<Epilogue> {
        [
            Epilogue::Bias,
            Epilogue::Residual,
            Epilogue::Relu,
            Epilogue::GeluErf,
            Epilogue::GeluTanh,
        ]
        .into_iter()
        .find(|e| e.name() == s)
    }

    /// True for stages that read an extra input.
    pub fn takes_input(self) -> bool {
        matches!(self, Epilogue::Bias | Epilogue::Residual)
    }
}

/// Conv attributes, fully resolved at import (no `auto_pad`): `pads` is `[begin.., end..]` per spatial axis.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ConvAttrs {
    pub kernel: Vec<usize>,
    pub strides: Vec<usize>,
    pub pads: Vec<usize>,
    pub dilations: Vec<usize>,
    pub group: usize,
}

/// Pooling attributes, resolved at import like [`ConvAttrs`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PoolAttrs {
    pub kernel: Vec<usize>,
    pub strides: Vec<usize>,
    pub pads: Vec<usize>,
    pub dilations: Vec<usize>,
    pub ceil_mode: bool,
}

/// An IR operation. Input and output arity is fixed per variant (see [`Op::arity`]).
///
/// Axes fields keep ONNX's convention (may be negative, counted from the end) so the printed IR
/// reads like the source model; consumers normalise with the input rank.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    // ---- elementwise ----
    /// `(x) -> y`
    Unary(UnaryOp),
    /// `(a, b) -> y`, broadcasting.
    Binary(BinaryOp),
    /// `(cond, a, b) -> y`, broadcasting.
    Where,
    /// `(x) -> y` converting the element type.
    Cast { to: DType },
    /// `(x, min?, max?)`: min/max are always present after import (±inf when absent in ONNX).
    Clip,
    /// `(x) -> x`.
    Identity,
    /// Inference-mode dropout: `(x) -> x`. Kept distinct from Identity so the IR mirrors the model.
    Dropout,

    // ---- neural network ----
    /// `(x, w, bias?) -> y`, NCHW.
    Conv(ConvAttrs),
    /// `(x, scale, bias, mean, var) -> y`, inference mode.
    BatchNorm { epsilon: Float },
    /// `(x) -> y`, NCHW.
    MaxPool(PoolAttrs),
    /// `(x) -> y`, NCHW, `count_include_pad` resolved at import.
    AveragePool {
        attrs: PoolAttrs,
        count_include_pad: bool,
    },
    /// `(x) -> y` NCHW → NC11.
    GlobalAveragePool,
    /// `(a, b, c?) -> alpha·op(a)·op(b) + beta·c`, 2-D.
    Gemm {
        alpha: Float,
        beta: Float,
        trans_a: bool,
        trans_b: bool,
    },
    /// `(a, b) -> y`, numpy matmul semantics (batched, broadcasting, 1-D promotion).
    MatMul,
    /// `(x) -> y` along `axis` (opset ≥ 13 semantics).
    Softmax { axis: i64 },
    /// `(x, scale, bias?) -> y`, normalising over dims `axis..`.
    LayerNorm { axis: i64, epsilon: Float },
    /// `(x) -> y`. `axes: None` reduces all axes (unless `noop_with_empty_axes`).
    Reduce {
        op: ReduceOp,
        axes: Option<Vec<i64>>,
        keepdims: bool,
    },

    // ---- shape and data movement ----
    /// `(x, shape: i64[k]) -> y`.
    Reshape { allowzero: bool },
    /// `(x) -> y` 2-D.
    Flatten { axis: i64 },
    /// `(x) -> y`.
    Transpose { perm: Vec<usize> },
    /// `(x0, x1, ...) -> y`.
    Concat { axis: i64 },
    /// `(x) -> (y0, y1, ...)`, one output per entry of `splits`.
    Split { axis: i64, splits: Vec<usize> },
    /// `(x, starts, ends, axes, steps) -> y`; all five inputs present after import.
    Slice,
    /// `(data, indices) -> y`.
    Gather { axis: i64 },
    /// `(data, indices) -> y`.
    GatherND { batch_dims: usize },
    /// `y[i][j]… = data[…][idx[i][j]…][…]` along `axis`: the output has the indices' shape.
    GatherElements { axis: i64 },
    /// `(x) -> y`.
    Unsqueeze { axes: Vec<i64> },
    /// `(x) -> y`; `None` removes every dim of size 1.
    Squeeze { axes: Option<Vec<i64>> },
    /// `(x) -> i64[r]`: the (sliced) shape of x.
    Shape { start: i64, end: Option<i64> },
    /// `(start, limit, delta) -> y`, all scalars.
    Range,
    /// `(x, shape: i64[k]) -> y`, broadcasting x to shape.
    Expand,
    /// `(shape: i64[k]) -> y` filled with `value` (a scalar constant of the output dtype, by its f64 bits).
    ConstantOfShape { dtype: DType, value_bits: u64 },
    /// `(x, k?) -> y`: keep upper (or lower) triangle of the last two dims.
    Trilu { upper: bool },
    /// `(x, axis: int scalar) -> y`: running sums along `axis`; `exclusive` leaves the current
    /// element out of its sum, `reverse` sums from the end.
    CumSum { exclusive: bool, reverse: bool },

    // ---- fused (made by passes, never by import) ----
    /// `(x) -> y`: GELU, erf form, or the tanh approximation when `tanh`.
    Gelu { tanh: bool },
    /// `(x, w, extras…) -> y`: Conv (no bias of its own), then `epilogue` stage by stage; each
    /// `Bias`/`Residual` stage consumes the next extra input, in order.
    FusedConv {
        attrs: ConvAttrs,
        epilogue: Vec<Epilogue>,
    },
    /// `(a, b, extras…) -> y`: MatMul (numpy semantics), then `epilogue` as for `FusedConv`.
    /// `trans_a` / `trans_b`: the operand is stored with its last two axes swapped (rank ≥ 2) and
    /// is read transposed, as if a `Transpose` of those axes preceded the product.
    FusedMatMul {
        epilogue: Vec<Epilogue>,
        trans_a: bool,
        trans_b: bool,
    },
    /// `(x, skip, scale, bias) -> (y, sum)`: `sum = x + skip` (same shape), `y = LayerNorm(sum)` over the
    /// last axis with `scale`/`bias` of that axis' size.
    SkipLayerNorm { epsilon: Float },
    /// `(x, scale) -> y = x / √(mean(x²) + ε) · scale` over the last axis (RMSNorm: Llama, T5);
    /// `scale` is `[C]`.
    RmsNorm { epsilon: Float },
    /// `(q, k, v, mask?) -> y` multi-head attention without materialised head transposes:
    /// q: [B, Sq, H·D], k and v: [B, Sk, H·D], y: [B, Sq, H·D], H = `num_heads`.
    /// Per batch b and head h: `s = scale · q_h·k_hᵀ`; a visible score gets `+ mask` (an additive
    /// f32 tensor broadcastable to [B, H, Sq, Sk]); when `causal`, a hidden score (`j > i + (Sk − Sq)`)
    /// is `masking.hidden_fill` (`+ mask` too when `masking.mask_hidden`); then softmax over the last
    /// axis (a row whose softmax is NaN becomes zeros when `masking.zero_nan_rows`) and `· v_h`;
    /// heads are written back interleaved as [B, Sq, H·D].
    Attention {
        num_heads: usize,
        scale: Float,
        causal: bool,
        masking: AttentionMasking,
    },

    // ---- channel-blocked (NCHWc) layout, made by the -O3 layout pass ----
    /// `(x) -> y` layout conversion. `to_blocked`: x f32[N, channels, H, W] → y f32[N,
    /// ceil(channels/block), H, W, block] with the padding channels zero; otherwise the inverse
    /// (x blocked, y plain with `channels` channels).
    Reorder {
        to_blocked: bool,
        block: usize,
        channels: usize,
    },
    /// `(x, w, extras…) -> y`: `FusedConv` (group 1) writing a blocked y f32[N, ceil(C_out/block),
    /// OH, OW, block]. x is blocked f32[N, ceil(C_in/block), H, W, block], or plain f32[N, C_in, H,
    /// W] (a stem conv reading the image); w keeps the ONNX layout [C_out, C_in, kh, kw]; a `Bias`
    /// extra is f32\[C_out\], a `Residual` extra is blocked like y.
    NchwcConv {
        attrs: ConvAttrs,
        epilogue: Vec<Epilogue>,
        block: usize,
    },
    /// `(x) -> y`: MaxPool on blocked f32[N, CB, H, W, c] → f32[N, CB, OH, OW, c].
    NchwcMaxPool(PoolAttrs),
}

/// How many inputs a variant accepts (`min..=max`) and how many outputs it has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arity {
    pub min_inputs: usize,
    pub max_inputs: usize,
    pub outputs: usize,
}

impl Op {
    /// Name as printed in text IR and in `--op-counts` (ONNX spelling where one exists).
    pub fn name(&self) -> &'static str {
        match self {
            Op::Unary(u) => u.name(),
            Op::Binary(b) => b.name(),
            Op::Where => "Where",
            Op::Cast { .. } => "Cast",
            Op::Clip => "Clip",
            Op::Identity => "Identity",
            Op::Dropout => "Dropout",
            Op::Conv(_) => "Conv",
            Op::BatchNorm { .. } => "BatchNormalization",
            Op::MaxPool(_) => "MaxPool",
            Op::AveragePool { .. } => "AveragePool",
            Op::GlobalAveragePool => "GlobalAveragePool",
            Op::Gemm { .. } => "Gemm",
            Op::MatMul => "MatMul",
            Op::Softmax { .. } => "Softmax",
            Op::LayerNorm { .. } => "LayerNormalization",
            Op::Reduce { op, .. } => match op {
                ReduceOp::Mean => "ReduceMean",
                ReduceOp::Sum => "ReduceSum",
                ReduceOp::Max => "ReduceMax",
                ReduceOp::Min => "ReduceMin",
                ReduceOp::Prod => "ReduceProd",
            },
            Op::Reshape { .. } => "Reshape",
            Op::Flatten { .. } => "Flatten",
            Op::Transpose { .. } => "Transpose",
            Op::Concat { .. } => "Concat",
            Op::Split { .. } => "Split",
            Op::Slice => "Slice",
            Op::Gather { .. } => "Gather",
            Op::GatherND { .. } => "GatherND",
            Op::GatherElements { .. } => "GatherElements",
            Op::Unsqueeze { .. } => "Unsqueeze",
            Op::Squeeze { .. } => "Squeeze",
            Op::Shape { .. } => "Shape",
            Op::Range => "Range",
            Op::Expand => "Expand",
            Op::ConstantOfShape { .. } => "ConstantOfShape",
            Op::Trilu { .. } => "Trilu",
            Op::CumSum { .. } => "CumSum",
            Op::Gelu { .. } => "Gelu",
            Op::FusedConv { .. } => "FusedConv",
            Op::FusedMatMul { .. } => "FusedMatMul",
            Op::SkipLayerNorm { .. } => "SkipLayerNorm",
            Op::RmsNorm { .. } => "RmsNorm",
            Op::Attention { .. } => "Attention",
            Op::Reorder { .. } => "Reorder",
            Op::NchwcConv { .. } => "NchwcConv",
            Op::NchwcMaxPool(_) => "NchwcMaxPool",
        }
    }

    /// Input/output counts accepted by this variant.
    pub fn arity(&self) -> Arity {
        let a = |min_inputs, max_inputs, outputs| Arity {
            min_inputs,
            max_inputs,
            outputs,
        };
        match self {
            Op::Unary(_) | Op::Cast { .. } | Op::Identity | Op::Dropout => a(1, 1, 1),
            Op::Binary(_) => a(2, 2, 1),
            Op::Where => a(3, 3, 1),
            Op::Clip => a(3, 3, 1),
            Op::Conv(_) => a(2, 3, 1),
            Op::BatchNorm { .. } => a(5, 5, 1),
            Op::MaxPool(_) | Op::AveragePool { .. } | Op::GlobalAveragePool => a(1, 1, 1),
            Op::Gemm { .. } => a(2, 3, 1),
            Op::MatMul => a(2, 2, 1),
            Op::Softmax { .. } => a(1, 1, 1),
            Op::LayerNorm { .. } => a(2, 3, 1),
            Op::Reduce { .. } => a(1, 1, 1),
            Op::Reshape { .. } | Op::Expand => a(2, 2, 1),
            Op::Flatten { .. }
            | Op::Transpose { .. }
            | Op::Unsqueeze { .. }
            | Op::Squeeze { .. } => a(1, 1, 1),
            Op::Concat { .. } => a(1, usize::MAX, 1),
            Op::Split { splits, .. } => a(1, 1, splits.len()),
            Op::Slice => a(5, 5, 1),
            Op::Gather { .. } | Op::GatherND { .. } | Op::GatherElements { .. } => a(2, 2, 1),
            Op::Shape { .. } => a(1, 1, 1),
            Op::Range => a(3, 3, 1),
            Op::ConstantOfShape { .. } => a(1, 1, 1),
            Op::Trilu { .. } => a(1, 2, 1),
            Op::CumSum { .. } => a(2, 2, 1),
            Op::Gelu { .. } => a(1, 1, 1),
            Op::Reorder { .. } | Op::NchwcMaxPool(_) => a(1, 1, 1),
            Op::FusedConv { epilogue, .. }
            | Op::FusedMatMul { epilogue, .. }
            | Op::NchwcConv { epilogue, .. } => {
                let n = 2 + epilogue.iter().filter(|e| e.takes_input()).count();
                a(n, n, 1)
            }
            Op::SkipLayerNorm { .. } => a(4, 4, 2),
            Op::RmsNorm { .. } => a(2, 2, 1),
            Op::Attention { .. } => a(3, 4, 1),
        }
    }

    /// True for ops with one input whose output is that input unchanged.
    pub fn is_identity_like(&self) -> bool {
        matches!(self, Op::Identity | Op::Dropout)
    }
}
