//! Random matmul, conv, pooling, attention, quantized and channel-blocked steps for
//! [`super::plan_gen`]. Packed weights and scratch get the length the kernels need (computed with
//! the kernels' own formulas when every dim is small) most of the time.

use super::plan_gen::{nbytes, Gen, Window};
use infc::plan_format::packing::{
    packed_b8_bytes, packed_b_len, packed_conv_weights_len, packed_nchwc_weights_len, quant_a_len,
    NchwcConvParams,
};
use infc::plan_format::*;

/// Every dim is small enough for the kernels' length formulas (plain `usize` arithmetic).
fn small(dims: &[u64]) -> bool {
    dims.iter().all(|&d| d <= 4096)
}

/// Step number `k` (0..10) of this file's kinds.
pub fn step(g: &mut Gen, k: u64) -> Step {
    match k {
        0 => matmul(g),
        1 => conv(g),
        2 => pool(g),
        3 => attention(g),
        4 => quant_matmul(g),
        5 => quant_conv(g),
        6 => quant_nchwc_conv(g),
        7 => nchwc_conv(g),
        8 => reorder(g),
        _ => nchwc_max_pool(g),
    }
}

/// `strides` of a batch grid scaled by the elements of one matrix (saturating).
fn batch_strides(g: &mut Gen, batch: &[u64], matrix: u64) -> Vec<u64> {
    g.strides(batch)
        .iter()
        .map(|s| s.saturating_mul(matrix))
        .collect()
}

fn matmul(g: &mut Gen) -> Step {
    let batch_shape = g.shape(2);
    let (m, n, k) = (g.dim(), g.dim(), g.dim());
    let a_batch_strides = batch_strides(g, &batch_shape, m.saturating_mul(k));
    let (a, trans_a) = (g.inp(), g.bool());
    let (b, b_batch_strides) = if g.bool() {
        let want = small(&[k, n]).then(|| packed_b_len(k as usize, n as usize) as u64 * 4);
        let zeros = vec![0; batch_shape.len()];
        (MatB::Packed(g.packed(want)), zeros)
    } else {
        let strides = batch_strides(g, &batch_shape, k.saturating_mul(n));
        let b = MatB::Plain {
            at: g.inp(),
            trans: g.bool(),
        };
        (b, strides)
    };
    let bias = g.bool().then(|| Bias {
        at: g.inp(),
        kind: g.pick(&[
            BiasKind::Scalar,
            BiasKind::Row,
            BiasKind::Col,
            BiasKind::Full,
        ]),
        beta: g.f32(),
    });
    let (alpha, residual, act) = (g.f32(), g.opt_inp(), g.act());
    let mut dims = batch_shape.clone();
    dims.extend([m, n]);
    let y = g.out(nbytes(4, &dims));
    Step::MatMul(MatMulStep {
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
        y,
    })
}

/// Batch, input channels, height and width of a conv input.
fn image(g: &mut Gen) -> [u64; 4] {
    [g.pos(), g.pos(), g.pos(), g.pos()]
}

fn conv(g: &mut Gen) -> Step {
    let [n, c_in, h, w] = image(g);
    let c_out = g.pos();
    let group = match g.below(8) {
        0 => c_in,
        1 => g.dim(),
        _ => 1,
    };
    let Window { window, oh, ow } = g.window(h, w);
    let [kh, kw] = window.kernel;
    let want = (group > 0 && small(&[n, c_in, h, w, c_out, group, kh, kw]))
        .then(|| window.conv2d_params([n, c_in, h, w], c_out, group))
        .flatten()
        .map(|p| packed_conv_weights_len(&p) as u64 * 4);
    let (x, weights) = (g.inp(), g.packed(want));
    let (bias, residual, act) = (g.opt_inp(), g.opt_inp(), g.act());
    let y = g.out(nbytes(4, &[n, c_out, oh, ow]));
    Step::Conv(ConvStep {
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
    })
}

fn pool(g: &mut Gen) -> Step {
    let kind = g.pick(PoolKind::ALL);
    let [n, c, h, w] = image(g);
    let win = g.window(h, w);
    let x = g.inp();
    let y = g.out(nbytes(4, &[n, c, win.oh, win.ow]));
    Step::Pool(PoolStep {
        kind,
        n,
        c,
        h,
        w,
        window: win.window,
        oh: win.oh,
        ow: win.ow,
        x,
        y,
    })
}

fn attention(g: &mut Gen) -> Step {
    let (batch, heads, sq, sk, d) = (g.pos(), g.pos(), g.pos(), g.pos(), g.pos());
    let hd = heads.saturating_mul(d);
    let row = |g: &mut Gen| {
        if g.one_in(4) {
            hd.saturating_add(g.dim())
        } else {
            hd
        }
    };
    let qkv_row_strides = [row(g), row(g), row(g)];
    let (q, k, v) = (g.inp(), g.inp(), g.inp());
    let mask = g.opt_inp();
    let full = [
        heads.saturating_mul(sq).saturating_mul(sk),
        sq.saturating_mul(sk),
        sk,
        1,
    ];
    let mask_strides = full.map(|s| match g.below(4) {
        0 => 0,
        1 => g.dim(),
        _ => s,
    });
    let y = g.out(nbytes(4, &[batch, sq, hd]));
    let mut s = AttentionStep {
        batch,
        heads,
        sq,
        sk,
        d,
        scale: g.f32(),
        causal: g.bool(),
        hidden_fill: g.f32(),
        mask_hidden: g.bool(),
        zero_nan_rows: g.bool(),
        bf16: g.bool(),
        q,
        k,
        v,
        qkv_row_strides,
        mask,
        mask_strides,
        y,
        scratch: y,
    };
    s.scratch = g.out(s.scratch_floats().and_then(|f| f.checked_mul(4)));
    Step::Attention(s)
}

