//! AVX-512 microkernel: up to 12 rows × 32 columns (two 16-wide B panels, 24 zmm accumulators),
//! A broadcast from the packed panel, masked stores for partial columns, fused epilogue.

use super::tile::{MicroKernel, Tile, TileFn};
use super::{A_PANEL, B_PANEL};
use crate::simd::avx512::{activate, tail_mask};
use std::arch::x86_64::*;

pub(crate) static KERNEL: MicroKernel = MicroKernel {
    mr: 12,
    np: 2,
    select,
};

fn select(rows: usize, panels: usize) -> TileFn {
    macro_rules! pick {
        ($($r:literal)*) => {
            match (rows, panels) {
                $( ($r, 1) => tile::<$r, 1>, ($r, _) => tile::<$r, 2>, )*
                (_, 1) => tile::<12, 1>,
                _ => tile::<12, 2>,
            }
        };
    }
    pick!(1 2 3 4 5 6 7 8 9 10 11)
}

/// How many k steps ahead the B panels are prefetched (distances 4–16 measured equal; 8 chosen).
const PREFETCH_K: usize = 8;

/// Expands `$m!(i)` for every row index of the largest tile; callers guard with `i < MR` so the
/// compiler sees constant indices only (keeping all accumulators in registers).
macro_rules! for_rows {
    ($m:ident) => {
        $m!(0);
        $m!(1);
        $m!(2);
        $m!(3);
        $m!(4);
        $m!(5);
        $m!(6);
        $m!(7);
        $m!(8);
        $m!(9);
        $m!(10);
        $m!(11);
    };
}

/// # Safety
/// The [`Tile`] contract holds and the CPU has AVX-512F (the driver caps the ISA first).
#[target_feature(enable = "avx512f,avx512vl,fma")]
unsafe fn tile<const MR: usize, const NP: usize>(t: &Tile) {
    let zero = _mm512_setzero_ps();
    let mut acc = [[zero; 2]; 12];
    let mut a = t.a;
    let mut b = t.b;
    for _ in 0..t.kc {
        // Software prefetch of B `PREFETCH_K` steps ahead in both panels: the prepacked weights
        // stream from DRAM/L3 on the first row tile of every micro-panel, and the two panels lie
        // `b_next` apart (two streams the hardware prefetcher follows poorly). Measured +20–35 %
        // single-thread GFLOP/s on 128×768×768, 128×768×50257 and 512×3072×768 (gemm_probe, thread
        // CPU time). A prefetch never faults, so running past the panel end is harmless.
        _mm_prefetch::<_MM_HINT_T0>(b.wrapping_add(PREFETCH_K * B_PANEL) as *const i8);
        if NP == 2 {
            _mm_prefetch::<_MM_HINT_T0>(
                b.wrapping_add(t.b_next + PREFETCH_K * B_PANEL) as *const i8
            );
        }
        // SAFETY: `b` addresses 16 readable floats of panel 0 at this k step.
        let b0 = unsafe { _mm512_loadu_ps(b) };
        // SAFETY: with two panels, `b + b_next` addresses panel 1 at this k step.
        let b1 = if NP == 2 {
            unsafe { _mm512_loadu_ps(b.add(t.b_next)) }
        } else {
            zero
        };
        macro_rules! step {
            ($i:literal) => {
                if $i < MR {
                    // SAFETY: `a[i]`, `i < MR ≤ mr`, is inside the packed A panel at this k step.
                    let av = _mm512_set1_ps(unsafe { *a.add($i) });
                    acc[$i][0] = _mm512_fmadd_ps(av, b0, acc[$i][0]);
                    if NP == 2 {
                        acc[$i][1] = _mm512_fmadd_ps(av, b1, acc[$i][1]);
                    }
                }
            };
        }
        for_rows!(step);
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
            Some(e) if !e.col_bias.is_null() => unsafe {
                _mm512_maskz_loadu_ps(mask, e.col_bias.add(q * B_PANEL))
            },
            _ => zero,
        };
        macro_rules! store {
            ($i:literal) => {
                if $i < MR {
                    let v = if q == 0 { acc[$i][0] } else { acc[$i][1] };
                    // SAFETY: row `i < mr`, columns `q*16 + j < n` (masked): inside the C tile and
                    // the epilogue buffers (see `TileEpilogue`).
                    unsafe { store_row(t, $i, q, mask, col_bias, alpha, v) };
                }
            };
        }
        for_rows!(store);
    }
}

/// Stores one 16-column vector of tile row `i`, panel `q`, applying alpha, accumulate and the
/// epilogue.
///
/// # Safety
/// Row `i` and the masked columns of panel `q` are inside the tile (see [`Tile`]).
#[inline(always)]
unsafe fn store_row(
    t: &Tile,
    i: usize,
    q: usize,
    mask: __mmask16,
    col_bias: __m512,
    alpha: __m512,
    acc: __m512,
) {
    // SAFETY: per the function contract.
    unsafe {
        let cp = t.c.add(i * t.ldc + q * B_PANEL);
        let mut v = _mm512_mul_ps(acc, alpha);
        if t.load_c {
            v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mask, cp));
        }
        if let Some(e) = t.epi {
            v = _mm512_add_ps(v, col_bias);
            if !e.row_bias.is_null() {
                v = _mm512_add_ps(v, _mm512_set1_ps(*e.row_bias.add(i)));
            }
            if !e.residual.is_null() {
                v = _mm512_add_ps(
                    v,
                    _mm512_maskz_loadu_ps(mask, e.residual.add(i * e.ld_res + q * B_PANEL)),
                );
            }
            v = activate(v, e.act);
        }
        // Whole panels store unmasked: masked stores are slow on some CPUs (Zen 4).
        if mask == 0xffff {
            _mm512_storeu_ps(cp, v);
        } else {
            _mm512_mask_storeu_ps(cp, mask, v);
        }
    }
}
