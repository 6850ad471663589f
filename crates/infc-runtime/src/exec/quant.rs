//! Dynamically quantized steps: `QuantMatMul` and `QuantConv`. Activations are quantized to u8
//! inside the step (into the step's arena scratch), multiplied by the compile-time s8 weights with
//! `infc_kernels::int8::gemm_u8s8_f32` (s32 accumulation, zero-point compensation from the packed
//! column sums) and dequantized in the GEMM's epilogue together with bias, residual and activation.
//!
//! * MatMul quantizes per row (blocks of [`ROW_BLOCK`] rows, their parameters on the stack; each
//!   block is quantized and multiplied in one parallel region) or per tensor, as the step says.
//!   A step with a `pre_norm` LayerNorm-s each row as it quantizes it (per row only).
//! * Conv quantizes the whole input with one scale, transposes the u8 bytes to NHWC (channels
//!   padded to a multiple of 4), unfolds each output pixel's window into a row (im2col in the u8
//!   domain, padding = the zero point, which is exactly 0.0) — skipped for 1×1 stride-1 unpadded
//!   convs, whose NHWC input already is the A matrix — multiplies per group into a pixel-major f32
//!   tile and transposes it into NCHW `y`, adding the residual and activation on the way when the
//!   step has a residual (otherwise bias and activation run in the GEMM epilogue).
//!
//! Packed weights are validated once at load ([`check_weights`]); runs only check lengths.

use crate::fault::{fault, StepFault};
use crate::mem::{f32s, f32s_mut, opt_f32s, rd, Mem, NONE};
use infc_kernels::gemm::{Activation as KAct, Bias as KBias, Epilogue};
use infc_kernels::int8::pack::packed_cols_len;
use infc_kernels::int8::{
    a_row_len, gemm_u8s8_f32, packed_b8_bytes, quantize_rows_gemm_u8s8_f32, quantize_tensor_u8,
    AQuant, Int8Isa, PackedB8Ref, QParams, QuantizedA,
};
use infc_kernels::parallelism::for_each_chunk_mut;
use infc_kernels::{unary_inplace, Conv2dParams, Isa, RowNorm, UnaryKind};
use infc_plan::{Activation, QuantConvStep, QuantMatMulStep, TensorRef};

/// Rows quantized and multiplied together when A is quantized per row.
const ROW_BLOCK: usize = 256;

fn ke(e: infc_kernels::KernelError) -> StepFault {
    StepFault::Kernel(e)
}

fn act(a: Activation) -> KAct {
    match a {
        Activation::None => KAct::None,
        Activation::Relu => KAct::Relu,
        Activation::GeluErf => KAct::GeluErf,
        Activation::GeluTanh => KAct::GeluTanh,
    }
}

/// View packed bytes `[s8 data | i32 column sums | f32 scales]` of one `k × n` matrix; with
/// `validate` every value is checked ([`PackedB8Ref::new`], at load), otherwise only lengths.
fn weights(bytes: &[u8], k: usize, n: usize, validate: bool) -> Result<PackedB8Ref<'_>, StepFault> {
    let total = packed_b8_bytes(k, n).ok_or("weights size overflows")?;
    if bytes.len() != total {
        return Err(fault!(
            "quantized weights have {} bytes, k={k} n={n} needs {total}",
            bytes.len()
        ));
    }
    // `[data | sums | scales]`: two vectors of `packed_cols_len(n)` 4-byte values at the end.
    let cl = packed_cols_len(n).ok_or("weights size overflows")? * 4;
    let dl = total - 2 * cl;
    let cast = |e: bytemuck::PodCastError| format!("quantized weights: {e:?}");
    let data: &[i8] = bytemuck::try_cast_slice(&bytes[..dl]).map_err(cast)?;
    let sums: &[i32] = bytemuck::try_cast_slice(&bytes[dl..dl + cl]).map_err(cast)?;
    let scales: &[f32] = bytemuck::try_cast_slice(&bytes[dl + cl..]).map_err(cast)?;
    if validate {
        PackedB8Ref::new(k, n, data, sums, scales).map_err(ke)
    } else {
        PackedB8Ref::from_checked_parts(k, n, data, sums, scales).map_err(ke)
    }
}

