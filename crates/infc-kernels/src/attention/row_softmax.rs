//! The masked softmax of one attention score row, fused: mask add, causal limit and running max
//! in one pass, `exp(x − max)` and its sum in a second, the `1/sum` scale in a third, all in one
//! call per row (the row is a few hundred floats, so per-call dispatch and separate passes cost
//! as much as the arithmetic). Explicit AVX-512 and AVX2 paths with the vector `exp` of
//! [`crate::simd`], and a portable one with [`crate::math::exp`].

use crate::Isa;

/// The softmax of `row` after `row[j] += mask[j]` (when given; `mask.len() ≥ row.len()`) and
/// `row[j] = f32::MIN` for `j ≥ visible` (the causal limit). Returns `false`, leaving the row
/// with the mask and limit applied but not exponentiated, when `stop_if_hidden` and no entry is
/// above `f32::MIN` (the caller then redoes the row over more keys).
pub(super) fn masked_softmax_row(
    isa: Isa,
    row: &mut [f32],
    mask: Option<&[f32]>,
    visible: usize,
    stop_if_hidden: bool,
) -> bool {
    let visible = visible.min(row.len());
    if let Some(m) = mask {
        assert!(m.len() >= row.len(), "mask row shorter than the scores");
    }
    match isa.capped() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the capped ISA is AVX-512, so the CPU has AVX-512F.
        Isa::Avx512 => unsafe { x86::row_avx512(row, mask, visible, stop_if_hidden) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the capped ISA is AVX2+FMA.
        Isa::Avx2Fma => unsafe { x86::row_avx2(row, mask, visible, stop_if_hidden) },
        _ => row_portable(row, mask, visible, stop_if_hidden),
    }
}

