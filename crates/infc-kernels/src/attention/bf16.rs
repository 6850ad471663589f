//! The BF16 variant of attention's two GEMMs (chosen per step, `AttentionShape::bf16`, on CPUs
//! with AVX512-BF16): q, kᵀ, v and the softmax probabilities are rounded to bf16 (round to nearest
//! even) and multiplied with f32 accumulation ([`bf16_tile`](super::bf16_tile)); the scores, the
//! mask, the softmax and the output stay f32. It reuses the f32 path's buffers, so the scratch
//! size does not change:
//! - each head's packed `kᵀ`/`v` area (sized for f32 panels) holds the bf16 panels, which need at
//!   most half of it;
//! - a block's q rows are converted into the head's columns of its own `y` rows, which the
//!   `· v` product overwrites only after the scores are done;
//! - each row's unnormalised probabilities are written as bf16 in place at the start of its f32
//!   score row ([`super::row_softmax::exp_row_bf16`]); the `· v` product scales its rows by `1/Σ`.

use super::bf16_tile::{gemm, Bf16Gemm, Bf16Kernel, PAIR_ROW, PANEL};
use super::AttentionShape;

/// Pair rows per `kᵀ` panel (the head dimension in pairs) and per `v` panel (keys in pairs).
fn k_pairs(s: &AttentionShape) -> usize {
    s.d.div_ceil(2)
}
fn v_pairs(s: &AttentionShape) -> usize {
    s.sk.div_ceil(2)
}

