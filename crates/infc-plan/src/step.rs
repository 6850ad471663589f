//! The step list: one enum variant per kernel call, each with fully resolved shapes, element
//! strides and buffer references. Strides are in elements; a stride of 0 broadcasts. Outputs are
//! contiguous unless a step says otherwise (only `Copy` writes a strided destination).

use crate::types::{DType, Region, TensorRef};
use crate::window::Window2d;
use crate::wire::{wire_enum, wire_struct, Reader, Wire, Writer};
use crate::PlanError;
use infc_kernels::int8;

/// One-input elementwise operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum UnaryKind {
    Relu = 0,
    Sqrt = 1,
    Erf = 2,
    Tanh = 3,
    Sigmoid = 4,
    Exp = 5,
    Log = 6,
    Neg = 7,
    Abs = 8,
    Reciprocal = 9,
    Floor = 10,
    Ceil = 11,
    /// Output bool.
    IsNaN = 12,
    /// Bool in, bool out.
    Not = 13,
    GeluErf = 14,
    GeluTanh = 15,
}
wire_enum!(
    UnaryKind,
    "unary op",
    [
        Relu, Sqrt, Erf, Tanh, Sigmoid, Exp, Log, Neg, Abs, Reciprocal, Floor, Ceil, IsNaN, Not,
        GeluErf, GeluTanh
    ]
);

/// Two-input elementwise operations (numpy broadcasting resolved into strides).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum BinaryKind {
    Add = 0,
    Sub = 1,
    Mul = 2,
    Div = 3,
    Pow = 4,
    Max = 5,
    Min = 6,
    Equal = 7,
    Less = 8,
    LessOrEqual = 9,
    Greater = 10,
    GreaterOrEqual = 11,
    And = 12,
    Or = 13,
    Xor = 14,
}
wire_enum!(
    BinaryKind,
    "binary op",
    [
        Add,
        Sub,
        Mul,
        Div,
        Pow,
        Max,
        Min,
        Equal,
        Less,
        LessOrEqual,
        Greater,
        GreaterOrEqual,
        And,
        Or,
        Xor
    ]
);

impl BinaryKind {
    /// Ops whose output is bool.
    pub fn is_comparison(self) -> bool {
        (self as u8) >= BinaryKind::Equal as u8
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ReduceKind {
    Mean = 0,
    Sum = 1,
    Max = 2,
    Min = 3,
    Prod = 4,
}
wire_enum!(ReduceKind, "reduce op", [Mean, Sum, Max, Min, Prod]);

/// Fused activation applied after a GEMM/conv (after the bias).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Activation {
    None = 0,
    Relu = 1,
    GeluErf = 2,
    GeluTanh = 3,
}
wire_enum!(Activation, "activation", [None, Relu, GeluErf, GeluTanh]);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum PoolKind {
    Max = 0,
    /// Average counting padded positions.
    AvgIncludePad = 1,
    /// Average over the in-bounds positions only.
    AvgExcludePad = 2,
}
wire_enum!(PoolKind, "pool kind", [Max, AvgIncludePad, AvgExcludePad]);

/// How a GEMM bias `C` broadcasts over the `m × n` output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum BiasKind {
    /// One value.
    Scalar = 0,
    /// `n` values, one per output column (the usual linear-layer bias).
    Row = 1,
    /// `m` values, one per output row.
    Col = 2,
    /// `m × n` values.
    Full = 3,
}
wire_enum!(BiasKind, "bias kind", [Scalar, Row, Col, Full]);

impl BiasKind {
    pub fn len(self, m: u64, n: u64) -> Option<u64> {
        match self {
            BiasKind::Scalar => Some(1),
            BiasKind::Row => Some(n),
            BiasKind::Col => Some(m),
            BiasKind::Full => m.checked_mul(n),
        }
    }
}

