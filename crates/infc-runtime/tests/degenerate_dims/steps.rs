//! One-step plans of every step kind with dims in {0, 1, 2}: each operand in its own arena slot
//! (x/a in slot 0, y in slot 1, further inputs from slot 2, scratch in the last), zero weights of
//! the kernel's packed length at constant offset 0 and a bias at [`BIAS`].

use infc_kernels::{
    packed_b_len, packed_conv_weights_len, packed_nchwc_weights_len, NchwcConvParams,
};
use infc_plan::*;

/// Bytes of one arena slot (every operand of these plans fits in one).
pub const SLOT: u64 = 64 * 1024;
/// Arena slots.
pub const SLOTS: u64 = 8;
/// Constant offset of the bias (the weights come first).
pub const BIAS: u64 = 64 * 1024;
const Y: u64 = 1;
const SCRATCH: u64 = SLOTS - 1;

/// Arena slot `i`.
pub fn at(i: u64) -> TensorRef {
    TensorRef::arena(i * SLOT)
}

fn bias() -> TensorRef {
    TensorRef::konst(BIAS)
}

fn weights(bytes: u64) -> PackedRef {
    PackedRef { offset: 0, bytes }
}

/// Which bias value output element `i` holds when the product is zero.
#[derive(Clone, Copy, Debug)]
pub enum BiasAt {
    /// Row-major `[.., n]`: column `i % n`.
    Col(u64),
    /// NCHW with `hw` pixels and `c` channels: channel `(i / hw) % c`.
    Chan { hw: u64, c: u64 },
    /// Blocked `[c/block][hw][block]`: channel `(i / (hw·block))·block + i % block`.
    Blocked { hw: u64, block: u64 },
}

impl BiasAt {
    /// The bias index of output element `i`.
    pub fn index(self, i: usize) -> usize {
        let i = i as u64;
        (match self {
            BiasAt::Col(n) => i % n.max(1),
            BiasAt::Chan { hw, c } => (i / hw.max(1)) % c.max(1),
            BiasAt::Blocked { hw, block } => (i / (hw * block).max(1)) * block + i % block.max(1),
        }) as usize
    }
}

/// A one-step plan to try.
pub struct Case {
    pub name: String,
    pub step: Step,
    pub weight_bytes: u64,
    /// The output `y`: element count and type.
    pub output: Option<(u64, DType)>,
    /// Set when the output must equal the bias (zero weights, no activation).
    pub bias_at: Option<BiasAt>,
}

impl Case {
    fn new(name: String, step: Step, out: u64) -> Case {
        Case {
            name,
            step,
            weight_bytes: 0,
            output: Some((out, DType::F32)),
            bias_at: None,
        }
    }

    fn weights(mut self, bytes: u64, bias_at: Option<BiasAt>) -> Case {
        self.weight_bytes = bytes;
        self.bias_at = bias_at;
        self
    }

    /// Where `y` lives.
    pub fn y_at(&self) -> TensorRef {
        at(Y)
    }
}

const D: [u64; 3] = [0, 1, 2];

/// Every combination of `N` dims from {0, 1, 2}.
fn dims<const N: usize>() -> impl Iterator<Item = [u64; N]> {
    (0..3usize.pow(N as u32)).map(|mut i| {
        let mut out = [0; N];
        for o in &mut out {
            *o = D[i % 3];
            i /= 3;
        }
        out
    })
}

/// Output size of a stride-1 window, 0 when it never fits (as validation accepts for `len = 0`).
fn out_len(len: u64, pad: u64, k: u64) -> u64 {
    (len + pad + 1).saturating_sub(k)
}

/// Every case of every step kind.
pub fn cases() -> Vec<Case> {
    let mut v = Vec::new();
    elementwise(&mut v);
    matmuls(&mut v);
    convs(&mut v);
    nn(&mut v);
    movement(&mut v);
    quant(&mut v);
    nchwc(&mut v);
    v
}

