//! AVX-512 microkernel: up to 12 rows × 32 columns (two 16-wide B panels, 24 zmm accumulators),
//! A broadcast from the packed panel, masked stores for partial columns, fused epilogue.

use super::tile::{MicroKernel, Tile, TileFn};
use super::{A_PANEL, B_PANEL};
use crate::simd::avx512::{activate, tail_mask};
use std::arch::x86_64::*;

pub(crate) static KERNEL: MicroKernel = MicroKernel { mr: 12, np: 2, select };

fn select(rows: usize, panels: usize) -> TileFn {
    macro_rules! pick {
        ($($r:literal)*) => {
            match (rows, panels) {
                $( ($r, 1) => tile::<$r, 1>, ($r, _) => tile::<$r, 2>, )*
                _ => tile::<12, 2>,
            }
        };
    }
    pick!(1 2 3 4 5 6 7 8 9 10 11)
}

/// # Safety
/// The [`Tile`] contract holds and the CPU has AVX-512F (the driver caps the ISA first).
#[target_feature(enable = "avx512f,avx512vl,fma")]
unsafe fn tile<const MR: usize, const NP: usize>(t: &Tile) {
    let mut acc = [[_mm512_setzero_ps(); NP]; MR];
    let mut a = t.a;
    let mut b = t.b;
    for _ in 0..t.kc {
        let mut bv = [_mm512_setzero_ps(); NP];
        for (q, v) in bv.iter_mut().enumerate() {
            // SAFETY: `b + q*b_next` addresses 16 readable floats of panel q at this k step.
            *v = unsafe { _mm512_loadu_ps(b.add(q * t.b_next)) };
        }
        for (i, row) in acc.iter_mut().enumerate() {
            // SAFETY: `a[i]` for `i < MR ≤ mr` is inside the packed A panel at this k step.
            let av = _mm512_set1_ps(unsafe { *a.add(i) });
            for q in 0..NP {
                row[q] = _mm512_fmadd_ps(av, bv[q], row[q]);
            }
        }
        // SAFETY (pointer arithmetic): stays within or one step past the panels read above.
        a = a.wrapping_add(A_PANEL);
        b = b.wrapping_add(B_PANEL);
    }
    let alpha = _mm512_set1_ps(t.alpha);
    for q in 0..NP {
        let valid = t.n.saturating_sub(q * B_PANEL).min(B_PANEL);
        if valid == 0 {
            continue;
        }
        let mask = tail_mask(valid);
        let col_bias = match t.epi {
            // SAFETY: `col_bias[q*16 + j]` readable for `q*16 + j < n` (masked lanes not read).
            Some(e) if !e.col_bias.is_null() => unsafe { _mm512_maskz_loadu_ps(mask, e.col_bias.add(q * B_PANEL)) },
            _ => _mm512_setzero_ps(),
        };
        for (i, row) in acc.iter().enumerate() {
            // SAFETY: row `i < mr`, columns `q*16 + j < n`: inside the C tile.
            let cp = unsafe { t.c.add(i * t.ldc + q * B_PANEL) };
            let mut v = _mm512_mul_ps(row[q], alpha);
            if t.load_c {
                // SAFETY: same C elements, masked to valid columns.
                v = _mm512_add_ps(v, unsafe { _mm512_maskz_loadu_ps(mask, cp) });
            }
            if let Some(e) = t.epi {
                v = _mm512_add_ps(v, col_bias);
                if !e.row_bias.is_null() {
                    // SAFETY: `row_bias[i]` readable for `i < mr`.
                    v = _mm512_add_ps(v, _mm512_set1_ps(unsafe { *e.row_bias.add(i) }));
                }
                if !e.residual.is_null() {
                    // SAFETY: residual tile element `(i, q*16 + j)` readable for valid columns.
                    let r = unsafe { _mm512_maskz_loadu_ps(mask, e.residual.add(i * e.ld_res + q * B_PANEL)) };
                    v = _mm512_add_ps(v, r);
                }
                v = activate(v, e.act);
            }
            // SAFETY: masked store to the valid columns of C row `i`.
            unsafe { _mm512_mask_storeu_ps(cp, mask, v) };
        }
    }
}