impl Wire for DType {
    const MIN_BYTES: usize = 1;
    fn put(&self, w: &mut Writer) {
        w.u8(*self as u8)
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, PlanError> {
        let c = r.u8()?;
        DType::from_code(c).ok_or_else(|| r.err(format!("unknown dtype code {c}")))
    }
}

impl Wire for Region {
    const MIN_BYTES: usize = 1;
    fn put(&self, w: &mut Writer) {
        w.u8(*self as u8)
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, PlanError> {
        match r.u8()? {
            0 => Ok(Region::Arena),
            1 => Ok(Region::Const),
            c => Err(r.err(format!("unknown region code {c}"))),
        }
    }
}
wire_struct!(TensorRef { region, offset });

/// A weight prepacked at compile time for the kernel that reads it: a 64-byte aligned byte range
/// of the constants blob. Its layout is the kernel crate's (`infc_kernels::pack_b` and friends).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PackedRef {
    pub offset: u64,
    pub bytes: u64,
}
wire_struct!(PackedRef { offset, bytes });

/// The right-hand matrix of a matmul.
#[derive(Clone, Debug, PartialEq)]
pub enum MatB {
    /// Constant `k × n` weight, packed at compile time.
    Packed(PackedRef),
    /// A runtime tensor, `k × n` row-major (or `n × k` when `trans`).
    Plain { at: TensorRef, trans: bool },
}

impl Wire for MatB {
    const MIN_BYTES: usize = 1;
    fn put(&self, w: &mut Writer) {
        match self {
            MatB::Packed(p) => {
                w.u8(0);
                p.put(w);
            }
            MatB::Plain { at, trans } => {
                w.u8(1);
                at.put(w);
                trans.put(w);
            }
        }
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, PlanError> {
        match r.u8()? {
            0 => Ok(MatB::Packed(PackedRef::get(r)?)),
            1 => Ok(MatB::Plain {
                at: TensorRef::get(r)?,
                trans: bool::get(r)?,
            }),
            c => Err(r.err(format!("unknown matmul B kind {c}"))),
        }
    }
}

/// GEMM bias: `y += beta · C` broadcast per `kind`.
#[derive(Clone, Debug, PartialEq)]
pub struct Bias {
    pub at: TensorRef,
    pub kind: BiasKind,
    pub beta: f32,
}
wire_struct!(Bias { at, kind, beta });

/// `y = op(x)` over `len` contiguous elements. `dtype` is the input type.
#[derive(Clone, Debug, PartialEq)]
pub struct UnaryStep {
    pub op: UnaryKind,
    pub dtype: DType,
    pub len: u64,
    pub x: TensorRef,
    pub y: TensorRef,
}
wire_struct!(UnaryStep {
    op,
    dtype,
    len,
    x,
    y
});

/// `y[i] = a[i·a_strides] op b[i·b_strides]` over `shape`; `y` contiguous. `dtype` is the input type.
#[derive(Clone, Debug, PartialEq)]
pub struct BinaryStep {
    pub op: BinaryKind,
    pub dtype: DType,
    pub shape: Vec<u64>,
    pub a: TensorRef,
    pub a_strides: Vec<u64>,
    pub b: TensorRef,
    pub b_strides: Vec<u64>,
    pub y: TensorRef,
}
wire_struct!(BinaryStep {
    op,
    dtype,
    shape,
    a,
    a_strides,
    b,
    b_strides,
    y
});

/// `y = cond ? a : b` with broadcasting; `cond` is bool, `a`/`b`/`y` are `dtype`.
#[derive(Clone, Debug, PartialEq)]
pub struct WhereStep {
    pub dtype: DType,
    pub shape: Vec<u64>,
    pub cond: TensorRef,
    pub cond_strides: Vec<u64>,
    pub a: TensorRef,
    pub a_strides: Vec<u64>,
    pub b: TensorRef,
    pub b_strides: Vec<u64>,
    pub y: TensorRef,
}
wire_struct!(WhereStep {
    dtype,
    shape,
    cond,
    cond_strides,
    a,
    a_strides,
    b,
    b_strides,
    y
});

/// Element type conversion (ONNX Cast semantics: float→int truncates, →bool is `!= 0`).
#[derive(Clone, Debug, PartialEq)]
pub struct CastStep {
    pub from: DType,
    pub to: DType,
    pub len: u64,
    pub x: TensorRef,
    pub y: TensorRef,
}
wire_struct!(CastStep {
    from,
    to,
    len,
    x,
    y
});

/// f32 clamp with compile-time bounds.
#[derive(Clone, Debug, PartialEq)]
pub struct ClipStep {
    pub len: u64,
    pub min: f32,
    pub max: f32,
    pub x: TensorRef,
    pub y: TensorRef,
}
wire_struct!(ClipStep {
    len,
    min,
    max,
    x,
    y
});

/// Fill `len` elements with one value (its little-endian bits in the low `dtype.size()` bytes).
#[derive(Clone, Debug, PartialEq)]
pub struct FillStep {
    pub dtype: DType,
    pub len: u64,
    pub value: u64,
    pub y: TensorRef,
}
wire_struct!(FillStep {
    dtype,
    len,
    value,
    y
});

/// `y[i] = start + i · delta` (start and delta are one-element tensors of `dtype`).
#[derive(Clone, Debug, PartialEq)]
pub struct RangeStep {
    pub dtype: DType,
    pub len: u64,
    pub start: TensorRef,
    pub delta: TensorRef,
    pub y: TensorRef,
}
wire_struct!(RangeStep {
    dtype,
    len,
    start,
    delta,
    y
});

/// Strided copy: `dst[i·dst_strides] = src[i·src_strides]` over `shape`. Transpose, slice (negative
/// strides for negative steps), expand (zero source strides), concat and split parts all lower to it.
#[derive(Clone, Debug, PartialEq)]
pub struct CopyStep {
    pub dtype: DType,
    pub shape: Vec<u64>,
    pub src: TensorRef,
    pub src_strides: Vec<i64>,
    pub dst: TensorRef,
    pub dst_strides: Vec<i64>,
}
wire_struct!(CopyStep {
    dtype,
    shape,
    src,
    src_strides,
    dst,
    dst_strides
});

/// Batched f32 matmul: for every index `i` of `batch_shape`,
/// `y[i] = act(alpha · op(a[i]) · op(b[i]) + beta · bias)` with `a[i]` an `m × k` matrix
/// (`k × m` when `trans_a`) at element offset `i·a_batch_strides`, and `y` contiguous `[batch.., m, n]`.
#[derive(Clone, Debug, PartialEq)]
pub struct MatMulStep {
    pub batch_shape: Vec<u64>,
    pub a_batch_strides: Vec<u64>,
    pub b_batch_strides: Vec<u64>,
    pub m: u64,
    pub n: u64,
    pub k: u64,
    pub a: TensorRef,
    pub trans_a: bool,
    pub b: MatB,
    pub alpha: f32,
    pub bias: Option<Bias>,
    /// Added before the activation: a contiguous tensor shaped like `y` (a skip connection).
    pub residual: Option<TensorRef>,
    pub act: Activation,
    pub y: TensorRef,
}
wire_struct!(MatMulStep {
    batch_shape,
    a_batch_strides,
    b_batch_strides,
    m,
    n,
    k,
    a,
    trans_a,
    b,
    alpha,
    bias,
    residual,
    act,
    y
});

/// 2-D NCHW convolution (1-D convs run with `h = kh = 1`). Weights are prepacked for the conv
/// kernel (`infc_kernels::pack_conv_weights`: packed-A blocks per group).
#[derive(Clone, Debug, PartialEq)]
pub struct ConvStep {
    pub n: u64,
    pub c_in: u64,
    pub h: u64,
    pub w: u64,
    pub c_out: u64,
    pub group: u64,
    pub window: Window2d,
    pub oh: u64,
    pub ow: u64,
    pub x: TensorRef,
    pub weights: PackedRef,
    pub bias: Option<TensorRef>,
    /// Added before the activation: a tensor shaped like `y` (a skip connection).
    pub residual: Option<TensorRef>,
    pub act: Activation,
    pub y: TensorRef,
}
wire_struct!(ConvStep {
    n,
    c_in,
    h,
    w,
    c_out,
    group,
    window,
    oh,
    ow,
    x,
    weights,
    bias,
    residual,
    act,
    y
});

/// 2-D NCHW max/average pooling.
#[derive(Clone, Debug, PartialEq)]
pub struct PoolStep {
    pub kind: PoolKind,
    pub n: u64,
    pub c: u64,
    pub h: u64,
    pub w: u64,
    pub window: Window2d,
    pub oh: u64,
    pub ow: u64,
    pub x: TensorRef,
    pub y: TensorRef,
}
wire_struct!(PoolStep {
    kind,
    n,
    c,
    h,
    w,
    window,
    oh,
    ow,
    x,
    y
});

/// Mean over the `hw` trailing elements of each of `nc` rows.
#[derive(Clone, Debug, PartialEq)]
pub struct GlobalAvgPoolStep {
    pub nc: u64,
    pub hw: u64,
    pub x: TensorRef,
    pub y: TensorRef,
}
wire_struct!(GlobalAvgPoolStep { nc, hw, x, y });

/// Inference batch norm over `[n, c, inner]`: `(x - mean) / sqrt(var + eps) · scale + bias`.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchNormStep {
    pub n: u64,
    pub c: u64,
    pub inner: u64,
    pub epsilon: f32,
    pub x: TensorRef,
    pub scale: TensorRef,
    pub bias: TensorRef,
    pub mean: TensorRef,
    pub var: TensorRef,
    pub y: TensorRef,
}
wire_struct!(BatchNormStep {
    n,
    c,
    inner,
    epsilon,
    x,
    scale,
    bias,
    mean,
    var,
    y
});

/// Softmax over the middle axis of `[outer, axis, inner]`.
#[derive(Clone, Debug, PartialEq)]
pub struct SoftmaxStep {
    pub outer: u64,
    pub axis: u64,
    pub inner: u64,
    pub x: TensorRef,
    pub y: TensorRef,
}
wire_struct!(SoftmaxStep {
    outer,
    axis,
    inner,
    x,
    y
});

/// Layer norm of each `cols`-long row; `scale`/`bias` have `cols` elements.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerNormStep {
    pub rows: u64,
    pub cols: u64,
    pub epsilon: f32,
    pub x: TensorRef,
    pub scale: TensorRef,
    pub bias: Option<TensorRef>,
    pub y: TensorRef,
}
wire_struct!(LayerNormStep {
    rows,
    cols,
    epsilon,
    x,
    scale,
    bias,
    y
});

