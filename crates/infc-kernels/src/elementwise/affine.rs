//! [`clip`] and [`affine_channels`] (inference batch normalisation folded to `x·scale + shift`).

use crate::error::{bad_shape, check_len, Result};
use crate::simd::multiversion;
use crate::Isa;

multiversion! {
    fn clip_loop(x: &[f32], lo: f32, hi: f32, y: &mut [f32]) {
        let x = &x[..y.len()];
        for i in 0..y.len() {
            let v = x[i];
            y[i] = if v < lo { lo } else if v > hi { hi } else { v };
        }
    }
}

/// `y = min(max(x, lo), hi)` (NaN stays NaN); `x` and `y` have the same length.
pub fn clip(isa: Isa, x: &[f32], lo: f32, hi: f32, y: &mut [f32]) -> Result<()> {
    if x.len() != y.len() {
        return Err(bad_shape(
            "clip",
            format!("input has {} elements, output {}", x.len(), y.len()),
        ));
    }
    clip_loop(isa, x, lo, hi, y);
    Ok(())
}

multiversion! {
    fn affine_loop(x: &[f32], scale: f32, shift: f32, y: &mut [f32]) {
        let x = &x[..y.len()];
        for i in 0..y.len() {
            y[i] = x[i] * scale + shift;
        }
    }
}

/// `y[o, c, i] = x[o, c, i] · scale[c] + shift[c]` for `x, y: [outer, channels, inner]`
/// (batch norm with `scale = γ/√(σ²+ε)`, `shift = β − μ·scale`).
#[allow(clippy::too_many_arguments)]
pub fn affine_channels(
    isa: Isa,
    x: &[f32],
    scale: &[f32],
    shift: &[f32],
    outer: usize,
    channels: usize,
    inner: usize,
    y: &mut [f32],
) -> Result<()> {
    let total = outer * channels * inner;
    check_len("affine input", x.len(), total)?;
    check_len("affine output", y.len(), total)?;
    check_len("affine scale", scale.len(), channels)?;
    check_len("affine shift", shift.len(), channels)?;
    if inner == 0 {
        return Ok(());
    }
    for (r, out) in y[..total].chunks_exact_mut(inner).enumerate() {
        let c = r % channels;
        affine_loop(isa, &x[r * inner..(r + 1) * inner], scale[c], shift[c], out);
    }
    Ok(())
}