/// Load-time check of `groups` consecutive packed `k × n` weight blocks: values in range, zero
/// padding, column sums matching the data.
fn check_blocks(consts: &[u8], at: u64, groups: u64, k: u64, n: u64) -> Result<(), StepFault> {
    let one = packed_b8_bytes(k as usize, n as usize).ok_or("weights size overflows")?;
    let start = at as usize;
    for g in 0..groups as usize {
        let block = consts
            .get(start + g * one..start + (g + 1) * one)
            .ok_or("quantized weights lie outside the constants")?;
        weights(block, k as usize, n as usize, true)?;
    }
    Ok(())
}

/// Load-time validation of a quantized matmul's weights.
pub(crate) fn check_matmul(s: &QuantMatMulStep, consts: &[u8]) -> Result<(), StepFault> {
    check_blocks(consts, s.weights.offset, 1, s.k, s.n)
}

/// Load-time validation of a quantized conv's weights and geometry.
pub(crate) fn check_conv(s: &QuantConvStep, consts: &[u8]) -> Result<(), StepFault> {
    let (kg, cog) = s.group_dims().ok_or("zero group")?;
    if kg as usize > infc_kernels::int8::K_MAX {
        return Err(fault!(
            "reduction length {kg} exceeds the int8 kernels' limit"
        ));
    }
    check_blocks(consts, s.weights.offset, s.group, kg, cog)
}

pub(crate) fn matmul(
    s: &QuantMatMulStep,
    mem: &mut Mem<'_>,
    isa: Int8Isa,
) -> Result<(), StepFault> {
    let (m, n, k) = (s.m as usize, s.n as usize, s.k as usize);
    let lda = a_row_len(k);
    let bias_read = s.bias.map_or(NONE, |b| rd(b, n * 4));
    let res_read = s.residual.map_or(NONE, |r| rd(r, m * n * 4));
    let w_read = rd(TensorRef::konst(s.weights.offset), s.weights.bytes as usize);
    let pn = s.pre_norm.as_ref();
    let ns_read = pn.map_or(NONE, |p| rd(p.scale, k * 4));
    let nb_read = pn.and_then(|p| p.bias).map_or(NONE, |b| rd(b, k * 4));
    let (y, scratch, [a, w, bias, res, nscale, nbias]) = mem.io2(
        (s.y.offset, m * n * 4),
        (s.scratch.offset, m * lda),
        [
            rd(s.a, m * k * 4),
            w_read,
            bias_read,
            res_read,
            ns_read,
            nb_read,
        ],
    )?;
    let a = f32s(a.ok_or("A aliases an output")?)?;
    let b = weights(w.ok_or("weights alias an output")?, k, n, false)?;
    let y = f32s_mut(y)?;
    let bias = opt_f32s(s.bias, bias)?;
    let res = opt_f32s(s.residual, res)?;
    let norm = match (pn, nscale) {
        (Some(p), Some(sc)) => Some(RowNorm {
            scale: f32s(sc)?,
            bias: opt_f32s(p.bias, nbias)?,
            epsilon: p.epsilon,
        }),
        _ => None,
    };
    let mut epi = Epilogue {
        bias: bias.map(KBias::PerColumn),
        activation: act(s.act),
        ..Epilogue::default()
    };
    if m == 0 || n == 0 {
        return Ok(());
    }
    if !s.per_row {
        if norm.is_some() {
            return Err("a LayerNorm before quantization needs per-row quantization".into());
        }
        let p = quantize_tensor_u8(isa, a, m, k, k, scratch, lda).map_err(ke)?;
        epi.residual = res.map(|r| (r, n));
        let qa = QuantizedA {
            data: scratch,
            ld: lda,
            params: AQuant::PerTensor(p),
        };
        return gemm_u8s8_f32(isa, m, n, k, &qa, &b, y, n, &epi).map_err(ke);
    }
    let mut params = [QParams::from_range(0.0, 0.0); ROW_BLOCK];
    for r0 in (0..m).step_by(ROW_BLOCK) {
        let rows = ROW_BLOCK.min(m - r0);
        let q = &mut scratch[r0 * lda..(r0 + rows) * lda];
        let xa = &a[r0 * k..(r0 + rows) * k];
        epi.residual = res.map(|r| (&r[r0 * n..(r0 + rows) * n], n));
        let yb = &mut y[r0 * n..(r0 + rows) * n];
        let p = &mut params[..rows];
        quantize_rows_gemm_u8s8_f32(isa, rows, n, k, xa, k, norm, q, lda, p, &b, yb, n, &epi)
            .map_err(ke)?;
    }
    Ok(())
}

/// Geometry of one conv in `usize`.
struct Geo {
    /// Input, window and channels (not validated by the kernel: the plan validator checked them).
    p: Conv2dParams,
    oh: usize,
    ow: usize,
    /// Channels per pixel row of the NHWC copy (`round_up(c_in, 4)`).
    cpad: usize,
}