fn elementwise(v: &mut Vec<Case>) {
    for len in D {
        let (x, y) = (at(0), at(Y));
        v.push(Case::new(
            format!("Unary len={len}"),
            Step::Unary(UnaryStep {
                op: UnaryKind::Exp,
                dtype: DType::F32,
                len,
                x,
                y,
            }),
            len,
        ));
        v.push(Case::new(
            format!("Clip len={len}"),
            Step::Clip(ClipStep {
                min: 0.0,
                max: 1.0,
                len,
                x,
                y,
            }),
            len,
        ));
        v.push(Case::new(
            format!("Fill len={len}"),
            Step::Fill(FillStep {
                dtype: DType::F32,
                value: 0,
                len,
                y,
            }),
            len,
        ));
        let mut cast = Case::new(
            format!("Cast len={len}"),
            Step::Cast(CastStep {
                from: DType::F32,
                to: DType::I64,
                len,
                x,
                y,
            }),
            len,
        );
        cast.output = Some((len, DType::I64));
        v.push(cast);
        v.push(Case::new(
            format!("Range len={len}"),
            Step::Range(RangeStep {
                dtype: DType::F32,
                start: at(2),
                delta: at(3),
                len,
                y,
            }),
            len,
        ));
    }
    for [a, b] in dims::<2>() {
        v.push(Case::new(
            format!("Binary shape=[{a},{b}]"),
            Step::Binary(BinaryStep {
                op: BinaryKind::Add,
                dtype: DType::F32,
                shape: vec![a, b],
                a: at(0),
                a_strides: vec![b, 1],
                b: at(2),
                b_strides: vec![0, 1],
                y: at(Y),
            }),
            a * b,
        ));
        v.push(Case::new(
            format!("Where shape=[{a},{b}]"),
            Step::Where(WhereStep {
                dtype: DType::F32,
                shape: vec![a, b],
                cond: at(3),
                cond_strides: vec![b, 1],
                a: at(0),
                a_strides: vec![b, 1],
                b: at(2),
                b_strides: vec![0, 1],
                y: at(Y),
            }),
            a * b,
        ));
        v.push(Case::new(
            format!("Copy shape=[{a},{b}]"),
            Step::Copy(CopyStep {
                dtype: DType::F32,
                shape: vec![a, b],
                src: at(0),
                src_strides: vec![1, a as i64],
                dst: at(Y),
                dst_strides: vec![b as i64, 1],
            }),
            a * b,
        ));
    }
}

fn matmuls(v: &mut Vec<Case>) {
    for [m, n, k, batch] in dims::<4>() {
        let packed = batch == 1;
        let b = if packed {
            MatB::Packed(weights(packed_b_len(k as usize, n as usize) as u64 * 4))
        } else {
            MatB::Plain {
                at: at(2),
                trans: false,
            }
        };
        let batch_shape = if packed { vec![] } else { vec![batch] };
        let strides = |s: u64| if packed { vec![] } else { vec![s] };
        let total = if packed { m * n } else { batch * m * n };
        let step = Step::MatMul(MatMulStep {
            batch_shape,
            a_batch_strides: strides(m * k),
            b_batch_strides: strides(k * n),
            m,
            n,
            k,
            a: at(0),
            trans_a: false,
            b: b.clone(),
            alpha: 1.0,
            bias: Some(Bias {
                at: bias(),
                kind: BiasKind::Row,
                beta: 1.0,
            }),
            residual: None,
            act: Activation::None,
            y: at(Y),
        });
        let name = format!("MatMul m={m} n={n} k={k} batch={batch}");
        let case = Case::new(name, step, total);
        v.push(match b {
            // Plain B is read from the (zeroed) arena: the product is zero too.
            MatB::Packed(p) => case.weights(p.bytes, Some(BiasAt::Col(n))),
            MatB::Plain { .. } => {
                let mut c = case;
                c.bias_at = Some(BiasAt::Col(n));
                c
            }
        });
    }
}

/// A stride-1 `kernel × kernel` window padded by `kernel / 2` on every side, and its output size.
fn conv_geometry(h: u64, w: u64, kernel: u64) -> (Window2d, u64, u64) {
    let p = kernel / 2;
    let win = Window2d {
        kernel: [kernel, kernel],
        strides: [1, 1],
        pads: [p, p, p, p],
        dilations: [1, 1],
    };
    (win, out_len(h, 2 * p, kernel), out_len(w, 2 * p, kernel))
}