/// Strided reduction: `y[o] = reduce_r x[o·out_strides + r·red_strides]`, `y` contiguous over `out_shape`.
#[derive(Clone, Debug, PartialEq)]
pub struct ReduceStep {
    pub op: ReduceKind,
    pub dtype: DType,
    pub out_shape: Vec<u64>,
    pub out_strides: Vec<u64>,
    pub red_shape: Vec<u64>,
    pub red_strides: Vec<u64>,
    pub x: TensorRef,
    pub y: TensorRef,
}
wire_struct!(ReduceStep {
    op,
    dtype,
    out_shape,
    out_strides,
    red_shape,
    red_strides,
    x,
    y
});

/// `y[o, i, r] = data[o, idx[i], r]` for data `[outer, axis_len, inner]`; negative indices wrap,
/// out-of-range indices are a run-time error.
#[derive(Clone, Debug, PartialEq)]
pub struct GatherStep {
    pub dtype: DType,
    pub idx_dtype: DType,
    pub outer: u64,
    pub axis_len: u64,
    pub inner: u64,
    pub n_idx: u64,
    pub data: TensorRef,
    pub indices: TensorRef,
    pub y: TensorRef,
}
wire_struct!(GatherStep {
    dtype,
    idx_dtype,
    outer,
    axis_len,
    inner,
    n_idx,
    data,
    indices,
    y
});

