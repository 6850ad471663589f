//! AVX2 tile of the INT8 blocked conv (`qconv_nchwc`): up to 3 output pixels × 1 output block,
//! exact without VNNI. As in the AVX2 GEMM kernel, `vpmaddubsw` (saturating i16 pair sums) is
//! not used: each pixel's 4 input bytes are widened to i16 (`vpmovzxbw`) and repeated, each
//! 16-byte quarter of a weight group (4 channels × 4 lanes) is widened with `vpmovsxbw`, and
//! `vpmaddwd` sums adjacent products into i32 (`|x₀y₀ + x₁y₁| ≤ 2·255·128`, exact). Lane `2c`
//! holds channel `c`'s lanes (0,1) and lane `2c+1` its lanes (2,3); one `vphaddd` + 64-bit
//! permute per 8 channels restores channel order before the epilogue.

use super::pack::GROUP_BYTES;
use super::qconv_nchwc::QTile;
use std::arch::x86_64::*;

/// Tile function for `pixels ≤ 3` (one block; the driver never asks for two on this path).
pub(super) fn select(pixels: usize, _nb: usize, _sx: usize, _g4: usize) -> unsafe fn(&QTile) {
    match pixels {
        1 => tile::<1>,
        2 => tile::<2>,
        _ => tile::<3>,
    }
}

/// # Safety
/// The [`QTile`] contract holds, `t.pixels == P`, `t.nb == 1`, and the CPU has AVX2 (the driver
/// capped the ISA).
#[target_feature(enable = "avx2,fma")]
unsafe fn tile<const P: usize>(t: &QTile) {
    let mut acc = [[_mm256_setzero_si256(); 4]; P];
    let mut w = t.w;
    for ib in 0..t.in_blocks {
        for ky in 0..t.kh {
            let xr = t.x.wrapping_add(ib * t.s_ib + ky * t.s_ky);
            for kx in 0..t.kw {
                let xt = xr.wrapping_add(kx * t.s_kx);
                for g in 0..t.g4 {
                    let mut av = [_mm256_setzero_si256(); P];
                    for (p, v) in av.iter_mut().enumerate() {
                        // SAFETY: 4 input bytes of pixel p at this tap and group.
                        let a4 =
                            unsafe { (xt.add(p * t.sx + 4 * g) as *const i32).read_unaligned() };
                        *v = _mm256_cvtepu8_epi16(_mm_set1_epi32(a4));
                    }
                    for s in 0..4 {
                        // SAFETY: bytes 16s..16s+16 of the 64-byte weight group.
                        let bw = _mm256_cvtepi8_epi16(unsafe {
                            _mm_loadu_si128(w.add(16 * s) as *const __m128i)
                        });
                        for (row, &x) in acc.iter_mut().zip(&av) {
                            row[s] = _mm256_add_epi32(row[s], _mm256_madd_epi16(x, bw));
                        }
                    }
                    w = w.wrapping_add(GROUP_BYTES);
                }
            }
        }
    }
    let zp = _mm256_set1_epi32(t.zp);
    let sa = _mm256_set1_ps(t.sa);
    let zero = _mm256_setzero_ps();
    for (p, row) in acc.iter().enumerate() {
        let halves = [
            _mm256_permute4x64_epi64::<0xD8>(_mm256_hadd_epi32(row[0], row[1])),
            _mm256_permute4x64_epi64::<0xD8>(_mm256_hadd_epi32(row[2], row[3])),
        ];
        for (h, &accv) in halves.iter().enumerate() {
            let off = 8 * h;
            let at = p * 16 + off;
            // SAFETY: per-channel vectors cover the block; `at` is inside the tile's output and
            // residual.
            unsafe {
                let sums = _mm256_loadu_si256(t.sums.add(off) as *const __m256i);
                let scale = _mm256_mul_ps(sa, _mm256_loadu_ps(t.scales.add(off)));
                let bias = _mm256_loadu_ps(t.bias.add(off));
                let comp = _mm256_mullo_epi32(zp, sums);
                let f = _mm256_cvtepi32_ps(_mm256_sub_epi32(accv, comp));
                let mut v = _mm256_add_ps(_mm256_mul_ps(f, scale), bias);
                if !t.res.is_null() {
                    v = _mm256_add_ps(v, _mm256_loadu_ps(t.res.add(at)));
                }
                if t.relu {
                    v = _mm256_max_ps(v, zero);
                }
                _mm256_storeu_ps(t.y.add(at), v);
            }
        }
    }
}