/// `xt[p, c] = xq[c, p]` for one image: `c_in × hw` bytes to `hw` rows of `cpad` bytes.
fn to_nhwc(xq: &[u8], xt: &mut [u8], c_in: usize, hw: usize, cpad: usize) {
    const T: usize = 32;
    if cpad == 0 {
        return; // No input channels: nothing to transpose.
    }
    for_each_chunk_mut(xt, T * cpad, |blk, rows| {
        let p0 = blk * T;
        let np = rows.len() / cpad;
        for c0 in (0..c_in).step_by(T) {
            let c1 = (c0 + T).min(c_in);
            for c in c0..c1 {
                let src = &xq[c * hw + p0..c * hw + p0 + np];
                for (i, &v) in src.iter().enumerate() {
                    rows[i * cpad + c] = v;
                }
            }
        }
    });
}

/// `dst = src` for one tap's channels. Few channels (the stem conv) are copied with
/// fixed-length moves: a `memcpy` call per 3-byte tap costs more than the bytes.
#[inline(always)]
fn copy_tap(dst: &mut [u8], src: &[u8]) {
    match dst.len() {
        1 => dst[0] = src[0],
        2 => dst[..2].copy_from_slice(&src[..2]),
        3 => dst[..3].copy_from_slice(&src[..3]),
        4 => dst[..4].copy_from_slice(&src[..4]),
        8 => dst[..8].copy_from_slice(&src[..8]),
        _ => dst.copy_from_slice(src),
    }
}

/// Unfold group `g` of one NHWC image into `cols` (`oh·ow` rows of `ldc` bytes ordered
/// `(ky, kx, channel)`); out-of-image taps get the zero point.
fn im2col(geo: &Geo, xt: &[u8], g0: usize, cig: usize, zp: u8, cols: &mut [u8], ldc: usize) {
    if ldc * geo.ow == 0 {
        return; // Empty rows (no input channels) or no output columns: nothing to unfold.
    }
    let p = &geo.p;
    for_each_chunk_mut(cols, ldc * geo.ow, |oy, rows| {
        for ox in 0..geo.ow {
            let row = &mut rows[ox * ldc..(ox + 1) * ldc];
            let mut at = 0;
            for ky in 0..p.kernel_h {
                let iy = (oy * p.stride_h + ky * p.dilation_h).wrapping_sub(p.pad_top);
                for kx in 0..p.kernel_w {
                    let ix = (ox * p.stride_w + kx * p.dilation_w).wrapping_sub(p.pad_left);
                    let dst = &mut row[at..at + cig];
                    if iy < p.in_h && ix < p.in_w {
                        let src = (iy * p.in_w + ix) * geo.cpad + g0;
                        copy_tap(dst, &xt[src..src + cig]);
                    } else {
                        dst.fill(zp);
                    }
                    at += cig;
                }
            }
        }
    });
}

/// `y[c, p] = act(t[p, c] + res[c, p])` for a `pixels × ch` tile (`res` optional), in blocks of
/// 16 channels so each pixel's 16 values are one contiguous read.
fn transpose_out(
    t: &[f32],
    y: &mut [f32],
    res: Option<&[f32]>,
    a: Activation,
    pixels: usize,
    fisa: Isa,
) {
    const CB: usize = 16;
    let ch = y.len() / pixels.max(1);
    for_each_chunk_mut(y, CB * pixels, |blk, yb| {
        let c0 = blk * CB;
        let nc = yb.len() / pixels;
        for p in 0..pixels {
            let src = &t[p * ch + c0..p * ch + c0 + nc];
            for (cc, &v) in src.iter().enumerate() {
                yb[cc * pixels + p] = v;
            }
        }
        if let Some(r) = res {
            let rb = &r[c0 * pixels..(c0 + nc) * pixels];
            for (v, &add) in yb.iter_mut().zip(rb) {
                *v += add;
            }
        }
        let op = match a {
            Activation::None => return,
            Activation::Relu => UnaryKind::Relu,
            Activation::GeluErf => UnaryKind::GeluErf,
            Activation::GeluTanh => UnaryKind::GeluTanh,
        };
        unary_inplace(fisa, op, yb);
    });
}