/// ONNX GatherND: for each of `batch` groups and `n_per_batch` index tuples of depth
/// `index_dims.len()`, copy a `slice_len` slice of data (`[batch, index_dims.., slice_len]`).
#[derive(Clone, Debug, PartialEq)]
pub struct GatherNdStep {
    pub dtype: DType,
    pub idx_dtype: DType,
    pub batch: u64,
    pub n_per_batch: u64,
    pub index_dims: Vec<u64>,
    pub slice_len: u64,
    pub data: TensorRef,
    pub indices: TensorRef,
    pub y: TensorRef,
}
wire_struct!(GatherNdStep {
    dtype,
    idx_dtype,
    batch,
    n_per_batch,
    index_dims,
    slice_len,
    data,
    indices,
    y
});

/// Keep the upper (or lower) triangle of each `rows × cols` matrix; diagonal offset `k`, or read
/// from the one-element i64 tensor `k_at` when present.
#[derive(Clone, Debug, PartialEq)]
pub struct TriluStep {
    pub dtype: DType,
    pub upper: bool,
    pub k: i64,
    pub k_at: Option<TensorRef>,
    pub batch: u64,
    pub rows: u64,
    pub cols: u64,
    pub x: TensorRef,
    pub y: TensorRef,
}
wire_struct!(TriluStep {
    dtype,
    upper,
    k,
    k_at,
    batch,
    rows,
    cols,
    x,
    y
});