fn convs(v: &mut Vec<Case>) {
    for [n, c_in, c_out, h, w, kk] in dims::<6>() {
        let (window, oh, ow) = conv_geometry(h, w, 2 * kk + 1);
        let group = if c_in == 2 && c_out == 2 { 2 } else { 1 };
        let params = window.conv2d_params([n, c_in, h, w], c_out, group).unwrap();
        let wb = if params.validate().is_ok() {
            packed_conv_weights_len(&params) as u64 * 4
        } else {
            0
        };
        let step = Step::Conv(ConvStep {
            n,
            c_in,
            h,
            w,
            c_out,
            group,
            window,
            oh,
            ow,
            x: at(0),
            weights: weights(wb),
            bias: Some(bias()),
            residual: None,
            act: Activation::None,
            y: at(Y),
        });
        let name = format!(
            "Conv n={n} c_in={c_in} c_out={c_out} h={h} w={w} kernel={:?}",
            window.kernel
        );
        let bias_at = BiasAt::Chan {
            hw: oh * ow,
            c: c_out,
        };
        v.push(Case::new(name, step, n * c_out * oh * ow).weights(wb, Some(bias_at)));
    }
}

fn nn(v: &mut Vec<Case>) {
    for [n, c, h, w] in dims::<4>() {
        for kind in [
            PoolKind::Max,
            PoolKind::AvgIncludePad,
            PoolKind::AvgExcludePad,
        ] {
            let (oh, ow) = (out_len(h, 1, 2), out_len(w, 1, 2));
            v.push(Case::new(
                format!("Pool {kind:?} n={n} c={c} h={h} w={w}"),
                Step::Pool(PoolStep {
                    kind,
                    n,
                    c,
                    h,
                    w,
                    window: Window2d {
                        kernel: [2, 2],
                        strides: [1, 1],
                        pads: [1, 1, 0, 0],
                        dilations: [1, 1],
                    },
                    oh,
                    ow,
                    x: at(0),
                    y: at(Y),
                }),
                n * c * oh * ow,
            ));
        }
    }
    for [a, b, c] in dims::<3>() {
        v.push(Case::new(
            format!("GlobalAvgPool nc={a} hw={b}"),
            Step::GlobalAvgPool(GlobalAvgPoolStep {
                nc: a,
                hw: b,
                x: at(0),
                y: at(Y),
            }),
            a,
        ));
        v.push(Case::new(
            format!("BatchNorm n={a} c={b} inner={c}"),
            Step::BatchNorm(BatchNormStep {
                n: a,
                c: b,
                inner: c,
                epsilon: 1e-5,
                x: at(0),
                scale: at(2),
                bias: at(3),
                mean: at(4),
                var: at(5),
                y: at(Y),
            }),
            a * b * c,
        ));
        v.push(Case::new(
            format!("Softmax outer={a} axis={b} inner={c}"),
            Step::Softmax(SoftmaxStep {
                outer: a,
                axis: b,
                inner: c,
                x: at(0),
                y: at(Y),
            }),
            a * b * c,
        ));
        v.push(Case::new(
            format!("LayerNorm rows={a} cols={b}"),
            Step::LayerNorm(LayerNormStep {
                rows: a,
                cols: b,
                epsilon: 1e-5,
                x: at(0),
                scale: at(2),
                bias: Some(at(3)),
                y: at(Y),
            }),
            a * b,
        ));
        for op in [
            ReduceKind::Sum,
            ReduceKind::Mean,
            ReduceKind::Max,
            ReduceKind::Min,
            ReduceKind::Prod,
        ] {
            for (trailing, dtype) in [(true, DType::F32), (false, DType::F32), (true, DType::I64)] {
                let (os, rs) = if trailing { (b * c, 1) } else { (1, a) };
                let mut case = Case::new(
                    format!("Reduce {op:?} {dtype} out={a} red=[{b},{c}] trailing={trailing}"),
                    Step::Reduce(ReduceStep {
                        op,
                        dtype,
                        out_shape: vec![a],
                        out_strides: vec![os],
                        red_shape: vec![b, c],
                        red_strides: vec![rs * c, rs],
                        x: at(0),
                        y: at(Y),
                    }),
                    a,
                );
                case.output = Some((a, dtype));
                v.push(case);
            }
        }
    }
}

