//! The BF16 GEMM of attention: `c[i, j] = alpha · Σ_k a[i, k]·b[k, j]` with bf16 inputs and f32
//! accumulation, as AVX512-BF16 `vdpbf16ps` does it (two products per f32 lane per instruction,
//! twice the f32 FMA rate), plus a portable twin with the same data layout (the test oracle of the
//! packing and tiling on every machine).
//!
//! Layouts (`u16` bf16 bit patterns): A is row-major with each row's `k` padded to whole pairs;
//! B is packed in panels of 16 columns, per k-pair one 64-byte row `b[p·32 + j·2 + t] = B[2p+t, j]`
//! (zero past the matrix). A register tile is up to 8 rows × 48 columns (24 zmm accumulators); per
//! k-pair it loads one zmm per panel and broadcasts one pair of each A row.

/// Columns per packed panel.
pub(super) const PANEL: usize = 16;
/// bf16 values per packed panel row (one k-pair of 16 columns).
pub(super) const PAIR_ROW: usize = 2 * PANEL;
pub(super) const MR: usize = 8;
const NP: usize = 3;

/// Which implementation runs the products.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Bf16Kernel {
    /// `vdpbf16ps` (AVX512-BF16); only chosen when the CPU has it.
    Avx512,
    /// Scalar loops with the same inputs (bf16 × bf16 is exact in f32; sums in f32). Slower
    /// than the f32 path, so only tests run it: it checks the packing and tiling everywhere.
    #[cfg_attr(not(test), allow(dead_code))]
    Portable,
}

impl Bf16Kernel {
    /// The hardware kernel when the ISA cap allows AVX-512 and the CPU has AVX512-BF16.
    pub(super) fn detect(isa: crate::Isa) -> Option<Bf16Kernel> {
        #[cfg(target_arch = "x86_64")]
        if isa.capped() == crate::Isa::Avx512
            && std::arch::is_x86_feature_detected!("avx512bf16")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512vl")
        {
            return Some(Bf16Kernel::Avx512);
        }
        let _ = isa;
        None
    }
}

/// One product: `rows × cols` over `pairs` k-pairs.
pub(super) struct Bf16Gemm<'a> {
    pub rows: usize,
    pub cols: usize,
    pub pairs: usize,
    /// Row `i` starts at `a[i·lda]` and holds `2·pairs` values.
    pub a: &'a [u16],
    pub lda: usize,
    /// Panel `q` starts at `b[q·panel_stride]` and holds `pairs` rows of [`PAIR_ROW`].
    pub b: &'a [u16],
    pub panel_stride: usize,
    pub alpha: f32,
    /// Per-row factors (`rows` of them) applied with `alpha`: `c[i, j] = alpha·row_scale[i]·Σ`.
    pub row_scale: Option<&'a [f32]>,
}

/// Runs `g` into `c` (`c[i·ldc + j]`, `j < cols`). Panics if a buffer is too short (the callers
/// size them from the same shape, so that would be a bug, never bad input).
pub(super) fn gemm(kern: Bf16Kernel, g: &Bf16Gemm<'_>, c: &mut [f32], ldc: usize) {
    if g.rows == 0 || g.cols == 0 {
        return;
    }
    let panels = g.cols.div_ceil(PANEL);
    assert!(
        g.a.len() >= (g.rows - 1) * g.lda + 2 * g.pairs,
        "bf16 A too short"
    );
    assert!(
        g.b.len() >= (panels - 1) * g.panel_stride + g.pairs * PAIR_ROW,
        "bf16 B too short"
    );
    assert!(g.panel_stride >= g.pairs * PAIR_ROW, "bf16 panels overlap");
    assert!(
        c.len() >= (g.rows - 1) * ldc + g.cols && ldc >= g.cols,
        "bf16 C too short"
    );
    for j0 in (0..g.cols).step_by(NP * PANEL) {
        let n = (g.cols - j0).min(NP * PANEL);
        for i0 in (0..g.rows).step_by(MR) {
            let m = (g.rows - i0).min(MR);
            let t = Tile {
                pairs: g.pairs,
                a: g.a[i0 * g.lda..].as_ptr(),
                lda: g.lda,
                b: g.b[(j0 / PANEL) * g.panel_stride..].as_ptr(),
                b_next: g.panel_stride,
                n,
                c: c[i0 * ldc + j0..].as_mut_ptr(),
                ldc,
                alpha: g.alpha,
                row_scale: g.row_scale.map_or(std::ptr::null(), |r| r[i0..].as_ptr()),
            };
            match kern {
                #[cfg(target_arch = "x86_64")]
                // SAFETY: `Avx512` is only constructed by `detect` on a CPU with AVX512-BF16
                // (tests construct it behind the same check); the asserts above put every row,
                // panel and output element the tile touches inside the slices.
                Bf16Kernel::Avx512 => unsafe { x86::select(m, n.div_ceil(PANEL))(&t) },
                // SAFETY: as above.
                _ => unsafe { portable(&t, m) },
            }
        }
    }
}

