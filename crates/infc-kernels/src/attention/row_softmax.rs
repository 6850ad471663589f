//! The masked softmax of one attention score row, fused: mask add, causal limit and running max
//! in one pass, `exp(x − max)` and its sum in a second, the `1/sum` scale in a third, all in one
//! call per row (the row is a few hundred floats, so per-call dispatch and separate passes cost
//! as much as the arithmetic). Explicit AVX-512 and AVX2 paths with the vector `exp` of
//! [`crate::simd`], and a portable one with [`crate::math::exp`].
//!
//! Every path computes what the unfused graph computes for every row, including the degenerate
//! ones: a row whose logits are all `f32::MIN` is uniform, a row whose logits are all `−∞` (or
//! hold a NaN or `+∞`) has a NaN softmax, which [`RowRule::nan_row`] turns into zeros where the
//! graph had SDPA's `Where(IsNaN(p), 0, p)` guard.

use super::bf16_tile::Bf16Kernel;
use crate::Isa;

/// What a row's hidden keys hold and what a row without a finite softmax becomes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct RowRule {
    /// The logit of a hidden key (`j ≥ visible`) before the mask.
    pub fill: f32,
    /// Hidden keys get the mask added too (`fill + mask[j]`); otherwise they are `fill`.
    pub mask_hidden: bool,
    /// Every probability of a row whose softmax is NaN: 0 behind a NaN guard, NaN otherwise.
    pub nan_row: f32,
}

impl RowRule {
    /// HuggingFace's combined mask: hidden keys `f32::MIN`, no guard.
    #[cfg(test)]
    pub(super) const MIN_FILL: RowRule = RowRule {
        fill: f32::MIN,
        mask_hidden: false,
        nan_row: f32::NAN,
    };
}

/// Keys whose `exp(x − max)` is at most `exp(−104)`, below the smallest f32 subnormal: leaving
/// them out changes no bit of a correctly rounded softmax.
const NEGLIGIBLE: f32 = 104.0;

/// Whether the keys a caller skipped (whose largest logit is `skipped`) count for a row whose
/// computed logits peak at `max`: then the row must be redone over every key. NaN differences
/// (both `−∞`) count, so such rows are always redone.
fn skipped_keys_count(max: f32, skipped: Option<f32>) -> bool {
    // `partial_cmp` is `None` when the difference is NaN (both `−∞`): such rows count too.
    skipped.is_some_and(|s| (max - s).partial_cmp(&NEGLIGIBLE) != Some(std::cmp::Ordering::Greater))
}

/// `visible` capped to the row; panics when the mask row is shorter than the scores (a caller
/// bug: the kernel slices mask rows to the computed keys).
fn checked_visible(row: &[f32], mask: Option<&[f32]>, visible: usize) -> usize {
    if let Some(m) = mask {
        assert!(m.len() >= row.len(), "mask row shorter than the scores");
    }
    visible.min(row.len())
}

/// The softmax of `row` after `row[j] += mask[j]` for `j < visible` and `row[j] = rule.fill`
/// (`+ mask[j]` under `rule.mask_hidden`) for `j ≥ visible` (the causal limit); `mask`, when
/// given, is at least as long as the row. `skipped` is the largest logit of keys the caller
/// left out of the row (hidden for every row of its block): returns `false`, leaving the row
/// with the mask and limit applied but not exponentiated, when they are not negligible (the
/// caller then redoes the row over every key).
pub(super) fn masked_softmax_row(
    isa: Isa,
    row: &mut [f32],
    mask: Option<&[f32]>,
    visible: usize,
    rule: RowRule,
    skipped: Option<f32>,
) -> bool {
    let visible = checked_visible(row, mask, visible);
    match isa.capped() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the capped ISA is AVX-512, so the CPU has AVX-512F.
        Isa::Avx512 => unsafe { x86::row_avx512(row, mask, visible, rule, skipped) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the capped ISA is AVX2+FMA.
        Isa::Avx2Fma => unsafe { x86::row_avx2(row, mask, visible, rule, skipped) },
        _ => row_portable(row, mask, visible, rule, skipped),
    }
}