/// Multi-head attention without materialised head transposes. `q`: `[batch, sq, heads·d]`, `k` and
/// `v`: `[batch, sk, heads·d]`, each with its sequence rows `qkv_row_strides` elements apart
/// (`≥ heads·d`; larger when they are column ranges of one fused QKV output), `y` dense like `q`.
/// Per batch and head: `s = scale · q_h·k_hᵀ (+ mask)`; when `causal`, hidden keys
/// (`j > i + sk − sq`) hold `hidden_fill` (`+ mask` under `mask_hidden`); softmax over keys (a
/// NaN row zeroed under `zero_nan_rows`), then `· v_h`.
/// `mask` is an f32 tensor read with element strides over `[batch, heads, sq, sk]` (0 = broadcast).
/// `scratch` holds [`AttentionStep::scratch_floats`] f32: every head's packed `kᵀ` and `v`, then one
/// `sq × sk` score matrix per batch.
#[derive(Clone, Debug, PartialEq)]
pub struct AttentionStep {
    pub batch: u64,
    pub heads: u64,
    pub sq: u64,
    pub sk: u64,
    pub d: u64,
    pub scale: f32,
    pub causal: bool,
    /// The score of a causally hidden key (`f32::MIN`, `−∞`, … as the graph filled it).
    pub hidden_fill: f32,
    /// The mask is added to hidden keys too (`fill + mask`).
    pub mask_hidden: bool,
    /// A row whose softmax is NaN gives zero probabilities (SDPA's `Where(IsNaN(p), 0, p)`).
    pub zero_nan_rows: bool,
    /// Run the two GEMMs on bf16 inputs (f32 accumulation) where the CPU has AVX512-BF16; set for
    /// `--int8` plans, whose error budget is already 8-bit. Ignored (f32) elsewhere.
    pub bf16: bool,
    pub q: TensorRef,
    pub k: TensorRef,
    pub v: TensorRef,
    pub qkv_row_strides: [u64; 3],
    pub mask: Option<TensorRef>,
    pub mask_strides: [u64; 4],
    pub y: TensorRef,
    pub scratch: TensorRef,
}
impl AttentionStep {
    /// Floats of scratch the attention kernel needs (`infc_kernels::attention_scratch_floats`):
    /// per (batch, head) `kᵀ` packed as `d × sk` and `v` as `sk × d`, plus `batch · sq · sk`
    /// scores. `None` on overflow.
    pub fn scratch_floats(&self) -> Option<u64> {
        let floats = infc_kernels::attention_scratch_floats(
            kdim(self.batch)?,
            kdim(self.heads)?,
            kdim(self.sq)?,
            kdim(self.sk)?,
            kdim(self.d)?,
        )?;
        psize(floats)
    }
}

wire_struct!(AttentionStep {
    batch,
    heads,
    sq,
    sk,
    d,
    scale,
    causal,
    hidden_fill,
    mask_hidden,
    zero_nan_rows,
    bf16,
    q,
    k,
    v,
    qkv_row_strides,
    mask,
    mask_strides,
    y,
    scratch
});

/// A plan dim as an argument of the kernels' size functions (`None` past `usize`).
fn kdim(v: u64) -> Option<usize> {
    usize::try_from(v).ok()
}

/// A size from the kernels' size functions as a plan size (`None` past `u64`).
fn psize(v: usize) -> Option<u64> {
    u64::try_from(v).ok()
}

/// Bytes of `rows` quantized rows of reduction length `k` (`infc_kernels::int8::quant_a_len`).
fn quant_a_bytes(rows: u64, k: u64) -> Option<u64> {
    psize(int8::quant_a_len(kdim(rows)?, kdim(k)?)?)
}

/// Bytes of one packed s8 `k × n` weight matrix (`infc_kernels::int8::packed_b8_bytes`).
fn packed_b8_bytes(k: u64, n: u64) -> Option<u64> {
    psize(int8::packed_b8_bytes(kdim(k)?, kdim(n)?)?)
}

/// A LayerNorm over each `k`-long row of a [`QuantMatMulStep`]'s `a`, applied while `a` is
/// quantized (the normalised rows are never stored): `scale` and `bias` are f32 `[k]`.
#[derive(Clone, Debug, PartialEq)]
pub struct PreNorm {
    pub epsilon: f32,
    pub scale: TensorRef,
    pub bias: Option<TensorRef>,
}
wire_struct!(PreNorm {
    epsilon,
    scale,
    bias
});

/// Dynamically quantized matmul `y = act(deq(quant_u8(norm(a)) · w_s8) + bias + residual)`: `a`
/// is an f32 `m × k` row-major matrix, LayerNorm-ed row by row first when `pre_norm` is set (only
/// with `per_row`), quantized at run time to u8 (asymmetric; one scale per row when `per_row`,
/// else one for the whole matrix) into `scratch` ([`QuantMatMulStep::scratch_bytes`]); `weights`
/// holds s8 weights quantized symmetrically per output column at compile time
/// ([`QuantMatMulStep::weights_bytes`]). `bias` has `n` elements, `residual` is shaped like `y`
/// (`m × n`).
#[derive(Clone, Debug, PartialEq)]
pub struct QuantMatMulStep {
    pub m: u64,
    pub n: u64,
    pub k: u64,
    pub a: TensorRef,
    pub pre_norm: Option<PreNorm>,
    pub weights: PackedRef,
    pub per_row: bool,
    pub bias: Option<TensorRef>,
    pub residual: Option<TensorRef>,
    pub act: Activation,
    pub y: TensorRef,
    pub scratch: TensorRef,
}
wire_struct!(QuantMatMulStep {
    m,
    n,
    k,
    a,
    pre_norm,
    weights,
    per_row,
    bias,
    residual,
    act,
    y,
    scratch
});