/// One register tile; pointers derived from the checked slices of [`gemm`].
struct Tile {
    pairs: usize,
    a: *const u16,
    lda: usize,
    b: *const u16,
    b_next: usize,
    /// Valid columns (`1..=48`).
    n: usize,
    c: *mut f32,
    ldc: usize,
    alpha: f32,
    /// `row_scale[i]` for the tile's rows, or null.
    row_scale: *const f32,
}

impl Tile {
    /// Row `i`'s output factor: `alpha`, times its row scale when there is one.
    ///
    /// # Safety
    /// `i` is a row of the tile.
    #[inline(always)]
    unsafe fn factor(&self, i: usize) -> f32 {
        if self.row_scale.is_null() {
            self.alpha
        } else {
            // SAFETY: `gemm` checked one scale per row.
            self.alpha * unsafe { *self.row_scale.add(i) }
        }
    }
}

/// # Safety
/// The [`Tile`] covers `rows` rows and `t.n` columns inside the slices checked by [`gemm`].
unsafe fn portable(t: &Tile, rows: usize) {
    let bf = |v: u16| f32::from_bits((v as u32) << 16);
    for i in 0..rows {
        for j in 0..t.n {
            let (q, jj) = (j / PANEL, j % PANEL);
            let mut acc = 0f32;
            for p in 0..t.pairs {
                // SAFETY: row `i` holds `2·pairs` values; panel `q` holds `pairs` pair rows.
                let (a, b) = unsafe {
                    let a = t.a.add(i * t.lda + 2 * p);
                    let b = t.b.add(q * t.b_next + p * PAIR_ROW + 2 * jj);
                    ([*a, *a.add(1)], [*b, *b.add(1)])
                };
                acc += bf(a[1]) * bf(b[1]);
                acc += bf(a[0]) * bf(b[0]);
            }
            // SAFETY: element `(i, j)` of the tile's output; `i` is a tile row.
            unsafe { *t.c.add(i * t.ldc + j) = acc * t.factor(i) };
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{Tile, MR, NP, PAIR_ROW, PANEL};
    use crate::simd::avx512::tail_mask;
    use std::arch::x86_64::*;

    type TileFn = unsafe fn(&Tile);

    pub(super) fn select(rows: usize, panels: usize) -> TileFn {
        macro_rules! pick {
            ($($r:literal)*) => {
                match (rows, panels) {
                    $( ($r, 1) => tile::<$r, 1>, ($r, 2) => tile::<$r, 2>, ($r, _) => tile::<$r, 3>, )*
                    _ => tile::<MR, NP>,
                }
            };
        }
        pick!(1 2 3 4 5 6 7 8)
    }

    /// # Safety
    /// The CPU has AVX-512F and AVX512-BF16; the tile lies inside the slices checked by `gemm`.
    #[target_feature(enable = "avx512f,avx512bf16")]
    unsafe fn tile<const R: usize, const P: usize>(t: &Tile) {
        let mut acc = [[_mm512_setzero_ps(); P]; R];
        let (mut a, mut b) = (t.a, t.b);
        for _ in 0..t.pairs {
            let mut bv = [_mm512_setzero_si512(); P];
            for (q, v) in bv.iter_mut().enumerate() {
                // SAFETY: panel `q` has a 64-byte pair row here.
                *v = unsafe { _mm512_loadu_si512(b.add(q * t.b_next) as *const __m512i) };
            }
            for (i, row) in acc.iter_mut().enumerate() {
                // SAFETY: row `i` of A has this pair.
                let pair = unsafe { (a.add(i * t.lda) as *const i32).read_unaligned() };
                // SAFETY (both transmutes): 512-bit vectors of plain bits.
                let av: __m512bh = unsafe { std::mem::transmute(_mm512_set1_epi32(pair)) };
                for q in 0..P {
                    let bq: __m512bh = unsafe { std::mem::transmute(bv[q]) };
                    row[q] = _mm512_dpbf16_ps(row[q], av, bq);
                }
            }
            a = a.wrapping_add(2);
            b = b.wrapping_add(PAIR_ROW);
        }
        let mut factor = [_mm512_setzero_ps(); R];
        for (i, f) in factor.iter_mut().enumerate() {
            // SAFETY: `i` is a tile row.
            *f = _mm512_set1_ps(unsafe { t.factor(i) });
        }
        for q in 0..P {
            let valid = t.n.saturating_sub(q * PANEL).min(PANEL);
            if valid == 0 {
                continue;
            }
            let mask = tail_mask(valid);
            for (i, row) in acc.iter().enumerate() {
                let v = _mm512_mul_ps(row[q], factor[i]);
                let c = t.c.wrapping_add(i * t.ldc + q * PANEL);
                // SAFETY: the valid columns of output row `i` (all 16 when unmasked; whole
                // panels store unmasked, as masked stores are slow on some CPUs).
                unsafe {
                    if valid == PANEL {
                        _mm512_storeu_ps(c, v);
                    } else {
                        _mm512_mask_storeu_ps(c, mask, v);
                    }
                }
            }
        }
    }
}