fn movement(v: &mut Vec<Case>) {
    for [rows, cols] in dims::<2>() {
        v.push(Case::new(
            format!("RmsNorm rows={rows} cols={cols}"),
            Step::RmsNorm(RmsNormStep {
                rows,
                cols,
                epsilon: 1e-6,
                x: at(0),
                scale: at(1),
                y: at(Y),
            }),
            rows * cols,
        ));
    }
    for [outer, len, inner] in dims::<3>() {
        for dtype in [DType::F32, DType::I64] {
            let n = outer * len * inner;
            let mut case = Case::new(
                format!("CumSum {dtype} outer={outer} len={len} inner={inner}"),
                Step::CumSum(CumSumStep {
                    dtype,
                    exclusive: len == 2,
                    reverse: inner == 2,
                    outer,
                    len,
                    inner,
                    x: at(0),
                    y: at(Y),
                }),
                n,
            );
            case.output = Some((n, dtype));
            v.push(case);
        }
    }
    for [outer, axis_len, inner, n_idx] in dims::<4>() {
        v.push(Case::new(
            format!("Gather outer={outer} axis={axis_len} inner={inner} n_idx={n_idx}"),
            Step::Gather(GatherStep {
                dtype: DType::F32,
                idx_dtype: DType::I64,
                outer,
                axis_len,
                inner,
                n_idx,
                data: at(0),
                indices: at(2),
                y: at(Y),
            }),
            outer * n_idx * inner,
        ));
        let (batch, per, dim, slice) = (outer, axis_len, inner, n_idx);
        v.push(Case::new(
            format!("GatherNd batch={batch} n={per} index_dims=[{dim}] slice={slice}"),
            Step::GatherNd(GatherNdStep {
                dtype: DType::F32,
                idx_dtype: DType::I64,
                batch,
                n_per_batch: per,
                index_dims: vec![dim],
                slice_len: slice,
                data: at(0),
                indices: at(2),
                y: at(Y),
            }),
            batch * per * slice,
        ));
    }
    for [batch, rows, cols] in dims::<3>() {
        v.push(Case::new(
            format!("Trilu batch={batch} rows={rows} cols={cols}"),
            Step::Trilu(TriluStep {
                dtype: DType::F32,
                upper: false,
                k: 0,
                k_at: None,
                batch,
                rows,
                cols,
                x: at(0),
                y: at(Y),
            }),
            batch * rows * cols,
        ));
    }
    for [batch, heads, sq, sk, d] in dims::<5>() {
        let hd = heads * d;
        let mut s = AttentionStep {
            batch,
            heads,
            sq,
            sk,
            d,
            scale: 1.0,
            causal: sq == sk,
            hidden_fill: f32::NEG_INFINITY,
            mask_hidden: false,
            zero_nan_rows: false,
            bf16: false,
            q: at(0),
            k: at(2),
            v: at(3),
            qkv_row_strides: [hd; 3],
            mask: Some(at(4)),
            mask_strides: [0, 0, 0, 1],
            y: at(Y),
            scratch: at(SCRATCH),
        };
        let name = format!("Attention batch={batch} heads={heads} sq={sq} sk={sk} d={d}");
        v.push(Case::new(
            name.clone(),
            Step::Attention(s.clone()),
            batch * sq * hd,
        ));
        s.bf16 = true;
        s.mask = None;
        v.push(Case::new(
            format!("{name} bf16"),
            Step::Attention(s),
            batch * sq * hd,
        ));
    }
}