fn row_portable(row: &mut [f32], mask: Option<&[f32]>, visible: usize, stop: bool) -> bool {
    let mut max = f32::NEG_INFINITY;
    for (j, v) in row.iter_mut().enumerate() {
        if j >= visible {
            *v = f32::MIN;
        } else if let Some(m) = mask {
            *v += m[j];
        }
        max = if *v > max { *v } else { max };
    }
    if stop && max <= f32::MIN {
        return false;
    }
    let mut sum = 0f32;
    for v in row.iter_mut() {
        *v = crate::math::exp(*v - max);
        sum += *v;
    }
    let inv = 1.0 / sum;
    row.iter_mut().for_each(|v| *v *= inv);
    true
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use crate::simd::{avx2, avx512};
    use std::arch::x86_64::*;

    /// # Safety
    /// The CPU has AVX-512F; `mask` (if any) is at least as long as `row`; `visible ≤ row.len()`.
    #[target_feature(enable = "avx512f,avx512dq")]
    pub(super) unsafe fn row_avx512(
        row: &mut [f32],
        mask: Option<&[f32]>,
        visible: usize,
        stop: bool,
    ) -> bool {
        let n = row.len();
        let p = row.as_mut_ptr();
        let hidden = _mm512_set1_ps(f32::MIN);
        let mut vmax = _mm512_set1_ps(f32::NEG_INFINITY);
        for j in (0..n).step_by(16) {
            let lanes = avx512::tail_mask(n - j);
            let seen = avx512::tail_mask(visible.saturating_sub(j));
            // SAFETY (all accesses below): lanes `lanes` of `row[j..j+16]` (and of the mask,
            // which is at least as long) are in bounds.
            let mut v = unsafe { _mm512_maskz_loadu_ps(lanes, p.add(j)) };
            if let Some(m) = mask {
                v = _mm512_add_ps(v, unsafe {
                    _mm512_maskz_loadu_ps(lanes, m.as_ptr().add(j))
                });
            }
            v = _mm512_mask_blend_ps(seen, hidden, v);
            unsafe { _mm512_mask_storeu_ps(p.add(j), lanes, v) };
            vmax = _mm512_mask_max_ps(vmax, lanes, vmax, v);
        }
        let max = _mm512_reduce_max_ps(vmax);
        if stop && max <= f32::MIN {
            return false;
        }
        let vm = _mm512_set1_ps(max);
        let mut vsum = _mm512_setzero_ps();
        for j in (0..n).step_by(16) {
            let lanes = avx512::tail_mask(n - j);
            // SAFETY: as above.
            let v = unsafe { _mm512_maskz_loadu_ps(lanes, p.add(j)) };
            let e = avx512::exp(_mm512_sub_ps(v, vm));
            unsafe { _mm512_mask_storeu_ps(p.add(j), lanes, e) };
            vsum = _mm512_mask_add_ps(vsum, lanes, vsum, e);
        }
        let inv = _mm512_set1_ps(1.0 / _mm512_reduce_add_ps(vsum));
        for j in (0..n).step_by(16) {
            let lanes = avx512::tail_mask(n - j);
            // SAFETY: as above.
            unsafe {
                let v = _mm512_maskz_loadu_ps(lanes, p.add(j));
                _mm512_mask_storeu_ps(p.add(j), lanes, _mm512_mul_ps(v, inv));
            }
        }
        true
    }

    /// # Safety
    /// The CPU has AVX2 and FMA; `mask` (if any) is at least as long as `row`;
    /// `visible ≤ row.len()`.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn row_avx2(
        row: &mut [f32],
        mask: Option<&[f32]>,
        visible: usize,
        stop: bool,
    ) -> bool {
        let n = row.len();
        let p = row.as_mut_ptr();
        let hidden = _mm256_set1_ps(f32::MIN);
        let neg_inf = _mm256_set1_ps(f32::NEG_INFINITY);
        let mut vmax = neg_inf;
        for j in (0..n).step_by(8) {
            let lanes = avx2::tail_mask(n - j);
            let seen = _mm256_castsi256_ps(avx2::tail_mask(visible.saturating_sub(j)));
            // SAFETY (all accesses below): the lanes selected by `lanes` of `row[j..j+8]` (and
            // of the mask, at least as long) are in bounds; masked loads read 0 elsewhere.
            let mut v = unsafe { _mm256_maskload_ps(p.add(j), lanes) };
            if let Some(m) = mask {
                v = _mm256_add_ps(v, unsafe { _mm256_maskload_ps(m.as_ptr().add(j), lanes) });
            }
            v = _mm256_blendv_ps(hidden, v, seen);
            unsafe { _mm256_maskstore_ps(p.add(j), lanes, v) };
            let valid = _mm256_blendv_ps(neg_inf, v, _mm256_castsi256_ps(lanes));
            vmax = _mm256_max_ps(valid, vmax);
        }
        let max = hmax(vmax);
        if stop && max <= f32::MIN {
            return false;
        }
        let vm = _mm256_set1_ps(max);
        let mut vsum = _mm256_setzero_ps();
        for j in (0..n).step_by(8) {
            let lanes = avx2::tail_mask(n - j);
            // SAFETY: as above.
            let v = unsafe { _mm256_maskload_ps(p.add(j), lanes) };
            let e = avx2::exp(_mm256_sub_ps(v, vm));
            let e = _mm256_and_ps(e, _mm256_castsi256_ps(lanes));
            unsafe { _mm256_maskstore_ps(p.add(j), lanes, e) };
            vsum = _mm256_add_ps(vsum, e);
        }
        let inv = _mm256_set1_ps(1.0 / hsum(vsum));
        for j in (0..n).step_by(8) {
            let lanes = avx2::tail_mask(n - j);
            // SAFETY: as above.
            unsafe {
                let v = _mm256_maskload_ps(p.add(j), lanes);
                _mm256_maskstore_ps(p.add(j), lanes, _mm256_mul_ps(v, inv));
            }
        }
        true
    }

    #[target_feature(enable = "avx2")]
    fn hmax(v: __m256) -> f32 {
        let m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
        let m = _mm_max_ps(m, _mm_movehl_ps(m, m));
        let m = _mm_max_ss(m, _mm_shuffle_ps::<0b01>(m, m));
        _mm_cvtss_f32(m)
    }

    #[target_feature(enable = "avx2")]
    fn hsum(v: __m256) -> f32 {
        let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        let s = _mm_add_ss(s, _mm_shuffle_ps::<0b01>(s, s));
        _mm_cvtss_f32(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every path against an f64 softmax, for lengths around the vector widths, with and without
    /// a mask, at every causal limit; and the stop rule when every key is hidden.
    #[test]
    fn every_path_matches_the_f64_softmax() {
        for n in [1, 5, 8, 15, 16, 17, 40, 128] {
            let x: Vec<f32> = (0..n).map(|j| ((j * 37 % 19) as f32 - 9.0) * 0.7).collect();
            let mask: Vec<f32> = (0..n)
                .map(|j| if j % 5 == 3 { f32::MIN } else { 0.25 })
                .collect();
            for visible in [1, n / 2 + 1, n] {
                for with_mask in [false, true] {
                    let m = with_mask.then_some(&mask[..]);
                    let z: Vec<f64> = (0..n)
                        .map(|j| {
                            let add = if with_mask { mask[j] as f64 } else { 0.0 };
                            if j < visible {
                                x[j] as f64 + add
                            } else {
                                f32::MIN as f64
                            }
                        })
                        .collect();
                    let zmax = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                    let sum: f64 = z.iter().map(|v| (v - zmax).exp()).sum();
                    for isa in Isa::supported() {
                        let mut row = x.clone();
                        assert!(masked_softmax_row(isa, &mut row, m, visible, false));
                        for (j, (&got, zj)) in row.iter().zip(&z).enumerate() {
                            let want = (zj - zmax).exp() / sum;
                            assert!(
                                (got as f64 - want).abs() <= 1e-6 + 1e-5 * want,
                                "{isa} n {n} visible {visible} mask {with_mask} [{j}]: {got} vs {want}"
                            );
                        }
                    }
                }
            }
        }
        for isa in Isa::supported() {
            let mut row = vec![1.0f32; 20];
            let all_hidden = vec![f32::MIN; 20];
            assert!(!masked_softmax_row(
                isa,
                &mut row,
                Some(&all_hidden),
                20,
                true
            ));
            let mut row = vec![1.0f32; 20];
            assert!(!masked_softmax_row(isa, &mut row, None, 0, true), "{isa}");
            let mut row = vec![1.0f32; 20];
            assert!(masked_softmax_row(isa, &mut row, None, 0, false), "{isa}");
            assert!(
                row.iter().all(|&v| (v - 0.05).abs() < 1e-6),
                "{isa}: uniform"
            );
        }
    }
}
