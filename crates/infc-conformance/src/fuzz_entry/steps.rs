//! Random steps for [`super::plan_gen`]: [`step`] picks any of the plan's step kinds; this file
//! builds the elementwise, movement, reduction, gather and normalisation steps, `steps_nn.rs` the
//! matmul, conv, pooling, attention, quantized and channel-blocked ones.

use super::plan_gen::{nbytes, Gen};
use super::steps_nn;
use infc::plan_format::*;

/// One step of a kind chosen by the fuzzer.
pub fn step(g: &mut Gen) -> Step {
    match g.below(28) {
        0 => unary(g),
        1 => binary(g),
        2 => where_(g),
        3 => cast(g),
        4 => clip(g),
        5 => fill(g),
        6 => range(g),
        7 => copy(g),
        8 => reduce(g),
        9 => gather(g),
        10 => gather_nd(g),
        11 => trilu(g),
        12 => softmax(g),
        13 => layer_norm(g),
        14 => batch_norm(g),
        15 => global_avg_pool(g),
        26 => cumsum(g),
        27 => rms_norm(g),
        k => steps_nn::step(g, k - 16),
    }
}

fn unary(g: &mut Gen) -> Step {
    let op = g.pick(UnaryKind::ALL);
    let dtype = match op {
        UnaryKind::Not => DType::Bool,
        _ => g.fdtype(),
    };
    let len = g.dim().wrapping_mul(g.pos());
    let x = g.inp();
    let y = if g.one_in(4) {
        x
    } else {
        g.out(nbytes(4, &[len]))
    };
    Step::Unary(UnaryStep {
        op,
        dtype,
        len,
        x,
        y,
    })
}

fn binary(g: &mut Gen) -> Step {
    let op = g.pick(BinaryKind::ALL);
    let dtype = match op {
        BinaryKind::And | BinaryKind::Or | BinaryKind::Xor => DType::Bool,
        _ => g.fdtype(),
    };
    let shape = g.shape(4);
    let (a, a_strides) = (g.inp(), g.strides(&shape));
    let (b, b_strides) = (g.inp(), g.strides(&shape));
    let y = g.out(nbytes(dtype.size(), &shape));
    Step::Binary(BinaryStep {
        op,
        dtype,
        shape,
        a,
        a_strides,
        b,
        b_strides,
        y,
    })
}

fn where_(g: &mut Gen) -> Step {
    let dtype = g.fdtype();
    let shape = g.shape(4);
    let (cond, cond_strides) = (g.inp(), g.strides(&shape));
    let (a, a_strides) = (g.inp(), g.strides(&shape));
    let (b, b_strides) = (g.inp(), g.strides(&shape));
    let y = g.out(nbytes(dtype.size(), &shape));
    Step::Where(WhereStep {
        dtype,
        shape,
        cond,
        cond_strides,
        a,
        a_strides,
        b,
        b_strides,
        y,
    })
}

fn cast(g: &mut Gen) -> Step {
    let (from, to, len) = (g.dtype(), g.dtype(), g.dim());
    let x = g.inp();
    let y = g.out(nbytes(to.size(), &[len]));
    Step::Cast(CastStep {
        from,
        to,
        len,
        x,
        y,
    })
}

fn clip(g: &mut Gen) -> Step {
    let (len, min, max) = (g.dim(), g.f32(), g.f32());
    let x = g.inp();
    let y = g.out(nbytes(4, &[len]));
    Step::Clip(ClipStep {
        len,
        min,
        max,
        x,
        y,
    })
}

fn fill(g: &mut Gen) -> Step {
    let (dtype, len) = (g.dtype(), g.dim());
    let value = if g.one_in(4) { g.u64() } else { g.below(256) };
    let y = g.out(nbytes(dtype.size(), &[len]));
    Step::Fill(FillStep {
        dtype,
        len,
        value,
        y,
    })
}

fn range(g: &mut Gen) -> Step {
    let dtype = g.pick(&[DType::F32, DType::I64, DType::I32, DType::F16]);
    let len = g.dim();
    let (start, delta) = (g.inp(), g.inp());
    let y = g.out(nbytes(dtype.size(), &[len]));
    Step::Range(RangeStep {
        dtype,
        len,
        start,
        delta,
        y,
    })
}

fn copy(g: &mut Gen) -> Step {
    let dtype = g.dtype();
    let shape = g.shape(5);
    let (src, src_strides) = (g.inp(), g.istrides(&shape));
    let dst_strides = g.istrides(&shape);
    let dst = g.out(nbytes(dtype.size(), &shape));
    Step::Copy(CopyStep {
        dtype,
        shape,
        src,
        src_strides,
        dst,
        dst_strides,
    })
}

