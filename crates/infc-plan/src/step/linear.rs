//! Matrix steps: batched f32 matmul, multi-head attention and the dynamically quantized matmul.
//! Each kind's fields, encoding, kernel-owned sizes and descriptor table.

use super::{kdim, packed_b8_bytes, psize, quant_a_bytes, Activation, Bias, MatB, PackedRef};
use crate::describe::{count, need, packed_len, rank_at_most, sized, Describe, Tensors};
use crate::types::{DType, Region, TensorRef};
use crate::wire::wire_struct;

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

impl Describe for MatMulStep {
    fn describe(&self, t: &mut Tensors) -> Result<(), String> {
        use DType::F32;
        rank_at_most("batch", self.batch_shape.len())?;
        let (batch, m, n, k) = (&self.batch_shape, self.m, self.n, self.k);
        t.batched("a", self.a, batch, &self.a_batch_strides, [m, k]);
        match &self.b {
            MatB::Packed(p) => {
                need(self.b_batch_strides.iter().all(|&v| v == 0), || {
                    "packed B cannot vary over the batch".into()
                })?;
                count("b matrix", &[k, n])?;
                t.packed("b", *p);
            }
            MatB::Plain { at, .. } => t.batched("b", *at, batch, &self.b_batch_strides, [k, n]),
        }
        if let Some(b) = &self.bias {
            t.read("bias", b.at, F32, sized(b.kind.len(m, n), "bias")?);
        }
        let mut out = batch.clone();
        out.extend_from_slice(&[m, n]);
        let total = count("output", &out)?;
        t.read_opt("residual", self.residual, F32, total);
        t.write("y", self.y, F32, total);
        Ok(())
    }
}

impl Describe for AttentionStep {
    fn describe(&self, t: &mut Tensors) -> Result<(), String> {
        use DType::F32;
        let s = self;
        let hd = count("heads·d", &[s.heads, s.d])?;
        let qn = count("q", &[s.batch, s.sq, s.heads, s.d])?;
        count("k", &[s.batch, s.sk, s.heads, s.d])?;
        count("scores", &[s.batch, s.heads, s.sq, s.sk])?;
        let [ldq, ldk, ldv] = s.qkv_row_strides;
        need(ldq >= hd && ldk >= hd && ldv >= hd, || {
            format!(
                "q/k/v row strides {:?} below heads·d = {hd}",
                s.qkv_row_strides
            )
        })?;
        for (name, at, rows, ld) in [
            ("q", s.q, s.sq, ldq),
            ("k", s.k, s.sk, ldk),
            ("v", s.v, s.sk, ldv),
        ] {
            let dims = [count(name, &[s.batch, rows])?, hd];
            t.broadcast(name, at, F32, &dims, &[ld, 1])?;
        }
        if let Some(m) = s.mask {
            let dims = [s.batch, s.heads, s.sq, s.sk];
            t.broadcast("mask", m, F32, &dims, &s.mask_strides)?;
        }
        t.write("y", s.y, F32, qn);
        t.write(
            "scratch",
            s.scratch,
            F32,
            sized(s.scratch_floats(), "attention scratch")?,
        );
        Ok(())
    }
}

impl Describe for QuantMatMulStep {
    fn describe(&self, t: &mut Tensors) -> Result<(), String> {
        use DType::F32;
        let s = self;
        t.read("a", s.a, F32, count("a matrix", &[s.m, s.k])?);
        if let Some(pn) = &s.pre_norm {
            need(s.per_row, || {
                "a LayerNorm before quantization needs per-row quantization".into()
            })?;
            t.read("layer norm scale", pn.scale, F32, s.k);
            t.read_opt("layer norm bias", pn.bias, F32, s.k);
        }
        count("weights", &[s.k, s.n])?;
        let wb = sized(s.weights_bytes(), "quantized weights")?;
        packed_len("quantized weights", s.weights.bytes, wb)?;
        t.packed("weights", s.weights);
        t.read_opt("bias", s.bias, F32, s.n);
        let mn = count("output", &[s.m, s.n])?;
        t.read_opt("residual", s.residual, F32, mn);
        t.write("y", s.y, F32, mn);
        let sb = sized(s.scratch_bytes(), "scratch")?;
        need(s.scratch.region == Region::Arena, || {
            "scratch must live in the arena".into()
        })?;
        t.write("scratch", s.scratch, DType::U8, sb);
        Ok(())
    }
}