impl QuantMatMulStep {
    /// Bytes of the packed s8 weights (`infc_kernels::int8::packed_b8_bytes(k, n)`: the panels,
    /// then i32 column sums and f32 scales); `None` on overflow.
    pub fn weights_bytes(&self) -> Option<u64> {
        packed_b8_bytes(self.k, self.n)
    }

    /// Bytes of the quantized-A scratch: `m` rows of `round_up(k, 4)` u8
    /// (`infc_kernels::int8::quant_a_len`); `None` on overflow.
    pub fn scratch_bytes(&self) -> Option<u64> {
        quant_a_bytes(self.m, self.k)
    }
}

/// Dynamically quantized 2-D NCHW convolution (geometry as [`ConvStep`]): the input is quantized
/// to u8 with one scale for the whole tensor, copied to NHWC, unfolded (im2col with rows ordered
/// `(ky, kx, channel)`, padding = the zero point) and multiplied per group by s8 weights (`group`
/// consecutive `infc_kernels::int8::packed_b8_bytes(kh·kw·c_in/group, c_out/group)` blocks whose
/// reduction index is `(ky·kw + kx)·c_in/group + channel`, [`QuantConvStep::weights_bytes`] in
/// all), then dequantized with bias, residual and activation into `y`. `scratch` layout: see
/// [`QuantConvStep::scratch_layout`].
#[derive(Clone, Debug, PartialEq)]
pub struct QuantConvStep {
    pub n: u64,
    pub c_in: u64,
    pub h: u64,
    pub w: u64,
    pub c_out: u64,
    pub group: u64,
    pub window: Window2d,
    pub oh: u64,
    pub ow: u64,
    pub x: TensorRef,
    pub weights: PackedRef,
    pub bias: Option<TensorRef>,
    pub residual: Option<TensorRef>,
    pub act: Activation,
    pub y: TensorRef,
    pub scratch: TensorRef,
}
wire_struct!(QuantConvStep {
    n,
    c_in,
    h,
    w,
    c_out,
    group,
    window,
    oh,
    ow,
    x,
    weights,
    bias,
    residual,
    act,
    y,
    scratch
});

/// Byte offsets inside a [`QuantConvStep`]'s scratch, each 64-byte aligned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuantConvScratch {
    /// The whole input quantized to u8, NCHW (`n·c_in·h·w` bytes).
    pub xq: u64,
    /// The same bytes NHWC with each pixel's channels padded to `round_up(c_in, 4)`.
    pub xt: u64,
    /// One group's unfolded input for one image: `oh·ow` rows of `round_up(kh·kw·c_in/group, 4)`
    /// u8, each row ordered `(ky, kx, channel)`.
    pub cols: u64,
    /// One group's product for one image, `oh·ow × c_out/group` f32 (pixel-major, transposed
    /// into `y`).
    pub tmp: u64,
    /// Total bytes.
    pub bytes: u64,
}

impl QuantConvStep {
    /// Reduction length and output channels of one group (`None` on a zero group).
    pub fn group_dims(&self) -> Option<(u64, u64)> {
        let cig = self.c_in.checked_div(self.group)?;
        let cog = self.c_out.checked_div(self.group)?;
        Some((
            cig.checked_mul(self.window.kernel[0])?
                .checked_mul(self.window.kernel[1])?,
            cog,
        ))
    }

    /// Bytes of the packed weights: `group` blocks of `packed_b8_bytes(kg, cog)` ([`group_dims`]);
    /// `None` on overflow.
    ///
    /// [`group_dims`]: QuantConvStep::group_dims
    pub fn weights_bytes(&self) -> Option<u64> {
        let (kg, cog) = self.group_dims()?;
        packed_b8_bytes(kg, cog)?.checked_mul(self.group)
    }

    /// Where the parts of the scratch live (`None` when a size overflows).
    pub fn scratch_layout(&self) -> Option<QuantConvScratch> {
        let up = |x: u64| x.checked_next_multiple_of(64);
        let (kg, cog) = self.group_dims()?;
        let pixels = self.oh.checked_mul(self.ow)?;
        let images = self.n.checked_mul(self.h)?.checked_mul(self.w)?;
        let xq_len = images.checked_mul(self.c_in)?;
        let xt = up(xq_len)?;
        let cols = xt.checked_add(up(quant_a_bytes(images, self.c_in)?)?)?;
        let tmp = cols.checked_add(up(quant_a_bytes(pixels, kg)?)?)?;
        let bytes = tmp.checked_add(pixels.checked_mul(cog)?.checked_mul(4)?)?;
        Some(QuantConvScratch {
            xq: 0,
            xt,
            cols,
            tmp,
            bytes,
        })
    }
}