fn quant(v: &mut Vec<Case>) {
    for [m, n, k, pr] in dims::<4>() {
        let mode = ["per_row=false", "per_row=true", "pre_norm"][pr as usize];
        let wb = infc_kernels::int8::packed_b8_bytes(k as usize, n as usize).unwrap() as u64;
        v.push(
            Case::new(
                format!("QuantMatMul m={m} n={n} k={k} {mode}"),
                Step::QuantMatMul(QuantMatMulStep {
                    m,
                    n,
                    k,
                    a: at(0),
                    pre_norm: (pr == 2).then(|| PreNorm {
                        epsilon: 1e-5,
                        scale: at(2),
                        bias: Some(at(3)),
                    }),
                    weights: weights(wb),
                    per_row: pr != 0,
                    bias: Some(bias()),
                    residual: None,
                    act: Activation::None,
                    y: at(Y),
                    scratch: at(SCRATCH),
                }),
                m * n,
            )
            .weights(wb, Some(BiasAt::Col(n))),
        );
    }
    for [n, c_in, c_out, h, w, kk] in dims::<6>() {
        let (window, oh, ow) = conv_geometry(h, w, 2 * kk + 1);
        let group = if c_in == 2 && c_out == 2 { 2 } else { 1 };
        let s = QuantConvStep {
            n,
            c_in,
            h,
            w,
            c_out,
            group,
            window,
            oh,
            ow,
            x: at(0),
            weights: weights(0),
            bias: Some(bias()),
            residual: None,
            act: Activation::None,
            y: at(Y),
            scratch: at(SCRATCH),
        };
        let wb = s.weights_bytes().unwrap_or(0);
        let name = format!(
            "QuantConv n={n} c_in={c_in} c_out={c_out} h={h} w={w} kernel={}",
            window.kernel[0]
        );
        let bias_at = BiasAt::Chan {
            hw: oh * ow,
            c: c_out,
        };
        let out = n * c_out * oh * ow;
        let step = Step::QuantConv(QuantConvStep {
            weights: weights(wb),
            ..s
        });
        v.push(Case::new(name, step, out).weights(wb, Some(bias_at)));
    }
}

fn nchwc(v: &mut Vec<Case>) {
    const B: u64 = 16;
    for [n, c_in, c_out, h, w, blocked] in dims::<6>() {
        let input_blocked = blocked == 1;
        let (window, oh, ow) = conv_geometry(h, w, 3);
        let out = n * c_out.div_ceil(B) * B * oh * ow;
        let params = NchwcConvParams {
            conv: window.conv2d_params([n, c_in, h, w], c_out, 1).unwrap(),
            block: B as usize,
            input_blocked,
        };
        let wb = if params.validate().is_ok() {
            packed_nchwc_weights_len(&params) as u64 * 4
        } else {
            0
        };
        let geometry = format!("n={n} c_in={c_in} c_out={c_out} h={h} w={w}");
        v.push(
            Case::new(
                format!("NchwcConv {geometry} blocked={input_blocked}"),
                Step::NchwcConv(NchwcConvStep {
                    n,
                    c_in,
                    h,
                    w,
                    c_out,
                    block: B,
                    input_blocked,
                    window,
                    oh,
                    ow,
                    x: at(0),
                    weights: weights(wb),
                    bias: None,
                    residual: None,
                    act: Activation::None,
                    y: at(Y),
                }),
                out,
            )
            .weights(wb, None),
        );
        let mut q = QuantNchwcConvStep {
            n,
            c_in,
            h,
            w,
            c_out,
            input_blocked,
            window,
            oh,
            ow,
            x: at(0),
            weights: weights(0),
            residual: None,
            act: Activation::None,
            y: at(Y),
            scratch: at(SCRATCH),
        };
        let qb = q.weights_bytes().unwrap();
        q.weights = weights(qb);
        v.push(
            Case::new(
                format!("QuantNchwcConv {geometry} blocked={input_blocked}"),
                Step::QuantNchwcConv(q),
                out,
            )
            .weights(qb, None),
        );
        if blocked == 2 {
            let (oh, ow) = (out_len(h, 1, 2), out_len(w, 1, 2));
            v.push(Case::new(
                format!("NchwcMaxPool n={n} c={c_in} h={h} w={w}"),
                Step::NchwcMaxPool(NchwcMaxPoolStep {
                    n,
                    c: c_in,
                    h,
                    w,
                    block: B,
                    window: Window2d {
                        kernel: [2, 2],
                        strides: [1, 1],
                        pads: [1, 1, 0, 0],
                        dilations: [1, 1],
                    },
                    oh,
                    ow,
                    x: at(0),
                    y: at(Y),
                }),
                n * c_in.div_ceil(B) * B * oh * ow,
            ));
            for to_blocked in [true, false] {
                let (plain, blocked) = (n * c_in * h, n * c_in.div_ceil(B) * B * h);
                v.push(Case::new(
                    format!("Reorder n={n} c={c_in} hw={h} to_blocked={to_blocked}"),
                    Step::Reorder(ReorderStep {
                        to_blocked,
                        n,
                        c: c_in,
                        hw: h,
                        block: B,
                        x: at(0),
                        y: at(Y),
                    }),
                    if to_blocked { blocked } else { plain },
                ));
            }
        }
    }
}