/// The unnormalised softmax of `row` (after the mask and causal limit of [`masked_softmax_row`])
/// as bf16 in place, for the bf16 `· v` product: u16 `j` of the row is `bf16(exp(x_j − max))`
/// (a zero pad after an odd length), and the return value is `1 / Σ exp`, which the product
/// applies per row (for a row whose softmax is NaN: every u16 `rule.nan_row` and the factor
/// `rule.nan_row`, so the product is 0 or NaN). `None` when the skipped keys count (as there).
pub(super) fn exp_row_bf16(
    kern: Bf16Kernel,
    row: &mut [f32],
    mask: Option<&[f32]>,
    visible: usize,
    rule: RowRule,
    skipped: Option<f32>,
) -> Option<f32> {
    let visible = checked_visible(row, mask, visible);
    let inv = match kern {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Avx512` exists only on CPUs with AVX-512F and AVX512-BF16/BW/VL.
        Bf16Kernel::Avx512 => unsafe {
            x86::exp_row_bf16_avx512(row, mask, visible, rule, skipped)?
        },
        _ => {
            let max = mask_max_portable(row, mask, visible, rule);
            if skipped_keys_count(max, skipped) {
                return None;
            }
            let (n, p) = (row.len(), row.as_mut_ptr());
            let out = p as *mut u16;
            let mut sum = 0f32;
            for j in 0..n {
                // SAFETY: float `j` is read before u16 `j` (bytes `2j..2j+2`, below it) is written.
                unsafe {
                    let e = crate::math::exp(*p.add(j) - max);
                    sum += e;
                    *out.add(j) = super::bf16::bf16_bits(e);
                }
            }
            if n % 2 == 1 {
                // SAFETY: u16 index `n < 2n` lies inside the row.
                unsafe { *out.add(n) = 0 };
            }
            1.0 / sum
        }
    };
    if inv.is_nan() {
        let n = row.len();
        let bits: &mut [u16] = bytemuck::cast_slice_mut(row);
        bits[..n].fill(super::bf16::bf16_bits(rule.nan_row));
        return Some(rule.nan_row);
    }
    Some(inv)
}

/// Pass 1 of the portable row: mask add and hidden keys stored back; returns the maximum.
fn mask_max_portable(row: &mut [f32], mask: Option<&[f32]>, visible: usize, rule: RowRule) -> f32 {
    let mut max = f32::NEG_INFINITY;
    for (j, v) in row.iter_mut().enumerate() {
        let m = mask.map_or(0.0, |m| m[j]);
        if j >= visible {
            *v = if rule.mask_hidden && mask.is_some() {
                rule.fill + m
            } else {
                rule.fill
            };
        } else if mask.is_some() {
            *v += m;
        }
        max = if *v > max { *v } else { max };
    }
    max
}

fn row_portable(
    row: &mut [f32],
    mask: Option<&[f32]>,
    visible: usize,
    rule: RowRule,
    skipped: Option<f32>,
) -> bool {
    let max = mask_max_portable(row, mask, visible, rule);
    if skipped_keys_count(max, skipped) {
        return false;
    }
    let mut sum = 0f32;
    for v in row.iter_mut() {
        *v = crate::math::exp(*v - max);
        sum += *v;
    }
    scale_row(row, sum, rule, |row, inv| {
        row.iter_mut().for_each(|v| *v *= inv)
    });
    true
}

/// The last pass of a row: `row · (1/sum)` by `scale`, or the row's NaN value when the sum is
/// NaN (a row of `−∞`, or a NaN or `+∞` logit: the graph's softmax is NaN everywhere then).
fn scale_row(row: &mut [f32], sum: f32, rule: RowRule, scale: impl FnOnce(&mut [f32], f32)) {
    if sum.is_nan() {
        row.fill(rule.nan_row);
    } else {
        scale(row, 1.0 / sum);
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{scale_row, skipped_keys_count, RowRule};
    use crate::simd::{avx2, avx512};
    use std::arch::x86_64::*;

    /// Pass 1: mask add, hidden keys (`rule.fill`, `+ mask` under `rule.mask_hidden`) from
    /// `visible` on, stored back; returns the row maximum.
    ///
    /// # Safety
    /// The CPU has AVX-512F; `mask` (if any) is at least as long as `row`; `visible ≤ row.len()`.
    #[target_feature(enable = "avx512f,avx512dq")]
    unsafe fn mask_max_avx512(
        row: &mut [f32],
        mask: Option<&[f32]>,
        visible: usize,
        rule: RowRule,
    ) -> f32 {
        let n = row.len();
        let p = row.as_mut_ptr();
        let fill = _mm512_set1_ps(rule.fill);
        let mut vmax = _mm512_set1_ps(f32::NEG_INFINITY);
        let add_mask = |v: __m512, j: usize, lanes: __mmask16| match mask {
            // SAFETY: lanes `lanes` of `mask[j..j+16]` are in bounds (the mask is at least as
            // long as the row).
            Some(m) => _mm512_add_ps(v, unsafe {
                _mm512_maskz_loadu_ps(lanes, m.as_ptr().add(j))
            }),
            None => v,
        };
        // Whole vectors wholly visible: plain loads and stores.
        let open = visible.min(n) / 16 * 16;
        if mask.is_some() {
            for j in (0..open).step_by(16) {
                // SAFETY: floats `j..j+16 ≤ n` are in bounds.
                unsafe {
                    let v = add_mask(_mm512_loadu_ps(p.add(j)), j, 0xffff);
                    _mm512_storeu_ps(p.add(j), v);
                    vmax = _mm512_max_ps(vmax, v);
                }
            }
        } else {
            for j in (0..open).step_by(16) {
                // SAFETY: as above.
                vmax = _mm512_max_ps(vmax, unsafe { _mm512_loadu_ps(p.add(j)) });
            }
        }
        for j in (open..n).step_by(16) {
            let lanes = avx512::tail_mask(n - j);
            let seen = avx512::tail_mask(visible.saturating_sub(j));
            // SAFETY (both accesses): lanes `lanes` of `row[j..j+16]` are in bounds.
            let v = add_mask(unsafe { _mm512_maskz_loadu_ps(lanes, p.add(j)) }, j, lanes);
            let hidden = if rule.mask_hidden {
                add_mask(fill, j, lanes)
            } else {
                fill
            };
            let v = _mm512_mask_blend_ps(seen, hidden, v);
            unsafe { _mm512_mask_storeu_ps(p.add(j), lanes, v) };
            vmax = _mm512_mask_max_ps(vmax, lanes, vmax, v);
        }
        _mm512_reduce_max_ps(vmax)
    }

    /// The unnormalised softmax as bf16 in place: `exp(x − max)` of pass 1's values, rounded to
    /// bf16 and stored from the row's first byte (u16 `j` of the row; a zero pad when the length
    /// is odd); returns `1 / Σ exp` (of the f32 values; NaN for a row whose softmax is NaN).
    /// `None` when the skipped keys count.
    ///
    /// # Safety
    /// The CPU has AVX-512F and AVX512-BF16/BW/VL; as [`mask_max_avx512`].
    #[target_feature(enable = "avx512f,avx512dq,avx512bf16,avx512bw,avx512vl")]
    pub(super) unsafe fn exp_row_bf16_avx512(
        row: &mut [f32],
        mask: Option<&[f32]>,
        visible: usize,
        rule: RowRule,
        skipped: Option<f32>,
    ) -> Option<f32> {
        // SAFETY: forwarded contract.
        let max = unsafe { mask_max_avx512(row, mask, visible, rule) };
        if skipped_keys_count(max, skipped) {
            return None;
        }
        let n = row.len();
        let p = row.as_mut_ptr();
        let out = p as *mut u16;
        let vm = _mm512_set1_ps(max);
        let mut vsum = _mm512_setzero_ps();
        let full = n / 16 * 16;
        for j in (0..full).step_by(16) {
            // SAFETY: floats `j..j+16` are in bounds and are read before their bf16 (bytes
            // `2j..2j+32`, below every unread float) is stored. Whole vectors store unmasked
            // (masked stores are slow on some CPUs).
            unsafe {
                let e = avx512::exp_nonpositive(_mm512_sub_ps(_mm512_loadu_ps(p.add(j)), vm));
                vsum = _mm512_add_ps(vsum, e);
                let h: __m256i = std::mem::transmute(_mm512_cvtneps_pbh(e));
                _mm256_storeu_si256(out.add(j) as *mut __m256i, h);
            }
        }
        if full < n {
            let lanes = avx512::tail_mask(n - full);
            // SAFETY: as above, for the lanes below `n`.
            unsafe {
                let v = _mm512_maskz_loadu_ps(lanes, p.add(full));
                let e = _mm512_maskz_mov_ps(lanes, avx512::exp_nonpositive(_mm512_sub_ps(v, vm)));
                vsum = _mm512_add_ps(vsum, e);
                let h: __m256i = std::mem::transmute(_mm512_cvtneps_pbh(e));
                _mm256_mask_storeu_epi16(out.add(full) as *mut i16, lanes, h);
            }
        }
        if n % 2 == 1 {
            // SAFETY: u16 index `n < 2n` lies inside the row.
            unsafe { *out.add(n) = 0 };
        }
        Some(1.0 / _mm512_reduce_add_ps(vsum))
    }

    /// # Safety
    /// The CPU has AVX-512F; `mask` (if any) is at least as long as `row`; `visible ≤ row.len()`.
    #[target_feature(enable = "avx512f,avx512dq")]
    pub(super) unsafe fn row_avx512(
        row: &mut [f32],
        mask: Option<&[f32]>,
        visible: usize,
        rule: RowRule,
        skipped: Option<f32>,
    ) -> bool {
        // SAFETY: forwarded contract.
        let max = unsafe { mask_max_avx512(row, mask, visible, rule) };
        if skipped_keys_count(max, skipped) {
            return false;
        }
        let n = row.len();
        let p = row.as_mut_ptr();
        let vm = _mm512_set1_ps(max);
        let mut vsum = _mm512_setzero_ps();
        for j in (0..n).step_by(16) {
            let lanes = avx512::tail_mask(n - j);
            // SAFETY: as above.
            let v = unsafe { _mm512_maskz_loadu_ps(lanes, p.add(j)) };
            let e = avx512::exp_nonpositive(_mm512_sub_ps(v, vm));
            unsafe { _mm512_mask_storeu_ps(p.add(j), lanes, e) };
            vsum = _mm512_mask_add_ps(vsum, lanes, vsum, e);
        }
        scale_row(row, _mm512_reduce_add_ps(vsum), rule, |row, inv| {
            let (n, p, inv) = (row.len(), row.as_mut_ptr(), _mm512_set1_ps(inv));
            for j in (0..n).step_by(16) {
                let lanes = avx512::tail_mask(n - j);
                // SAFETY: as above.
                unsafe {
                    let v = _mm512_maskz_loadu_ps(lanes, p.add(j));
                    _mm512_mask_storeu_ps(p.add(j), lanes, _mm512_mul_ps(v, inv));
                }
            }
        });
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
        rule: RowRule,
        skipped: Option<f32>,
    ) -> bool {
        let n = row.len();
        let p = row.as_mut_ptr();
        let fill = _mm256_set1_ps(rule.fill);
        let neg_inf = _mm256_set1_ps(f32::NEG_INFINITY);
        let mut vmax = neg_inf;
        for j in (0..n).step_by(8) {
            let lanes = avx2::tail_mask(n - j);
            let seen = _mm256_castsi256_ps(avx2::tail_mask(visible.saturating_sub(j)));
            // SAFETY (all accesses below): the lanes selected by `lanes` of `row[j..j+8]` (and
            // of the mask, at least as long) are in bounds; masked loads read 0 elsewhere.
            let mut v = unsafe { _mm256_maskload_ps(p.add(j), lanes) };
            let mut hidden = fill;
            if let Some(m) = mask {
                let mv = unsafe { _mm256_maskload_ps(m.as_ptr().add(j), lanes) };
                v = _mm256_add_ps(v, mv);
                if rule.mask_hidden {
                    hidden = _mm256_add_ps(hidden, mv);
                }
            }
            v = _mm256_blendv_ps(hidden, v, seen);
            unsafe { _mm256_maskstore_ps(p.add(j), lanes, v) };
            let valid = _mm256_blendv_ps(neg_inf, v, _mm256_castsi256_ps(lanes));
            vmax = _mm256_max_ps(valid, vmax);
        }
        let max = hmax(vmax);
        if skipped_keys_count(max, skipped) {
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
        scale_row(row, hsum(vsum), rule, |row, inv| {
            let (n, p, inv) = (row.len(), row.as_mut_ptr(), _mm256_set1_ps(inv));
            for j in (0..n).step_by(8) {
                let lanes = avx2::tail_mask(n - j);
                // SAFETY: as above.
                unsafe {
                    let v = _mm256_maskload_ps(p.add(j), lanes);
                    _mm256_maskstore_ps(p.add(j), lanes, _mm256_mul_ps(v, inv));
                }
            }
        });
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

    fn bf16_kernels() -> Vec<Bf16Kernel> {
        let mut k = vec![Bf16Kernel::Portable];
        k.extend(Bf16Kernel::detect(Isa::best()));
        k
    }

    /// The bf16 rows: u16 `j` is `exp(z_j − max)` within bf16 rounding (2⁻⁹ relative), a zero pad
    /// after an odd length, and the returned factor is `1/Σ exp`.
    #[test]
    fn bf16_exp_rows_match_the_f64_softmax() {
        for n in [1, 5, 16, 17, 40, 128] {
            let x: Vec<f32> = (0..n).map(|j| ((j * 37 % 19) as f32 - 9.0) * 0.7).collect();
            let mask: Vec<f32> = (0..n)
                .map(|j| if j % 5 == 3 { f32::MIN } else { 0.25 })
                .collect();
            for visible in [1, n / 2 + 1, n] {
                let z: Vec<f64> = (0..n)
                    .map(|j| {
                        if j < visible {
                            x[j] as f64 + mask[j] as f64
                        } else {
                            f32::MIN as f64
                        }
                    })
                    .collect();
                let zmax = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let sum: f64 = z.iter().map(|v| (v - zmax).exp()).sum();
                for kern in bf16_kernels() {
                    let mut row = x.clone();
                    let inv = exp_row_bf16(
                        kern,
                        &mut row,
                        Some(&mask),
                        visible,
                        RowRule::MIN_FILL,
                        None,
                    )
                    .unwrap();
                    assert!(
                        (inv as f64 * sum - 1.0).abs() < 1e-5,
                        "{kern:?} n {n}: 1/sum"
                    );
                    let bits: &[u16] = bytemuck::cast_slice(&row);
                    for (j, zj) in z.iter().enumerate() {
                        let got = half::bf16::from_bits(bits[j]).to_f64();
                        let want = (zj - zmax).exp();
                        assert!(
                            (got - want).abs() <= 1e-6 + want / 256.0,
                            "{kern:?} n {n} visible {visible} [{j}]: {got} vs {want}"
                        );
                    }
                    if n % 2 == 1 {
                        assert_eq!(bits[n], 0, "{kern:?} pad");
                    }
                }
            }
        }
    }

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
                        assert!(masked_softmax_row(
                            isa,
                            &mut row,
                            m,
                            visible,
                            RowRule::MIN_FILL,
                            None
                        ));
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
            for kern in bf16_kernels() {
                let mut r = row.clone();
                assert_eq!(
                    exp_row_bf16(
                        kern,
                        &mut r,
                        Some(&all_hidden),
                        20,
                        RowRule::MIN_FILL,
                        Some(f32::MIN)
                    ),
                    None
                );
            }
            let all_hidden = vec![f32::MIN; 20];
            assert!(!masked_softmax_row(
                isa,
                &mut row,
                Some(&all_hidden),
                20,
                RowRule::MIN_FILL,
                Some(f32::MIN)
            ));
            let mut row = vec![1.0f32; 20];
            assert!(
                !masked_softmax_row(isa, &mut row, None, 0, RowRule::MIN_FILL, Some(f32::MIN)),
                "{isa}"
            );
            let mut row = vec![1.0f32; 20];
            assert!(
                masked_softmax_row(isa, &mut row, None, 0, RowRule::MIN_FILL, None),
                "{isa}"
            );
            assert!(
                row.iter().all(|&v| (v - 0.05).abs() < 1e-6),
                "{isa}: uniform"
            );
        }
    }

    /// Rows whose softmax is NaN in the graph (all `−∞`; a NaN score; a `+∞` score) give NaN, or
    /// zeros under the guard, on every path and bf16 kernel; a row of equal `−∞`-free minima
    /// stays uniform; hidden keys take the fill plus, under `mask_hidden`, the mask.
    #[test]
    fn degenerate_rows_follow_the_graph() {
        let inf = f32::NEG_INFINITY;
        let guarded = RowRule {
            fill: inf,
            mask_hidden: false,
            nan_row: 0.0,
        };
        let unguarded = RowRule {
            nan_row: f32::NAN,
            ..guarded
        };
        for n in [1, 7, 16, 33] {
            let rows: [(Vec<f32>, Option<Vec<f32>>); 3] = [
                (vec![0.5; n], Some(vec![inf; n])),
                (
                    (0..n)
                        .map(|j| if j == n / 2 { f32::NAN } else { 0.0 })
                        .collect(),
                    None,
                ),
                (
                    (0..n)
                        .map(|j| if j == 0 { f32::INFINITY } else { 0.0 })
                        .collect(),
                    None,
                ),
            ];
            for (x, mask) in &rows {
                for isa in Isa::supported() {
                    for (rule, want_nan) in [(guarded, false), (unguarded, true)] {
                        let mut row = x.clone();
                        assert!(masked_softmax_row(
                            isa,
                            &mut row,
                            mask.as_deref(),
                            n,
                            rule,
                            None
                        ));
                        assert!(
                            row.iter()
                                .all(|v| v.is_nan() == want_nan && (want_nan || *v == 0.0)),
                            "{isa} n {n} {rule:?}: {row:?}"
                        );
                    }
                }
                for kern in bf16_kernels() {
                    for (rule, want) in [(guarded, 0.0f32), (unguarded, f32::NAN)] {
                        let mut row = x.clone();
                        let inv = exp_row_bf16(kern, &mut row, mask.as_deref(), n, rule, None);
                        let inv = inv.unwrap();
                        let bits: &[u16] = bytemuck::cast_slice(&row);
                        let probs: Vec<f32> = bits[..n]
                            .iter()
                            .map(|&b| half::bf16::from_bits(b).to_f32())
                            .collect();
                        assert_eq!(inv.is_nan(), want.is_nan(), "{kern:?} n {n}");
                        assert!(
                            probs.iter().all(
                                |p| p.is_nan() == want.is_nan() && (want.is_nan() || *p == 0.0)
                            ),
                            "{kern:?} n {n} {rule:?}: {probs:?}"
                        );
                    }
                }
            }
            // Causal limit with mask_hidden: hidden keys are fill + mask. A mask of MIN on the
            // visible key and on hidden key 1 gives logits [MIN, −∞, MIN, MIN…] under fill MIN:
            // key 1 drops out, the rest are uniform.
            if n >= 3 {
                let mut mask = vec![0.0; n];
                mask[0] = f32::MIN;
                mask[1] = f32::MIN;
                let rule = RowRule {
                    fill: f32::MIN,
                    mask_hidden: true,
                    nan_row: f32::NAN,
                };
                for isa in Isa::supported() {
                    let mut row = vec![0.25; n];
                    assert!(masked_softmax_row(
                        isa,
                        &mut row,
                        Some(&mask),
                        1,
                        rule,
                        None
                    ));
                    let u = 1.0 / (n - 1) as f32;
                    for (j, v) in row.iter().enumerate() {
                        let want = if j == 1 { 0.0 } else { u };
                        assert!((v - want).abs() < 1e-6, "{isa} n {n} [{j}]: {v} vs {want}");
                    }
                }
            }
        }
    }
}