/// One kernel call.
/// Direct 2-D convolution on channel-blocked activations (`infc_kernels::conv2d_nchwc`): x is
/// `[n][c_in/block][h][w][block]` (or plain NCHW when `!input_blocked`), y and residual are
/// `[n][c_out/block][oh][ow][block]` (channel counts rounded up to the block), group 1. Weights are
/// prepacked by `infc_kernels::pack_nchwc_weights`; `act` is `None` or `Relu`.
#[derive(Clone, Debug, PartialEq)]
pub struct NchwcConvStep {
    pub n: u64,
    pub c_in: u64,
    pub h: u64,
    pub w: u64,
    pub c_out: u64,
    pub block: u64,
    pub input_blocked: bool,
    pub window: Window2d,
    pub oh: u64,
    pub ow: u64,
    pub x: TensorRef,
    pub weights: PackedRef,
    pub bias: Option<TensorRef>,
    pub residual: Option<TensorRef>,
    pub act: Activation,
    pub y: TensorRef,
}
wire_struct!(NchwcConvStep {
    n,
    c_in,
    h,
    w,
    c_out,
    block,
    input_blocked,
    window,
    oh,
    ow,
    x,
    weights,
    bias,
    residual,
    act,
    y
});

/// Dynamically quantized direct 2-D convolution on channel-blocked activations
/// (`infc_kernels::int8::qconv_nchwc`), group 1, block 16: x is `[n][c_in/16][h][w][16]` f32 (or
/// plain NCHW with `c_in ≤ 16` when `!input_blocked`), y and residual `[n][c_out/16][oh][ow][16]`.
/// The step quantizes x per tensor to u8 into `scratch` (the zero-point-padded buffer of
/// [`QuantNchwcConvStep::scratch_bytes`]), multiplies by the s8 weights packed at compile time
/// (`weights`: [`QuantNchwcConvStep::weights_bytes`] bytes `[s8 | i32 sums | f32 scales | f32
/// bias]`, bias folded in) and writes `act(deq(acc) + bias + residual)` with `act` none or ReLU.
#[derive(Clone, Debug, PartialEq)]
pub struct QuantNchwcConvStep {
    pub n: u64,
    pub c_in: u64,
    pub h: u64,
    pub w: u64,
    pub c_out: u64,
    pub input_blocked: bool,
    pub window: Window2d,
    pub oh: u64,
    pub ow: u64,
    pub x: TensorRef,
    pub weights: PackedRef,
    pub residual: Option<TensorRef>,
    pub act: Activation,
    pub y: TensorRef,
    pub scratch: TensorRef,
}
wire_struct!(QuantNchwcConvStep {
    n,
    c_in,
    h,
    w,
    c_out,
    input_blocked,
    window,
    oh,
    ow,
    x,
    weights,
    residual,
    act,
    y,
    scratch
});

impl QuantNchwcConvStep {
    /// Channel block of the blocked tensors (`infc_kernels::int8::QCONV_BLOCK`).
    pub const BLOCK: u64 = int8::QCONV_BLOCK as u64;

    /// The kernel's parameters (`None` when a dim exceeds `usize`), whose size functions give
    /// the step's scratch and weight sizes. Not validated.
    pub fn kernel_params(&self) -> Option<int8::QConvNchwcParams> {
        let input = [self.n, self.c_in, self.h, self.w];
        Some(int8::QConvNchwcParams {
            conv: self.window.conv2d_params(input, self.c_out, 1)?,
            input_blocked: self.input_blocked,
        })
    }

    /// Bytes of the zero-point-padded u8 input `[n][in_blocks][h+pt+pb][w+pl+pr][lanes]`
    /// (`QConvNchwcParams::quant_input_len`); `None` on overflow.
    pub fn scratch_bytes(&self) -> Option<u64> {
        psize(self.kernel_params()?.quant_input_len()?)
    }

    /// Bytes of the packed weights: `c_out/16` blocks of `in_blocks·kh·kw·lanes·16` s8, then
    /// `round_up(c_out, 16)` i32 sums, f32 scales and f32 bias (`QConvNchwcParams::packed_bytes`);
    /// `None` on overflow.
    pub fn weights_bytes(&self) -> Option<u64> {
        psize(self.kernel_params()?.packed_bytes()?)
    }
}