pub(crate) fn conv(
    s: &QuantConvStep,
    mem: &mut Mem<'_>,
    isa: Int8Isa,
    fisa: Isa,
) -> Result<(), StepFault> {
    let layout = s.scratch_layout().ok_or("scratch size overflows")?;
    let (kg, cog) = s.group_dims().ok_or("zero group")?;
    let (kg, cog, groups) = (kg as usize, cog as usize, s.group as usize);
    let geo = Geo {
        p: s.window
            .conv2d_params([s.n, s.c_in, s.h, s.w], s.c_out, s.group)
            .ok_or(super::linalg::DIMS_PAST_USIZE)?,
        oh: s.oh as usize,
        ow: s.ow as usize,
        cpad: a_row_len(s.c_in as usize),
    };
    let c_in = geo.p.in_channels;
    let (batch, c_out) = (s.n as usize, s.c_out as usize);
    let (hw, pixels) = (geo.p.in_h * geo.p.in_w, geo.oh * geo.ow);
    let x_len = batch * c_in * hw;
    let y_len = batch * c_out * pixels;
    let wb = packed_b8_bytes(kg, cog).ok_or("weights size overflows")?;
    let (y, scratch, [x, w, bias, res]) = mem.io2(
        (s.y.offset, y_len * 4),
        (s.scratch.offset, layout.bytes as usize),
        [
            rd(s.x, x_len * 4),
            rd(TensorRef::konst(s.weights.offset), wb * groups),
            s.bias.map_or(NONE, |b| rd(b, c_out * 4)),
            s.residual.map_or(NONE, |r| rd(r, y_len * 4)),
        ],
    )?;
    let x = f32s(x.ok_or("x aliases an output")?)?;
    let w = w.ok_or("weights alias an output")?;
    let y = f32s_mut(y)?;
    let bias = opt_f32s(s.bias, bias)?;
    let res = opt_f32s(s.residual, res)?;
    if y_len == 0 {
        return Ok(());
    }
    let (xq, rest) = scratch.split_at_mut(layout.xt as usize);
    let (xt, rest) = rest.split_at_mut((layout.cols - layout.xt) as usize);
    let (cols, tmp) = rest.split_at_mut((layout.tmp - layout.cols) as usize);
    let tmp = f32s_mut(&mut tmp[..pixels * cog * 4])?;
    let xq = &mut xq[..x_len];
    let p = quantize_tensor_u8(isa, x, batch * c_in, hw, hw, xq, hw).map_err(ke)?;
    let image_t = hw * geo.cpad;
    for b in 0..batch {
        to_nhwc(
            &xq[b * c_in * hw..(b + 1) * c_in * hw],
            &mut xt[b * image_t..(b + 1) * image_t],
            c_in,
            hw,
            geo.cpad,
        );
    }
    let direct = groups == 1
        && geo.p.kernel_h == 1
        && geo.p.kernel_w == 1
        && geo.p.stride_h == 1
        && geo.p.stride_w == 1
        && s.window.pads == [0; 4]
        && pixels == hw;
    let ldc = a_row_len(kg);
    let cig = c_in / groups;
    for b in 0..batch {
        for g in 0..groups {
            let wg = weights(&w[g * wb..(g + 1) * wb], kg, cog, false)?;
            let (a_data, lda) = if direct {
                (&xt[b * image_t..(b + 1) * image_t], geo.cpad)
            } else {
                let img = &xt[b * image_t..(b + 1) * image_t];
                im2col(
                    &geo,
                    img,
                    g * cig,
                    cig,
                    p.zero_point,
                    &mut cols[..pixels * ldc],
                    ldc,
                );
                (&cols[..pixels * ldc], ldc)
            };
            let qa = QuantizedA {
                data: a_data,
                ld: lda,
                params: AQuant::PerTensor(p),
            };
            let epi = Epilogue {
                bias: bias.map(|bv| KBias::PerColumn(&bv[g * cog..(g + 1) * cog])),
                activation: if res.is_some() {
                    KAct::None
                } else {
                    act(s.act)
                },
                ..Epilogue::default()
            };
            gemm_u8s8_f32(isa, pixels, cog, kg, &qa, &wg, tmp, cog, &epi).map_err(ke)?;
            let y0 = (b * c_out + g * cog) * pixels;
            let yg = &mut y[y0..y0 + cog * pixels];
            match res {
                Some(r) => {
                    let rg = &r[y0..y0 + cog * pixels];
                    transpose_out(tmp, yg, Some(rg), s.act, pixels, fisa)
                }
                None => transpose_out(tmp, yg, None, Activation::None, pixels, fisa),
            }
        }
    }
    Ok(())
}