/// `dst[..src.len()] = bf16(src)`, then a zero when `dst` is one longer (an odd row padded to a
/// whole pair).
fn to_bf16(kern: Bf16Kernel, src: &[f32], dst: &mut [u16]) {
    assert!(dst.len() >= src.len(), "bf16 row too short");
    match kern {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Avx512` exists only on CPUs with AVX512-BF16/BW/VL (see `Bf16Kernel::detect`).
        Bf16Kernel::Avx512 => unsafe { x86::to_bf16(src, dst) },
        _ => dst
            .iter_mut()
            .zip(src)
            .for_each(|(d, &v)| *d = bf16_bits(v)),
    }
    if dst.len() > src.len() {
        dst[src.len()] = 0;
    }
}

/// Round to nearest even, as `vcvtneps2bf16` (NaN stays NaN).
pub(super) fn bf16_bits(v: f32) -> u16 {
    half::bf16::from_f32(v).to_bits()
}

/// Packs head `(bi, hi)`'s `kᵀ` and `v` into `buf` (the f32 path's `pk + pv` floats): `kᵀ` as
/// panels of 16 keys × `k_pairs` pair rows, then `v` as panels of 16 columns × `v_pairs` rows.
#[allow(clippy::too_many_arguments)]
pub(super) fn pack_head(
    kern: Bf16Kernel,
    s: &AttentionShape,
    k: &[f32],
    v: &[f32],
    bi: usize,
    hi: usize,
    pk: usize,
    buf: &mut [f32],
) {
    let (sk, d) = (s.sk, s.d);
    let [_, ldk, ldv] = s.row_strides;
    let (kt, vp) = buf.split_at_mut(pk);
    let kt: &mut [u16] = bytemuck::cast_slice_mut(kt);
    let vp: &mut [u16] = bytemuck::cast_slice_mut(vp);
    let kp = k_pairs(s);
    let k_stride = kp * PAIR_ROW;
    let kt = &mut kt[..sk.div_ceil(PANEL) * k_stride];
    let key_row = |j: usize| &k[(bi * sk + j) * ldk + hi * d..][..d];
    #[cfg(target_arch = "x86_64")]
    if kern == Bf16Kernel::Avx512 {
        // Blocks of 16 keys × 16 pairs transposed in registers.
        for (q, panel) in kt.chunks_exact_mut(k_stride).enumerate() {
            let keys = q * PANEL..(q * PANEL + PANEL).min(sk);
            for c0 in (0..d).step_by(2 * PANEL) {
                let width = (d - c0).min(2 * PANEL);
                let mut rows: [&[f32]; PANEL] = [&[]; PANEL];
                for (r, j) in rows.iter_mut().zip(keys.clone()) {
                    *r = &key_row(j)[c0..c0 + width];
                }
                // SAFETY: AVX512-BF16/BW/VL present (`Avx512`); each row holds `width` floats;
                // pair rows `c0/2 ..` of this panel hold `ceil(width/2)` rows of 32 u16.
                unsafe {
                    x86::transpose_keys(
                        &rows[..keys.len()],
                        width,
                        &mut panel[c0 / 2 * PAIR_ROW..],
                        PAIR_ROW,
                    )
                };
            }
        }
    } else {
        pack_keys_portable(kern, sk, d, key_row, kt, k_stride);
    }
    #[cfg(not(target_arch = "x86_64"))]
    pack_keys_portable(kern, sk, d, key_row, kt, k_stride);
    let vq = v_pairs(s);
    let v_stride = vq * PAIR_ROW;
    let vp = &mut vp[..d.div_ceil(PANEL) * v_stride];
    let v_head = &v[bi * sk * ldv + hi * d..];
    #[cfg(target_arch = "x86_64")]
    if kern == Bf16Kernel::Avx512 {
        assert!(sk == 0 || v_head.len() >= (sk - 1) * ldv + d);
        // SAFETY: AVX512-BF16/BW/VL present (`Avx512`); key rows `0..sk` hold `d` floats at
        // stride `ldv` (asserted), and `vp` holds `ceil(d/16)` panels of `vq` pair rows.
        unsafe { x86::pack_values(v_head, ldv, sk, d, vp, v_stride) };
        return;
    }
    for p in 0..vq {
        let row = |key: usize| (key < sk).then(|| &v_head[key * ldv..][..d]);
        let (r0, r1) = (row(2 * p), row(2 * p + 1));
        for q in 0..d.div_ceil(PANEL) {
            let cols = q * PANEL..(q * PANEL + PANEL).min(d);
            let dst = &mut vp[q * v_stride + p * PAIR_ROW..][..PAIR_ROW];
            interleave_pair_row(r0.map(|r| &r[cols.clone()]), r1.map(|r| &r[cols]), dst);
        }
    }
}

/// `kᵀ` panels one key at a time: its row in bf16 (a pair per u32), scattered to its column.
fn pack_keys_portable<'a>(
    kern: Bf16Kernel,
    sk: usize,
    d: usize,
    key_row: impl Fn(usize) -> &'a [f32],
    kt: &mut [u16],
    k_stride: usize,
) {
    // The last panel's columns past `sk` are never written below (the transposes store whole rows).
    if !sk.is_multiple_of(PANEL) {
        let last = sk / PANEL * k_stride;
        kt[last..].fill(0);
    }
    let mut tmp = [0u16; 2 * 64];
    for j in 0..sk {
        let row = key_row(j);
        let panel = &mut kt[j / PANEL * k_stride..][..k_stride];
        let col = 2 * (j % PANEL);
        for c0 in (0..d).step_by(tmp.len()) {
            let part = &row[c0..(c0 + tmp.len()).min(d)];
            let len = part.len().next_multiple_of(2);
            to_bf16(kern, part, &mut tmp[..len]);
            for (pp, pair) in tmp[..len].chunks_exact(2).enumerate() {
                let at = (c0 / 2 + pp) * PAIR_ROW + col;
                panel[at..at + 2].copy_from_slice(pair);
            }
        }
    }
}

/// `dst[2j + t] = bf16(row_t[j])` for the (up to 16) columns given, zeros elsewhere and for a
/// missing second row.
fn interleave_pair_row(r0: Option<&[f32]>, r1: Option<&[f32]>, dst: &mut [u16]) {
    let (r0, r1) = (r0.unwrap_or(&[]), r1.unwrap_or(&[]));
    assert!(r0.len() <= PANEL && r1.len() <= PANEL && dst.len() >= PAIR_ROW);
    for j in 0..PANEL {
        dst[2 * j] = r0.get(j).map_or(0, |&v| bf16_bits(v));
        dst[2 * j + 1] = r1.get(j).map_or(0, |&v| bf16_bits(v));
    }
}

/// Score product of one head of one query block: q rows converted into the head's columns of
/// `yc` (`n` rows of `heads·d` floats), then `sc[r·keys + j] = scale · q_r · k_j` over the first
/// `keys` keys.
#[allow(clippy::too_many_arguments)]
pub(super) fn scores(
    kern: Bf16Kernel,
    s: &AttentionShape,
    q: &[f32],
    kt: &[f32],
    bi: usize,
    hi: usize,
    i0: usize,
    keys: usize,
    sc: &mut [f32],
    yc: &mut [f32],
) {
    let (d, hd) = (s.d, s.heads * s.d);
    let n = yc.len() / hd;
    let ldq = s.row_strides[0];
    let kp = k_pairs(s);
    let yu: &mut [u16] = bytemuck::cast_slice_mut(yc);
    for r in 0..n {
        let src = &q[(bi * s.sq + i0 + r) * ldq + hi * d..][..d];
        to_bf16(kern, src, &mut yu[2 * (r * hd + hi * d)..][..2 * kp]);
    }
    let g = Bf16Gemm {
        rows: n,
        cols: keys,
        pairs: kp,
        a: &yu[2 * hi * d..],
        lda: 2 * hd,
        b: bytemuck::cast_slice(kt),
        panel_stride: kp * PAIR_ROW,
        alpha: s.scale,
        row_scale: None,
    };
    gemm(kern, &g, &mut sc[..n * keys], keys);
}

/// Rows per probability group (one register tile of the `· v` product).
pub(super) const GROUP: usize = super::bf16_tile::MR;

/// `yc[r, hi·d + c] = inv[r] · Σ_j e[r, j] · v_j[c]` over the first `keys` keys, for the
/// `inv.len()` rows of `probs`: each a score row of `keys` floats whose first u16 hold the bf16
/// unnormalised probabilities ([`super::row_softmax::exp_row_bf16`]).
#[allow(clippy::too_many_arguments)]
pub(super) fn apply_values(
    kern: Bf16Kernel,
    s: &AttentionShape,
    vp: &[f32],
    hi: usize,
    keys: usize,
    probs: &[f32],
    inv: &[f32],
    yc: &mut [f32],
) {
    let hd = s.heads * s.d;
    let g = Bf16Gemm {
        rows: inv.len(),
        cols: s.d,
        pairs: keys.div_ceil(2),
        a: bytemuck::cast_slice(probs),
        lda: 2 * keys,
        b: bytemuck::cast_slice(vp),
        panel_stride: v_pairs(s) * PAIR_ROW,
        alpha: 1.0,
        row_scale: Some(inv),
    };
    gemm(kern, &g, &mut yc[hi * s.d..], hd);
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use crate::simd::avx512::tail_mask;
    use std::arch::x86_64::*;

    /// 16 floats (masked to `n`) as 16 bf16 in a ymm.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bf16,avx512bw,avx512vl")]
    unsafe fn cvt16(p: *const f32, n: usize) -> __m256i {
        // SAFETY: the caller guarantees `n` readable floats at `p` (masked load).
        let v = unsafe { _mm512_maskz_loadu_ps(tail_mask(n), p) };
        // SAFETY: both are 256-bit vectors of plain bits.
        unsafe { std::mem::transmute::<__m256bh, __m256i>(_mm512_cvtneps_pbh(v)) }
    }

    /// # Safety
    /// AVX512-BF16/BW/VL present; `dst.len() ≥ src.len()`.
    #[target_feature(enable = "avx512f,avx512bf16,avx512bw,avx512vl")]
    pub(super) unsafe fn to_bf16(src: &[f32], dst: &mut [u16]) {
        let n = src.len();
        let (sp, dp) = (src.as_ptr(), dst.as_mut_ptr());
        let full = n / 16 * 16;
        for j in (0..full).step_by(16) {
            // SAFETY: 16 floats at `src[j..]`, 16 u16 at `dst[j..]` (`dst` is at least as long).
            unsafe { _mm256_storeu_si256(dp.add(j) as *mut __m256i, cvt16(sp.add(j), 16)) };
        }
        if full < n {
            // SAFETY: the `n − full` lanes below `n` (masked load and store).
            unsafe {
                let h = cvt16(sp.add(full), n - full);
                _mm256_mask_storeu_epi16(dp.add(full) as *mut i16, tail_mask(n - full), h);
            }
        }
    }

    /// Transposes a block of up to 16 keys × 32 head values (16 pairs) into 16 pair rows:
    /// `out[p·stride + 2j + t] = bf16(rows[j][2p + t])`, zeros for missing keys and values.
    ///
    /// # Safety
    /// AVX512-BF16/BW/VL present; every row holds `width ≤ 32` floats; `rows.len() ≤ 16`;
    /// `out` holds `15·stride + 32` u16 when `width > 0`.
    #[target_feature(enable = "avx512f,avx512bf16,avx512bw,avx512vl")]
    pub(super) unsafe fn transpose_keys(
        rows: &[&[f32]],
        width: usize,
        out: &mut [u16],
        stride: usize,
    ) {
        let mut v = [_mm512_setzero_si512(); 16];
        for (j, row) in rows.iter().enumerate() {
            // SAFETY: masked loads of the row's first `width` floats.
            unsafe {
                let lo = _mm512_maskz_loadu_ps(tail_mask(width), row.as_ptr());
                let hi = _mm512_maskz_loadu_ps(
                    tail_mask(width.saturating_sub(16)),
                    row.as_ptr().add(16.min(width)),
                );
                v[j] = std::mem::transmute::<__m512bh, __m512i>(_mm512_cvtne2ps_pbh(hi, lo));
            }
        }
        // 16 × 16 transpose of u32 pairs: 32-bit, 64-bit, then 128-bit lane interleaves.
        let mut t = [_mm512_setzero_si512(); 16];
        for i in (0..16).step_by(2) {
            t[i] = _mm512_unpacklo_epi32(v[i], v[i + 1]);
            t[i + 1] = _mm512_unpackhi_epi32(v[i], v[i + 1]);
        }
        for i in (0..16).step_by(4) {
            for k in 0..2 {
                v[i + k] = _mm512_unpacklo_epi64(t[i + k], t[i + k + 2]);
                v[i + k + 2] = _mm512_unpackhi_epi64(t[i + k], t[i + k + 2]);
            }
        }
        for i in (0..16).step_by(8) {
            for k in 0..4 {
                t[i + k] = _mm512_shuffle_i32x4::<0x88>(v[i + k], v[i + k + 4]);
                t[i + k + 4] = _mm512_shuffle_i32x4::<0xdd>(v[i + k], v[i + k + 4]);
            }
        }
        for k in 0..8 {
            v[k] = _mm512_shuffle_i32x4::<0x88>(t[k], t[k + 8]);
            v[k + 8] = _mm512_shuffle_i32x4::<0xdd>(t[k], t[k + 8]);
        }
        // `v[r]` now holds pair row `PAIR_OF[r]` (keys in order): the 64-bit stage leaves the
        // middle two of every four columns swapped.
        const PAIR_OF: [usize; 16] = [0, 2, 1, 3, 4, 6, 5, 7, 8, 10, 9, 11, 12, 14, 13, 15];
        for (r, vr) in v.iter().enumerate() {
            let p = PAIR_OF[r];
            if 2 * p < width {
                // SAFETY: pair row `p < 16` lies inside `out` (caller's contract).
                unsafe {
                    _mm512_storeu_si512(out.as_mut_ptr().add(p * stride) as *mut __m512i, *vr)
                };
            }
        }
    }

    /// One head's `v` as bf16 pair rows, all at once: pair row `p` of panel `q` (at
    /// `vp[q·v_stride + p·32..]`) interleaves columns `16q..16q+16` of keys `2p` and `2p + 1`
    /// (zeros past `sk` and `d`), as [`interleave_pair_row`] does one panel at a time.
    ///
    /// # Safety
    /// AVX512-BF16/BW/VL present; `v` holds key rows `0..sk` of `d` floats at stride `ldv`;
    /// `vp` holds `ceil(d/16)·v_stride` u16 with `v_stride ≥ ceil(sk/2)·32`.
    #[target_feature(enable = "avx512f,avx512bf16,avx512bw,avx512vl")]
    pub(super) unsafe fn pack_values(
        v: &[f32],
        ldv: usize,
        sk: usize,
        d: usize,
        vp: &mut [u16],
        v_stride: usize,
    ) {
        let (src, dst) = (v.as_ptr(), vp.as_mut_ptr());
        for p in 0..sk.div_ceil(2) {
            let (k0, k1) = (2 * p, 2 * p + 1);
            for c0 in (0..d).step_by(16) {
                let w = (d - c0).min(16);
                // SAFETY: `w` floats of key rows `k0` and (when present) `k1` from column `c0`;
                // 32 u16 of pair row `p` in panel `c0/16` (caller's contract).
                unsafe {
                    let a = cvt16(src.add(k0 * ldv + c0), w);
                    let b = if k1 < sk {
                        cvt16(src.add(k1 * ldv + c0), w)
                    } else {
                        _mm256_setzero_si256()
                    };
                    let lo = _mm256_unpacklo_epi16(a, b);
                    let hi = _mm256_unpackhi_epi16(a, b);
                    let out = dst.add(c0 / 16 * v_stride + p * 32) as *mut __m256i;
                    _mm256_storeu_si256(out, _mm256_permute2x128_si256::<0x20>(lo, hi));
                    _mm256_storeu_si256(out.add(1), _mm256_permute2x128_si256::<0x31>(lo, hi));
                }
            }
        }
    }
}