/// Layout conversion between plain `[n][c][hw]` and blocked `[n][c/block][hw][block]`
/// (`to_blocked` says which way; padding channels are written as zero).
#[derive(Clone, Debug, PartialEq)]
pub struct ReorderStep {
    pub to_blocked: bool,
    pub n: u64,
    pub c: u64,
    pub hw: u64,
    pub block: u64,
    pub x: TensorRef,
    pub y: TensorRef,
}
wire_struct!(ReorderStep {
    to_blocked,
    n,
    c,
    hw,
    block,
    x,
    y
});

/// 2-D max pooling of a blocked `[n][c/block][h][w][block]` tensor (ceil mode is implied by the
/// output size).
#[derive(Clone, Debug, PartialEq)]
pub struct NchwcMaxPoolStep {
    pub n: u64,
    pub c: u64,
    pub h: u64,
    pub w: u64,
    pub block: u64,
    pub window: Window2d,
    pub oh: u64,
    pub ow: u64,
    pub x: TensorRef,
    pub y: TensorRef,
}
wire_struct!(NchwcMaxPoolStep {
    n,
    c,
    h,
    w,
    block,
    window,
    oh,
    ow,
    x,
    y
});

/// The step kinds: one line each (variant, fields struct, wire tag). The enum, its `kind` names,
/// the tags and the framed encoding (tag byte, u32 length of the fields, the fields) all follow from
/// this table; a decoder checks that a step's fields fill exactly its length. Tags are the format's:
/// never reuse or renumber one (that is a major version).
macro_rules! step_kinds {
    ($( $variant:ident($fields:ty) = $tag:literal ),* $(,)?) => {
        #[derive(Clone, Debug, PartialEq)]
        pub enum Step {
            $( $variant($fields), )*
        }

        impl Step {
            /// Variant name, used in errors, `explain` and profiles.
            pub fn kind(&self) -> &'static str {
                match self {
                    $( Step::$variant(_) => stringify!($variant), )*
                }
            }

            /// The wire tag of the step's kind.
            pub fn tag(&self) -> u8 {
                match self {
                    $( Step::$variant(_) => $tag, )*
                }
            }

            fn put_fields(&self, w: &mut Writer) {
                match self {
                    $( Step::$variant(s) => s.put(w), )*
                }
            }

            fn get_fields(tag: u8, r: &mut Reader<'_>) -> Result<Step, PlanError> {
                Ok(match tag {
                    $( $tag => Step::$variant(Wire::get(r)?), )*
                    t => return Err(r.err(format!("unknown step tag {t}"))),
                })
            }
        }
    };
}

step_kinds! {
    Unary(UnaryStep) = 0,
    Binary(BinaryStep) = 1,
    Where(WhereStep) = 2,
    Cast(CastStep) = 3,
    Clip(ClipStep) = 4,
    Fill(FillStep) = 5,
    Range(RangeStep) = 6,
    Copy(CopyStep) = 7,
    MatMul(MatMulStep) = 8,
    Conv(ConvStep) = 9,
    Pool(PoolStep) = 10,
    GlobalAvgPool(GlobalAvgPoolStep) = 11,
    BatchNorm(BatchNormStep) = 12,
    Softmax(SoftmaxStep) = 13,
    LayerNorm(LayerNormStep) = 14,
    Reduce(ReduceStep) = 15,
    Gather(GatherStep) = 16,
    GatherNd(GatherNdStep) = 17,
    Trilu(TriluStep) = 18,
    Attention(AttentionStep) = 19,
    QuantMatMul(QuantMatMulStep) = 30,
    QuantConv(QuantConvStep) = 31,
    QuantNchwcConv(QuantNchwcConvStep) = 32,
    NchwcConv(NchwcConvStep) = 40,
    Reorder(ReorderStep) = 41,
    NchwcMaxPool(NchwcMaxPoolStep) = 42,
}

impl Wire for Step {
    /// Tag byte and length.
    const MIN_BYTES: usize = 5;
    fn put(&self, w: &mut Writer) {
        w.u8(self.tag());
        let len_at = w.buf.len();
        w.u32(0);
        self.put_fields(w);
        let len = (w.buf.len() - len_at - 4) as u32;
        w.buf[len_at..len_at + 4].copy_from_slice(&len.to_le_bytes());
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, PlanError> {
        let tag = r.u8()?;
        let len = r.u32()? as usize;
        let mut fields = r.framed(len)?;
        let step = Step::get_fields(tag, &mut fields)?;
        if fields.remaining() != 0 {
            return Err(fields.err(format!(
                "{} step: {} bytes of its {len} left unread",
                step.kind(),
                fields.remaining()
            )));
        }
        Ok(step)
    }
}