fn reduce(g: &mut Gen) -> Step {
    let op = g.pick(ReduceKind::ALL);
    let dtype = if g.one_in(4) { g.dtype() } else { DType::F32 };
    let full = g.shape(4);
    let strides = g.strides(&full);
    let (mut out_shape, mut out_strides, mut red_shape, mut red_strides) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (i, &d) in full.iter().enumerate() {
        let s = strides.get(i).copied().unwrap_or(1);
        if g.bool() {
            red_shape.push(d);
            red_strides.push(s);
        } else {
            out_shape.push(d);
            out_strides.push(s);
        }
    }
    let x = g.inp();
    let y = g.out(nbytes(dtype.size(), &out_shape));
    Step::Reduce(ReduceStep {
        op,
        dtype,
        out_shape,
        out_strides,
        red_shape,
        red_strides,
        x,
        y,
    })
}

/// Mostly i64 or i32 indices.
fn idx_dtype(g: &mut Gen) -> DType {
    if g.one_in(8) {
        g.dtype()
    } else {
        g.pick(&[DType::I64, DType::I32])
    }
}

fn gather(g: &mut Gen) -> Step {
    let (dtype, idx_dtype) = (g.dtype(), idx_dtype(g));
    let (outer, axis_len, inner, n_idx) = (g.dim(), g.dim(), g.dim(), g.dim());
    let (data, indices) = (g.inp(), g.inp());
    let y = g.out(nbytes(dtype.size(), &[outer, n_idx, inner]));
    Step::Gather(GatherStep {
        dtype,
        idx_dtype,
        outer,
        axis_len,
        inner,
        n_idx,
        data,
        indices,
        y,
    })
}

fn gather_nd(g: &mut Gen) -> Step {
    let (dtype, idx_dtype) = (g.dtype(), idx_dtype(g));
    let (batch, n_per_batch, slice_len) = (g.dim(), g.dim(), g.dim());
    let index_dims = g.shape(3);
    let (data, indices) = (g.inp(), g.inp());
    let y = g.out(nbytes(dtype.size(), &[batch, n_per_batch, slice_len]));
    Step::GatherNd(GatherNdStep {
        dtype,
        idx_dtype,
        batch,
        n_per_batch,
        index_dims,
        slice_len,
        data,
        indices,
        y,
    })
}

fn rms_norm(g: &mut Gen) -> Step {
    let (rows, cols) = (g.dim(), g.dim());
    let (x, scale) = (g.inp(), g.inp());
    let y = g.out(nbytes(4, &[rows, cols]));
    Step::RmsNorm(RmsNormStep {
        rows,
        cols,
        epsilon: 1e-6,
        x,
        scale,
        y,
    })
}

fn cumsum(g: &mut Gen) -> Step {
    let dtype = g.dtype();
    let (outer, len, inner) = (g.dim(), g.dim(), g.dim());
    let x = g.inp();
    let y = g.out(nbytes(dtype.size(), &[outer, len, inner]));
    Step::CumSum(CumSumStep {
        dtype,
        exclusive: g.bool(),
        reverse: g.bool(),
        outer,
        len,
        inner,
        x,
        y,
    })
}

fn trilu(g: &mut Gen) -> Step {
    let dtype = g.dtype();
    let upper = g.bool();
    let k = if g.one_in(8) {
        g.u64() as i64
    } else {
        g.below(9) as i64 - 4
    };
    let k_at = if g.one_in(4) { Some(g.inp()) } else { None };
    let (batch, rows, cols) = (g.dim(), g.dim(), g.dim());
    let x = g.inp();
    let y = g.out(nbytes(dtype.size(), &[batch, rows, cols]));
    Step::Trilu(TriluStep {
        dtype,
        upper,
        k,
        k_at,
        batch,
        rows,
        cols,
        x,
        y,
    })
}

fn softmax(g: &mut Gen) -> Step {
    let (outer, axis, inner) = (g.dim(), g.dim(), g.dim());
    let x = g.inp();
    let y = g.out(nbytes(4, &[outer, axis, inner]));
    Step::Softmax(SoftmaxStep {
        outer,
        axis,
        inner,
        x,
        y,
    })
}

fn layer_norm(g: &mut Gen) -> Step {
    let (rows, cols, epsilon) = (g.dim(), g.dim(), g.f32());
    let (x, scale, bias) = (g.inp(), g.inp(), g.opt_inp());
    let y = g.out(nbytes(4, &[rows, cols]));
    Step::LayerNorm(LayerNormStep {
        rows,
        cols,
        epsilon,
        x,
        scale,
        bias,
        y,
    })
}

fn batch_norm(g: &mut Gen) -> Step {
    let (n, c, inner, epsilon) = (g.dim(), g.dim(), g.dim(), g.f32());
    let (x, scale, bias, mean, var) = (g.inp(), g.inp(), g.inp(), g.inp(), g.inp());
    let y = g.out(nbytes(4, &[n, c, inner]));
    Step::BatchNorm(BatchNormStep {
        n,
        c,
        inner,
        epsilon,
        x,
        scale,
        bias,
        mean,
        var,
        y,
    })
}

fn global_avg_pool(g: &mut Gen) -> Step {
    let (nc, hw) = (g.dim(), g.dim());
    let x = g.inp();
    let y = g.out(nbytes(4, &[nc]));
    Step::GlobalAvgPool(GlobalAvgPoolStep { nc, hw, x, y })
}
