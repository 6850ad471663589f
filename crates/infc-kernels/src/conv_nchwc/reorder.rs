//! Reorders between plain NCHW `[N][C][H·W]` and blocked `[N][ceil(C/c)][H·W][c]` (padding lanes
//! zero), the only layout conversions at the ends of a blocked region.

use super::blocked_len;
use crate::error::{bad_shape, check_len, Result};
use crate::simd::{multiversion, PARALLEL_MIN_ELEMS};
use crate::Isa;
use rayon::prelude::*;

fn check(batch: usize, channels: usize, plane: usize, block: usize) -> Result<usize> {
    if !super::NCHWC_BLOCKS.contains(&block) {
        return Err(bad_shape(
            "nchwc reorder",
            format!("block {block} (supported: 8, 16)"),
        ));
    }
    Ok(blocked_len(batch, channels, plane, block))
}

multiversion! {
    fn block_one(x: &[f32], channels: usize, plane: usize, block: usize, cb: usize, y: &mut [f32]) {
        for (p, lanes) in y.chunks_exact_mut(block).enumerate().take(plane) {
            for (l, v) in lanes.iter_mut().enumerate() {
                let c = cb * block + l;
                *v = if c < channels { x[c * plane + p] } else { 0.0 };
            }
        }
    }
}

multiversion! {
    fn unblock_one(x: &[f32], plane: usize, block: usize, c: usize, y: &mut [f32]) {
        let (cb, l) = (c / block, c % block);
        let src = &x[cb * plane * block..(cb + 1) * plane * block];
        for (p, v) in y.iter_mut().enumerate().take(plane) {
            *v = src[p * block + l];
        }
    }
}

/// `x: [batch][channels][plane]` → `y: [batch][ceil(channels/block)][plane][block]`.
pub fn to_blocked(
    isa: Isa,
    batch: usize,
    channels: usize,
    plane: usize,
    block: usize,
    x: &[f32],
    y: &mut [f32],
) -> Result<()> {
    let blen = check(batch, channels, plane, block)?;
    check_len("reorder input", x.len(), batch * channels * plane)?;
    check_len("reorder output", y.len(), blen)?;
    if blen == 0 {
        return Ok(());
    }
    let cbn = channels.div_ceil(block);
    let per_img = channels * plane;
    let f = |(i, out): (usize, &mut [f32])| {
        let (img, cb) = (i / cbn, i % cbn);
        block_one(
            isa,
            &x[img * per_img..(img + 1) * per_img],
            channels,
            plane,
            block,
            cb,
            out,
        )
    };
    let y = &mut y[..blen];
    if blen >= PARALLEL_MIN_ELEMS && crate::parallelism::threads() > 1 {
        y.par_chunks_mut(plane * block).enumerate().for_each(f);
    } else {
        y.chunks_mut(plane * block).enumerate().for_each(f);
    }
    Ok(())
}

/// `x: [batch][ceil(channels/block)][plane][block]` → `y: [batch][channels][plane]`.
pub fn from_blocked(
    isa: Isa,
    batch: usize,
    channels: usize,
    plane: usize,
    block: usize,
    x: &[f32],
    y: &mut [f32],
) -> Result<()> {
    let blen = check(batch, channels, plane, block)?;
    check_len("reorder input", x.len(), blen)?;
    check_len("reorder output", y.len(), batch * channels * plane)?;
    if blen == 0 {
        return Ok(());
    }
    let per_img = blen / batch;
    let f = |(i, out): (usize, &mut [f32])| {
        let (img, c) = (i / channels, i % channels);
        unblock_one(
            isa,
            &x[img * per_img..(img + 1) * per_img],
            plane,
            block,
            c,
            out,
        )
    };
    let y = &mut y[..batch * channels * plane];
    if blen >= PARALLEL_MIN_ELEMS && crate::parallelism::threads() > 1 {
        y.par_chunks_mut(plane).enumerate().for_each(f);
    } else {
        y.chunks_mut(plane).enumerate().for_each(f);
    }
    Ok(())
}
