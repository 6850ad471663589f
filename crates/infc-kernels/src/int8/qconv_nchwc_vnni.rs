//! AVX-512 VNNI tile of the INT8 blocked conv (`qconv_nchwc`): up to 12 output pixels × 2
//! output blocks of 16 channels (24 `zmm` accumulators). Per 4-lane group of a tap it loads one
//! 64-byte weight group per block (16 cout × 4 cin s8) and broadcasts each pixel's 4 input bytes;
//! `vpdpbusd` adds the four u8·s8 products into each channel's i32 lane without saturation.
//! The pixel stride and the groups per tap are compile-time constants for the common cases
//! (blocked input at stride 1 or 2) so every broadcast is a `[base + constant]` load.

use super::pack::GROUP_BYTES;
use super::qconv_nchwc::QTile;
use std::arch::x86_64::*;

/// Tile function for `pixels ≤ 12`, `nb ≤ 2`, pixel stride `sx` bytes, `g4` groups per tap.
pub(super) fn select(pixels: usize, nb: usize, sx: usize, g4: usize) -> unsafe fn(&QTile) {
    macro_rules! by_shape {
        ($p:literal, $nb:literal) => {
            match (sx, g4) {
                (16, 4) => tile::<$p, $nb, 16, 4> as unsafe fn(&QTile),
                (32, 4) => tile::<$p, $nb, 32, 4>,
                _ => tile::<$p, $nb, 0, 0>,
            }
        };
    }
    macro_rules! pick {
        ($($p:literal)*) => {
            match (pixels, nb) {
                $( ($p, 1) => by_shape!($p, 1), ($p, _) => by_shape!($p, 2), )*
                (_, 1) => by_shape!(12, 1),
                _ => by_shape!(12, 2),
            }
        };
    }
    pick!(1 2 3 4 5 6 7 8 9 10 11)
}

/// `SX`/`G4` = 0: read the pixel stride and groups per tap from the tile.
///
/// # Safety
/// The [`QTile`] contract holds, `t.pixels == P`, `t.nb == NB`, and the CPU has AVX-512
/// F/BW/VNNI (the driver capped the ISA).
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn tile<const P: usize, const NB: usize, const SX: usize, const G4: usize>(t: &QTile) {
    let sx = if SX == 0 { t.sx } else { SX };
    let g4 = if G4 == 0 { t.g4 } else { G4 };
    let mut acc = [[_mm512_setzero_si512(); NB]; P];
    let mut w = t.w;
    for ib in 0..t.in_blocks {
        for ky in 0..t.kh {
            let xr = t.x.wrapping_add(ib * t.s_ib + ky * t.s_ky);
            for kx in 0..t.kw {
                let xt = xr.wrapping_add(kx * t.s_kx);
                for g in 0..g4 {
                    let mut wv = [_mm512_setzero_si512(); NB];
                    for (b, v) in wv.iter_mut().enumerate() {
                        // SAFETY: one 64-byte weight group of block b.
                        *v = unsafe { _mm512_loadu_si512(w.add(b * t.w_ob) as *const __m512i) };
                    }
                    for (p, row) in acc.iter_mut().enumerate() {
                        // SAFETY: 4 input bytes of pixel p at this tap and group.
                        let a4 = unsafe { (xt.add(p * sx + 4 * g) as *const i32).read_unaligned() };
                        let av = _mm512_set1_epi32(a4);
                        for b in 0..NB {
                            row[b] = _mm512_dpbusd_epi32(row[b], av, wv[b]);
                        }
                    }
                    w = w.wrapping_add(GROUP_BYTES);
                }
            }
        }
    }
    let zp = _mm512_set1_epi32(t.zp);
    let sa = _mm512_set1_ps(t.sa);
    let zero = _mm512_setzero_ps();
    for b in 0..NB {
        let off = b * 16;
        // SAFETY: the per-channel vectors cover the tile's blocks.
        let (sums, scale, bias) = unsafe {
            (
                _mm512_loadu_si512(t.sums.add(off) as *const __m512i),
                _mm512_mul_ps(sa, _mm512_loadu_ps(t.scales.add(off))),
                _mm512_loadu_ps(t.bias.add(off)),
            )
        };
        let comp = _mm512_mullo_epi32(zp, sums);
        for (p, row) in acc.iter().enumerate() {
            let at = b * t.y_ob + p * 16;
            let f = _mm512_cvtepi32_ps(_mm512_sub_epi32(row[b], comp));
            let mut v = _mm512_add_ps(_mm512_mul_ps(f, scale), bias);
            if !t.res.is_null() {
                // SAFETY: the residual is laid out like y; `at` is inside the tile.
                v = _mm512_add_ps(v, unsafe { _mm512_loadu_ps(t.res.add(at)) });
            }
            if t.relu {
                v = _mm512_max_ps(v, zero);
            }
            // SAFETY: `at` is inside the tile's output.
            unsafe { _mm512_storeu_ps(t.y.add(at), v) };
        }
    }
}
