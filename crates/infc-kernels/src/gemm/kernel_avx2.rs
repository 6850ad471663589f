//! AVX2+FMA microkernel: up to 6 rows × 16 columns (one B panel as two ymm halves, 12 ymm
//! accumulators), masked loads/stores for partial columns, fused epilogue.

use super::tile::{MicroKernel, Tile, TileFn};
use super::{A_PANEL, B_PANEL};
use crate::simd::avx2::{activate, tail_mask};
use std::arch::x86_64::*;

pub(crate) static KERNEL: MicroKernel = MicroKernel {
    mr: 6,
    np: 1,
    select,
};

fn select(rows: usize, _panels: usize) -> TileFn {
    match rows {
        1 => tile::<1>,
        2 => tile::<2>,
        3 => tile::<3>,
        4 => tile::<4>,
        5 => tile::<5>,
        _ => tile::<6>,
    }
}

/// # Safety
/// The [`Tile`] contract holds and the CPU has AVX2 and FMA (the driver caps the ISA first).
#[target_feature(enable = "avx2,fma")]
unsafe fn tile<const MR: usize>(t: &Tile) {
    let mut acc = [[_mm256_setzero_ps(); 2]; MR];
    let mut a = t.a;
    let mut b = t.b;
    for _ in 0..t.kc {
        // SAFETY: 16 readable floats of the B panel at this k step.
        let b0 = unsafe { _mm256_loadu_ps(b) };
        // SAFETY: as above, second half.
        let b1 = unsafe { _mm256_loadu_ps(b.add(8)) };
        for (i, row) in acc.iter_mut().enumerate() {
            // SAFETY: `a[i]`, `i < MR ≤ mr`, inside the packed A panel at this k step.
            let av = _mm256_set1_ps(unsafe { *a.add(i) });
            row[0] = _mm256_fmadd_ps(av, b0, row[0]);
            row[1] = _mm256_fmadd_ps(av, b1, row[1]);
        }
        a = a.wrapping_add(A_PANEL);
        b = b.wrapping_add(B_PANEL);
    }
    let alpha = _mm256_set1_ps(t.alpha);
    for h in 0..2 {
        let valid = t.n.saturating_sub(h * 8).min(8);
        if valid == 0 {
            continue;
        }
        let mask = tail_mask(valid);
        let col_bias = match t.epi {
            // SAFETY: `col_bias[h*8 + j]` readable for valid columns; masked lanes are not read.
            Some(e) if !e.col_bias.is_null() => unsafe {
                _mm256_maskload_ps(e.col_bias.add(h * 8), mask)
            },
            _ => _mm256_setzero_ps(),
        };
        for (i, row) in acc.iter().enumerate() {
            // SAFETY: row `i < mr`, columns `h*8 + j < n`: inside the C tile.
            let cp = unsafe { t.c.add(i * t.ldc + h * 8) };
            let mut v = _mm256_mul_ps(row[h], alpha);
            if t.load_c {
                // SAFETY: same C elements, masked to valid columns.
                v = _mm256_add_ps(v, unsafe { _mm256_maskload_ps(cp, mask) });
            }
            if let Some(e) = t.epi {
                v = _mm256_add_ps(v, col_bias);
                if !e.row_bias.is_null() {
                    // SAFETY: `row_bias[i]` readable for `i < mr`.
                    v = _mm256_add_ps(v, _mm256_set1_ps(unsafe { *e.row_bias.add(i) }));
                }
                if !e.residual.is_null() {
                    // SAFETY: residual tile element `(i, h*8 + j)` readable for valid columns.
                    let r =
                        unsafe { _mm256_maskload_ps(e.residual.add(i * e.ld_res + h * 8), mask) };
                    v = _mm256_add_ps(v, r);
                }
                v = activate(v, e.act);
            }
            if valid == 8 {
                // SAFETY: 8 valid columns of C row `i`.
                unsafe { _mm256_storeu_ps(cp, v) };
            } else {
                // SAFETY: masked store to the valid columns of C row `i`.
                unsafe { _mm256_maskstore_ps(cp, mask, v) };
            }
        }
    }
}
