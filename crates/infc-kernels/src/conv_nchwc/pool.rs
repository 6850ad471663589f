//! Max pooling on blocked `[N][C/c][H][W][c]` tensors: each window's max is taken over `c`-lane
//! vectors, so the blocked region need not be left for the ResNet stem's MaxPool.

use super::blocked_len;
use crate::error::{bad_shape, check_len, Result};
use crate::pool::Pool2dParams;
use crate::simd::{multiversion, PARALLEL_MIN_ELEMS};
use crate::Isa;
use rayon::prelude::*;

/// Taps `[lo, hi)` of a window starting at `start` that fall inside `0..len`.
fn taps(start: isize, k: usize, d: usize, len: usize) -> (usize, usize) {
    let lo = if start >= 0 {
        0
    } else {
        ((-start) as usize).div_ceil(d)
    };
    let hi = if start >= len as isize {
        0
    } else {
        ((len as isize - start) as usize).div_ceil(d).min(k)
    };
    (lo.min(hi), hi)
}

multiversion! {
    fn pool_plane(p: &Pool2dParams, block: usize, lanes: usize, x: &[f32], y: &mut [f32]) {
        let (oh, ow) = (p.out_h(), p.out_w());
        let mut m = [0f32; 16];
        for oy in 0..oh {
            let iy0 = (oy * p.stride_h) as isize - p.pad_top as isize;
            let (ky0, ky1) = taps(iy0, p.kernel_h, p.dilation_h, p.in_h);
            for ox in 0..ow {
                let ix0 = (ox * p.stride_w) as isize - p.pad_left as isize;
                let (kx0, kx1) = taps(ix0, p.kernel_w, p.dilation_w, p.in_w);
                m[..block].fill(f32::NEG_INFINITY);
                for ky in ky0..ky1 {
                    let iy = (iy0 + (ky * p.dilation_h) as isize) as usize;
                    for kx in kx0..kx1 {
                        let ix = (ix0 + (kx * p.dilation_w) as isize) as usize;
                        let v = &x[(iy * p.in_w + ix) * block..][..block];
                        for (a, &b) in m[..block].iter_mut().zip(v) {
                            if b > *a || b.is_nan() {
                                *a = b;
                            }
                        }
                    }
                }
                // Padding lanes stay zero even for a window with no taps.
                m[lanes..block].fill(0.0);
                y[(oy * ow + ox) * block..][..block].copy_from_slice(&m[..block]);
            }
        }
    }
}

/// Max pooling of a blocked tensor. `p.channels` is the real channel count (the tensors hold
/// `ceil(channels/block)` blocks); padding never wins, NaN propagates, as in [`crate::max_pool2d`].
pub fn max_pool2d_nchwc(
    isa: Isa,
    p: &Pool2dParams,
    block: usize,
    x: &[f32],
    y: &mut [f32],
) -> Result<()> {
    p.validate()?;
    if !super::NCHWC_BLOCKS.contains(&block) {
        return Err(bad_shape(
            "nchwc max pool",
            format!("block {block} (supported: 8, 16)"),
        ));
    }
    let (ip, op) = (p.in_h * p.in_w, p.out_h() * p.out_w());
    let xlen = blocked_len(p.batch, p.channels, ip, block);
    let ylen = blocked_len(p.batch, p.channels, op, block);
    check_len("nchwc pool input", x.len(), xlen)?;
    check_len("nchwc pool output", y.len(), ylen)?;
    if ylen == 0 {
        return Ok(());
    }
    let cbn = p.channels.div_ceil(block);
    let f = |(i, out): (usize, &mut [f32])| {
        let cb = i % cbn;
        let lanes = (p.channels - cb * block).min(block);
        pool_plane(
            isa,
            p,
            block,
            lanes,
            &x[i * ip * block..(i + 1) * ip * block],
            out,
        )
    };
    let y = &mut y[..ylen];
    if xlen >= PARALLEL_MIN_ELEMS && crate::parallelism::threads() > 1 {
        y.par_chunks_mut(op * block).enumerate().for_each(f);
    } else {
        y.chunks_mut(op * block).enumerate().for_each(f);
    }
    Ok(())
}
