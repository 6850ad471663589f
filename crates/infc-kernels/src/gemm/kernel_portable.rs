//! Portable microkernel: up to 4 rows × 16 columns of scalar code over fixed-size arrays (the
//! compiler vectorises the 16-wide inner loop with the baseline SIMD of the target).

use super::tile::{MicroKernel, Tile, TileFn};
use super::{Activation, A_PANEL, B_PANEL};
use crate::math;

pub(crate) static KERNEL: MicroKernel = MicroKernel {
    mr: 4,
    np: 1,
    select,
};

fn select(rows: usize, _panels: usize) -> TileFn {
    match rows {
        1 => tile::<1>,
        2 => tile::<2>,
        3 => tile::<3>,
        _ => tile::<4>,
    }
}

/// Scalar activation (shared with other portable kernels).
#[inline]
pub(crate) fn activate(v: f32, act: Activation) -> f32 {
    match act {
        Activation::None => v,
        Activation::Relu => v.max(0.0),
        Activation::GeluErf => math::gelu_erf(v),
        Activation::GeluTanh => math::gelu_tanh(v),
    }
}

/// # Safety
/// The [`Tile`] contract holds (no CPU feature is needed).
unsafe fn tile<const MR: usize>(t: &Tile) {
    let mut acc = [[0f32; B_PANEL]; MR];
    if t.kc > 0 {
        // SAFETY: the packed A panel holds `kc` steps of `A_PANEL` floats from `a`, of which the
        // last step needs only `MR`; the B panel holds `kc × 16` floats.
        let a = unsafe { std::slice::from_raw_parts(t.a, (t.kc - 1) * A_PANEL + MR) };
        // SAFETY: see above.
        let b = unsafe { std::slice::from_raw_parts(t.b, t.kc * B_PANEL) };
        for (p, bp) in b.chunks_exact(B_PANEL).enumerate() {
            let ap = &a[p * A_PANEL..p * A_PANEL + MR];
            for (row, &av) in acc.iter_mut().zip(ap) {
                for (c, &bv) in row.iter_mut().zip(bp) {
                    *c += av * bv;
                }
            }
        }
    }
    for (i, row) in acc.iter().enumerate() {
        for (j, &v) in row.iter().enumerate().take(t.n) {
            // SAFETY: `(i, j)` with `i < mr`, `j < n` is inside the C tile.
            let cp = unsafe { t.c.add(i * t.ldc + j) };
            let mut v = v * t.alpha;
            if t.load_c {
                // SAFETY: as above.
                v += unsafe { *cp };
            }
            if let Some(e) = t.epi {
                // SAFETY: epilogue pointers are readable at the tile's `(i, j)` (see TileEpilogue).
                unsafe {
                    if !e.col_bias.is_null() {
                        v += *e.col_bias.add(j);
                    }
                    if !e.row_bias.is_null() {
                        v += *e.row_bias.add(i);
                    }
                    if !e.residual.is_null() {
                        v += *e.residual.add(i * e.ld_res + j);
                    }
                }
                v = activate(v, e.act);
            }
            // SAFETY: as above.
            unsafe { *cp = v };
        }
    }
}
