//! AVX2 integer microkernel: up to 3 rows × 16 columns, exact without VNNI.
//!
//! `vpmaddubsw` (u8·s8 pairs summed into a *saturating* i16) is not used: a pair can reach
//! `2·255·127 = 64770 > 32767`. Instead both operands are widened to i16 — A's 4-byte group with
//! `vpmovzxbw` (0..=255), 16 bytes of B (4 columns × 4 k) with `vpmovsxbw` (−127..=127) — and
//! multiplied with `vpmaddwd`, which sums each adjacent i16 product pair into an i32 lane:
//! `|x₀y₀ + x₁y₁| ≤ 2·255·127 = 64770`, far inside i32, and the instruction's only saturating
//! input (both pairs `−32768·−32768`) cannot occur. Lane `2c` then holds column `c`'s k-pair
//! (0,1) and lane `2c+1` its pair (2,3); the i32 accumulators stay exact for `k ≤ K_MAX`, and
//! the two halves are added (`vphaddd`, then a 64-bit permute back into column order) once per
//! tile before the store.

use super::pack::GROUP_BYTES;
use super::tile::{Dequant, MicroKernel8, NextBlockPrefetch, Tile8, TileFn8, TileOut};
use crate::simd::avx2::{activate, tail_mask};
use std::arch::x86_64::*;

pub(crate) static KERNEL: MicroKernel8 = MicroKernel8 {
    mr: 3,
    np: 1,
    select,
    next_block: NextBlockPrefetch::Burst,
    runs_row_tiles: false,
    unit_macs: super::driver::UNIT_MACS,
};

fn select(rows: usize, _panels: usize) -> TileFn8 {
    match rows {
        1 => tile::<1>,
        2 => tile::<2>,
        _ => tile::<3>,
    }
}

/// # Safety
/// The [`Tile8`] contract holds and the CPU has AVX2 and FMA (the driver capped the ISA).
#[target_feature(enable = "avx2,fma")]
unsafe fn tile<const MR: usize>(t: &Tile8) {
    // acc[i][s]: columns 4s..4s+4 of row i, two partial sums per column (see module docs).
    let mut acc = [[_mm256_setzero_si256(); 4]; MR];
    let mut a = t.a;
    let mut b = t.b;
    for _ in 0..t.k4 {
        let mut av = [_mm256_setzero_si256(); MR];
        for (i, v) in av.iter_mut().enumerate() {
            // SAFETY: row `i` of A has 4 readable bytes at this k-group.
            let a4 = unsafe { (a.add(i * t.lda) as *const i32).read_unaligned() };
            // [a0 a1 a2 a3] repeated four times, as i16.
            *v = _mm256_cvtepu8_epi16(_mm_set1_epi32(a4));
        }
        for s in 0..4 {
            // SAFETY: the k-group holds 64 readable bytes; this reads bytes 16s..16s+16.
            let bw =
                _mm256_cvtepi8_epi16(unsafe { _mm_loadu_si128(b.add(16 * s) as *const __m128i) });
            for (row, &x) in acc.iter_mut().zip(&av) {
                row[s] = _mm256_add_epi32(row[s], _mm256_madd_epi16(x, bw));
            }
        }
        a = a.wrapping_add(4);
        b = b.wrapping_add(GROUP_BYTES);
    }
    // Columns 0..8 and 8..16 of each row, in order.
    let mut cols = [[_mm256_setzero_si256(); 2]; MR];
    for (out, row) in cols.iter_mut().zip(&acc) {
        out[0] = _mm256_permute4x64_epi64::<0xD8>(_mm256_hadd_epi32(row[0], row[1]));
        out[1] = _mm256_permute4x64_epi64::<0xD8>(_mm256_hadd_epi32(row[2], row[3]));
    }
    // SAFETY: forwarded tile contract.
    unsafe { store_tile::<MR>(&t.out, t.n, &cols) };
}

/// Writes an `MR`-row, one-panel tile whose accumulators are in column order (`cols[i][h]` holds
/// columns `8h..8h+8` of row `i`) with `n ≤ 16` valid columns: raw i32 or through the dequantize
/// epilogue (also used by the AVX-VNNI kernel).
///
/// # Safety
/// `out` satisfies the [`Tile8`] output contract for `MR` rows and `n` columns; the CPU has AVX2
/// and FMA.
#[inline]
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn store_tile<const MR: usize>(
    out: &TileOut,
    n: usize,
    cols: &[[__m256i; 2]; MR],
) {
    for h in 0..2 {
        let valid = n.saturating_sub(8 * h).min(8);
        if valid == 0 {
            continue;
        }
        let mask = tail_mask(valid);
        match out {
            TileOut::Raw { c, ldc } => {
                for (i, row) in cols.iter().enumerate() {
                    // SAFETY: masked store to the valid columns of C row `i`.
                    unsafe { _mm256_maskstore_epi32(c.add(i * ldc + 8 * h), mask, row[h]) };
                }
            }
            // SAFETY: forwarded tile contract.
            TileOut::Dequant(d) => unsafe { dequant_half::<MR>(d, cols, h, mask) },
        }
    }
}

/// Epilogue of columns `8h..8h+8` of the tile, the operation order of [`Dequant::scalar`].
///
/// # Safety
/// The [`Dequant`] contract holds; `mask` selects the valid columns of this half.
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn dequant_half<const MR: usize>(
    d: &Dequant,
    cols: &[[__m256i; 2]; MR],
    h: usize,
    mask: __m256i,
) {
    let off = 8 * h;
    // SAFETY: column sums and scales are padded to whole 16-column panels; bias reads are masked.
    let (col_sums, col_scales, col_bias) = unsafe {
        (
            _mm256_loadu_si256(d.col_sums.add(off) as *const __m256i),
            _mm256_loadu_ps(d.col_scales.add(off)),
            if d.col_bias.is_null() {
                None
            } else {
                Some(_mm256_maskload_ps(d.col_bias.add(off), mask))
            },
        )
    };
    let alpha = _mm256_set1_ps(d.alpha);
    for (i, row) in cols.iter().enumerate() {
        // SAFETY: `i` is a row of the tile.
        let (sa, za) = unsafe { d.a_params(i) };
        let comp = _mm256_mullo_epi32(_mm256_set1_epi32(za), col_sums);
        let f = _mm256_cvtepi32_ps(_mm256_sub_epi32(row[h], comp));
        let s = _mm256_mul_ps(_mm256_set1_ps(sa), col_scales);
        let mut v = _mm256_mul_ps(_mm256_mul_ps(f, s), alpha);
        // SAFETY (all masked accesses below): row `i`, valid columns of this half of the tile.
        let cp = unsafe { d.c.add(i * d.ldc + off) };
        if d.load_c {
            v = _mm256_add_ps(v, unsafe { _mm256_maskload_ps(cp, mask) });
        }
        if let Some(bias) = col_bias {
            v = _mm256_add_ps(v, bias);
        }
        if !d.row_bias.is_null() {
            v = _mm256_add_ps(v, _mm256_set1_ps(unsafe { *d.row_bias.add(i) }));
        }
        if !d.residual.is_null() {
            v = _mm256_add_ps(v, unsafe {
                _mm256_maskload_ps(d.residual.add(i * d.ld_res + off), mask)
            });
        }
        v = activate(v, d.act);
        unsafe { _mm256_maskstore_ps(cp, mask, v) };
    }
}