fn quant_matmul(g: &mut Gen) -> Step {
    let (m, n, k) = (g.dim(), g.dim(), g.dim());
    let a = g.inp();
    let pre_norm = g.one_in(3).then(|| PreNorm {
        epsilon: g.f32(),
        scale: g.inp(),
        bias: g.opt_inp(),
    });
    let weights = g.packed(packed_b8_bytes(k as usize, n as usize).map(|b| b as u64));
    let (per_row, bias, residual, act) = (g.bool(), g.opt_inp(), g.opt_inp(), g.act());
    let y = g.out(nbytes(4, &[m, n]));
    let scratch = g.out(quant_a_len(m as usize, k as usize).map(|b| b as u64));
    Step::QuantMatMul(QuantMatMulStep {
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
        scratch,
    })
}

fn quant_conv(g: &mut Gen) -> Step {
    let [n, c_in, h, w] = image(g);
    let c_out = g.pos();
    let group = if g.one_in(8) { c_in } else { 1 };
    let win = g.window(h, w);
    let (x, bias, residual, act) = (g.inp(), g.opt_inp(), g.opt_inp(), g.act());
    let y = g.out(nbytes(4, &[n, c_out, win.oh, win.ow]));
    let mut s = QuantConvStep {
        n,
        c_in,
        h,
        w,
        c_out,
        group,
        window: win.window,
        oh: win.oh,
        ow: win.ow,
        x,
        weights: PackedRef {
            offset: 0,
            bytes: 0,
        },
        bias,
        residual,
        act,
        y,
        scratch: y,
    };
    s.weights = g.packed(s.weights_bytes());
    s.scratch = g.out(s.scratch_layout().map(|l| l.bytes));
    Step::QuantConv(s)
}

fn quant_nchwc_conv(g: &mut Gen) -> Step {
    let [n, c_in, h, w] = image(g);
    let c_out = g.pos();
    let input_blocked = g.bool();
    let win = g.window(h, w);
    let (x, residual, act) = (g.inp(), g.opt_inp(), g.act());
    let blocked_out = c_out.div_ceil(16).saturating_mul(16);
    let y = g.out(nbytes(4, &[n, blocked_out, win.oh, win.ow]));
    let mut s = QuantNchwcConvStep {
        n,
        c_in,
        h,
        w,
        c_out,
        input_blocked,
        window: win.window,
        oh: win.oh,
        ow: win.ow,
        x,
        weights: PackedRef {
            offset: 0,
            bytes: 0,
        },
        residual,
        act,
        y,
        scratch: y,
    };
    s.weights = g.packed(s.weights_bytes());
    s.scratch = g.out(s.scratch_bytes());
    Step::QuantNchwcConv(s)
}

/// Mostly a supported channel block (8 or 16).
fn block(g: &mut Gen) -> u64 {
    if g.one_in(16) {
        g.dim()
    } else {
        g.pick(&[8, 16])
    }
}

fn nchwc_conv(g: &mut Gen) -> Step {
    let [n, c_in, h, w] = image(g);
    let (c_out, block, input_blocked) = (g.pos(), block(g), g.bool());
    let win = g.window(h, w);
    let [kh, kw] = win.window.kernel;
    let dims = [n, c_in, h, w, c_out, kh, kw];
    let want = (small(&dims) && (block == 8 || block == 16))
        .then(|| win.window.conv2d_params([n, c_in, h, w], c_out, 1))
        .flatten()
        .map(|conv| {
            let p = NchwcConvParams {
                conv,
                block: block as usize,
                input_blocked,
            };
            packed_nchwc_weights_len(&p) as u64 * 4
        });
    let (x, weights) = (g.inp(), g.packed(want));
    let (bias, residual) = (g.opt_inp(), g.opt_inp());
    let act = if g.bool() { Activation::None } else { g.act() };
    let blocked_out = c_out.div_ceil(block.max(1)).saturating_mul(block);
    let y = g.out(nbytes(4, &[n, blocked_out, win.oh, win.ow]));
    Step::NchwcConv(NchwcConvStep {
        n,
        c_in,
        h,
        w,
        c_out,
        block,
        input_blocked,
        window: win.window,
        oh: win.oh,
        ow: win.ow,
        x,
        weights,
        bias,
        residual,
        act,
        y,
    })
}

fn reorder(g: &mut Gen) -> Step {
    let (to_blocked, n, c, hw, block) = (g.bool(), g.dim(), g.dim(), g.dim(), block(g));
    let x = g.inp();
    let blocked = c.div_ceil(block.max(1)).saturating_mul(block);
    let y = g.out(nbytes(4, &[n, blocked, hw]));
    Step::Reorder(ReorderStep {
        to_blocked,
        n,
        c,
        hw,
        block,
        x,
        y,
    })
}

fn nchwc_max_pool(g: &mut Gen) -> Step {
    let [n, c, h, w] = image(g);
    let block = block(g);
    let win = g.window(h, w);
    let x = g.inp();
    let blocked = c.div_ceil(block.max(1)).saturating_mul(block);
    let y = g.out(nbytes(4, &[n, blocked, win.oh, win.ow]));
    Step::NchwcMaxPool(NchwcMaxPoolStep {
        n,
        c,
        h,
        w,
        block,
        window: win.window,
        oh: win.oh,
        ow: win.ow,
        x,
        y,
    })
}
